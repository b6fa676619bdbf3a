import { createServer, type Server } from 'node:http';
import { eq } from 'drizzle-orm';
import { uuidv7 } from 'uuidv7';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startGraphSandbox, type GraphSandbox } from '@mic/meta-sandbox';
import { eventually } from '@mic/platform/testing';
import type { AlertReport, DeliveredEvent, PostEventData, PostList, PostStatus } from '@mic/contracts';
import { applyTestConfig, routeTestInstance, startTestEngine, type TestEngine } from '../../testing.ts';
import { channelTokenRef } from '../channels/index.ts';
import { PUBLISH_QUEUE } from './index.ts';
import { posts } from './schema.ts';
import { reportOutbox } from '../reports/schema.ts';

const PAGE = '1010000000000001';
const PAGE_OTHER = '1010000000000002';
const PAGE_HUB = '1010000000000003';
const IG = '17841000000000001';
const IG_FLAKY = '17841000000000002';
const IG_LIMIT = '17841000000000003';
const IG_OTHER = '17841000000000004';
const tokenOf = (id: string) => `EAAGpage-token-${id}`;
const IMAGE = 'https://cdn.example.com/photo.jpg';
const VIDEO = 'https://cdn.example.com/clip.mp4';

let sandbox: GraphSandbox;
let engine: TestEngine;
let receiver: Server;
/** What the instances received, in order. */
const received: DeliveredEvent[] = [];
const apiTokens = new Map<string, string>();

async function instance(id: string, channels: { platform: 'messenger' | 'instagram'; channelId: string }[]) {
  const port = (receiver.address() as { port: number }).port;
  await routeTestInstance(engine, { id, webhookUrl: `http://127.0.0.1:${port}/hook/${id}`, channels });
  const issued = await engine.app.inject({
    method: 'POST',
    url: `/internal/v1/instances/${id}/credentials`,
    headers: engine.auth,
  });
  expect(issued.statusCode).toBe(201);
  apiTokens.set(id, issued.json<{ apiToken: string }>().apiToken);
}

beforeAll(async () => {
  receiver = createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => {
      received.push(JSON.parse(Buffer.concat(chunks).toString('utf8')) as DeliveredEvent);
      res.writeHead(204).end();
    });
  });
  await new Promise<void>((resolve) => receiver.listen(0, '127.0.0.1', resolve));
  sandbox = await startGraphSandbox({
    objects: [
      ...[PAGE, PAGE_OTHER, PAGE_HUB].map((id) => ({ id, kind: 'page' as const, token: tokenOf(id) })),
      ...[IG, IG_FLAKY, IG_LIMIT, IG_OTHER].map((id) => ({
        id,
        kind: 'instagram-account' as const,
        token: tokenOf(id),
      })),
    ],
    publishing: { containerDelayMs: 0, videoContainerDelayMs: 600 },
  });
  engine = await startTestEngine({
    META_GRAPH_URL: sandbox.url,
    META_GRAPH_TIMEOUT: '1s',
    QUEUE_POLLING_INTERVAL: '500ms',
    POST_RETRY_BASE: '100ms',
    POST_POLL_INITIAL: '100ms',
    POST_POLL_MAX: '400ms',
    POST_LIMIT_RECHECK: '500ms',
    POST_HOLD_RECHECK: '300ms',
  });
  for (const id of [PAGE, PAGE_OTHER, PAGE_HUB]) {
    await engine.app.secrets.put(channelTokenRef('messenger', id), 'meta-access-token', tokenOf(id));
  }
  for (const id of [IG, IG_FLAKY, IG_LIMIT, IG_OTHER]) {
    await engine.app.secrets.put(channelTokenRef('instagram', id), 'meta-access-token', tokenOf(id));
  }
  await instance('ins_main', [
    { platform: 'messenger', channelId: PAGE },
    { platform: 'instagram', channelId: IG },
    { platform: 'instagram', channelId: IG_FLAKY },
    { platform: 'instagram', channelId: IG_LIMIT },
  ]);
  await instance('ins_other', [
    { platform: 'messenger', channelId: PAGE_OTHER },
    { platform: 'instagram', channelId: IG_OTHER },
  ]);
});
afterAll(async () => {
  await engine?.stop();
  await sandbox?.stop();
  await new Promise((resolve) => receiver?.close(resolve));
});

function create(instanceId: string, payload: object, headers: Record<string, string> = {}) {
  return engine.app.inject({
    method: 'POST',
    url: '/v1/posts',
    headers: { authorization: `Bearer ${apiTokens.get(instanceId)!}`, ...headers },
    payload,
  });
}

async function accepted(instanceId: string, payload: object): Promise<PostStatus> {
  const res = await create(instanceId, payload);
  expect(res.statusCode, res.body).toBe(202);
  return res.json<PostStatus>();
}

async function status(instanceId: string, id: string): Promise<PostStatus> {
  const res = await engine.app.inject({
    method: 'GET',
    url: `/v1/posts/${id}`,
    headers: { authorization: `Bearer ${apiTokens.get(instanceId)!}` },
  });
  expect(res.statusCode, res.body).toBe(200);
  return res.json<PostStatus>();
}

/** The post once it has settled (published or failed). */
function settled(id: string, instanceId = 'ins_main', timeoutMs = 10_000): Promise<PostStatus> {
  return eventually(async () => {
    const post = await status(instanceId, id);
    return post.state === 'published' || post.state === 'failed' ? post : undefined;
  }, timeoutMs);
}

/** The post events the instance received about post `id`, once one says `last`. */
function eventsOf(id: string, last: string): Promise<DeliveredEvent[]> {
  return eventually(async () => {
    const events = received.filter((e) => (e.data as PostEventData).postId === id);
    return events.some((e) => (e.data as PostEventData).state === last) ? events : undefined;
  });
}

const fb = (post: object, extra: object = {}) => ({ channel: { kind: 'facebook', id: PAGE }, post, ...extra });
const ig = (post: object, extra: object = {}, account = IG) => ({
  channel: { kind: 'instagram', id: account },
  post,
  ...extra,
});

describe('Facebook Page posts', () => {
  it('publishes a text post through /{page-id}/feed, shows Meta’s id and delivers each state in order', async () => {
    const post = await accepted('ins_main', fb({ type: 'text', message: 'Hello from MIC' }));
    expect(post.state).toBe('queued');
    expect(post.channel).toEqual({ kind: 'facebook', id: PAGE });

    const done = await settled(post.id);
    expect(done.state).toBe('published');
    const published = sandbox.publishing.posts({ objectId: PAGE }).find((p) => p.id === done.publishedId);
    expect(published?.kind).toBe('feed');
    expect(published?.params.message).toBe('Hello from MIC');
    expect(done.publishedId).toMatch(new RegExp(`^${PAGE}_\\d+$`));
    expect(done.timeline.map((e) => e.state)).toEqual(['queued', 'processing', 'published']);

    const events = await eventsOf(post.id, 'published');
    expect(events.map((e) => e.type)).toEqual([
      'facebook.post.queued',
      'facebook.post.processing',
      'facebook.post.published',
    ]);
    const last = events.at(-1)!;
    expect(last.instanceId).toBe('ins_main');
    expect(last.channel).toEqual({ kind: 'messenger', id: PAGE });
    expect(last.conversation?.id).toBe(`post:${post.id}`);
    expect((last.data as PostEventData).publishedId).toBe(done.publishedId);
  });

  it('publishes a link post with its message', async () => {
    const post = await accepted(
      'ins_main',
      fb({ type: 'link', link: 'https://mic.example.com/news', message: 'Read' }),
    );
    const done = await settled(post.id);
    expect(done.state).toBe('published');
    const published = sandbox.publishing.posts({ objectId: PAGE }).find((p) => p.id === done.publishedId);
    expect(published?.params).toMatchObject({ link: 'https://mic.example.com/news', message: 'Read' });
  });

  it('publishes a photo through /{page-id}/photos and records the post id, not the photo id', async () => {
    const post = await accepted('ins_main', fb({ type: 'photo', url: IMAGE, caption: 'Our shop' }));
    const done = await settled(post.id);
    expect(done.state).toBe('published');
    const published = sandbox.publishing.posts({ objectId: PAGE }).find((p) => p.id === done.publishedId);
    expect(published?.kind).toBe('photo');
    expect(published?.params).toMatchObject({ url: IMAGE, caption: 'Our shop' });
  });

  it('holds a due post while its instance is paused, says so, and publishes it once resumed', async () => {
    const post = await accepted(
      'ins_main',
      fb({ type: 'text', message: 'After the pause' }, { publishAt: new Date(Date.now() + 800).toISOString() }),
    );
    const setState = (state: 'active' | 'paused') =>
      applyTestConfig(engine, (s) => {
        s.instances.find((i) => i.id === 'ins_main')!.state = state;
      });
    await setState('paused');
    try {
      const held = await eventually(async () => {
        const current = await status('ins_main', post.id);
        return current.waitingReason?.startsWith('held:') ? current : undefined;
      });
      expect(held.state).toBe('queued');
      expect(held.waitingReason).toBe('held: the instance is paused');
      expect(sandbox.publishing.posts({ objectId: PAGE }).some((p) => p.params.message === 'After the pause')).toBe(
        false,
      );
    } finally {
      await setState('active');
    }
    const done = await settled(post.id);
    expect(done.state).toBe('published');
    expect(done.timeline).toContainEqual(
      expect.objectContaining({ state: 'queued', step: 'hold', detail: 'the instance is paused' }),
    );
  });

  it('fails at once with Meta’s code and text when Meta refuses for good, and says so in an event', async () => {
    sandbox.failNext(1, 'permission-denied', { objectId: PAGE, edge: 'feed' });
    const post = await accepted('ins_main', fb({ type: 'text', message: 'Not allowed' }));
    const done = await settled(post.id);
    expect(done.state).toBe('failed');
    expect(done.error).toMatchObject({ code: 200, message: '(#200) Permissions error' });
    expect(done.timeline.filter((e) => e.step === 'publish')).toHaveLength(1);
    const events = await eventsOf(post.id, 'failed');
    expect((events.at(-1)!.data as PostEventData).error?.code).toBe(200);
    const metrics = (await engine.app.inject({ method: 'GET', url: '/metrics' })).body;
    expect(metrics).toMatch(/post_graph_errors_total\{platform="facebook",step="publish",code="200"[^}]*\} 1/);
    expect(metrics).toMatch(/posts_state_changes_total\{platform="facebook",state="failed"[^}]*\} 1/);
  });
});

describe('Instagram posts', () => {
  it('publishes an image through a container, and records the container and the media id', async () => {
    const post = await accepted('ins_main', ig({ type: 'image', imageUrl: IMAGE, caption: 'New in' }));
    const done = await settled(post.id);
    expect(done.state).toBe('published');
    expect(done.containerId).not.toBeNull();
    const published = sandbox.publishing.posts({ objectId: IG }).find((p) => p.id === done.publishedId);
    expect(published).toMatchObject({ kind: 'IMAGE', containerId: done.containerId });
    expect(published?.params).toMatchObject({ url: IMAGE, caption: 'New in' });
    const events = await eventsOf(post.id, 'published');
    expect(events.map((e) => e.type)).toEqual([
      'instagram.post.queued',
      'instagram.post.processing',
      'instagram.post.published',
    ]);
    expect(events.at(-1)!.channel).toEqual({ kind: 'instagram', id: IG });
  });

  it('publishes a carousel: one container per item, finished, then the carousel container', async () => {
    const post = await accepted(
      'ins_main',
      ig({
        type: 'carousel',
        caption: 'Three looks',
        items: [
          { type: 'image', imageUrl: IMAGE },
          { type: 'video', videoUrl: VIDEO },
          { type: 'image', imageUrl: 'https://cdn.example.com/2.jpg' },
        ],
      }),
    );
    const done = await settled(post.id);
    expect(done.state).toBe('published');
    const published = sandbox.publishing.posts({ objectId: IG }).find((p) => p.id === done.publishedId)!;
    expect(published.kind).toBe('CAROUSEL');
    expect(published.params.caption).toBe('Three looks');
    const children = published.params.children!.split(',');
    expect(children).toHaveLength(3);
    const containers = sandbox.publishing.containers({ objectId: IG });
    expect(children.map((id) => containers.find((c) => c.id === id)?.mediaType)).toEqual(['IMAGE', 'VIDEO', 'IMAGE']);
  });

  it('publishes a reel once Meta has processed it, polling the container’s status in between', async () => {
    sandbox.publishing.configure({ videoContainerDelayMs: 1_500 });
    try {
      const post = await accepted('ins_main', ig({ type: 'reel', videoUrl: VIDEO, caption: 'Behind the scenes' }));
      const done = await settled(post.id);
      expect(done.state).toBe('published');
      expect(done.timeline).toContainEqual(
        expect.objectContaining({ state: 'processing', step: 'status', detail: 'Meta is processing the media' }),
      );
      const container = sandbox.publishing.containers({ objectId: IG }).find((c) => c.id === done.containerId)!;
      expect(container.mediaType).toBe('REELS');
      // Published only after the container had become FINISHED.
      expect(Date.parse(done.publishedAt!)).toBeGreaterThanOrEqual(container.readyAtMs);
      const statusCalls = sandbox.calls().filter((c) => c.method === 'GET' && c.path.endsWith(`/${done.containerId}`));
      expect(statusCalls.length).toBeGreaterThan(1);
    } finally {
      sandbox.publishing.configure({ videoContainerDelayMs: 600 });
    }
  });

  it('publishes a scheduled post at its time, not before', async () => {
    const publishAt = new Date(Date.now() + 2_500);
    const post = await accepted(
      'ins_main',
      ig({ type: 'image', imageUrl: IMAGE }, { publishAt: publishAt.toISOString() }),
    );
    expect(post.state).toBe('scheduled');
    expect(post.publishAt).toBe(publishAt.toISOString());
    await new Promise((r) => setTimeout(r, 1_000));
    expect((await status('ins_main', post.id)).state).toBe('scheduled');

    const done = await settled(post.id);
    expect(done.state).toBe('published');
    expect(Date.parse(done.publishedAt!)).toBeGreaterThanOrEqual(publishAt.getTime());
    const published = sandbox.publishing.posts({ objectId: IG }).find((p) => p.id === done.publishedId)!;
    expect(published.atMs).toBeGreaterThanOrEqual(publishAt.getTime());
    expect(done.timeline.map((e) => e.state).slice(0, 2)).toEqual(['scheduled', 'queued']);
  });

  it('retries a transient Graph failure with backoff and then publishes', async () => {
    sandbox.failNext(2, 'server-error', { objectId: IG_FLAKY, edge: 'media_publish' });
    const post = await accepted('ins_main', ig({ type: 'image', imageUrl: IMAGE }, {}, IG_FLAKY));
    const done = await settled(post.id);
    expect(done.state).toBe('published');
    const retries = done.timeline.filter((e) => e.step === 'publish' && e.error);
    expect(retries.map((e) => [e.attempt, e.error?.code])).toEqual([
      [1, 2],
      [2, 2],
    ]);
    expect(done.timeline.at(-1)).toMatchObject({ state: 'published', attempt: 3 });
    expect(
      sandbox.publishing.posts({ objectId: IG_FLAKY }).filter((p) => p.containerId === done.containerId),
    ).toHaveLength(1);
  });

  it('never publishes a container twice when Meta published it but its answer was lost', async () => {
    sandbox.failNext(1, 'timeout-sent', { objectId: IG_FLAKY, edge: 'media_publish' });
    const post = await accepted('ins_main', ig({ type: 'image', imageUrl: IMAGE }, {}, IG_FLAKY));
    const done = await settled(post.id);
    expect(done.state).toBe('published');
    expect(
      sandbox.publishing.posts({ objectId: IG_FLAKY }).filter((p) => p.containerId === done.containerId),
    ).toHaveLength(1);
    expect(done.timeline).toContainEqual(
      expect.objectContaining({ step: 'publish', isOutcomeUnknown: true, attempt: 1 }),
    );
    expect(done.timeline.at(-1)).toMatchObject({ state: 'published', isOutcomeUnknown: true });
    // The one call Meta took got no answer; none was made again.
    const publishCalls = sandbox
      .calls()
      .filter((c) => c.path.endsWith(`/${IG_FLAKY}/media_publish`) && c.at >= post.createdAt);
    expect(publishCalls.map((c) => c.status)).toEqual([0]);
  });

  it('resumes a post a killed worker left mid-way from its recorded container, and publishes it once', async () => {
    // What a worker killed during its publishing call leaves: the row with the container it made and
    // the call marked in flight, and its job, which pg-boss runs again once the heartbeat stops.
    const made = await fetch(`${sandbox.url}/v21.0/${IG}/media`, {
      method: 'POST',
      headers: { authorization: `Bearer ${tokenOf(IG)}`, 'content-type': 'application/json' },
      body: JSON.stringify({ image_url: IMAGE }),
    });
    const containerId = ((await made.json()) as { id: string }).id;
    const containers = sandbox.publishing.containers({ objectId: IG }).length;
    const id = uuidv7();
    const runId = uuidv7();
    const now = new Date();
    const tenantId = engine.app.configSync.snapshot!.instances.find((i) => i.id === 'ins_main')!.tenantId;
    await engine.app.db.orm.insert(posts).values({
      id,
      instanceId: 'ins_main',
      tenantId,
      platform: 'instagram',
      channelId: IG,
      content: { type: 'image', imageUrl: IMAGE },
      state: 'processing',
      runId,
      containerId,
      containersCreatedAt: now,
      publishStartedAt: now,
      requestHash: 'resumed',
      createdAt: now,
      updatedAt: now,
    });
    await engine.app.queue.send(PUBLISH_QUEUE, { postId: id, runId });

    const done = await settled(id);
    expect(done.state).toBe('published');
    expect(done.containerId).toBe(containerId);
    expect(sandbox.publishing.containers({ objectId: IG })).toHaveLength(containers);
    expect(sandbox.publishing.posts({ objectId: IG }).filter((p) => p.containerId === containerId)).toHaveLength(1);
    // The status check showed the container unpublished, so the one publishing call was safe to make.
    expect(done.timeline.at(-1)).toMatchObject({ state: 'published', isOutcomeUnknown: true });
    // A stale copy of the job (its run is over) does nothing.
    await engine.app.posts.run({ postId: id, runId });
    expect(sandbox.publishing.posts({ objectId: IG }).filter((p) => p.containerId === containerId)).toHaveLength(1);
  });

  it('publishes when Meta will not tell the publishing limit (a missing permission), leaving the check to Meta', async () => {
    sandbox.failNext(1, 'permission-denied', { objectId: IG_FLAKY, edge: 'content_publishing_limit' });
    const post = await accepted('ins_main', ig({ type: 'image', imageUrl: IMAGE }, {}, IG_FLAKY));
    const done = await settled(post.id);
    expect(done.state).toBe('published');
    expect(done.timeline).toContainEqual(
      expect.objectContaining({
        state: 'processing',
        step: 'limit',
        detail: expect.stringContaining('could not be read') as string,
      }),
    );
  });

  it('fails when Meta refuses the token, and asks the operator to reauthorize the channel', async () => {
    sandbox.failNext(1, 'expired-token', { objectId: IG_FLAKY, edge: 'content_publishing_limit' });
    const post = await accepted('ins_main', ig({ type: 'image', imageUrl: IMAGE }, {}, IG_FLAKY));
    const done = await settled(post.id);
    expect(done.state).toBe('failed');
    expect(done.error).toMatchObject({ code: 190, subcode: 463 });
    expect(done.timeline.at(-1)).toMatchObject({ state: 'failed', step: 'limit', attempt: 1 });
    const alerts = (await engine.app.db.orm.select().from(reportOutbox))
      .map((r) => r.payload as AlertReport)
      .filter((p) => p.kind === 'alert' && p.type === 'reauthorize-channel');
    expect(alerts).toContainEqual(
      expect.objectContaining({ key: `channel:instagram:${IG_FLAKY}`, severity: 'critical', instanceId: 'ins_main' }),
    );
  });

  it('fails with Meta’s error when a container cannot be processed', async () => {
    const post = await accepted(
      'ins_main',
      ig({ type: 'image', imageUrl: 'https://cdn.example.com/sandbox-error.jpg' }),
    );
    const done = await settled(post.id);
    expect(done.state).toBe('failed');
    expect(done.error).toMatchObject({ subcode: 2207026, title: 'Media container failed' });
    expect(sandbox.publishing.posts({ objectId: IG }).some((p) => p.containerId === done.containerId)).toBe(false);
  });

  it('waits at the account’s publishing limit, says so, and publishes when the moving window allows', async () => {
    sandbox.publishing.setLimit(IG_LIMIT, 1);
    // One post published nearly 24 h ago: the window frees a slot in about 4 s.
    sandbox.publishing.usePublishingQuota(IG_LIMIT, 1, Date.now() - 86_400_000 + 4_000);
    const post = await accepted('ins_main', ig({ type: 'image', imageUrl: IMAGE }, {}, IG_LIMIT));
    const waiting = await eventually(async () => {
      const current = await status('ins_main', post.id);
      return current.waitingReason?.startsWith('publishing limit reached') ? current : undefined;
    });
    expect(waiting.state).toBe('queued');
    expect(waiting.waitingReason).toContain('1 of the 1 posts');
    expect(sandbox.publishing.containers({ objectId: IG_LIMIT })).toHaveLength(0);

    const done = await settled(post.id);
    expect(done.state).toBe('published');
    expect(done.waitingReason).toBeNull();
    expect(done.timeline).toContainEqual(expect.objectContaining({ state: 'queued', step: 'limit' }));
  });
});

describe('the posts API', () => {
  it('refuses a channel of another instance, and hides another instance’s posts', async () => {
    const refused = await create('ins_other', fb({ type: 'text', message: 'Not my page' }));
    expect(refused.statusCode).toBe(403);
    expect(refused.json()).toMatchObject({ type: '/problems/channel-not-yours' });
    const igRefused = await create('ins_main', ig({ type: 'image', imageUrl: IMAGE }, {}, IG_OTHER));
    expect(igRefused.statusCode).toBe(403);

    const mine = await accepted(
      'ins_main',
      fb({ type: 'text', message: 'Mine' }, { publishAt: new Date(Date.now() + 3_600_000).toISOString() }),
    );
    const peek = await engine.app.inject({
      method: 'GET',
      url: `/v1/posts/${mine.id}`,
      headers: { authorization: `Bearer ${apiTokens.get('ins_other')!}` },
    });
    expect(peek.statusCode).toBe(404);
    const cancel = await engine.app.inject({
      method: 'DELETE',
      url: `/v1/posts/${mine.id}`,
      headers: { authorization: `Bearer ${apiTokens.get('ins_other')!}` },
    });
    expect(cancel.statusCode).toBe(404);
  });

  it('names each invalid field, and the types a platform takes', async () => {
    const wrongType = await create('ins_main', fb({ type: 'image', imageUrl: IMAGE }));
    expect(wrongType.statusCode).toBe(400);
    expect(wrongType.json()).toMatchObject({
      type: '/problems/validation',
      errors: [{ field: 'post.type', message: 'facebook takes text, link, photo; not image' }],
    });
    const tooFew = await create('ins_main', ig({ type: 'carousel', items: [{ type: 'image', imageUrl: IMAGE }] }));
    expect(tooFew.statusCode).toBe(400);
    expect(tooFew.json<{ errors: { field: string }[] }>().errors[0]!.field).toBe('post.items');
  });

  it('cancels a scheduled post, which then never reaches Meta; a cancelled post cannot be cancelled again', async () => {
    const post = await accepted(
      'ins_main',
      ig({ type: 'image', imageUrl: IMAGE }, { publishAt: new Date(Date.now() + 800).toISOString() }),
    );
    const del = () =>
      engine.app.inject({
        method: 'DELETE',
        url: `/v1/posts/${post.id}`,
        headers: { authorization: `Bearer ${apiTokens.get('ins_main')!}` },
      });
    const cancelled = await del();
    expect(cancelled.statusCode).toBe(200);
    expect(cancelled.json<PostStatus>().state).toBe('cancelled');
    expect((await del()).statusCode).toBe(409);
    await eventsOf(post.id, 'cancelled');
    const containersBefore = sandbox.publishing.containers({ objectId: IG }).length;
    // Past its publishAt: its job finds it cancelled and does nothing.
    await new Promise((r) => setTimeout(r, 1_800));
    expect((await status('ins_main', post.id)).state).toBe('cancelled');
    expect(sandbox.publishing.containers({ objectId: IG })).toHaveLength(containersBefore);
  });

  it('fails a post whose run the queue gave up on, saying why, instead of leaving it queued', async () => {
    const post = await accepted(
      'ins_main',
      fb({ type: 'text', message: 'Never' }, { publishAt: new Date(Date.now() + 3_600_000).toISOString() }),
    );
    const [row] = await engine.app.db.orm.select().from(posts).where(eq(posts.id, post.id));
    // What the job handler does when its last try throws (pg-boss's 21st, hours after the first).
    await engine.app.posts.giveUp({ postId: post.id, runId: row!.runId! }, 21, new Error('connection refused'));
    const failed = await status('ins_main', post.id);
    expect(failed.state).toBe('failed');
    expect(failed.error).toMatchObject({
      title: 'Publishing gave up',
      message: 'the engine could not move the post on after 21 tries: connection refused',
    });
    await eventsOf(post.id, 'failed');
    // A run that is no longer the post's own changes nothing.
    await engine.app.posts.giveUp({ postId: post.id, runId: uuidv7() }, 21, new Error('late'));
    expect((await status('ins_main', post.id)).error?.message).toContain('connection refused');
  });

  it('answers the same post for a repeated Idempotency-Key, and refuses the key with another body', async () => {
    const body = fb({ type: 'text', message: 'Once' }, { publishAt: new Date(Date.now() + 3_600_000).toISOString() });
    const first = await create('ins_main', body, { 'idempotency-key': 'post-once' });
    const again = await create('ins_main', body, { 'idempotency-key': 'post-once' });
    expect(again.json<PostStatus>().id).toBe(first.json<PostStatus>().id);
    const other = await create('ins_main', fb({ type: 'text', message: 'Twice' }), { 'idempotency-key': 'post-once' });
    expect(other.statusCode).toBe(422);
  });

  it('lists the instance’s posts newest first, filtered by state and platform, a page at a time', async () => {
    const list = async (query: string) => {
      const res = await engine.app.inject({
        method: 'GET',
        url: `/v1/posts?${query}`,
        headers: { authorization: `Bearer ${apiTokens.get('ins_main')!}` },
      });
      expect(res.statusCode, res.body).toBe(200);
      return res.json<PostList>();
    };
    const scheduled = await list('state=scheduled&platform=facebook');
    expect(scheduled.posts.length).toBeGreaterThan(0);
    expect(scheduled.posts.every((p) => p.state === 'scheduled' && p.channel.kind === 'facebook')).toBe(true);
    const first = await list('limit=2');
    expect(first.posts).toHaveLength(2);
    expect(first.nextCursor).not.toBeNull();
    const second = await list(`limit=2&cursor=${first.nextCursor}`);
    expect(second.posts[0]!.id < first.posts[1]!.id).toBe(true);
    const none = await engine.app.inject({
      method: 'GET',
      url: '/v1/posts',
      headers: { authorization: `Bearer ${apiTokens.get('ins_other')!}` },
    });
    expect(none.json<PostList>().posts).toEqual([]);
  });
});

describe('the hub’s own posts (tenant zero)', () => {
  it('publishes on the hub’s page for control’s service token, idempotent by control’s key', async () => {
    const body = { channel: { kind: 'facebook', id: PAGE_HUB }, post: { type: 'text', message: 'News from MIC' } };
    // Before the config snapshot names the hub, control is told to try again later.
    const early = await engine.app.inject({
      method: 'PUT',
      url: '/internal/v1/hub/posts/crm-post-0',
      headers: engine.auth,
      payload: body,
    });
    expect(early.statusCode).toBe(503);
    expect(early.json<{ type: string; title: string }>()).toMatchObject({
      type: expect.stringContaining('hub-not-configured') as string,
      title: 'The hub instance is not configured yet',
    });
    await applyTestConfig(engine, (s) => {
      s.tenants.push({ ...s.tenants[0]!, id: 'ten_hub' });
      s.instances.push({
        id: 'ins_hub',
        tenantId: 'ten_hub',
        kind: 'hub',
        webhookUrl: null,
        deliveryFormat: 'standard-webhooks',
        state: 'active',
        endpointRevision: 1,
      });
      s.channels.push({ platform: 'messenger', channelId: PAGE_HUB, instanceId: 'ins_hub' });
    });
    const put = () =>
      engine.app.inject({
        method: 'PUT',
        url: '/internal/v1/hub/posts/crm-post-1',
        headers: engine.auth,
        payload: body,
      });
    const first = await put();
    expect(first.statusCode, first.body).toBe(202);
    const again = await put();
    expect(again.json<PostStatus>().id).toBe(first.json<PostStatus>().id);
    const anonymous = await engine.app.inject({ method: 'PUT', url: '/internal/v1/hub/posts/x', payload: body });
    expect(anonymous.statusCode).toBe(401);
    const notHubs = await engine.app.inject({
      method: 'PUT',
      url: '/internal/v1/hub/posts/crm-post-2',
      headers: engine.auth,
      payload: fb({ type: 'text', message: 'Not the hub’s page' }),
    });
    expect(notHubs.statusCode).toBe(403);

    const done = await eventually(async () => {
      const res = await engine.app.inject({
        method: 'GET',
        url: `/internal/v1/hub/posts/${first.json<PostStatus>().id}`,
        headers: engine.auth,
      });
      const post = res.json<PostStatus>();
      return post.state === 'published' ? post : undefined;
    });
    expect(sandbox.publishing.posts({ objectId: PAGE_HUB }).map((p) => p.id)).toEqual([done.publishedId]);
  });
});
