import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { signMetaBody } from '@mic/meta';
import { bodyGenerator, startGraphSandbox, type GraphSandbox } from '@mic/meta-sandbox';
import { eventually } from '@mic/platform/testing';
import type { Channel, CreatedInstance, MessageStatus, SendAccepted, Tenant } from '@mic/contracts';
import { startTestPlanes, type TestPlanes } from '../../../../../test/planes.ts';

/**
 * What the operator reads of the engine through control: events no tenant's channel took, and the
 * messages instances sent with their timelines. Both planes are real; Meta is the Graph sandbox.
 */
const APP_SECRET = 'control-deliveries-app-secret';
const PHONE = '1065400777001';
const WABA = '1065400777000';
const UNROUTED_PHONE = '1065400777002';
const TOKEN = 'EAAGcontrol-deliveries-token';

let sandbox: GraphSandbox;
let planes: TestPlanes;
let instanceId: string;
let tenantId: string;
let apiToken: string;

async function call<T>(method: 'GET' | 'POST', url: string, payload?: object) {
  const res = await planes.control.app.inject({
    method,
    url,
    headers: planes.control.operator,
    ...(payload ? { payload } : {}),
  });
  return { status: res.statusCode, body: res.json<T>(), contentType: res.headers['content-type'] };
}
const api = <T>(url: string) => call<T>('GET', url);

beforeAll(async () => {
  sandbox = await startGraphSandbox({
    objects: [
      { id: WABA, kind: 'whatsapp-business-account', token: TOKEN },
      { id: PHONE, kind: 'whatsapp-phone-number', token: TOKEN, businessAccountId: WABA },
    ],
  });
  planes = await startTestPlanes({
    engine: {
      META_APP_SECRET: APP_SECRET,
      META_GRAPH_URL: sandbox.url,
      CONFIG_SYNC_INTERVAL: '1s',
      OUTBOUND_POLL_INTERVAL: '100ms',
      OUTBOUND_HORIZON: '100ms',
    },
    control: { INSTANCE_URL_ALLOW_PRIVATE: 'true' },
  });
  // A tenant with an instance and a WhatsApp number, as an operator sets them up.
  const tenant = await call<Tenant>('POST', '/v1/tenants', { name: 'Entregas SA' });
  expect(tenant.status).toBe(201);
  tenantId = tenant.body.id;
  const created = await call<CreatedInstance>('POST', `/v1/tenants/${tenantId}/instances`, {
    name: 'Principal',
    webhookUrl: 'http://127.0.0.1:9/hook',
  });
  expect(created.status, JSON.stringify(created.body)).toBe(201);
  instanceId = created.body.instance.id;
  apiToken = created.body.credentials!.apiToken;
  const channel = await call<Channel>('POST', `/v1/instances/${instanceId}/channels`, {
    platform: 'whatsapp',
    channelId: PHONE,
    wabaId: WABA,
    accessToken: TOKEN,
  });
  expect(channel.status, JSON.stringify(channel.body)).toBe(201);
  await eventually(async () =>
    planes.engine.app.configSync.snapshot?.channels.some((c) => c.channelId === PHONE) ? true : undefined,
  );
}, 90_000);

afterAll(async () => {
  await planes?.stop();
  await sandbox?.stop();
});

describe('events the engine could not route', () => {
  it('lists them by type and shows one with what Meta sent', async () => {
    const body = JSON.stringify(bodyGenerator('whatsapp-text', { channelId: UNROUTED_PHONE, customers: 1 })(0));
    const posted = await planes.engine.app.inject({
      method: 'POST',
      url: '/meta/webhook',
      headers: { 'content-type': 'application/json', 'x-hub-signature-256': signMetaBody(body, APP_SECRET) },
      payload: body,
    });
    expect(posted.statusCode).toBe(200);

    const list = await api<{ id: string; channelId: string; routeState: string; type: string }[]>(
      '/v1/events?routeState=unrouted&type=whatsapp.message.received',
    );
    expect(list.status).toBe(200);
    expect(list.body).toEqual([
      expect.objectContaining({ channelId: UNROUTED_PHONE, routeState: 'unrouted', type: 'whatsapp.message.received' }),
    ]);
    expect((await api<unknown[]>('/v1/events?routeState=unrouted&type=messenger.message.received')).body).toEqual([]);

    const one = await api<{ event: { id: string }; raw: unknown }>(`/v1/events/${list.body[0]!.id}`);
    expect(one.status).toBe(200);
    expect(JSON.stringify(one.body.raw)).toContain(UNROUTED_PHONE);

    const missing = await api<{ status: number }>('/v1/events/00000000-0000-7000-8000-000000000000');
    expect(missing.status).toBe(404);
    expect(missing.contentType).toContain('application/problem+json');
  });
});

describe('messages instances sent', () => {
  it("lists them and shows a failed one's timeline with Meta's code and text", async () => {
    sandbox.failNext(1, 'outside-window', { objectId: PHONE, edge: 'messages' });
    const sent = await planes.engine.app.inject({
      method: 'POST',
      url: '/v1/messages',
      headers: { authorization: `Bearer ${apiToken}` },
      payload: {
        channel: { kind: 'whatsapp', id: PHONE },
        to: '+5215550777',
        message: { type: 'text', text: { body: 'Hola de nuevo' } },
      },
    });
    expect(sent.statusCode).toBe(202);
    const { id } = sent.json<SendAccepted>();

    const failed = await eventually(async () => {
      const list = await api<{ id: string; state: string; instanceId: string }[]>(`/v1/messages?tenantId=${tenantId}`);
      expect(list.body.find((m) => m.id === id)?.state).toBe('failed');
      return list.body;
    });
    expect(failed).toEqual([expect.objectContaining({ id, instanceId, to: '+5215550777' })]);
    expect((await api<unknown[]>(`/v1/messages?tenantId=${tenantId}&state=delivered`)).body).toEqual([]);

    const timeline = await api<MessageStatus>(`/v1/instances/${instanceId}/messages/${id}`);
    expect(timeline.status).toBe(200);
    expect(timeline.body.timeline.map((e) => e.state)).toEqual(['queued', 'sending', 'failed']);
    expect(timeline.body.timeline.at(-1)?.error).toMatchObject({ code: 131047 });
  });

  it('is for operators only', async () => {
    const res = await planes.control.app.inject({ method: 'GET', url: '/v1/messages' });
    expect(res.statusCode).toBe(401);
  });
});
