import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Channel, HubPost, HubPostDetail } from '@mic/contracts';
import { startGraphSandbox, type GraphSandbox } from '@mic/meta-sandbox';
import { eventually } from '@mic/platform/testing';
import { startTestPlanes, type TestPlanes } from './planes.ts';

/**
 * Publishing as tenant zero, across both planes: the operator posts on the hub's own Facebook Page
 * through control's admin API; the post waits in control's outbox, the engine publishes it through
 * the Graph API, and its events bring the result back to control.
 */
const HUB_PAGE = '1065433333';
const OTHER_PAGE = '1065433334';
const TOKEN = 'EAAG-hub-page-token';
let planes: TestPlanes;
let graph: GraphSandbox;

async function api<T>(method: 'GET' | 'POST' | 'PATCH' | 'DELETE', url: string, payload?: object) {
  const res = await planes.control.app.inject({
    method,
    url,
    headers: planes.control.operator,
    ...(payload ? { payload } : {}),
  });
  return { status: res.statusCode, body: (res.body ? res.json() : undefined) as T };
}

beforeAll(async () => {
  graph = await startGraphSandbox({ objects: [{ id: HUB_PAGE, kind: 'page', token: TOKEN }] });
  planes = await startTestPlanes({
    engine: { META_GRAPH_URL: graph.url, CONFIG_SYNC_INTERVAL: '1s', QUEUE_POLLING_INTERVAL: '500ms' },
    control: { QUEUE_POLLING_INTERVAL: '500ms' },
  });
  const channel = await api<Channel>('POST', '/v1/instances/ins_hub/channels', {
    platform: 'messenger',
    channelId: HUB_PAGE,
    accessToken: TOKEN,
  });
  expect(channel.status, JSON.stringify(channel.body)).toBe(201);
  // Publishing is a module like any other, off by default, the hub's included.
  const modules = await api('PATCH', '/v1/tenants/ten_hub', { modules: { publishing: true } });
  expect(modules.status, JSON.stringify(modules.body)).toBe(200);
  // The engine routes the page once its config sync has seen the new channel and the module.
  await eventually(async () => {
    const snapshot = planes.engine.app.configSync.snapshot;
    return snapshot?.channels.some((c) => c.channelId === HUB_PAGE) &&
      snapshot.tenants.find((t) => t.id === 'ten_hub')?.modules.publishing
      ? true
      : undefined;
  });
});
afterAll(async () => {
  await planes?.stop();
  await graph?.stop();
});

describe("posts on the hub's own page", () => {
  it('publishes through control’s outbox and the engine, and shows Meta’s id and the engine’s timeline', async () => {
    const created = await api<HubPost>('POST', '/v1/hub/posts', {
      channel: { kind: 'facebook', id: HUB_PAGE },
      post: { type: 'text', message: 'MIC is live' },
    });
    expect(created.status, JSON.stringify(created.body)).toBe(202);
    expect(created.body.state).toBe('pending');

    const done = await eventually(async () => {
      const { body } = await api<HubPostDetail>('GET', `/v1/hub/posts/${created.body.id}`);
      return body.state === 'published' ? body : undefined;
    }, 20_000);
    const published = graph.publishing.posts({ objectId: HUB_PAGE });
    expect(published.map((p) => [p.id, p.params.message])).toEqual([[done.publishedId, 'MIC is live']]);
    expect(done.enginePost?.timeline.map((e) => e.state)).toEqual(['queued', 'processing', 'published']);
    // The engine's events keep control's list current without asking the engine.
    await eventually(async () => {
      const list = await api<HubPost[]>('GET', '/v1/hub/posts');
      return list.body.find((p) => p.id === created.body.id)?.publishedId === done.publishedId ? true : undefined;
    });
  });

  it('shows the engine’s refusal of a page that is not the hub’s, and refuses an invalid post at once', async () => {
    const created = await api<HubPost>('POST', '/v1/hub/posts', {
      channel: { kind: 'facebook', id: OTHER_PAGE },
      post: { type: 'text', message: 'Not ours' },
    });
    expect(created.status).toBe(202);
    const refused = await eventually(async () => {
      const { body } = await api<HubPost>('GET', `/v1/hub/posts/${created.body.id}`);
      return body.state === 'refused' ? body : undefined;
    }, 20_000);
    expect(refused.error?.title).toBe('The channel is not connected to this instance');

    const invalid = await api<{ errors: { field: string }[] }>('POST', '/v1/hub/posts', {
      channel: { kind: 'facebook', id: HUB_PAGE },
      post: { type: 'reel', videoUrl: 'https://cdn.example.com/a.mp4' },
    });
    expect(invalid.status).toBe(400);
    expect(invalid.body.errors[0]!.field).toBe('post.type');
  });

  it('cancels a scheduled post at the engine', async () => {
    const created = await api<HubPost>('POST', '/v1/hub/posts', {
      channel: { kind: 'facebook', id: HUB_PAGE },
      post: { type: 'text', message: 'Later' },
      publishAt: new Date(Date.now() + 3_600_000).toISOString(),
    });
    await eventually(async () => {
      const { body } = await api<HubPost>('GET', `/v1/hub/posts/${created.body.id}`);
      return body.state === 'scheduled' ? body : undefined;
    }, 20_000);
    const cancelled = await api<HubPost>('DELETE', `/v1/hub/posts/${created.body.id}`);
    expect(cancelled.status, JSON.stringify(cancelled.body)).toBe(200);
    expect(cancelled.body.state).toBe('cancelled');
    const again = await api<HubPost>('DELETE', `/v1/hub/posts/${created.body.id}`);
    expect(again.status).toBe(409);
  });
});
