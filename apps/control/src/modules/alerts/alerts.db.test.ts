import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { count, eq } from 'drizzle-orm';
import { uuidv7 } from 'uuidv7';
import type { Alert, EngineReport, Series, UsageCounter } from '@mic/contracts';
import { listenToSupervisor, signNotice, type PlaneRuntimeState, type SupervisorMessage } from '@mic/platform';
import {
  eventually,
  startTestMailbox,
  startTestReceiver,
  type TestMailbox,
  type TestReceiver,
} from '@mic/platform/testing';
import { startTestControl, type TestControl } from '../../testing.ts';
import { alerts, receivedReports } from './schema.ts';

let control: TestControl;
let mailbox: TestMailbox;
let hook: TestReceiver;

beforeAll(async () => {
  mailbox = await startTestMailbox();
  hook = await startTestReceiver();
  control = await startTestControl({
    ALERT_SMTP_URL: mailbox.url,
    ALERT_EMAIL_TO: 'ops@example.test',
    ALERT_WEBHOOK_URL: hook.url,
    ALERT_WEBHOOK_SECRET: 'hook-secret',
    ALERT_NOTIFY_MIN_INTERVAL: '1500ms',
    QUEUE_POLLING_INTERVAL: '500ms',
    ENGINE_HEALTH_TIMEOUT: '300ms',
    ENGINE_WATCH_INTERVAL: '200ms',
    ENGINE_UNREACHABLE_ALERT_AFTER: '600ms',
  });
});
afterAll(async () => {
  await control?.stop();
  await mailbox?.stop();
  await hook?.stop();
});

const occurredAt = new Date().toISOString();
const report = {
  breaker: (state: 'raised' | 'resolved' = 'raised'): EngineReport => ({
    id: uuidv7(),
    occurredAt: new Date().toISOString(),
    kind: 'alert',
    key: 'breaker:ins_1',
    state,
    type: 'breaker-open',
    severity: 'critical',
    instanceId: 'ins_1',
    message: 'Deliveries to instance ins_1 are held',
    details: { failures: 5 },
  }),
  usage: (value: number, at = occurredAt): EngineReport => ({
    id: uuidv7(),
    occurredAt: at,
    kind: 'usage',
    period: '2030-03-01',
    tenantId: 'ten_1',
    instanceId: 'ins_1',
    channel: 'whatsapp:111',
    metric: 'events.received',
    value,
  }),
  stats: (): EngineReport => ({
    id: uuidv7(),
    occurredAt,
    kind: 'delivery-stats',
    instanceId: 'ins_1',
    tenantId: 'ten_1',
    from: '2030-03-01T10:00:00.000Z',
    to: '2030-03-01T10:01:00.000Z',
    delivered: 7,
    failed: 1,
    retried: 1,
    deadLettered: 0,
    latencyMs: { p50: 12, p95: 40, p99: 80 },
  }),
};

async function send(reports: unknown[]) {
  const res = await control.app.inject({
    method: 'POST',
    url: '/internal/v1/reports',
    headers: control.auth,
    payload: { reports },
  });
  expect(res.statusCode).toBe(200);
  return res.json<{ accepted: string[]; rejected: { id: string; reason: string }[] }>();
}

async function listAlerts(state?: string): Promise<Alert[]> {
  const res = await control.app.inject({
    method: 'GET',
    url: `/v1/alerts${state ? `?state=${state}` : ''}`,
    headers: control.operator,
  });
  expect(res.statusCode).toBe(200);
  return res.json<Alert[]>();
}

const mailsAbout = (text: string) => mailbox.mails.filter((m) => m.raw.includes(text));

describe('engine reports', () => {
  it('stores each report once, accepts a replayed batch again, and rejects an unreadable report alone', async () => {
    const batch = [report.breaker(), report.usage(5), report.stats()];
    const bad = { id: uuidv7(), occurredAt, kind: 'alert', key: 'x' };
    const first = await send([...batch, bad]);
    expect(first.accepted).toEqual(batch.map((r) => r.id));
    expect(first.rejected.map((r) => r.id)).toEqual([bad.id]);
    expect(first.rejected[0]?.reason).toContain('required');

    const replay = await send(batch);
    expect(replay).toEqual({ accepted: batch.map((r) => r.id), rejected: [] });
    const db = control.app.db.orm;
    const [stored] = await db.select({ n: count() }).from(receivedReports);
    expect(stored!.n).toBe(3);
    const [breaker] = await db.select().from(alerts).where(eq(alerts.key, 'breaker:ins_1'));
    expect(breaker).toMatchObject({ count: 1, state: 'open', source: 'engine', instanceId: 'ins_1' });
  });

  it('names the tenant of an engine alert that names only the instance', async () => {
    const tenant = await control.app.tenants.createTenant(
      { name: 'Alertas' },
      { type: 'system', id: null, label: 'test' },
    );
    const instance = await control.app.tenants.createInstance(
      tenant.id,
      { name: 'main', webhookUrl: 'https://93.184.216.34/hooks' },
      { type: 'system', id: null, label: 'test' },
    );
    await send([
      {
        ...report.breaker(),
        key: `breaker:${instance.id}`,
        instanceId: instance.id,
        message: `Deliveries to ${instance.id} are held`,
      },
    ]);
    const [stored] = await control.app.db.orm
      .select()
      .from(alerts)
      .where(eq(alerts.key, `breaker:${instance.id}`));
    expect(stored).toMatchObject({ instanceId: instance.id, tenantId: tenant.id });
  });

  it('keeps the newest usage count (absolute values) whatever the arrival order', async () => {
    await send([report.usage(9, new Date(Date.now() + 1_000).toISOString())]);
    await send([report.usage(7, new Date(Date.now() - 60_000).toISOString())]); // late, older
    const res = await control.app.inject({
      method: 'GET',
      url: '/v1/usage?period=2030-03&tenantId=ten_1',
      headers: control.operator,
    });
    expect(res.statusCode).toBe(200);
    expect(res.json<UsageCounter[]>()).toEqual([
      expect.objectContaining({ period: '2030-03-01', channel: 'whatsapp:111', metric: 'events.received', value: 9 }),
    ]);
  });

  it('keeps the delivery stats in the metric history', async () => {
    const res = await control.app.inject({
      method: 'GET',
      url: '/v1/monitoring/series?metric=instance.delivered&since=2030-03-01T00:00:00Z&until=2030-03-02T00:00:00Z',
      headers: control.operator,
    });
    expect(res.statusCode).toBe(200);
    const series = res.json<Series>();
    expect(series.series).toEqual([{ labels: 'instance=ins_1', points: [[expect.any(String), 7]] }]);
  });
});

describe('alert notifications', () => {
  it('notifies a new alert by e-mail and by a signed webhook', async () => {
    const mail = await eventually(async () => mailsAbout('Deliveries to instance ins_1 are held')[0]);
    expect(mail.to).toEqual(['ops@example.test']);
    const request = await eventually(async () => hook.requests.find((r) => r.body.includes('breaker:ins_1')));
    const body = JSON.parse(request.body) as { text: string; key: string; state: string };
    expect(body).toMatchObject({ key: 'breaker:ins_1', state: 'raised' });
    expect(body.text).toContain('Deliveries to instance ins_1 are held');
    const timestamp = request.headers['x-mic-timestamp'] as string;
    expect(request.headers['x-mic-signature']).toBe(signNotice('hook-secret', timestamp, request.body));
  });

  it('acknowledges an alert, counts repeats without a new notice, and notifies its resolution', async () => {
    const [open] = (await listAlerts('open')).filter((a) => a.key === 'breaker:ins_1');
    const ack = await control.app.inject({
      method: 'POST',
      url: `/v1/alerts/${open!.id}/acknowledge`,
      headers: control.operator,
    });
    expect(ack.statusCode).toBe(200);
    expect(ack.json<Alert>().state).toBe('acknowledged');
    expect(ack.json<Alert>().acknowledgedBy).toContain('@');

    await send([report.breaker()]);
    const [repeated] = (await listAlerts('acknowledged')).filter((a) => a.key === 'breaker:ins_1');
    expect(repeated).toMatchObject({ count: 2, state: 'acknowledged' });

    await send([report.breaker('resolved')]);
    await eventually(async () => mailsAbout('Resolved: Deliveries to instance ins_1').length > 0 || undefined);
    expect(mailsAbout('Deliveries to instance ins_1 are held').filter((m) => !m.raw.includes('Resolved'))).toHaveLength(
      1,
    );
    const again = await control.app.inject({
      method: 'POST',
      url: `/v1/alerts/${open!.id}/acknowledge`,
      headers: control.operator,
    });
    expect(again.statusCode).toBe(409);
  });

  it('coalesces a flapping alert into a few notices', async () => {
    for (let i = 0; i < 10; i++) {
      await control.app.alerts.raise({
        key: 'flap:x',
        type: 'instance-unreachable',
        severity: 'warning',
        message: 'Flapper down',
      });
      await control.app.alerts.resolve('flap:x');
    }
    await control.app.alerts.raise({
      key: 'flap:x',
      type: 'instance-unreachable',
      severity: 'warning',
      message: 'Flapper down',
    });
    await eventually(async () => mailsAbout('Flapper down').length > 0 || undefined);
    await new Promise((r) => setTimeout(r, 2_500));
    expect(mailsAbout('Flapper down').length).toBeLessThanOrEqual(2);
    const [flap] = (await listAlerts('open')).filter((a) => a.key === 'flap:x');
    expect(flap).toMatchObject({ count: 11 });
  });

  it('does not notify again what the engine told the operators itself', async () => {
    await send([
      {
        ...report.breaker(),
        key: 'control-unreachable',
        type: 'control-unreachable',
        message: 'Told by the engine',
        notified: true,
      },
    ]);
    const [told] = (await listAlerts('open')).filter((a) => a.key === 'control-unreachable');
    expect(told).toBeDefined();
    await new Promise((r) => setTimeout(r, 1_500));
    expect(mailsAbout('Told by the engine')).toHaveLength(0);
  });

  it('alerts when the engine has been unreachable longer than the threshold', async () => {
    const alert = await eventually(async () => (await listAlerts('open')).find((a) => a.key === 'engine-unreachable'));
    expect(alert).toMatchObject({ source: 'control', type: 'engine-unreachable', severity: 'critical', count: 1 });
    await new Promise((r) => setTimeout(r, 500));
    expect((await listAlerts('open')).find((a) => a.key === 'engine-unreachable')?.count).toBe(1);
  });

  it('alerts on a plane the supervisor reports in a restart loop, and resolves it when it runs again', async () => {
    listenToSupervisor();
    const report = (state: PlaneRuntimeState['state']): SupervisorMessage => ({
      type: 'supervisor-status',
      planes: [
        {
          plane: 'engine',
          state,
          pid: null,
          restarts: 7,
          recentRestarts: 5,
          lastExit: { code: 1, signal: null, at: new Date().toISOString() },
          nextRestartAt: null,
        },
      ],
    });
    process.emit('message', report('crash-loop'), undefined);
    const alert = await eventually(async () => (await listAlerts('open')).find((a) => a.key === 'restart-loop:engine'));
    expect(alert).toMatchObject({ type: 'restart-loop', severity: 'critical' });
    expect(alert.message).toContain('5 restarts recently');
    process.emit('message', report('running'), undefined);
    await eventually(async () =>
      (await listAlerts('resolved')).some((a) => a.key === 'restart-loop:engine') ? true : undefined,
    );
  });

  it('requires permissions on its operator routes', async () => {
    const readOnly = await control.loginAs('read-only');
    const [any] = await listAlerts();
    const res = await control.app.inject({
      method: 'POST',
      url: `/v1/alerts/${any!.id}/acknowledge`,
      headers: readOnly,
    });
    expect(res.statusCode).toBe(403);
    expect((await control.app.inject({ method: 'GET', url: '/v1/alerts', headers: readOnly })).statusCode).toBe(200);
  });
});
