import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createServer, type Server } from 'node:http';
import { count, isNull } from 'drizzle-orm';
import { uuidv7 } from 'uuidv7';
import Value from 'typebox/value';
import { EngineStats, type EngineReport } from '@mic/contracts';
import { InternalClient, loadConfig, Notifier, notifyFields } from '@mic/platform';
import { eventually, freePort, startTestMailbox, testLogger, type TestMailbox } from '@mic/platform/testing';
import { startTestEngine, type TestEngine } from '../../testing.ts';
import { deliveries, deliveryAttempts } from '../delivery/schema.ts';
import { inboundEvents } from '../ingress/schema.ts';
import { EngineFigures } from './metrics.ts';
import { reportLeases, reportOutbox } from './schema.ts';
import { ControlLink } from './link.ts';
import { Reports, type ReportsOptions } from './service.ts';

const CONTROL_UNREACHABLE = 'control-unreachable';
const OPTIONS: ReportsOptions = {
  flushIntervalMs: 100,
  maxBackoffMs: 300,
  pingIntervalMs: 200,
  statsIntervalMs: 60_000,
  unreachableAlertAfterMs: 1_000,
  retentionMs: 86_400_000,
  batchSize: 200,
  leaseMs: 30_000,
};

/** Control's reports endpoint stand-in: accepts every report but the ones marked `reject-me`. */
interface FakeControl {
  batches: EngineReport[][];
  listen(): Promise<void>;
  close(): Promise<void>;
}

function fakeControl(port: number): FakeControl {
  const batches: EngineReport[][] = [];
  const server: Server = createServer((req, res) => {
    let body = '';
    req.on('data', (c: Buffer) => (body += c.toString()));
    req.on('end', () => {
      const { reports } = JSON.parse(body) as { reports: EngineReport[] };
      if (reports.length) batches.push(reports);
      const isRejected = (r: EngineReport) => r.kind === 'alert' && r.key === 'reject-me';
      res.writeHead(200, { 'content-type': 'application/json' }).end(
        JSON.stringify({
          accepted: reports.filter((r) => !isRejected(r)).map((r) => r.id),
          rejected: reports.filter(isRejected).map((r) => ({ id: r.id, reason: 'unreadable' })),
        }),
      );
    });
  });
  return {
    batches,
    listen: () => new Promise<void>((r) => server.listen(port, '127.0.0.1', r)),
    close: () =>
      new Promise<void>((r) => {
        server.closeAllConnections();
        server.close(() => r());
      }),
  };
}

let engine: TestEngine;
let mailbox: TestMailbox;
let control: FakeControl;

beforeAll(async () => {
  mailbox = await startTestMailbox();
  const port = await freePort();
  control = fakeControl(port); // not listening yet: control is down
  engine = await startTestEngine({
    CONTROL_URL: `http://127.0.0.1:${port}`,
    CONTROL_TOKEN: 'mic_st_test',
    REPORTS_FLUSH_INTERVAL: '100ms',
    REPORTS_MAX_BACKOFF: '300ms',
    CONTROL_PING_INTERVAL: '200ms',
    CONTROL_UNREACHABLE_ALERT_AFTER: '1s',
    ALERT_SMTP_URL: mailbox.url,
    ALERT_EMAIL_TO: 'ops@example.test',
  });
});
afterAll(async () => {
  await engine?.stop();
  await control?.close();
  await mailbox?.stop();
});

async function reachability() {
  const res = await fetch(`${engine.url}/health/api`);
  const body = (await res.json()) as { checks: Record<string, { status: string; output?: string }[]> };
  return { status: res.status, check: body.checks['control:reachability']?.[0] };
}

const unsent = async () =>
  (await engine.app.db.orm.select({ n: count() }).from(reportOutbox).where(isNull(reportOutbox.sentAt)))[0]!.n;

describe('reports to control', () => {
  it('keeps reports while control is down, warns, tells the operators once, and drains when control is back', async () => {
    await engine.app.deliveries.alert('breaker.opened', 'ins_1', { failures: 5 });
    await engine.app.reports.alert({
      key: 'reject-me',
      type: 'quota-crossed',
      severity: 'warning',
      state: 'raised',
      message: 'a report control cannot read',
    });

    const warned = await eventually(async () => {
      const r = await reachability();
      return r.check?.status === 'warn' ? r : undefined;
    });
    expect(warned.status).toBe(200); // warn, never fail
    expect(warned.check?.output).toContain('control unreachable for');

    const mail = await eventually(async () => mailbox.mails.find((m) => m.raw.includes('Control unreachable')));
    expect(mail.to).toEqual(['ops@example.test']);
    await new Promise((r) => setTimeout(r, 1_000));
    expect(mailbox.mails.filter((m) => m.raw.includes('Control unreachable'))).toHaveLength(1);
    expect(await unsent()).toBe(3); // breaker, reject-me, control-unreachable

    await control.listen();
    // The rejected one waits; the "reachable again" alert is queued once the first batch got through,
    // so it may still be on its way when only the rejected one is left.
    const isResolvedSent = () =>
      control.batches
        .flat()
        .some((r) => r.kind === 'alert' && r.key === 'control-unreachable' && r.state === 'resolved');
    await eventually(async () => ((await unsent()) === 1 && isResolvedSent() ? true : undefined));
    const sent = control.batches.flat();
    const alerts = sent.filter((r): r is Extract<EngineReport, { kind: 'alert' }> => r.kind === 'alert');
    expect(alerts.map((a) => `${a.key}:${a.state}`)).toEqual(
      expect.arrayContaining(['breaker:ins_1:raised', 'control-unreachable:raised', 'control-unreachable:resolved']),
    );
    expect(alerts.find((a) => a.key === 'breaker:ins_1')).toMatchObject({
      type: 'breaker-open',
      severity: 'critical',
      instanceId: 'ins_1',
    });
    expect(alerts.find((a) => a.key === 'control-unreachable')?.notified).toBe(true);
    await eventually(async () => mailbox.mails.find((m) => m.raw.includes('reachable again')));
    expect((await reachability()).check?.status).toBe('pass');
    const [rejected] = await engine.app.db.orm.select().from(reportOutbox).where(isNull(reportOutbox.sentAt));
    expect(rejected?.lastError).toBe('rejected: unreadable');
    expect(rejected!.nextAttemptAt.getTime()).toBeGreaterThan(Date.now() + 3_600_000);
  });

  it('wakes the drainer when a report is enqueued', async () => {
    const before = control.batches.length;
    const id = await engine.app.reports.alert({
      key: 'breaker:ins_2',
      type: 'breaker-open',
      severity: 'critical',
      state: 'resolved',
      message: 'back',
    });
    await eventually(async () =>
      control.batches
        .slice(before)
        .flat()
        .some((r) => r.id === id)
        ? true
        : undefined,
    );
  });

  it('reports usage counts from the tables, and an unchanged count only once', async () => {
    const now = new Date();
    await engine.app.db.orm.insert(inboundEvents).values({
      id: uuidv7(),
      receiptId: uuidv7(),
      dedupKey: `usage-${uuidv7()}`,
      type: 'whatsapp.message.received',
      platform: 'whatsapp',
      channelId: '999',
      routeState: 'routed',
      instanceId: 'ins_u',
      tenantId: 'ten_u',
      traceParent: '00-x-y-01',
      occurredAt: now,
      receivedAt: now,
      data: {},
      raw: {},
    });
    const usageSent = () => control.batches.flat().filter((r) => r.kind === 'usage' && r.instanceId === 'ins_u');
    await engine.app.reports.countFigures();
    const [usage] = await eventually(async () => (usageSent().length ? usageSent() : undefined));
    expect(usage).toMatchObject({
      period: now.toISOString().slice(0, 10),
      tenantId: 'ten_u',
      channel: 'whatsapp:999',
      metric: 'events.received',
      value: 1,
    });
    await engine.app.reports.countFigures();
    await new Promise((r) => setTimeout(r, 300));
    expect(usageSent()).toHaveLength(1);
  });

  it('lets one process drain at a time', async () => {
    const [lease] = await engine.app.db.orm.select().from(reportLeases);
    const other = new Reports({
      db: engine.app.db.orm,
      clock: engine.app.clock,
      control: new InternalClient({ baseUrl: 'http://127.0.0.1:9', token: () => 'x', timeoutMs: 500, peer: 'control' }),
      link: new ControlLink(engine.app.clock),
      figures: new EngineFigures(engine.app.db.orm),
      notifier: new Notifier(loadConfig(notifyFields, {}), testLogger()),
      logger: testLogger(),
      options: { ...OPTIONS, unreachableAlertAfterMs: 0 },
    });
    await other.runOnce();
    expect(await engine.app.db.orm.select().from(reportLeases)).toEqual([lease]);
    expect(control.batches.flat().filter((r) => r.kind === 'alert' && r.key === CONTROL_UNREACHABLE)).toHaveLength(2);
  });

  it('answers its key metrics on /internal/v1/stats', async () => {
    const res = await fetch(`${engine.url}/internal/v1/stats`, { headers: engine.auth });
    expect(res.status).toBe(200);
    const stats: unknown = await res.json();
    expect(Value.Check(EngineStats, stats)).toBe(true);
    expect(stats).toMatchObject({ outbox: { unsent: 1 }, deliveries: { pending: 0 } });
    expect((await fetch(`${engine.url}/internal/v1/stats`)).status).toBe(401);
  });

  it('counts usage per day and delivery stats per instance from the delivery and ingress tables', async () => {
    const db = engine.app.db.orm;
    const t0 = new Date('2030-03-01T10:00:00Z');
    const at = (s: number) => new Date(t0.getTime() + s * 1000);
    const event = (id: string, channel: string) => ({
      id,
      receiptId: uuidv7(),
      dedupKey: `k-${id}`,
      type: 'whatsapp.message.received',
      platform: 'whatsapp',
      channelId: channel,
      conversationKey: 'c',
      routeState: 'routed',
      instanceId: 'ins_f',
      tenantId: 'ten_f',
      traceParent: '00-x-y-01',
      occurredAt: at(0),
      receivedAt: at(0),
      data: {},
      raw: {},
    });
    const events = [event(uuidv7(), '111'), event(uuidv7(), '111'), event(uuidv7(), '222')];
    await db.insert(inboundEvents).values(events);
    const delivery = (eventId: string, seq: number, state: string, doneAt: Date) => ({
      id: uuidv7(),
      eventId,
      instanceId: 'ins_f',
      conversation: 'c',
      seq,
      state,
      attempts: 1,
      nextAttemptAt: at(0),
      payload: { tenantId: 'ten_f' },
      traceParent: '00-x-y-01',
      createdAt: at(0),
      ...(state === 'delivered' ? { deliveredAt: doneAt } : { deadAt: doneAt }),
    });
    const rows = [
      delivery(events[0]!.id, 1, 'delivered', at(1)),
      delivery(events[1]!.id, 2, 'delivered', at(3)),
      delivery(events[2]!.id, 3, 'dead', at(5)),
    ];
    await db.insert(deliveries).values(rows);
    const attempt = (deliveryId: string, n: number, outcome: string, when: Date) => ({
      id: uuidv7(),
      deliveryId,
      attempt: n,
      at: when,
      outcome,
      durationMs: 5,
    });
    await db
      .insert(deliveryAttempts)
      .values([
        attempt(rows[0]!.id, 1, 'delivered', at(1)),
        attempt(rows[1]!.id, 1, 'failed', at(2)),
        attempt(rows[1]!.id, 2, 'delivered', at(3)),
        attempt(rows[2]!.id, 1, 'failed', at(5)),
      ]);

    const figures = new EngineFigures(db);
    const [stats] = await figures.deliveryStats(at(0), at(60));
    expect(stats).toMatchObject({
      instanceId: 'ins_f',
      tenantId: 'ten_f',
      delivered: 2,
      failed: 2,
      retried: 1,
      deadLettered: 1,
      latencyMs: { p50: 2000 },
    });
    expect(await figures.deliveryStats(at(60), at(120))).toEqual([]);

    const usage = await figures.usage(new Date('2030-03-01T00:00:00Z'));
    expect(usage).toEqual(
      expect.arrayContaining([
        {
          period: '2030-03-01',
          tenantId: 'ten_f',
          instanceId: 'ins_f',
          channel: 'whatsapp:111',
          metric: 'events.received',
          value: 2,
        },
        {
          period: '2030-03-01',
          tenantId: 'ten_f',
          instanceId: 'ins_f',
          channel: 'whatsapp:222',
          metric: 'events.received',
          value: 1,
        },
        { period: '2030-03-01', tenantId: 'ten_f', instanceId: 'ins_f', metric: 'events.delivered', value: 2 },
      ]),
    );
  });
});
