import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { MessageStatus, SendAccepted } from '@mic/contracts';
import { routeTestInstance, startTestEngine, type TestEngine } from '../../testing.ts';

const PHONE = '1098765432201';
let engine: TestEngine;
let apiToken: string;

beforeAll(async () => {
  // No Meta to reach and no channel token: a message is never sent, which is all these reads need.
  engine = await startTestEngine({ META_GRAPH_URL: 'http://127.0.0.1:9' });
  await routeTestInstance(engine, {
    id: 'ins_log',
    tenantId: 'ten_log',
    webhookUrl: 'http://127.0.0.1:9/hook',
    channels: [{ platform: 'whatsapp', channelId: PHONE }],
  });
  const issued = await engine.app.inject({
    method: 'POST',
    url: '/internal/v1/instances/ins_log/credentials',
    headers: engine.auth,
  });
  apiToken = issued.json<{ apiToken: string }>().apiToken;
});
afterAll(() => engine?.stop());

const get = (url: string) => engine.app.inject({ method: 'GET', url, headers: engine.auth });

describe('the messages instances sent, for the operator', () => {
  it('lists them by tenant and state and shows one with its timeline', async () => {
    const sent = await engine.app.inject({
      method: 'POST',
      url: '/v1/messages',
      headers: { authorization: `Bearer ${apiToken}` },
      payload: {
        channel: { kind: 'whatsapp', id: PHONE },
        to: '+34600000009',
        message: { type: 'text', text: { body: 'Hola' } },
      },
    });
    expect(sent.statusCode).toBe(202);
    const { id } = sent.json<SendAccepted>();

    const list = await get('/internal/v1/messages?tenantId=ten_log');
    expect(list.statusCode).toBe(200);
    const [message] = list.json<{ id: string; state: string }[]>();
    expect(message).toMatchObject({
      id,
      instanceId: 'ins_log',
      tenantId: 'ten_log',
      channel: `whatsapp:${PHONE}`,
      to: '+34600000009',
    });
    // With no Meta to reach it is never delivered, whatever state it is in meanwhile.
    expect((await get(`/internal/v1/messages?tenantId=ten_log&state=${message!.state}`)).json()).toHaveLength(1);
    expect((await get('/internal/v1/messages?tenantId=ten_log&state=delivered')).json()).toEqual([]);
    expect((await get('/internal/v1/messages?tenantId=someone_else')).json()).toEqual([]);

    const one = await get(`/internal/v1/instances/ins_log/messages/${id}`);
    expect(one.statusCode).toBe(200);
    const status = one.json<MessageStatus>();
    expect(status.id).toBe(id);
    expect(status.timeline[0]?.state).toBe('queued');
    // Another instance's id for it is not found, as the instance API answers.
    expect((await get(`/internal/v1/instances/ins_other/messages/${id}`)).statusCode).toBe(404);
  });

  it('requires the service token', async () => {
    expect((await engine.app.inject({ method: 'GET', url: '/internal/v1/messages' })).statusCode).toBe(401);
  });
});
