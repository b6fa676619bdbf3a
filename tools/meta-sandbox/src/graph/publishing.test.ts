import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startGraphSandbox, type GraphSandbox } from './server.ts';

const PAGE = '201';
const IG = '17841400000000001';
const IG_OTHER = '17841400000000002';
const TOKEN = 'EAAGpage-token';

/** Meta's answers, as far as these tests read them. */
interface Answer {
  id: string;
  post_id?: string;
  status_code?: string;
  status?: string;
  error?: Record<string, unknown>;
  data?: unknown;
}

let sandbox: GraphSandbox;
let nowMs = Date.parse('2026-01-10T12:00:00Z');

beforeAll(async () => {
  sandbox = await startGraphSandbox({
    now: () => nowMs,
    objects: [
      { id: PAGE, kind: 'page', token: TOKEN },
      { id: IG, kind: 'instagram-account', token: TOKEN },
      { id: IG_OTHER, kind: 'instagram-account', token: 'EAAGother-token' },
    ],
    publishing: { containerDelayMs: 1_000, videoContainerDelayMs: 5_000 },
  });
});
afterAll(async () => sandbox?.stop());

async function graph(method: string, path: string, params?: Record<string, unknown>, token = TOKEN) {
  const url = new URL(`${sandbox.url}/v21.0/${path}`);
  if (method === 'GET') for (const [k, v] of Object.entries(params ?? {})) url.searchParams.set(k, String(v));
  const res = await fetch(url, {
    method,
    headers: { authorization: `Bearer ${token}`, 'content-type': 'application/json' },
    ...(method === 'POST' ? { body: JSON.stringify(params ?? {}) } : {}),
  });
  return { status: res.status, body: (await res.json()) as Answer };
}

describe('Page posts', () => {
  it('publishes to the feed and answers {page-id}_{post-id}; a photo answers its id and the post id', async () => {
    const feed = await graph('POST', `${PAGE}/feed`, { message: 'Hi', link: 'https://example.com' });
    expect(feed.status).toBe(200);
    expect(feed.body.id).toMatch(new RegExp(`^${PAGE}_\\d+$`));
    const photo = await graph('POST', `${PAGE}/photos`, { url: 'https://example.com/a.jpg', caption: 'A' });
    expect(photo.body.post_id).toBe(`${PAGE}_${photo.body.id}`);
    expect(sandbox.publishing.posts({ objectId: PAGE }).map((p) => p.kind)).toEqual(['feed', 'photo']);
  });

  it('refuses what Meta refuses: an empty post, a photo it cannot fetch', async () => {
    expect((await graph('POST', `${PAGE}/feed`, {})).body.error).toMatchObject({ code: 100 });
    const bad = await graph('POST', `${PAGE}/photos`, { url: 'https://example.com/sandbox-error.jpg' });
    expect(bad.body.error).toMatchObject({ code: 324 });
  });
});

describe('Instagram containers', () => {
  it('keeps a container IN_PROGRESS for the configured time, then FINISHED, then publishes it once', async () => {
    const made = await graph('POST', `${IG}/media`, { image_url: 'https://example.com/a.jpg', caption: 'A' });
    const id = made.body.id;
    expect((await graph('GET', id, { fields: 'status_code' })).body).toEqual({ status_code: 'IN_PROGRESS', id });
    const early = await graph('POST', `${IG}/media_publish`, { creation_id: id });
    expect(early.body.error).toMatchObject({ code: 9007, error_subcode: 2207027 });
    nowMs += 1_000;
    expect((await graph('GET', id, { fields: 'status_code' })).body.status_code).toBe('FINISHED');
    const published = await graph('POST', `${IG}/media_publish`, { creation_id: id });
    expect(published.status).toBe(200);
    expect((await graph('GET', id, { fields: 'status_code' })).body.status_code).toBe('PUBLISHED');
    const again = await graph('POST', `${IG}/media_publish`, { creation_id: id });
    expect(again.body.error).toMatchObject({ code: 9007 });
    expect(sandbox.publishing.posts({ objectId: IG }).filter((p) => p.containerId === id)).toHaveLength(1);
  });

  it('builds a carousel from its items and ends a container in ERROR for the marked URL', async () => {
    const a = (await graph('POST', `${IG}/media`, { image_url: 'https://e.com/1.jpg', is_carousel_item: true })).body
      .id;
    const b = (
      await graph('POST', `${IG}/media`, {
        media_type: 'VIDEO',
        video_url: 'https://e.com/v.mp4',
        is_carousel_item: true,
      })
    ).body.id;
    const carousel = await graph('POST', `${IG}/media`, { media_type: 'CAROUSEL', children: `${a},${b}` });
    nowMs += 1_000;
    // The video item is still processing, so the carousel is too.
    expect((await graph('GET', carousel.body.id, { fields: 'status_code' })).body.status_code).toBe('IN_PROGRESS');
    nowMs += 5_000;
    expect((await graph('GET', carousel.body.id, { fields: 'status_code' })).body.status_code).toBe('FINISHED');

    const broken = await graph('POST', `${IG}/media`, { image_url: 'https://e.com/sandbox-error.jpg' });
    const status = await graph('GET', broken.body.id, { fields: 'status_code,status' });
    expect(status.body.status_code).toBe('ERROR');
    expect(status.body.status).toContain('2207026');
  });

  it('shows a container only to its own account', async () => {
    const made = await graph('POST', `${IG}/media`, { image_url: 'https://example.com/a.jpg' });
    const peek = await graph('GET', made.body.id, { fields: 'status_code' }, 'EAAGother-token');
    expect(peek.body.error).toMatchObject({ code: 100, error_subcode: 33 });
  });

  it('counts the posts of the moving 24 h against the limit and refuses the one over it (9, 2207042)', async () => {
    sandbox.publishing.setLimit(IG_OTHER, 2);
    sandbox.publishing.usePublishingQuota(IG_OTHER, 2, nowMs - 86_400_000 + 60_000);
    const limit = await graph(
      'GET',
      `${IG_OTHER}/content_publishing_limit`,
      { fields: 'quota_usage,config' },
      'EAAGother-token',
    );
    expect(limit.body).toEqual({ data: [{ quota_usage: 2, config: { quota_total: 2, quota_duration: 86_400 } }] });
    const made = await graph('POST', `${IG_OTHER}/media`, { image_url: 'https://e.com/1.jpg' }, 'EAAGother-token');
    nowMs += 1_000;
    const refused = await graph('POST', `${IG_OTHER}/media_publish`, { creation_id: made.body.id }, 'EAAGother-token');
    expect(refused.body.error).toMatchObject({ code: 9, error_subcode: 2207042 });
    nowMs += 60_000;
    const published = await graph(
      'POST',
      `${IG_OTHER}/media_publish`,
      { creation_id: made.body.id },
      'EAAGother-token',
    );
    expect(published.status).toBe(200);
  });

  it('fails on demand per publishing edge, like the other endpoints', async () => {
    sandbox.failNext(1, 'server-error', { objectId: IG, edge: 'media_publish' });
    const made = await graph('POST', `${IG}/media`, { image_url: 'https://e.com/1.jpg' });
    nowMs += 1_000;
    const failed = await graph('POST', `${IG}/media_publish`, { creation_id: made.body.id });
    expect(failed.status).toBe(500);
    expect(failed.body.error).toMatchObject({ code: 2, is_transient: true });
    expect((await graph('POST', `${IG}/media_publish`, { creation_id: made.body.id })).status).toBe(200);
  });
});
