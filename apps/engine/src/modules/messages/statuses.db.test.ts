import { createServer, type Server } from 'node:http';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { startGraphSandbox, type GraphSandbox } from '@mic/meta-sandbox';
import { eventually } from '@mic/platform/testing';
import type { DeliveredEvent, MessageStatus, OutboundMessageEventData, SendAccepted } from '@mic/contracts';
import { routeTestInstance, startTestEngine, type TestEngine } from '../../testing.ts';
import { channelTokenRef } from '../channels/index.ts';

const PHONE = '2098765432101';
const PAGE = '2098765432102';
const IG = '2098765432103';
const APP_SECRET = 'statuses-test-app-secret';
const TOKEN = 'EAAGstatuses-token';

let sandbox: GraphSandbox;
let engine: TestEngine;
let receiver: Server;
let apiToken: string;
/** What the instance received, in order. */
const received: DeliveredEvent[] = [];

beforeAll(async () => {
  receiver = createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => {
      received.push(JSON.parse(Buffer.concat(chunks).toString('utf8')) as DeliveredEvent);
      res.writeHead(204).end();
    });
  });
  await new Promise<void>((r) => receiver.listen(0, '127.0.0.1', r));
  const port = (receiver.address() as { port: number }).port;
  sandbox = await startGraphSandbox({
    objects: [
      { id: PHONE, kind: 'whatsapp-phone-number', token: TOKEN },
      { id: PAGE, kind: 'page', token: TOKEN },
      { id: IG, kind: 'instagram-account', token: TOKEN },
    ],
  });
  engine = await startTestEngine({
    META_APP_SECRET: APP_SECRET,
    META_GRAPH_URL: sandbox.url,
    META_GRAPH_TIMEOUT: '5s',
    OUTBOUND_POLL_INTERVAL: '100ms',
    OUTBOUND_HORIZON: '100ms',
  });
  await engine.app.secrets.put(channelTokenRef('whatsapp', PHONE), 'meta-access-token', TOKEN);
  await engine.app.secrets.put(channelTokenRef('messenger', PAGE), 'meta-access-token', TOKEN);
  await engine.app.secrets.put(channelTokenRef('instagram', IG), 'meta-access-token', TOKEN);
  await routeTestInstance(engine, {
    id: 'ins_statuses',
    webhookUrl: `http://127.0.0.1:${port}/hook`,
    channels: [
      { platform: 'whatsapp', channelId: PHONE },
      { platform: 'messenger', channelId: PAGE },
      { platform: 'instagram', channelId: IG },
    ],
  });
  const issued = await engine.app.inject({
    method: 'POST',
    url: '/internal/v1/instances/ins_statuses/credentials',
    headers: engine.auth,
  });
  apiToken = issued.json<{ apiToken: string }>().apiToken;
  sandbox.setStatusWebhooks({ url: `${engine.url}/meta/webhook`, appSecret: APP_SECRET, delayMs: 50 });
});
afterEach(() => {
  sandbox.setLatency(0);
  sandbox.setStatusWebhooks({ url: `${engine.url}/meta/webhook`, appSecret: APP_SECRET, delayMs: 50 });
});
afterAll(async () => {
  await engine?.stop();
  await sandbox?.stop();
  receiver?.close();
});

async function send(payload: object): Promise<string> {
  const res = await engine.app.inject({
    method: 'POST',
    url: '/v1/messages',
    headers: { authorization: `Bearer ${apiToken}` },
    payload,
  });
  expect(res.statusCode).toBe(202);
  return res.json<SendAccepted>().id;
}

async function statusOf(id: string): Promise<MessageStatus> {
  const res = await engine.app.inject({
    method: 'GET',
    url: `/v1/messages/${id}`,
    headers: { authorization: `Bearer ${apiToken}` },
  });
  return res.json<MessageStatus>();
}

/** The outbound events the instance received about message `id`, once it has `count` of them. */
function outboundEventsOf(id: string, count: number) {
  return eventually(async () => {
    const events = received.filter(
      (e) => e.type.includes('.outbound.') && (e.data as OutboundMessageEventData).messageId === id,
    );
    return events.length >= count ? events : undefined;
  });
}

describe('statuses of sent messages', () => {
  it('delivers each WhatsApp state change to the instance as an outbound event, in its conversation', async () => {
    const id = await send({
      channel: { kind: 'whatsapp', id: PHONE },
      to: '+34600000001',
      message: { type: 'text', text: { body: 'Tracked' } },
    });
    const events = await outboundEventsOf(id, 3);
    expect(events.map((e) => e.type)).toEqual([
      'whatsapp.outbound.sent',
      'whatsapp.outbound.delivered',
      'whatsapp.outbound.read',
    ]);
    const status = await statusOf(id);
    expect(events[2]!.data).toMatchObject({ messageId: id, metaMessageId: status.metaMessageId, to: '+34600000001' });
    // The conversation with that customer, as WhatsApp's own events name it (digits only).
    expect(events.map((e) => e.conversation?.id)).toEqual(Array(3).fill(`${PHONE}:34600000001`));
    // Meta's own status webhooks still reach the instance as they are.
    const raw = received.filter(
      (e) =>
        e.type === 'whatsapp.message.status' && (e.data as { messageId?: string }).messageId === status.metaMessageId,
    );
    expect(raw.map((e) => (e.data as { status: string }).status)).toEqual(['sent', 'delivered', 'read']);
  });

  it('keeps a status that arrives before Meta’s answer is stored, and applies it then', async () => {
    // Meta answers the send after 600 ms; its status webhooks come 50 ms after it took the message.
    sandbox.setLatency(600);
    const id = await send({
      channel: { kind: 'whatsapp', id: PHONE },
      to: '+34600000002',
      message: { type: 'text', text: { body: 'Fast statuses' } },
    });
    const read = await eventually(async () => {
      const status = await statusOf(id);
      return status.state === 'read' ? status : undefined;
    });
    const states = read.timeline.map((e) => e.state);
    expect(states.slice(0, 3)).toEqual(['queued', 'sending', 'sent']);
    expect(states.slice(3)).toEqual(expect.arrayContaining(['delivered', 'read']) as string[]);
    const events = await outboundEventsOf(id, 3);
    expect(events.map((e) => e.type)).toEqual([
      'whatsapp.outbound.sent',
      'whatsapp.outbound.delivered',
      'whatsapp.outbound.read',
    ]);
  });

  it('fails a WhatsApp message Meta reports failed, with its code, and tells the instance', async () => {
    sandbox.failDeliveryNext(1, 'outside-window', { objectId: PHONE });
    const id = await send({
      channel: { kind: 'whatsapp', id: PHONE },
      to: '+34600000003',
      message: { type: 'text', text: { body: 'Too late' } },
    });
    const failed = await eventually(async () => {
      const status = await statusOf(id);
      return status.state === 'failed' ? status : undefined;
    });
    expect(failed.timeline.at(-1)).toMatchObject({
      state: 'failed',
      error: { code: 131047, title: 'Re-engagement message' },
    });
    const [, last] = await outboundEventsOf(id, 2);
    expect(last).toMatchObject({ type: 'whatsapp.outbound.failed', data: { error: { code: 131047 } } });
  });

  it("moves Messenger messages by Meta's delivery and read watermarks, each earlier message included", async () => {
    sandbox.setStatusWebhooks(null);
    const psid = '7000000000000001';
    const first = await send({
      channel: { kind: 'messenger', id: PAGE },
      to: psid,
      message: { type: 'text', text: { body: 'One' } },
    });
    await eventually(async () => ((await statusOf(first)).state === 'sent' ? true : undefined));
    sandbox.setStatusWebhooks({ url: `${engine.url}/meta/webhook`, appSecret: APP_SECRET, delayMs: 50 });
    // Meta reports the second message's delivery and read: its watermarks cover the first as well.
    const second = await send({
      channel: { kind: 'messenger', id: PAGE },
      to: psid,
      message: { type: 'text', text: { body: 'Two' } },
    });
    for (const id of [first, second]) {
      const status = await eventually(async () => {
        const s = await statusOf(id);
        return s.state === 'read' ? s : undefined;
      });
      expect(status.timeline.map((e) => e.state)).toEqual(['queued', 'sending', 'sent', 'delivered', 'read']);
      const events = await outboundEventsOf(id, 3);
      expect(events.map((e) => e.type)).toEqual([
        'messenger.outbound.sent',
        'messenger.outbound.delivered',
        'messenger.outbound.read',
      ]);
    }
  });

  it('moves an Instagram message to read by its mid, with no delivery (Instagram reports none)', async () => {
    const id = await send({
      channel: { kind: 'instagram', id: IG },
      to: '8000000000000001',
      message: { type: 'text', text: { body: 'Seen?' } },
    });
    const read = await eventually(async () => {
      const s = await statusOf(id);
      return s.state === 'read' ? s : undefined;
    });
    expect(read.timeline.map((e) => e.state)).toEqual(['queued', 'sending', 'sent', 'read']);
    const events = await outboundEventsOf(id, 2);
    expect(events.map((e) => e.type)).toEqual(['instagram.outbound.sent', 'instagram.outbound.read']);
  });
});
