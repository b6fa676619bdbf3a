import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { isNull } from 'drizzle-orm';
import { startGraphSandbox, type GraphSandbox } from '@mic/meta-sandbox';
import { eventually } from '@mic/platform/testing';
import type { AlertReport, MessageStatus, SendAccepted } from '@mic/contracts';
import { applyTestConfig, routeTestInstance, startTestEngine, type TestEngine } from '../../testing.ts';
import { channelTokenRef } from '../channels/index.ts';
import { reportOutbox } from '../reports/schema.ts';

const PHONE = '1098765432101';
const PHONE_AUTH = '1098765432102';
const PHONE_OTHER = '1098765432103';
const PHONE_PAUSED = '1098765432104';
const PHONE_QUOTA = '1098765432105';
const PHONE_SLOW = '1098765432106';
const PHONE_FAIL = '1098765432107';
const PHONE_FLAKY = '1098765432108';
const PHONE_PAIR = '1098765432109';
const PHONES = [
  PHONE,
  PHONE_AUTH,
  PHONE_OTHER,
  PHONE_PAUSED,
  PHONE_QUOTA,
  PHONE_SLOW,
  PHONE_FAIL,
  PHONE_FLAKY,
  PHONE_PAIR,
];
const tokenOf = (phone: string) => `EAAGphone-token-${phone}`;

let sandbox: GraphSandbox;
let engine: TestEngine;
const apiTokens = new Map<string, string>();

async function instance(id: string, phone: string, tenantId?: string): Promise<void> {
  await routeTestInstance(engine, {
    id,
    ...(tenantId ? { tenantId } : {}),
    webhookUrl: 'http://127.0.0.1:9/hook',
    channels: [{ platform: 'whatsapp', channelId: phone }],
  });
  const issued = await engine.app.inject({
    method: 'POST',
    url: `/internal/v1/instances/${id}/credentials`,
    headers: engine.auth,
  });
  expect(issued.statusCode).toBe(201);
  apiTokens.set(id, issued.json<{ apiToken: string }>().apiToken);
}

const APP_SECRET = 'messages-test-app-secret';

beforeAll(async () => {
  sandbox = await startGraphSandbox({
    objects: PHONES.map((id) => ({ id, kind: 'whatsapp-phone-number' as const, token: tokenOf(id) })),
  });
  engine = await startTestEngine({
    META_APP_SECRET: APP_SECRET,
    META_GRAPH_URL: sandbox.url,
    META_GRAPH_VERSION: 'v21.0',
    META_GRAPH_TIMEOUT: '2s',
    OUTBOUND_POLL_INTERVAL: '100ms',
    OUTBOUND_HORIZON: '100ms',
    SEND_RETRY_BASE: '100ms',
    SEND_SLOW_FOR: '1s',
    SEND_PAIR_RATE_DELAY: '300ms',
  });
  // The tokens as the channels module stores them when a channel is connected.
  for (const phone of PHONES) {
    await engine.app.secrets.put(channelTokenRef('whatsapp', phone), 'meta-access-token', tokenOf(phone));
  }
  await instance('ins_main', PHONE);
  await instance('ins_auth', PHONE_AUTH);
  await instance('ins_other', PHONE_OTHER);
  await instance('ins_paused', PHONE_PAUSED);
  await instance('ins_quota', PHONE_QUOTA, 'ten_quota');
  await instance('ins_slow', PHONE_SLOW);
  await instance('ins_misc', PHONE_FAIL);
  await routeTestInstance(engine, {
    id: 'ins_misc',
    webhookUrl: 'http://127.0.0.1:9/hook',
    channels: [
      { platform: 'whatsapp', channelId: PHONE_FLAKY },
      { platform: 'whatsapp', channelId: PHONE_PAIR },
    ],
  });
});
afterAll(async () => {
  await engine?.stop();
  await sandbox?.stop();
});

const text = (phone: string, body: string, to = '+34600000001') => ({
  channel: { kind: 'whatsapp', id: phone },
  to,
  message: { type: 'text', text: { body } },
});

function send(instanceId: string, payload: object, headers: Record<string, string> = {}) {
  return engine.app.inject({
    method: 'POST',
    url: '/v1/messages',
    headers: { authorization: `Bearer ${apiTokens.get(instanceId)!}`, ...headers },
    payload,
  });
}

async function status(instanceId: string, id: string) {
  const res = await engine.app.inject({
    method: 'GET',
    url: `/v1/messages/${id}`,
    headers: { authorization: `Bearer ${apiTokens.get(instanceId)!}` },
  });
  return { statusCode: res.statusCode, body: res.json<MessageStatus>() };
}

async function sentStatus(instanceId: string, id: string): Promise<MessageStatus> {
  return eventually(async () => {
    const { body } = await status(instanceId, id);
    expect(body.state).toBe('sent');
    return body;
  });
}

describe('POST /v1/messages', () => {
  it('sends a text message to Meta in the Graph shape and shows it sent with Meta’s id', async () => {
    const res = await send('ins_main', text(PHONE, 'Hello from MIC'));
    expect(res.statusCode).toBe(202);
    const accepted = res.json<SendAccepted>();
    expect(accepted.state).toBe('queued');
    expect(accepted.id).toMatch(/^[0-9a-f-]{36}$/);

    const message = await sentStatus('ins_main', accepted.id);
    const sends = sandbox.sends({ objectId: PHONE });
    expect(sends).toHaveLength(1);
    expect(sends[0]!.body).toEqual({
      messaging_product: 'whatsapp',
      recipient_type: 'individual',
      to: '+34600000001',
      type: 'text',
      text: { body: 'Hello from MIC' },
    });
    expect(message).toMatchObject({
      id: accepted.id,
      channel: { kind: 'whatsapp', id: PHONE },
      to: '+34600000001',
      priority: 'conversation',
      state: 'sent',
      metaMessageId: sends[0]!.messageId,
    });
    expect(message.timeline.map((e) => e.state)).toEqual(['queued', 'sending', 'sent']);

    // Counted for billing: the day's messages.sent of the tenant, instance and channel go to control.
    await engine.app.reports.countFigures();
    const usage = (await engine.app.db.orm.select().from(reportOutbox))
      .map((r) => r.payload as { kind: string; metric?: string; instanceId?: string; channel?: string; value?: number })
      .filter((p) => p.kind === 'usage' && p.metric === 'messages.sent' && p.instanceId === 'ins_main');
    expect(usage.at(-1)).toMatchObject({ channel: `whatsapp:${PHONE}`, value: 1 });
  });

  it("follows Meta's status webhooks: delivered, then read, in the message's state and timeline", async () => {
    sandbox.setStatusWebhooks({ url: `${engine.url}/meta/webhook`, appSecret: APP_SECRET, delayMs: 100 });
    try {
      const { id } = (await send('ins_main', text(PHONE, 'Will be read'))).json<SendAccepted>();
      const read = await eventually(async () => {
        const { body } = await status('ins_main', id);
        return body.state === 'read' ? body : undefined;
      });
      expect(read.timeline.map((e) => e.state)).toEqual(['queued', 'sending', 'sent', 'sent', 'delivered', 'read']);
    } finally {
      sandbox.setStatusWebhooks(null);
    }
  });

  it('answers a repeated Idempotency-Key with the first message and sends it once; another body is 422', async () => {
    const before = sandbox.sends({ objectId: PHONE }).length;
    const headers = { 'idempotency-key': 'order-42-confirmation' };
    const first = await send('ins_main', text(PHONE, 'Your order 42 is confirmed'), headers);
    const again = await send('ins_main', text(PHONE, 'Your order 42 is confirmed'), headers);
    expect(first.statusCode).toBe(202);
    expect(again.statusCode).toBe(202);
    expect(again.json()).toEqual(first.json());
    await sentStatus('ins_main', first.json<SendAccepted>().id);
    const other = await send('ins_main', text(PHONE, 'Something else'), headers);
    expect(other.statusCode).toBe(422);
    expect(other.json()).toMatchObject({ type: '/problems/idempotency-key-reused' });
    // The same key is another instance's own.
    const elsewhere = await send('ins_other', text(PHONE_OTHER, 'Your order 42 is confirmed'), headers);
    expect(elsewhere.statusCode).toBe(202);
    expect(elsewhere.json<SendAccepted>().id).not.toBe(first.json<SendAccepted>().id);
    // Repeats racing each other still make one message.
    const racing = await Promise.all(
      Array.from({ length: 5 }, () => send('ins_main', text(PHONE, 'Racing'), { 'idempotency-key': 'racing-key' })),
    );
    expect(new Set(racing.map((r) => r.json<SendAccepted>().id)).size).toBe(1);
    await sentStatus('ins_main', racing[0]!.json<SendAccepted>().id);
    await new Promise((r) => setTimeout(r, 300));
    expect(sandbox.sends({ objectId: PHONE })).toHaveLength(before + 2);
  });

  it('refuses a bad body with 400 naming the field', async () => {
    const res = await send('ins_main', {
      channel: { kind: 'whatsapp', id: PHONE },
      to: 'nobody',
      message: { type: 'text', text: { body: '' } },
    });
    expect(res.statusCode).toBe(400);
    const fields = res.json<{ errors: { field: string }[] }>().errors.map((e) => e.field);
    expect(fields).toContain('message.text.body');
  });

  it("refuses another instance's channel with 403", async () => {
    const res = await send('ins_main', text(PHONE_OTHER, 'Not mine'));
    expect(res.statusCode).toBe(403);
    expect(res.json()).toMatchObject({ type: '/problems/channel-not-yours' });
  });

  it('refuses a paused instance with 423', async () => {
    await applyTestConfig(engine, (s) => {
      s.instances.find((i) => i.id === 'ins_paused')!.state = 'paused';
    });
    const res = await send('ins_paused', text(PHONE_PAUSED, 'Held'));
    expect(res.statusCode).toBe(423);
    expect(res.json()).toMatchObject({ type: '/problems/instance-paused' });
  });

  it("refuses a priority the tenant's limits do not allow with 403", async () => {
    await applyTestConfig(engine, (s) => {
      s.tenants.find((t) => t.id === 'ten_quota')!.limits.priorities = ['conversation'];
    });
    const res = await send('ins_quota', { ...text(PHONE_QUOTA, 'Code 1234'), priority: 'critical' });
    expect(res.statusCode).toBe(403);
    expect(res.json()).toMatchObject({ type: '/problems/priority-not-allowed' });
  });

  it("alerts at 80 % and 100 % of the tenant's monthly quota and refuses messages over it with 429", async () => {
    await applyTestConfig(engine, (s) => {
      s.tenants.find((t) => t.id === 'ten_quota')!.limits.messagesPerMonth = 5;
    });
    const quotaAlerts = async () =>
      (await engine.app.db.orm.select().from(reportOutbox))
        .map((r) => r.payload as AlertReport)
        .filter((p) => p.kind === 'alert' && p.type === 'quota-crossed' && p.tenantId === 'ten_quota')
        .map((p) => [p.details?.used, p.severity]);
    for (const n of [1, 2, 3]) expect((await send('ins_quota', text(PHONE_QUOTA, `m${n}`))).statusCode).toBe(202);
    expect(await quotaAlerts()).toEqual([]);
    expect((await send('ins_quota', text(PHONE_QUOTA, 'm4'))).statusCode).toBe(202);
    expect(await quotaAlerts()).toEqual([[4, 'warning']]);
    expect((await send('ins_quota', text(PHONE_QUOTA, 'm5'))).statusCode).toBe(202);
    expect(await quotaAlerts()).toEqual([
      [4, 'warning'],
      [5, 'critical'],
    ]);
    const over = await send('ins_quota', text(PHONE_QUOTA, 'm6'));
    expect(over.statusCode).toBe(429);
    expect(over.json()).toMatchObject({ type: '/problems/message-quota-exceeded', quota: 5, used: 5 });
  });

  it('pauses the lane and raises a reauthorize-channel alert when Meta refuses the token (190)', async () => {
    sandbox.failNext(1, 'invalid-token', { objectId: PHONE_AUTH });
    const res = await send('ins_auth', text(PHONE_AUTH, 'Token gone'));
    const { id } = res.json<SendAccepted>();
    const lane = `whatsapp:${PHONE_AUTH}`;
    await eventually(async () => expect((await engine.app.lanes.laneState(lane))?.pausedReason).toBeTruthy());
    const alerts = (await engine.app.db.orm.select().from(reportOutbox).where(isNull(reportOutbox.sentAt)))
      .map((r) => r.payload as AlertReport)
      .filter((p) => p.kind === 'alert' && p.type === 'reauthorize-channel');
    expect(alerts).toEqual([
      expect.objectContaining({ key: `channel:${lane}`, channel: lane, instanceId: 'ins_auth', severity: 'critical' }),
    ]);
    const { body } = await status('ins_auth', id);
    expect(body.state).toBe('queued');
    expect(body.timeline.at(-1)?.error).toMatchObject({ code: 190 });
    expect(sandbox.sends({ objectId: PHONE_AUTH })).toHaveLength(0);

    // The operator connects the channel again with a token Meta takes: the lane goes, the message is sent.
    sandbox.addObject({ id: 'waba-reauthorized', kind: 'whatsapp-business-account', token: tokenOf(PHONE_AUTH) });
    const reconnected = await engine.app.inject({
      method: 'PUT',
      url: `/internal/v1/channels/whatsapp/${PHONE_AUTH}/connection`,
      headers: engine.auth,
      payload: { accessToken: tokenOf(PHONE_AUTH), objectId: 'waba-reauthorized' },
    });
    expect(reconnected.json()).toMatchObject({ state: 'subscribed' });
    expect((await sentStatus('ins_auth', id)).metaMessageId).toBeTruthy();
    expect(sandbox.sends({ objectId: PHONE_AUTH })).toHaveLength(1);
  });

  it('slows the lane on 130429 and sends the message when Meta takes it again', async () => {
    sandbox.failNext(1, 'throughput', { objectId: PHONE_SLOW });
    const res = await send('ins_slow', text(PHONE_SLOW, 'Throttled once'));
    const message = await sentStatus('ins_slow', res.json<SendAccepted>().id);
    expect(message.timeline.map((e) => e.state)).toEqual(['queued', 'sending', 'queued', 'sending', 'sent']);
    expect(message.timeline[2]!.error).toMatchObject({ code: 130429 });
    expect(sandbox.sends({ objectId: PHONE_SLOW })).toHaveLength(1);
    const lane = await engine.app.lanes.laneState(`whatsapp:${PHONE_SLOW}`);
    expect(lane?.slowFactor).toBe(2);
  });

  it("slows the lane on Meta's spam rate limit (131048) and alerts the operators", async () => {
    sandbox.failNext(1, 'spam-rate', { objectId: PHONE_SLOW });
    const res = await send('ins_slow', text(PHONE_SLOW, 'Reported too often'));
    const message = await sentStatus('ins_slow', res.json<SendAccepted>().id);
    expect(message.timeline[2]!.error).toMatchObject({ code: 131048 });
    const lane = `whatsapp:${PHONE_SLOW}`;
    expect((await engine.app.lanes.laneState(lane))?.slowFactor).toBe(2);
    const alerts = (await engine.app.db.orm.select().from(reportOutbox).where(isNull(reportOutbox.sentAt)))
      .map((r) => r.payload as AlertReport)
      .filter((p) => p.kind === 'alert' && p.type === 'spam-rate-limited');
    expect(alerts).toEqual([
      expect.objectContaining({ key: `spam-rate:${lane}`, channel: lane, instanceId: 'ins_slow', severity: 'warning' }),
    ]);
  });
});

describe('the send handler', () => {
  it("fails a message Meta refuses for good, with Meta's code and text", async () => {
    sandbox.failNext(1, 'outside-window', { objectId: PHONE_FAIL });
    const { id } = (await send('ins_misc', text(PHONE_FAIL, 'Too late'))).json<SendAccepted>();
    const message = await eventually(async () => {
      const { body } = await status('ins_misc', id);
      expect(body.state).toBe('failed');
      return body;
    });
    const error = message.timeline.at(-1)?.error;
    expect(error?.code).toBe(131047);
    expect(error?.message).toContain('more than 24 hours have passed');
    expect(sandbox.sends({ objectId: PHONE_FAIL })).toHaveLength(0);
  });

  it('retries after a 5xx and after a call with no answer, marking the unknown outcome', async () => {
    sandbox.failNext(1, 'server-error', { objectId: PHONE_FLAKY });
    sandbox.failNext(1, 'timeout', { objectId: PHONE_FLAKY, hangMs: 2_500 });
    const { id } = (await send('ins_misc', text(PHONE_FLAKY, 'Flaky'))).json<SendAccepted>();
    const message = await sentStatus('ins_misc', id);
    const queued = message.timeline.filter((e) => e.state === 'queued');
    expect(queued.map((e) => e.isOutcomeUnknown ?? false)).toEqual([false, false, true]);
    expect(sandbox.sends({ objectId: PHONE_FLAKY })).toHaveLength(1);
  });

  it("holds a recipient after Meta's pair rate (131056) and sends later", async () => {
    sandbox.failNext(1, 'pair-rate', { objectId: PHONE_PAIR });
    const { id } = (await send('ins_misc', text(PHONE_PAIR, 'Again', '+34600000099'))).json<SendAccepted>();
    const message = await sentStatus('ins_misc', id);
    expect(message.timeline[2]!.error).toMatchObject({ code: 131056 });
  });
});

describe('GET /v1/messages/:id', () => {
  it('shows an instance only its own messages', async () => {
    const res = await send('ins_main', text(PHONE, 'Private'));
    const { id } = res.json<SendAccepted>();
    expect((await status('ins_other', id)).statusCode).toBe(404);
    expect((await status('ins_main', 'not-a-uuid')).statusCode).toBe(404);
  });
});
