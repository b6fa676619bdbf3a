import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { PostStatus } from '@mic/contracts';
import { eventually, TEST_DATABASE_URL } from '@mic/platform/testing';
import {
  connectChannel,
  connectSimInstance,
  controlCall,
  controlConfigVersion,
  engineRuns,
  micEnv,
  ownerOf,
  runMic,
  systemStatus,
  waitForHealth,
  type MicEnv,
  type MicProcess,
  type SimInstance,
} from './harness.ts';

/**
 * Publishing on real processes: Instagram reels that Meta takes seconds to process, an engine
 * killed -9 while their containers are processing or their publishing calls are out, and a
 * restarted engine that finishes every post from the containers it had recorded, none published
 * twice, none made again.
 */
const IG = '17841400000000777';
const PAGE = '105623478900777';
const POSTS = 6;

let env: MicEnv;
let mic: MicProcess;
let instance: SimInstance;

beforeAll(async () => {
  env = await micEnv({
    META_GRAPH_TIMEOUT: '2s',
    POST_RETRY_BASE: '200ms',
    POST_POLL_INITIAL: '300ms',
    POST_POLL_MAX: '600ms',
  });
  // Meta's processing of a reel takes a while: the kill comes while containers are IN_PROGRESS.
  env.graph.publishing.configure({ videoContainerDelayMs: 3_000 });
  mic = runMic(['start'], env);
  await waitForHealth(`${mic.engineUrl}/health`, 'pass');
  instance = await connectSimInstance(mic, env, { name: 'ins-publish', phoneNumberId: '100000000777' });
  // Instagram through Facebook Login: the account publishes with its linked page's token.
  env.graph.addObject({ id: IG, kind: 'instagram-account', token: `EAAG-e2e-${PAGE}` });
  await connectChannel(mic, env, instance.instanceId, { platform: 'instagram', channelId: IG, pageId: PAGE });
  const operator = await ownerOf(mic, env);
  const modules = await controlCall(mic, operator, 'PATCH', `/v1/tenants/${instance.tenantId}`, {
    modules: { publishing: true },
  });
  expect(modules.status).toBe(200);
  await engineRuns(mic, await controlConfigVersion(mic));
}, 120_000);

afterAll(async () => {
  await mic?.stop(5_000);
  await instance?.sim.stop();
  await env?.cleanup();
});

async function post(body: object): Promise<PostStatus> {
  const res = await fetch(`${mic.engineUrl}/v1/posts`, {
    method: 'POST',
    headers: { authorization: `Bearer ${instance.apiToken}`, 'content-type': 'application/json' },
    body: JSON.stringify(body),
  });
  expect(res.status).toBe(202);
  return (await res.json()) as PostStatus;
}

async function status(id: string): Promise<PostStatus> {
  const res = await fetch(`${mic.engineUrl}/v1/posts/${id}`, {
    headers: { authorization: `Bearer ${instance.apiToken}` },
  });
  return (await res.json()) as PostStatus;
}

describe(`publishing on ${TEST_DATABASE_URL ? 'Postgres' : 'PGlite'}`, () => {
  it(
    'finishes every post after the engine is killed -9 mid-way, publishing each container once',
    { timeout: 240_000 },
    async () => {
      const created: PostStatus[] = [];
      for (let i = 0; i < POSTS; i += 1) {
        created.push(
          await post({
            channel: { kind: 'instagram', id: IG },
            post: { type: 'reel', videoUrl: `https://cdn.example.com/reel-${i}.mp4`, caption: `Reel ${i}` },
          }),
        );
      }
      const engine = await systemStatus(mic, 'engine');
      // Every post has its container, and Meta is still processing them.
      await eventually(async () =>
        env.graph.publishing.containers({ objectId: IG }).length === POSTS ? true : undefined,
      );
      process.kill(engine.pid, 'SIGKILL');

      await eventually(
        async () => {
          const current = await systemStatus(mic, 'engine').catch(() => undefined);
          return current && current.pid !== engine.pid ? current : undefined;
        },
        60_000,
        250,
      );
      // A killed run's job comes back once pg-boss sees its heartbeat stop (10 s heartbeats, checked
      // every 10 s) and after the retry's backoff: under load that alone can take most of a minute.
      const done = await eventually(
        async () => {
          const all = await Promise.all(created.map((p) => status(p.id)));
          return all.every((p) => p.state === 'published') ? all : undefined;
        },
        120_000,
        500,
      );
      // Each post published exactly one container, its own; a container whose answer the kill cut off
      // may have been made again, and that orphan is never published (Meta expires it in 24 h).
      const published = env.graph.publishing.posts({ objectId: IG });
      expect(published).toHaveLength(POSTS);
      expect(published.map((p) => p.containerId).sort()).toEqual(done.map((p) => p.containerId).sort());
      const containers = env.graph.publishing.containers({ objectId: IG });
      expect(containers.length).toBeLessThanOrEqual(2 * POSTS);
      // A post whose publishing call the kill cut off says so, and shows no id.
      for (const p of done) {
        if (p.publishedId === null) expect(p.timeline.some((e) => e.isOutcomeUnknown)).toBe(true);
      }
      console.info(
        `kill -9 mid-publishing: ${POSTS} reels published once each; ${containers.length - POSTS} container(s) made again, none published`,
      );
    },
  );
});
