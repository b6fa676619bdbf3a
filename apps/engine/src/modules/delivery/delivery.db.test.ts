import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createServer, type IncomingHttpHeaders, type Server } from 'node:http';
import { Webhook } from 'standardwebhooks';
import { signMetaBody } from '@mic/meta';
import type { DeliveredEvent } from '@mic/contracts';
import { eventually } from '@mic/platform/testing';
import { applyTestConfig, routeTestInstance, startTestEngine, type TestEngine } from '../../testing.ts';
import { DatabaseLeases, ProcessLeases } from './leases.ts';

const APP_SECRET = 'delivery-test-app-secret';
let engine: TestEngine;

beforeAll(async () => {
  engine = await startTestEngine({
    META_APP_SECRET: APP_SECRET,
    DELIVERY_RETRY_SCHEDULE: '0s,300ms,300ms,300ms,300ms,300ms',
    BREAKER_THRESHOLD: '3',
    BREAKER_HALF_OPEN_AFTER: '1500ms',
    QUEUE_POLLING_INTERVAL: '500ms',
    DELIVERY_TIMEOUT: '2s',
  });
});
afterAll(() => engine?.stop());

/** A Nexus instance stand-in: verifies each delivery's signature and answers as told. */
interface Receiver {
  url: string;
  received: { event: DeliveredEvent; headers: IncomingHttpHeaders; at: number }[];
  requests: number;
  answer: (n: number) => { status: number; headers?: Record<string, string> };
  close(): Promise<void>;
}

async function receiver(secret: () => string): Promise<Receiver> {
  const state: Receiver = {
    url: '',
    received: [],
    requests: 0,
    answer: () => ({ status: 200 }),
    close: async () => {},
  };
  const server: Server = createServer((req, res) => {
    let body = '';
    req.on('data', (c: Buffer) => (body += c.toString()));
    req.on('end', () => {
      state.requests += 1;
      const reply = state.answer(state.requests);
      if (reply.status >= 200 && reply.status < 300) {
        const event = new Webhook(secret()).verify(body, req.headers as Record<string, string>) as DeliveredEvent;
        state.received.push({ event, headers: req.headers, at: Date.now() });
      }
      res.writeHead(reply.status, reply.headers ?? {});
      res.end();
    });
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  state.url = `http://127.0.0.1:${(server.address() as { port: number }).port}/hooks`;
  state.close = () =>
    new Promise((r) => {
      server.closeAllConnections();
      server.close(() => r());
    });
  return state;
}

let phone = 100_000_000;
/** An instance with its own receiver, credentials and WhatsApp number. */
async function instance(id: string) {
  let secret = '';
  const r = await receiver(() => secret);
  const phoneNumberId = String((phone += 1));
  const created = await engine.app.inject({
    method: 'POST',
    url: `/internal/v1/instances/${id}/credentials`,
    headers: engine.auth,
  });
  secret = created.json<{ signingSecret: string }>().signingSecret;
  await routeTestInstance(engine, {
    id,
    webhookUrl: r.url,
    channels: [{ platform: 'whatsapp', channelId: phoneNumberId }],
  });
  return { receiver: r, phoneNumberId };
}

let wamid = 0;
function whatsappText(phoneNumberId: string, from: string, text: string): string {
  wamid += 1;
  return JSON.stringify({
    object: 'whatsapp_business_account',
    entry: [
      {
        id: 'WABA-1',
        changes: [
          {
            field: 'messages',
            value: {
              messaging_product: 'whatsapp',
              metadata: { display_phone_number: '15550001111', phone_number_id: phoneNumberId },
              contacts: [{ profile: { name: 'Ana' }, wa_id: from }],
              messages: [
                {
                  from,
                  id: `wamid.TEST${wamid}`,
                  timestamp: String(1_760_000_000 + wamid),
                  type: 'text',
                  text: { body: text },
                },
              ],
            },
          },
        ],
      },
    ],
  });
}

async function webhook(body: string) {
  const res = await engine.app.inject({
    method: 'POST',
    url: '/meta/webhook',
    headers: {
      'content-type': 'application/json',
      'x-hub-signature-256': signMetaBody(body, APP_SECRET),
      traceparent: '00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01',
    },
    payload: body,
  });
  expect(res.statusCode).toBe(200);
}

const texts = (r: Receiver) =>
  r.received.map((x) => (x.event.data as { text?: string }).text ?? (x.event.data as { body?: string }).body);

describe('delivery to instances', () => {
  it('delivers each event signed per Standard Webhooks, with its id, sequence and trace', async () => {
    const { receiver: r, phoneNumberId } = await instance('ins-happy');
    await webhook(whatsappText(phoneNumberId, '5215550001', 'hola'));
    const [got] = await eventually(async () => (r.received.length ? r.received : undefined));
    expect(got!.event).toMatchObject({
      type: 'whatsapp.message.received',
      instanceId: 'ins-happy',
      tenantId: 'ten_inshappy',
      channel: { kind: 'whatsapp', id: phoneNumberId },
      conversation: { seq: 1 },
    });
    expect(got!.headers['webhook-id']).toBe(got!.event.id);
    expect(got!.headers.traceparent).toMatch(/^00-0af7651916cd43dd8448eb211c80319c-[0-9a-f]{16}-01$/);
    const detail = await engine.app.inject({
      method: 'GET',
      url: `/internal/v1/deliveries/${got!.event.id}`,
      headers: engine.auth,
    });
    expect(detail.json()).toMatchObject({
      delivery: { state: 'delivered', attempts: 1 },
      attempts: [{ attempt: 1, outcome: 'delivered', status: 200 }],
    });
    await r.close();
  });

  it('holds a failing instance behind its breaker, keeps order, spends no attempt while open, and does not slow another instance', async () => {
    const failing = await instance('ins-failing');
    const healthy = await instance('ins-healthy');
    let failUntil = Date.now() + 4_000;
    failing.receiver.answer = () => ({ status: Date.now() < failUntil ? 500 : 200 });

    for (const n of [1, 2, 3, 4, 5]) await webhook(whatsappText(failing.phoneNumberId, '5215550002', `m${n}`));
    await eventually(async () =>
      (await engine.app.deliveries.alerts('ins-failing')).some((a) => a.kind === 'breaker.opened') ? true : undefined,
    );

    // While the breaker is open, the other instance is served at once.
    await webhook(whatsappText(healthy.phoneNumberId, '5215550003', 'other tenant'));
    await eventually(async () => (healthy.receiver.received.length === 1 ? true : undefined), 5_000);
    const requestsWhileOpen = failing.receiver.requests;

    failUntil = Date.now(); // the instance recovers
    await eventually(async () => (failing.receiver.received.length === 5 ? true : undefined), 20_000);
    expect(texts(failing.receiver)).toEqual(['m1', 'm2', 'm3', 'm4', 'm5']);
    expect(failing.receiver.received.map((x) => x.event.conversation?.seq)).toEqual([1, 2, 3, 4, 5]);
    const kinds = (await engine.app.deliveries.alerts('ins-failing')).map((a) => a.kind);
    expect(kinds).toContain('breaker.closed');

    const first = (await engine.app.deliveries.list({ instanceId: 'ins-failing', limit: 10 })).find(
      (d) => d.seq === 1,
    )!;
    // Failures before the breaker opened, plus at most one probe per half-open window: no attempt burnt while open.
    expect(first.attempts).toBeLessThanOrEqual(3 + Math.ceil(4_000 / 1_500) + 1);
    expect(requestsWhileOpen).toBeLessThanOrEqual(3 + Math.ceil(4_000 / 1_500) + 1);
    expect((await engine.app.deliveries.list({ instanceId: 'ins-failing', state: 'dead' })).length).toBe(0);
    await failing.receiver.close();
    await healthy.receiver.close();
  });

  it('dead-letters a delivery after its last attempt, lets the conversation go on, and replays it', async () => {
    const { receiver: r, phoneNumberId } = await instance('ins-dead');
    let refusePoison = true;
    await webhook(whatsappText(phoneNumberId, '5215550004', 'before'));
    await eventually(async () => (r.received.length === 1 ? true : undefined));

    r.answer = () => ({ status: refusePoison ? 422 : 200 });
    await webhook(whatsappText(phoneNumberId, '5215550004', 'poison'));
    const dead = await eventually(
      async () => (await engine.app.deliveries.list({ instanceId: 'ins-dead', state: 'dead' }))[0],
      20_000,
    );
    expect(dead.attempts).toBe(6);
    expect(dead.lastStatus).toBe(422);

    refusePoison = false;
    await webhook(whatsappText(phoneNumberId, '5215550004', 'after'));
    await eventually(async () => (texts(r).includes('after') ? true : undefined), 10_000);
    expect(texts(r)).not.toContain('poison');

    const replay = await engine.app.inject({
      method: 'POST',
      url: `/internal/v1/deliveries/${dead.id}/replay`,
      headers: engine.auth,
    });
    expect(replay.json()).toEqual({ replayed: 1 });
    await eventually(async () => (texts(r).includes('poison') ? true : undefined), 10_000);
    const replayed = r.received.find((x) => (x.event.data as { text?: string }).text === 'poison')!;
    expect(replayed.headers['webhook-id']).toBe(dead.id);
    await r.close();
  });

  it('disables an endpoint that answers 410 and delivers what it held once the route is set again', async () => {
    const { receiver: r, phoneNumberId } = await instance('ins-gone');
    r.answer = () => ({ status: 410 });
    await webhook(whatsappText(phoneNumberId, '5215550005', 'held'));
    await eventually(async () =>
      (await engine.app.deliveries.alerts('ins-gone')).some((a) => a.kind === 'endpoint.disabled') ? true : undefined,
    );
    const routes = await engine.app.inject({
      method: 'GET',
      url: '/internal/v1/routing/instances',
      headers: engine.auth,
    });
    expect(
      routes.json<{ instanceId: string; disabledAt: string | null }[]>().find((i) => i.instanceId === 'ins-gone')
        ?.disabledAt,
    ).not.toBeNull();

    r.answer = () => ({ status: 200 });
    await routeTestInstance(engine, { id: 'ins-gone', webhookUrl: r.url }); // the operator re-enables it
    await eventually(async () => (texts(r).includes('held') ? true : undefined), 10_000);
    await r.close();
  });

  it('sends a waiting backlog in order, stops at a failure, and records each delivery once', async () => {
    const { receiver: r, phoneNumberId } = await instance('ins-backlog');
    const setState = (state: 'active' | 'paused') =>
      applyTestConfig(engine, (s) => {
        for (const i of s.instances) if (i.id === 'ins-backlog') i.state = state;
      });
    await setState('paused'); // the backlog builds up: the drain finds it all at once
    for (let n = 1; n <= 8; n++) await webhook(whatsappText(phoneNumberId, '5215550007', `b${n}`));
    r.answer = (n) => ({ status: n === 4 ? 503 : 200 });
    await setState('active');
    await eventually(async () => (r.received.length === 8 ? true : undefined), 10_000);
    expect(texts(r)).toEqual(['b1', 'b2', 'b3', 'b4', 'b5', 'b6', 'b7', 'b8']);
    expect(r.received.map((x) => x.event.conversation?.seq)).toEqual([1, 2, 3, 4, 5, 6, 7, 8]);
    expect(r.requests).toBe(9);
    const stored = await engine.app.deliveries.list({ instanceId: 'ins-backlog', limit: 20 });
    expect(stored.every((d) => d.state === 'delivered')).toBe(true);
    expect(stored.map((d) => [d.seq, d.attempts]).sort(([a], [b]) => a! - b!)).toEqual([
      [1, 1],
      [2, 1],
      [3, 1],
      [4, 2],
      [5, 1],
      [6, 1],
      [7, 1],
      [8, 1],
    ]);
    const retried = await engine.app.deliveries.get(stored.find((d) => d.seq === 4)!.id);
    expect(retried!.attempts.map((a) => [a.attempt, a.outcome, a.status])).toEqual([
      [1, 'failed', 503],
      [2, 'delivered', 200],
    ]);
    await r.close();
  });

  it('honours Retry-After on 429', async () => {
    const { receiver: r, phoneNumberId } = await instance('ins-busy');
    r.answer = (n) => (n === 1 ? { status: 429, headers: { 'retry-after': '2' } } : { status: 200 });
    const sent = Date.now();
    await webhook(whatsappText(phoneNumberId, '5215550006', 'later'));
    const [got] = await eventually(async () => (r.received.length ? r.received : undefined), 15_000);
    expect(got!.at - sent).toBeGreaterThanOrEqual(1_900);
    await r.close();
  });
});

describe('conversation leases', () => {
  const key = { instanceId: 'ins-lease', conversation: 'c1' };

  it.each([
    ['in the database', () => new DatabaseLeases(engine.app.db.orm, 30_000)],
    ['in the process', () => new ProcessLeases()],
  ])('%s: one holder at a time, told at release whether a drain was turned away', async (_where, make) => {
    const leases = make();
    expect(await leases.claim(key, '0190a000-0000-7000-8000-00000000000a')).toBe(true);
    expect(await leases.claim(key, '0190a000-0000-7000-8000-00000000000b')).toBe(false);
    expect(await leases.renew(key, '0190a000-0000-7000-8000-00000000000a')).toBe(true);
    expect(await leases.release(key, '0190a000-0000-7000-8000-00000000000a')).toBe(true);
    expect(await leases.claim(key, '0190a000-0000-7000-8000-00000000000c')).toBe(true);
    expect(await leases.release(key, '0190a000-0000-7000-8000-00000000000c')).toBe(false);
  });

  it('in the database: renews once a third of the lease has gone by, and a lost lease stops its holder', async () => {
    const leases = new DatabaseLeases(engine.app.db.orm, 150);
    const other = new DatabaseLeases(engine.app.db.orm, 150);
    const lost = { instanceId: 'ins-lease', conversation: 'c2' };
    expect(await leases.claim(lost, '0190a000-0000-7000-8000-00000000001a')).toBe(true);
    await new Promise((r) => setTimeout(r, 200)); // expired: another process takes it over
    expect(await other.claim(lost, '0190a000-0000-7000-8000-00000000001b')).toBe(true);
    expect(await leases.renew(lost, '0190a000-0000-7000-8000-00000000001a')).toBe(false);
    expect(await other.renew(lost, '0190a000-0000-7000-8000-00000000001b')).toBe(true);
    expect(await other.release(lost, '0190a000-0000-7000-8000-00000000001b')).toBe(false);
  });
});
