import { readFileSync } from 'node:fs';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import type { SendMessageRequest } from '@mic/contracts';
import {
  GraphClient,
  GraphError,
  SIGNATURE_HEADER,
  parseGraphSendResponse,
  parseMetaWebhook,
  toGraphRequest,
  verifyMetaSignature,
  type MetaWebhookEvent,
} from '@mic/meta';
import { startGraphSandbox, type GraphSandbox } from './server.ts';

const WABA = '102290129340398';
const NUMBER = '106540352242922';
const OTHER_NUMBER = '106540352242923';
const PAGE = '682498302938465';
const IG = '17841405822304914';
const WA_TOKEN = 'EAAsystem-user-token';
const APP_SECRET = 'sandbox-app-secret';

const text = (to: string, body = 'Hello', channel = NUMBER): SendMessageRequest => ({
  channel: { kind: 'whatsapp', id: channel },
  to,
  message: { type: 'text', text: { body } },
});

/** The engine's side of the status webhooks: checks each signature and keeps the parsed events. */
async function startReceiver(): Promise<{ url: string; events: MetaWebhookEvent[]; bad: number; server: Server }> {
  const state = { events: [] as MetaWebhookEvent[], bad: 0 };
  const server = createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (chunk: Buffer) => chunks.push(chunk));
    req.on('end', () => {
      const raw = Buffer.concat(chunks);
      if (!verifyMetaSignature(raw, req.headers[SIGNATURE_HEADER], APP_SECRET)) state.bad += 1;
      else state.events.push(...parseMetaWebhook(JSON.parse(raw.toString('utf8'))));
      res.writeHead(200).end();
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  return {
    url: `http://127.0.0.1:${(server.address() as AddressInfo).port}/webhooks/meta`,
    get events() {
      return state.events;
    },
    get bad() {
      return state.bad;
    },
    server,
  };
}

let sandbox: GraphSandbox;
let graph: GraphClient;

async function sendVia(client: GraphClient, req: SendMessageRequest, token = WA_TOKEN): Promise<string | null> {
  const { path, body } = toGraphRequest(req);
  return parseGraphSendResponse(await client.send(path, body, token));
}

async function failure(call: Promise<unknown>): Promise<GraphError> {
  const error = await call.then(
    () => null,
    (e: unknown) => e,
  );
  expect(error).toBeInstanceOf(GraphError);
  return error as GraphError;
}

beforeAll(async () => {
  sandbox = await startGraphSandbox({
    objects: [
      { id: WABA, kind: 'whatsapp-business-account', token: WA_TOKEN },
      // One system user token serves every number of the account.
      { id: NUMBER, kind: 'whatsapp-phone-number', token: WA_TOKEN, businessAccountId: WABA },
      { id: OTHER_NUMBER, kind: 'whatsapp-phone-number', token: WA_TOKEN },
      { id: PAGE, kind: 'page', token: 'EAApage-token' },
      { id: IG, kind: 'instagram-account', token: 'EAApage-token' },
    ],
  });
  graph = new GraphClient({ baseUrl: sandbox.url, timeoutMs: 2_000 });
});
afterAll(() => sandbox?.stop());
afterEach(() => {
  sandbox.clearSends();
  sandbox.setLatency(0);
  sandbox.setStatusWebhooks(null);
});

describe('Graph sandbox: sends', () => {
  it("answers Meta's success shapes, and records each message but never the token", async () => {
    const wamid = await sendVia(graph, text('+16505551234'));
    expect(wamid).toMatch(/^wamid\./);
    const mid = await sendVia(
      graph,
      {
        channel: { kind: 'messenger', id: PAGE },
        to: '6945793142124621',
        message: { type: 'text', text: { body: 'Hi' } },
      },
      'EAApage-token',
    );
    expect(mid).toMatch(/^m_/);
    const igMid = await sendVia(
      graph,
      {
        channel: { kind: 'instagram', id: IG },
        to: '1254459154682919',
        message: { type: 'attachment', attachment: { type: 'image', url: 'https://example.com/a.png' } },
      },
      'EAApage-token',
    );
    expect(igMid).toEqual(expect.any(String));
    const read = await sendVia(graph, {
      channel: { kind: 'whatsapp', id: NUMBER },
      to: '16505551234',
      message: { type: 'mark_as_read', markAsRead: { messageId: 'wamid.IN' } },
    });
    expect(read).toBeNull();

    const sends = sandbox.sends();
    expect(sends.map((s) => [s.objectId, s.platform, s.recipient, s.type, s.messageId])).toEqual([
      [NUMBER, 'whatsapp', '+16505551234', 'text', wamid],
      [PAGE, 'messenger', '6945793142124621', 'text', mid],
      [IG, 'instagram', '1254459154682919', 'attachment', igMid],
    ]);
    expect(sends[0]!.body).toEqual(toGraphRequest(text('+16505551234')).body);
    // Marking as read moves no message: it is no send, but the call is kept as Meta got it.
    expect(sandbox.reads()).toEqual([
      {
        at: expect.any(String) as string,
        objectId: NUMBER,
        messageId: 'wamid.IN',
        body: { messaging_product: 'whatsapp', status: 'read', message_id: 'wamid.IN' },
      },
    ]);
    expect(JSON.stringify(sandbox.calls())).not.toContain(WA_TOKEN);
    expect(JSON.stringify(sends)).not.toContain(WA_TOKEN);
  });

  it('receives every message type of the Send API in the exact body Meta documents', async () => {
    const fixtures = JSON.parse(
      readFileSync(
        new URL('../../../../packages/meta/src/send/fixtures/graph-send-requests.json', import.meta.url),
        'utf8',
      ),
    ) as { request: SendMessageRequest; graph: { path: string; body: unknown } }[];
    const tokens = { whatsapp: WA_TOKEN, messenger: 'EAApage-token', instagram: 'EAApage-token' };
    for (const fixture of fixtures) {
      sandbox.clearSends();
      const id = await sendVia(graph, fixture.request, tokens[fixture.request.channel.kind]);
      const sends = sandbox.sends();
      if (fixture.request.message.type === 'mark_as_read') {
        expect(id).toBeNull();
        expect(sends).toEqual([]);
      } else {
        expect(sends).toMatchObject([{ objectId: fixture.graph.path.split('/')[0], messageId: id }]);
        expect(sends[0]!.body).toStrictEqual(fixture.graph.body);
      }
    }
  });

  it('checks tokens as for subscribed_apps, and refuses a body Meta would refuse', async () => {
    expect(await failure(sendVia(graph, text('16505551234'), 'EAAnot-a-token'))).toMatchObject({
      code: 190,
      classification: 'auth',
    });
    expect(await failure(sendVia(graph, text('16505551234'), 'EAApage-token'))).toMatchObject({
      code: 100,
      subcode: 33,
    });
    expect(await failure(graph.send(`${WABA}/messages`, {}, WA_TOKEN))).toMatchObject({ code: 100, subcode: 33 });
    expect(await failure(graph.send(`${NUMBER}/messages`, { to: '1' }, WA_TOKEN))).toMatchObject({
      code: 100,
      classification: 'invalid-request',
    });
    expect(sandbox.sends()).toEqual([]);
  });

  it('answers 130429 over the per-number cap, and never accepts more than the cap in any second', async () => {
    sandbox.setRate(OTHER_NUMBER, 20);
    const results = await Promise.allSettled(
      Array.from({ length: 60 }, (_, i) => sendVia(graph, text(String(16505550000 + i), 'x', OTHER_NUMBER))),
    );
    const refused = results.filter((r) => r.status === 'rejected').map((r) => r.reason as GraphError);
    expect(results.length - refused.length).toBeGreaterThanOrEqual(20);
    expect(refused.length).toBeGreaterThan(0);
    expect(refused.every((e) => e.code === 130429 && e.classification === 'rate-limited')).toBe(true);
    const [rate] = sandbox.sendRates().filter((r) => r.objectId === OTHER_NUMBER);
    expect(rate).toMatchObject({ ratePerSecond: 20 });
    expect(rate!.maxPerSecond).toBeLessThanOrEqual(20);
    expect(rate!.maxPerSecond).toBe(Math.min(20, rate!.total));
    // The other number's lane is its own.
    expect(await sendVia(graph, text('16505551234'))).toMatch(/^wamid\./);
  });

  it('answers 131056 when one recipient gets too many too fast, on a clock of its own', async () => {
    let now = 1_000_000;
    const own = await startGraphSandbox({
      objects: [{ id: NUMBER, kind: 'whatsapp-phone-number', token: WA_TOKEN, ratePerSecond: 3 }],
      pairRate: { burst: 2, intervalMs: 6_000 },
      now: () => now,
    });
    try {
      const client = new GraphClient({ baseUrl: own.url });
      await sendVia(client, text('16505551234'));
      await sendVia(client, text('16505551234'));
      expect(await failure(sendVia(client, text('16505551234')))).toMatchObject({
        code: 131056,
        classification: 'rate-limited',
      });
      // The third send of the second to someone else: the cap, not the pair.
      await sendVia(client, text('16505559999'));
      expect(await failure(sendVia(client, text('16505558888')))).toMatchObject({ code: 130429 });
      now += 6_000;
      expect(await sendVia(client, text('16505551234'))).toMatch(/^wamid\./);
      expect(own.sendRates()).toMatchObject([{ objectId: NUMBER, total: 4, maxPerSecond: 3 }]);
    } finally {
      await own.stop();
    }
  });

  it('fails sends on demand: 5xx, 190, 131047, template errors, only on the edge asked for', async () => {
    sandbox.failNext(1, 'server-error', { edge: 'messages' });
    await graph.subscribedApps(WABA, WA_TOKEN);
    expect(await failure(sendVia(graph, text('16505551234')))).toMatchObject({
      status: 500,
      classification: 'transient',
      isOutcomeUnknown: false,
    });
    sandbox.failNext(1, 'expired-token', { objectId: NUMBER });
    expect(await failure(sendVia(graph, text('16505551234')))).toMatchObject({ code: 190, classification: 'auth' });
    sandbox.failNext(1, 'outside-window');
    expect(await failure(sendVia(graph, text('16505551234')))).toMatchObject({
      code: 131047,
      classification: 'permanent',
      details: expect.stringContaining('24 hours') as string,
    });
    sandbox.failNext(1, 'template-missing');
    expect(await failure(sendVia(graph, text('16505551234')))).toMatchObject({
      code: 132001,
      classification: 'invalid-request',
    });
    sandbox.failNext(1, 'spam-rate');
    expect(await failure(sendVia(graph, text('16505551234')))).toMatchObject({ code: 131048 });
    expect(sandbox.sends()).toEqual([]);
  });

  it('hangs past the client timeout: outcome unknown, sent or not', async () => {
    const impatient = new GraphClient({ baseUrl: sandbox.url, timeoutMs: 150 });
    sandbox.failNext(1, 'timeout', { hangMs: 1_000 });
    expect(await failure(sendVia(impatient, text('16505551234')))).toMatchObject({
      status: 0,
      classification: 'transient',
      isOutcomeUnknown: true,
    });
    expect(sandbox.sends()).toHaveLength(0);
    sandbox.failNext(1, 'timeout-sent', { hangMs: 1_000 });
    expect(await failure(sendVia(impatient, text('16505551234')))).toMatchObject({ isOutcomeUnknown: true });
    expect(sandbox.sends()).toHaveLength(1);
  });

  it('adds latency to every answer', async () => {
    sandbox.setLatency(150);
    const started = performance.now();
    await sendVia(graph, text('16505551234'));
    expect(performance.now() - started).toBeGreaterThanOrEqual(140);
  });

  it('posts the status webhooks Meta would send, signed, for each platform', async () => {
    const receiver = await startReceiver();
    try {
      sandbox.setStatusWebhooks({ url: receiver.url, appSecret: APP_SECRET, delayMs: 5 });
      const wamid = await sendVia(graph, text('+16505551234'));
      sandbox.failDeliveryNext(1, 'undeliverable', { objectId: NUMBER });
      const lost = await sendVia(graph, text('16505550000'));
      const mid = await sendVia(
        graph,
        {
          channel: { kind: 'messenger', id: PAGE },
          to: '6945793142124621',
          message: { type: 'text', text: { body: 'x' } },
        },
        'EAApage-token',
      );
      const igMid = await sendVia(
        graph,
        {
          channel: { kind: 'instagram', id: IG },
          to: '1254459154682919',
          message: { type: 'text', text: { body: 'x' } },
        },
        'EAApage-token',
      );
      await sandbox.statusWebhooksIdle();

      expect(receiver.bad).toBe(0);
      const whatsapp = receiver.events.filter((e) => e.type === 'whatsapp.message.status');
      const of = (id: string | null) =>
        whatsapp.filter((e) => (e.data as { messageId: string }).messageId === id).map((e) => e.data);
      expect(of(wamid).map((d) => (d as { status: string }).status)).toEqual(['sent', 'delivered', 'read']);
      expect(whatsapp.find((e) => (e.data as { messageId: string }).messageId === wamid)).toMatchObject({
        channelId: NUMBER,
        businessAccountId: WABA,
      });
      expect(of(lost)).toMatchObject([{ status: 'failed', errors: [{ code: 131026 }] }]);
      expect(receiver.events.filter((e) => e.platform === 'messenger').map((e) => e.type)).toEqual([
        'messenger.message.delivered',
        'messenger.message.read',
      ]);
      expect(receiver.events.find((e) => e.type === 'messenger.message.delivered')?.data).toMatchObject({
        messageIds: [mid],
      });
      expect(receiver.events.filter((e) => e.platform === 'instagram')).toMatchObject([
        { type: 'instagram.message.read', data: { messageId: igMid } },
      ]);
      expect(sandbox.statusWebhooks().every((w) => w.httpStatus === 200)).toBe(true);
    } finally {
      receiver.server.closeAllConnections();
      await new Promise((resolve) => receiver.server.close(resolve));
    }
  });

  it('is driven and inspected over HTTP under /_sandbox/', async () => {
    const api = (path: string, init?: RequestInit) =>
      fetch(`${sandbox.url}/_sandbox/${path}`, init).then(async (r) => ({
        status: r.status,
        body: (await r.json()) as unknown,
      }));
    const put = (path: string, body: unknown) =>
      api(path, { method: 'PUT', body: JSON.stringify(body), headers: { 'content-type': 'application/json' } });
    expect(
      (await put('objects/555000111', { kind: 'whatsapp-phone-number', token: 'EAAnew', ratePerSecond: 2 })).status,
    ).toBe(200);
    expect((await put('objects/555000112', { kind: 'phone', token: 'x' })).status).toBe(400);
    await sendVia(graph, text('16505551234', 'a', '555000111'), 'EAAnew');
    expect(
      (
        await api('failures', {
          method: 'POST',
          body: JSON.stringify({ count: 1, failure: 'pair-rate', edge: 'messages', objectId: '555000111' }),
        })
      ).status,
    ).toBe(200);
    expect(await failure(sendVia(graph, text('16505551234', 'b', '555000111'), 'EAAnew'))).toMatchObject({
      code: 131056,
    });
    const sends = await api('sends?objectId=555000111');
    expect(sends.body).toHaveLength(1);
    const rates = await api('rates');
    expect(rates.body).toEqual(
      expect.arrayContaining([
        expect.objectContaining({ objectId: '555000111', total: 1, maxPerSecond: 1, ratePerSecond: 2 }),
      ]),
    );
    expect((await put('latency', { ms: 0 })).body).toEqual({ latencyMs: 0 });
    expect((await put('status-webhooks', { url: 'http://127.0.0.1:9/x' })).status).toBe(400);
    expect((await api('sends', { method: 'DELETE' })).body).toEqual({ cleared: true });
  });
});
