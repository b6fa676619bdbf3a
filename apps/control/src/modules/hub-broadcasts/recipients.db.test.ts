import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { BroadcastRecipientPage, Channel, HubBroadcast } from '@mic/contracts';
import { startGraphSandbox, type GraphSandbox } from '@mic/meta-sandbox';
import { eventually } from '@mic/platform/testing';
import { startTestPlanes, type TestPlanes } from '../../../../../test/planes.ts';

/** A hub broadcast's recipients through control, from a real engine sending to the Graph sandbox. */
const PHONE = '1065400888001';
const WABA = '1065400888000';
const TOKEN = 'EAAG-hub-broadcast-recipients';
let planes: TestPlanes;
let graph: GraphSandbox;

async function api<T>(method: 'GET' | 'POST' | 'PATCH', url: string, payload?: object) {
  const res = await planes.control.app.inject({
    method,
    url,
    headers: planes.control.operator,
    ...(payload ? { payload } : {}),
  });
  return { status: res.statusCode, body: res.json<T>() };
}

beforeAll(async () => {
  graph = await startGraphSandbox({
    objects: [
      { id: WABA, kind: 'whatsapp-business-account', token: TOKEN },
      { id: PHONE, kind: 'whatsapp-phone-number', token: TOKEN, businessAccountId: WABA },
    ],
  });
  planes = await startTestPlanes({
    engine: {
      META_GRAPH_URL: graph.url,
      CONFIG_SYNC_INTERVAL: '1s',
      QUEUE_POLLING_INTERVAL: '500ms',
      OUTBOUND_POLL_INTERVAL: '100ms',
      BROADCAST_TICK: '200ms',
    },
    control: { QUEUE_POLLING_INTERVAL: '500ms' },
  });
  const channel = await api<Channel>('POST', '/v1/instances/ins_hub/channels', {
    platform: 'whatsapp',
    channelId: PHONE,
    wabaId: WABA,
    accessToken: TOKEN,
  });
  expect(channel.status, JSON.stringify(channel.body)).toBe(201);
  expect((await api('PATCH', '/v1/tenants/ten_hub', { modules: { marketing: true } })).status).toBe(200);
  await eventually(async () => {
    const snapshot = planes.engine.app.configSync.snapshot;
    return snapshot?.channels.some((c) => c.channelId === PHONE) &&
      snapshot.tenants.find((t) => t.id === 'ten_hub')?.modules.marketing
      ? true
      : undefined;
  });
}, 90_000);

afterAll(async () => {
  await planes?.stop();
  await graph?.stop();
});

describe("a hub broadcast's recipients", () => {
  it('lists each recipient with where it stands, by state, once the engine has the broadcast', async () => {
    const created = await api<HubBroadcast>('POST', '/v1/hub/broadcasts', {
      name: 'Novedades',
      channel: { kind: 'whatsapp', id: PHONE },
      message: { type: 'template', template: { name: 'hello_world', language: { code: 'en_US' } } },
      recipients: [{ to: '+5215550881' }, { to: '+5215550882' }],
    });
    expect(created.status, JSON.stringify(created.body)).toBe(202);
    const id = created.body.id;

    const page = await eventually(async () => {
      const { status, body } = await api<BroadcastRecipientPage>('GET', `/v1/hub/broadcasts/${id}/recipients`);
      expect(status).toBe(200);
      expect(body.recipients.map((r) => r.state)).toEqual(['sent', 'sent']);
      return body;
    }, 30_000);
    expect(page.recipients.map((r) => r.to).sort()).toEqual(['5215550881', '5215550882']);
    expect(page.recipients.every((r) => r.messageId !== null && r.error === null)).toBe(true);
    const failed = await api<BroadcastRecipientPage>('GET', `/v1/hub/broadcasts/${id}/recipients?state=failed`);
    expect(failed.body.recipients).toEqual([]);
  });

  it('is 404 for a broadcast that does not exist', async () => {
    const res = await api<{ status: number }>(
      'GET',
      '/v1/hub/broadcasts/00000000-0000-7000-8000-000000000000/recipients',
    );
    expect(res.status).toBe(404);
  });
});
