import { createServer, type Server } from 'node:http';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { sendWebhooks, startGraphSandbox, whatsappTextMessage, type GraphSandbox } from '@mic/meta-sandbox';
import { eventually } from '@mic/platform/testing';
import type {
  Broadcast,
  BroadcastFigures,
  BroadcastList,
  BroadcastRecipientPage,
  DeliveredEvent,
  TemplateList,
} from '@mic/contracts';
import { applyTestConfig, routeTestInstance, startTestEngine, type TestEngine } from '../../testing.ts';

const WABA = '3058765432100';
const PHONE = '3058765432101';
const WABA_LIMITED = '3058765432200';
const PHONE_A = '3058765432201';
const PHONE_B = '3058765432202';
const PHONE_PAUSED = '3058765432301';
const TOKEN = 'EAAGbroadcasts-token';
const APP_SECRET = 'broadcasts-test-app-secret';
/**
 * The scenario (2,000 recipients, 100 opted out, 50 repeats) at a fifth of its size: on
 * PGlite in this one process the engine sends, records and delivers some 15 to 30 messages a second
 * on this machine, so 1,850 would take minutes. The full size runs in test/e2e/broadcasts.test.ts
 * and in `npm run bench:broadcast`.
 */
const CAP = 40;
const RECIPIENTS = 400;
const OPTED_OUT = 20;
const DUPLICATES = 10;
const REACHED = RECIPIENTS - OPTED_OUT - DUPLICATES;

/** The engine's and the sandbox's clock: real time plus an offset the test moves (the messaging limit's 24 h). */
let offsetMs = 0;
const clock = { now: () => new Date(Date.now() + offsetMs) };

let sandbox: GraphSandbox;
let engine: TestEngine;
let receiver: Server;
let apiToken: string;
const received: DeliveredEvent[] = [];

const number = (i: number, base = 34600000000) => `+${base + i}`;

function api(
  method: 'GET' | 'POST' | 'PUT' | 'DELETE',
  url: string,
  payload?: object,
  headers: Record<string, string> = {},
) {
  return engine.app.inject({
    method,
    url,
    headers: { authorization: `Bearer ${apiToken}`, ...headers },
    ...(payload ? { payload } : {}),
  });
}

async function connect(phone: string, waba: string): Promise<void> {
  const res = await engine.app.inject({
    method: 'PUT',
    url: `/internal/v1/channels/whatsapp/${phone}/connection`,
    headers: engine.auth,
    payload: { accessToken: TOKEN, objectId: waba },
  });
  expect(res.statusCode).toBeLessThan(300);
}

const template = (name: string, language: string, components?: object[]) => ({
  type: 'template',
  template: { name, language: { code: language }, ...(components ? { components } : {}) },
});
const sale = (who: string) => [
  { type: 'header', parameters: [{ type: 'text', text: who }] },
  { type: 'body', parameters: [{ type: 'text', text: '20 %' }] },
  { type: 'button', subType: 'url', index: 0, parameters: [{ type: 'text', text: 'spring' }] },
];

async function settled(id: string, state: Broadcast['state'] = 'completed', timeoutMs = 30_000): Promise<Broadcast> {
  return eventually(async () => {
    const body = (await api('GET', `/v1/broadcasts/${id}`)).json<Broadcast>();
    expect(body.state).toBe(state);
    return body;
  }, timeoutMs);
}

async function recipients(id: string, state?: string): Promise<BroadcastRecipientPage['recipients']> {
  const all: BroadcastRecipientPage['recipients'] = [];
  let after: string | null = null;
  do {
    const query = new URLSearchParams({ limit: '1000', ...(state ? { state } : {}), ...(after ? { after } : {}) });
    const page: BroadcastRecipientPage = (await api('GET', `/v1/broadcasts/${id}/recipients?${query}`)).json();
    all.push(...page.recipients);
    after = page.nextCursor;
  } while (after);
  return all;
}

async function inbound(phone: string, from: string, text: string): Promise<void> {
  const report = await sendWebhooks({
    url: `${engine.url}/meta/webhook`,
    appSecret: APP_SECRET,
    bodies: [
      whatsappTextMessage({ phoneNumberId: phone, businessAccountId: WABA, from, text, timestamp: clock.now() }),
    ],
  });
  expect(report.results[0]!.status).toBe(200);
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
  await new Promise<void>((r) => receiver.listen(0, '127.0.0.1', r));
  const port = (receiver.address() as { port: number }).port;
  sandbox = await startGraphSandbox({
    ratePerSecond: CAP,
    now: () => clock.now().getTime(),
    objects: [
      { id: WABA, kind: 'whatsapp-business-account', token: TOKEN },
      { id: PHONE, kind: 'whatsapp-phone-number', token: TOKEN, businessAccountId: WABA },
      { id: WABA_LIMITED, kind: 'whatsapp-business-account', token: TOKEN },
      { id: PHONE_A, kind: 'whatsapp-phone-number', token: TOKEN, businessAccountId: WABA_LIMITED },
      { id: PHONE_B, kind: 'whatsapp-phone-number', token: TOKEN, businessAccountId: WABA_LIMITED },
      { id: PHONE_PAUSED, kind: 'whatsapp-phone-number', token: TOKEN, businessAccountId: WABA },
    ],
  });
  sandbox.accounts.setPortfolio(WABA, 'biz-main');
  sandbox.accounts.setTier('biz-main', 'TIER_UNLIMITED');
  sandbox.accounts.setPortfolio(WABA_LIMITED, 'biz-small');
  sandbox.accounts.setTier('biz-small', 'TIER_250');
  engine = await startTestEngine(
    {
      META_APP_SECRET: APP_SECRET,
      META_GRAPH_URL: sandbox.url,
      META_GRAPH_TIMEOUT: '5s',
      OUTBOUND_POLL_INTERVAL: '100ms',
      OUTBOUND_HORIZON: '100ms',
      OUTBOUND_DEFAULT_RATE: String(CAP),
      BROADCAST_TICK: '100ms',
      BROADCAST_LOOKAHEAD: '500ms',
      // Each drain worker fetches on every notify: a few keep PGlite's one connection for the sends.
      DELIVERY_CONCURRENCY: '4',
      BROADCAST_PROGRESS_INTERVAL: '500ms',
    },
    clock,
  );
  await routeTestInstance(engine, {
    id: 'ins_bc',
    webhookUrl: `http://127.0.0.1:${port}/hook`,
    channels: [PHONE, PHONE_A, PHONE_B, PHONE_PAUSED].map((channelId) => ({
      platform: 'whatsapp' as const,
      channelId,
    })),
  });
  await applyTestConfig(engine, (s) => {
    for (const tenant of s.tenants) tenant.limits.sendsPerSecond = CAP;
  });
  const issued = await engine.app.inject({
    method: 'POST',
    url: '/internal/v1/instances/ins_bc/credentials',
    headers: engine.auth,
  });
  apiToken = issued.json<{ apiToken: string }>().apiToken;
  for (const phone of [PHONE, PHONE_PAUSED]) await connect(phone, WABA);
  for (const phone of [PHONE_A, PHONE_B]) await connect(phone, WABA_LIMITED);
  // Meta reports read without delivered when both come at once: one status webhook per message keeps the test quick.
  sandbox.setStatusWebhooks({
    url: `${engine.url}/meta/webhook`,
    appSecret: APP_SECRET,
    delayMs: 20,
    statuses: ['read'],
  });
}, 60_000);

afterAll(async () => {
  await engine?.stop();
  await sandbox?.stop();
  receiver?.close();
});

describe('templates', () => {
  it('syncs the account’s templates on connect and lists them with what a send must give', async () => {
    await eventually(async () => {
      const body = (await api('GET', '/v1/templates')).json<TemplateList>();
      expect(body.templates.length).toBe(12);
      return body;
    });
    const list = (await api('GET', `/v1/templates?channel=${PHONE}`)).json<TemplateList>();
    expect(list.templates).toHaveLength(6);
    expect(list.accounts).toEqual([{ businessAccountId: WABA, syncedAt: expect.any(String) as string, error: null }]);
    const spring = list.templates.find((t) => t.name === 'spring_sale')!;
    expect(spring).toMatchObject({ language: 'en_US', category: 'MARKETING', status: 'APPROVED' });
    expect(spring.parameters).toEqual({ header: 1, body: 1, buttons: [{ index: 0, type: 'URL', parameters: 1 }] });
    const approved = (await api('GET', '/v1/templates?status=APPROVED')).json<TemplateList>();
    expect(approved.templates.map((t) => t.name).sort()).toEqual([
      'hello_world',
      'hello_world',
      'order_confirmation',
      'order_confirmation',
      'order_shipped',
      'order_shipped',
      'order_update',
      'order_update',
      'spring_sale',
      'spring_sale',
    ]);
  });

  it('refuses a template send that names no approved template or gives the wrong parameters, naming the field', async () => {
    const send = (message: object) =>
      api('POST', '/v1/messages', { channel: { kind: 'whatsapp', id: PHONE }, to: '+34611000001', message });
    const missing = await send(template('no_such_template', 'en_US'));
    expect(missing.statusCode).toBe(422);
    expect(missing.headers['content-type']).toContain('application/problem+json');
    expect(missing.json()).toMatchObject({
      type: expect.stringContaining('template-not-found') as string,
      errors: [{ field: 'message.template.name' }],
    });

    const pending = await send(
      template('new_collection', 'en_US', [{ type: 'body', parameters: [{ type: 'text', text: 'Ana' }] }]),
    );
    expect(pending.statusCode).toBe(422);
    expect(pending.json()).toMatchObject({
      type: expect.stringContaining('template-not-approved') as string,
      templateStatus: 'PENDING',
    });

    const short = await send(
      template('order_update', 'es', [{ type: 'body', parameters: [{ type: 'text', text: 'Ana' }] }]),
    );
    expect(short.statusCode).toBe(422);
    expect(short.json()).toMatchObject({
      type: expect.stringContaining('template-parameters') as string,
      errors: [
        {
          field: 'message.template.components[0].parameters',
          message: expect.stringContaining('takes 2 parameters (1 given)') as string,
        },
      ],
    });

    const ok = await send(template('spring_sale', 'en_US', sale('Ana')));
    expect(ok.statusCode).toBe(202);
    // It leaves before the next test counts what Meta got.
    await eventually(async () => {
      const sent = await api('GET', `/v1/messages/${ok.json<{ id: string }>().id}`);
      return sent.json<{ metaMessageId: string | null }>().metaMessageId ? true : undefined;
    });
  });

  it('follows Meta’s template status webhooks: a paused template is refused at once', async () => {
    expect(await sandbox.setTemplateStatus(WABA, 'hello_world', 'en_US', 'PAUSED')).toBe(200);
    await eventually(async () => {
      const body = (await api('GET', '/v1/templates?name=hello_world')).json<TemplateList>();
      expect(body.templates.find((t) => t.businessAccountId === WABA)?.status).toBe('PAUSED');
      return true;
    });
    const res = await api('POST', '/v1/messages', {
      channel: { kind: 'whatsapp', id: PHONE },
      to: '+34611000002',
      message: template('hello_world', 'en_US'),
    });
    expect(res.statusCode).toBe(422);
    expect(res.json()).toMatchObject({
      errors: [{ field: 'message.template.name', message: 'is PAUSED, not APPROVED' }],
    });
    expect(await sandbox.setTemplateStatus(WABA, 'hello_world', 'en_US', 'APPROVED')).toBe(200);
  });
});

describe('broadcasts', () => {
  it('reaches every distinct recipient once, skips opted-out ones, never above the cap, and reports each state', async () => {
    const base = 34620000000;
    const distinct = RECIPIENTS - DUPLICATES;
    // Every 19th recipient opted out: by API, and one by writing "¡Baja!" (any case, punctuation) to the number.
    const optedOut = Array.from({ length: OPTED_OUT }, (_, i) => number(i * 19 + 5, base).slice(1));
    for (const who of optedOut.slice(1)) expect((await api('PUT', `/v1/opt-outs/${who}`)).statusCode).toBe(200);
    await inbound(PHONE, optedOut[0]!, '  ¡Baja! ');
    await eventually(async () => {
      const page = (await api('GET', '/v1/opt-outs?limit=1000')).json<{ optOuts: { recipient: string }[] }>();
      expect(page.optOuts.map((o) => o.recipient).sort()).toEqual([...optedOut].sort());
      return true;
    });

    const list = Array.from({ length: distinct }, (_, i) => ({
      to: number(i, base),
      components: sale(`Customer ${i}`),
    }));
    // Repeats, in another format.
    const repeats = Array.from({ length: DUPLICATES }, (_, i) => ({ to: number(i * 37, base).slice(1) }));
    sandbox.clearSends();
    const request = {
      name: 'Spring sale',
      channel: { kind: 'whatsapp', id: PHONE },
      message: template('spring_sale', 'en_US', sale('you')),
      recipients: [...list, ...repeats],
    };
    const res = await api('POST', '/v1/broadcasts', request, { 'idempotency-key': 'spring-1' });
    expect(res.statusCode).toBe(201);
    const created = res.json<Broadcast>();
    expect(created.totals).toMatchObject({ recipients: distinct, duplicates: DUPLICATES, suppressed: OPTED_OUT });
    const again = await api('POST', '/v1/broadcasts', request, { 'idempotency-key': 'spring-1' });
    expect(again.json<Broadcast>().id).toBe(created.id);

    const done = await settled(created.id, 'completed', 60_000);
    expect(done.totals.pending + done.totals.queued).toBe(0);
    expect(done.totals.suppressed).toBe(OPTED_OUT);

    const sends = sandbox.sends({ objectId: PHONE });
    expect(sends).toHaveLength(REACHED);
    expect(new Set(sends.map((s) => s.recipient)).size).toBe(REACHED);
    expect(sends.some((s) => optedOut.includes(s.recipient.replace(/^\+/, '')))).toBe(false);
    const first = sends.find((s) => s.recipient === number(1, base))!;
    expect(first.body).toMatchObject({
      type: 'template',
      template: {
        name: 'spring_sale',
        components: [{ type: 'header', parameters: [{ type: 'text', text: 'Customer 1' }] }, {}, {}],
      },
    });
    const rate = sandbox.sendRates().find((r) => r.objectId === PHONE)!;
    expect(rate.maxPerSecond).toBeLessThanOrEqual(CAP);

    // Every recipient reports Meta's states as the status webhooks arrive.
    await eventually(async () => {
      const read = await recipients(created.id, 'read');
      expect(read).toHaveLength(REACHED);
      return true;
    }, 60_000);
    const suppressed = await recipients(created.id, 'suppressed');
    expect(suppressed.map((r) => r.to).sort()).toEqual([...optedOut].sort());
    await eventually(async () => {
      const events = received.filter((e) => (e.data as { broadcastId?: string }).broadcastId === created.id);
      expect(events.map((e) => e.type)).toEqual(
        expect.arrayContaining(['whatsapp.broadcast.started', 'whatsapp.broadcast.completed']),
      );
      expect(events.filter((e) => e.type === 'whatsapp.outbound.sent')).toHaveLength(REACHED);
      return true;
    }, 60_000);
  }, 120_000);

  it('sends a non-template message only inside the 24 h window; the others are skipped', async () => {
    sandbox.setStatusWebhooks(null);
    await inbound(PHONE, '34630000001', 'hola');
    const res = await api('POST', '/v1/broadcasts', {
      channel: { kind: 'whatsapp', id: PHONE },
      message: { type: 'text', text: { body: 'We open on Sunday' } },
      recipients: [{ to: '+34630000001' }, { to: '+34630000002' }],
    });
    expect(res.statusCode).toBe(201);
    const done = await settled(res.json<Broadcast>().id);
    expect(done.totals).toMatchObject({ skipped: 1, recipients: 2 });
    const skipped = await recipients(done.id, 'skipped');
    expect(skipped).toEqual([
      expect.objectContaining({ to: '34630000002', error: expect.objectContaining({ code: 131047 }) as unknown }),
    ]);
  }, 30_000);

  it('refuses recipients whose parameters do not match the template, naming them', async () => {
    const res = await api('POST', '/v1/broadcasts', {
      channel: { kind: 'whatsapp', id: PHONE },
      message: template('order_update', 'es', [
        {
          type: 'body',
          parameters: [
            { type: 'text', text: 'a' },
            { type: 'text', text: 'b' },
          ],
        },
      ]),
      recipients: [
        { to: '+34640000001' },
        { to: '+34640000002', components: [{ type: 'body', parameters: [{ type: 'text', text: 'a' }] }] },
      ],
    });
    expect(res.statusCode).toBe(422);
    expect(res.json()).toMatchObject({ errors: [{ field: 'recipients[1].components[0].parameters' }] });
  });

  it('stops two numbers of one portfolio together at its messaging limit, counting Send API templates, and goes on when the window allows', async () => {
    const params = (ref: string) => [
      {
        type: 'body',
        parameters: [
          { type: 'text', text: 'Ana' },
          { type: 'text', text: ref },
        ],
      },
    ];
    // Ten templates through the Send API reach ten people first: the broadcasts have 240 places left.
    for (let i = 0; i < 10; i++) {
      const res = await api('POST', '/v1/messages', {
        channel: { kind: 'whatsapp', id: PHONE_A },
        to: number(i, 34670000000),
        message: template('order_update', 'es', params(`S-${i}`)),
      });
      expect(res.statusCode, res.body).toBe(202);
    }
    await eventually(async () => (sandbox.sends({ objectId: PHONE_A }).length === 10 ? true : undefined), 20_000);
    const make = (phone: string, base: number) =>
      api('POST', '/v1/broadcasts', {
        channel: { kind: 'whatsapp', id: phone },
        message: template('order_update', 'es'),
        recipients: Array.from({ length: 150 }, (_, i) => ({
          to: number(i, base),
          components: [
            {
              type: 'body',
              parameters: [
                { type: 'text', text: 'Ana' },
                { type: 'text', text: `A-${i}` },
              ],
            },
          ],
        })),
      });
    const a = (await make(PHONE_A, 34650000000)).json<Broadcast>();
    const b = (await make(PHONE_B, 34660000000)).json<Broadcast>();
    const waiting = await eventually(async () => {
      const states = await Promise.all(
        [a, b].map(async (x) => (await api('GET', `/v1/broadcasts/${x.id}`)).json<Broadcast>()),
      );
      const sent = states.reduce((n, s) => n + s.totals.sent + s.totals.delivered + s.totals.read, 0);
      expect(sent).toBe(240);
      const stopped = states.find((s) => s.state === 'waiting');
      expect(stopped).toBeDefined();
      return stopped!;
    }, 30_000);
    expect(waiting.waitingReason).toContain('messaging limit (250 unique users in a moving 24 h');
    expect(waiting.waitingUntil).not.toBeNull();
    expect(sandbox.accounts.reach('biz-small', clock.now().getTime())).toBe(250);

    offsetMs += 24 * 60 * 60 * 1000 + 60_000;
    await settled(a.id);
    await settled(b.id);
    expect(sandbox.sends({ objectId: PHONE_A }).length + sandbox.sends({ objectId: PHONE_B }).length).toBe(310);
    expect(sandbox.accounts.maxReach('biz-small')).toBeLessThanOrEqual(250);
  }, 60_000);

  it('lists the instance’s broadcasts newest first, by state and number, a page at a time', async () => {
    const all = (await api('GET', '/v1/broadcasts?limit=100')).json<BroadcastList>();
    expect(all.broadcasts.length).toBeGreaterThanOrEqual(3);
    const created = all.broadcasts.map((b) => b.createdAt);
    expect(created).toEqual([...created].sort().reverse());
    expect(all.broadcasts[0]!.totals.recipients).toBeGreaterThan(0);

    const first = (await api('GET', '/v1/broadcasts?limit=2')).json<BroadcastList>();
    expect(first.broadcasts.map((b) => b.id)).toEqual(all.broadcasts.slice(0, 2).map((b) => b.id));
    const second = (await api('GET', `/v1/broadcasts?limit=2&cursor=${first.nextCursor!}`)).json<BroadcastList>();
    expect(second.broadcasts.map((b) => b.id)).toEqual(all.broadcasts.slice(2, 4).map((b) => b.id));

    const onA = (await api('GET', `/v1/broadcasts?channelId=${PHONE_A}&state=completed`)).json<BroadcastList>();
    expect(onA.broadcasts.length).toBeGreaterThan(0);
    expect(onA.broadcasts.every((b) => b.channel.id === PHONE_A && b.state === 'completed')).toBe(true);

    const bad = await api('GET', '/v1/broadcasts?cursor=nope');
    expect(bad.statusCode).toBe(400);
    expect(bad.json()).toMatchObject({ errors: [{ field: 'querystring.cursor' }] });
  });

  it('sums each tenant’s broadcasts for the operator, from the same counts as each broadcast’s totals', async () => {
    const all = (await api('GET', '/v1/broadcasts?limit=100')).json<BroadcastList>();
    const res = await engine.app.inject({
      method: 'GET',
      url: '/internal/v1/broadcasts/figures?days=7',
      headers: engine.auth,
    });
    expect(res.statusCode, res.body).toBe(200);
    const figures = res.json<BroadcastFigures>();
    expect(figures.tenants).toHaveLength(1);
    const [tenant] = figures.tenants;
    const sum = (key: keyof Broadcast['totals']) => all.broadcasts.reduce((n, b) => n + b.totals[key], 0);
    expect(tenant!.broadcasts).toBe(all.broadcasts.length);
    expect(tenant!.active).toBe(
      all.broadcasts.filter((b) => ['scheduled', 'running', 'waiting', 'paused'].includes(b.state)).length,
    );
    for (const key of ['recipients', 'duplicates', 'sent', 'delivered', 'read', 'failed', 'suppressed'] as const) {
      expect(tenant!.totals[key], key).toBe(sum(key));
    }
    expect(tenant!.totals.recipients).toBeGreaterThan(0);
    // Not for instances: their token opens only their own API.
    expect((await api('GET', '/internal/v1/broadcasts/figures')).statusCode).toBe(401);
    const bad = await engine.app.inject({
      method: 'GET',
      url: '/internal/v1/broadcasts/figures?days=0',
      headers: engine.auth,
    });
    expect(bad.statusCode).toBe(400);
  });

  it('pauses, resumes and cancels, sending nobody twice', async () => {
    const scheduled = (
      await api('POST', '/v1/broadcasts', {
        channel: { kind: 'whatsapp', id: PHONE_PAUSED },
        message: template('hello_world', 'en_US'),
        recipients: [{ to: '+34670000001' }],
        scheduledAt: new Date(clock.now().getTime() + 3_600_000).toISOString(),
      })
    ).json<Broadcast>();
    expect(scheduled.state).toBe('scheduled');
    expect((await api('POST', `/v1/broadcasts/${scheduled.id}/pause`)).json<Broadcast>().state).toBe('paused');
    expect((await api('POST', `/v1/broadcasts/${scheduled.id}/resume`)).json<Broadcast>().state).toBe('scheduled');
    const cancelled = (await api('POST', `/v1/broadcasts/${scheduled.id}/cancel`)).json<Broadcast>();
    expect(cancelled).toMatchObject({ state: 'cancelled', totals: { cancelled: 1 } });
    const refused = await api('POST', `/v1/broadcasts/${scheduled.id}/resume`);
    expect(refused.statusCode).toBe(409);
    expect(refused.json()).toMatchObject({
      type: expect.stringContaining('broadcast-state') as string,
      state: 'cancelled',
    });

    sandbox.clearSends();
    const running = (
      await api('POST', '/v1/broadcasts', {
        channel: { kind: 'whatsapp', id: PHONE_PAUSED },
        message: template('hello_world', 'en_US'),
        // The first test's list: its opted-out recipients and its repeats.
        recipients: [
          ...Array.from({ length: RECIPIENTS - DUPLICATES }, (_, i) => ({ to: number(i, 34620000000) })),
          ...Array.from({ length: DUPLICATES }, (_, i) => ({ to: number(i * 37, 34620000000).slice(1) })),
        ],
      })
    ).json<Broadcast>();
    expect(running.totals).toMatchObject({ duplicates: DUPLICATES, suppressed: OPTED_OUT });
    await eventually(async () => {
      expect(sandbox.sends({ objectId: PHONE_PAUSED }).length).toBeGreaterThan(REACHED / 4);
      return true;
    });
    const paused = (await api('POST', `/v1/broadcasts/${running.id}/pause`)).json<Broadcast>();
    expect(paused.state).toBe('paused');
    // Sends already holding a slot finish; then nothing more leaves.
    const atPause = await eventually(async () => {
      const before = sandbox.sends({ objectId: PHONE_PAUSED }).length;
      await new Promise((r) => setTimeout(r, 500));
      return sandbox.sends({ objectId: PHONE_PAUSED }).length === before ? before : undefined;
    });
    await new Promise((r) => setTimeout(r, 1_000));
    expect(sandbox.sends({ objectId: PHONE_PAUSED }).length).toBe(atPause);
    expect(atPause).toBeLessThan(REACHED);

    expect((await api('POST', `/v1/broadcasts/${running.id}/resume`)).json<Broadcast>().state).toBe('running');
    await settled(running.id, 'completed', 60_000);
    const sends = sandbox.sends({ objectId: PHONE_PAUSED });
    expect(sends).toHaveLength(REACHED);
    expect(new Set(sends.map((s) => s.recipient)).size).toBe(REACHED);
    expect(sandbox.sendRates().find((r) => r.objectId === PHONE_PAUSED)!.maxPerSecond).toBeLessThanOrEqual(CAP);
  }, 90_000);
});
