import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { count, isNotNull, isNull } from 'drizzle-orm';
import type { Alert, EngineReport, Series } from '@mic/contracts';
import { generateToken, SERVICE_TOKEN_PREFIX } from '@mic/platform';
import { eventually, freePort, startTestMailbox, type TestMailbox } from '@mic/platform/testing';
import { startTestControl, type TestControl } from '../apps/control/src/testing.ts';
import { startTestEngine, type TestEngine } from '../apps/engine/src/testing.ts';
import { reportOutbox } from '../apps/engine/src/modules/reports/schema.ts';
import { alerts, receivedReports } from '../apps/control/src/modules/alerts/schema.ts';

/**
 * Both planes in one process: the engine reports while control is down (its port closed), tells
 * the operators itself after the threshold, and its outbox drains into control once control is up.
 */
let engine: TestEngine;
let control: TestControl | undefined;
let engineMail: TestMailbox;
let controlMail: TestMailbox;
let controlPort: number;
const engineToken = generateToken(SERVICE_TOKEN_PREFIX);

beforeAll(async () => {
  engineMail = await startTestMailbox();
  controlMail = await startTestMailbox();
  controlPort = await freePort();
  engine = await startTestEngine({
    CONTROL_URL: `http://127.0.0.1:${controlPort}`,
    CONTROL_TOKEN: engineToken,
    REPORTS_FLUSH_INTERVAL: '100ms',
    REPORTS_MAX_BACKOFF: '300ms',
    CONTROL_PING_INTERVAL: '200ms',
    CONTROL_UNREACHABLE_ALERT_AFTER: '1s',
    ALERT_SMTP_URL: engineMail.url,
    ALERT_EMAIL_TO: 'ops@example.test',
  });
});
afterAll(async () => {
  await engine?.stop();
  await control?.stop();
  await engineMail?.stop();
  await controlMail?.stop();
});

const mentions = (mailbox: TestMailbox, text: string) => mailbox.mails.filter((m) => m.raw.includes(text));

describe('engine reports into control', () => {
  it('queues reports while control is down, alerts by itself once, and drains into control when it is back', async () => {
    await engine.app.deliveries.alert('breaker.opened', 'ins_1', { failures: 5 });
    await engine.app.deliveries.alert('endpoint.disabled', 'ins_2', { status: 410 });

    await eventually(async () => (mentions(engineMail, 'Control unreachable').length ? true : undefined));
    const health = (await (await fetch(`${engine.url}/health/api`)).json()) as {
      checks: Record<string, { status: string }[]>;
    };
    expect(health.checks['control:reachability']?.[0]).toMatchObject({ status: 'warn' });
    await new Promise((r) => setTimeout(r, 800));
    expect(mentions(engineMail, 'Control unreachable')).toHaveLength(1);

    control = await startTestControl({
      CONTROL_PORT: String(controlPort),
      ENGINE_URL: engine.url,
      ENGINE_TOKEN: engine.token,
      ALERT_SMTP_URL: controlMail.url,
      ALERT_EMAIL_TO: 'ops@example.test',
      QUEUE_POLLING_INTERVAL: '500ms',
      METRICS_SAMPLE_INTERVAL: '200ms',
    });
    await control.app.serviceTokens.register('engine', engineToken);
    const db = engine.app.db.orm;
    await eventually(async () => {
      const [left] = await db.select({ n: count() }).from(reportOutbox).where(isNull(reportOutbox.sentAt));
      const [sent] = await db.select({ n: count() }).from(reportOutbox).where(isNotNull(reportOutbox.sentAt));
      // breaker, endpoint, control-unreachable raised and resolved
      return left!.n === 0 && sent!.n >= 4 ? true : undefined;
    });
    await eventually(async () => (mentions(engineMail, 'reachable again').length ? true : undefined));

    const list = await control.app.inject({ method: 'GET', url: '/v1/alerts', headers: control.operator });
    const byKey = new Map(list.json<Alert[]>().map((a) => [a.key, a]));
    expect(byKey.get('breaker:ins_1')).toMatchObject({ state: 'open', source: 'engine', count: 1 });
    expect(byKey.get('endpoint-disabled:ins_2')).toMatchObject({ state: 'open', type: 'endpoint-disabled' });
    expect(byKey.get('control-unreachable')).toMatchObject({ state: 'resolved' });

    // Each report stored once: as many ids in control as reports the engine sent.
    const sentReports = await db.select().from(reportOutbox).where(isNotNull(reportOutbox.sentAt));
    const [stored] = await control.app.db.orm.select({ n: count() }).from(receivedReports);
    expect(stored!.n).toBe(sentReports.length);

    // Control notifies what the engine did not tell the operators, and only that.
    await eventually(async () => (mentions(controlMail, 'ins_1').length ? true : undefined));
    await new Promise((r) => setTimeout(r, 1_000));
    expect(mentions(controlMail, 'key: control-unreachable')).toHaveLength(0);
    expect(mentions(engineMail, 'key: control-unreachable')).toHaveLength(2); // unreachable, then back

    // A replay of the whole outbox (an engine killed before recording control's answer) stores nothing twice.
    const replay = await control.app.inject({
      method: 'POST',
      url: '/internal/v1/reports',
      headers: { authorization: `Bearer ${engineToken}` },
      payload: { reports: sentReports.map((r) => r.payload as EngineReport) },
    });
    expect(replay.json<{ accepted: string[] }>().accepted).toHaveLength(sentReports.length);
    const [after] = await control.app.db.orm.select({ n: count() }).from(receivedReports);
    expect(after!.n).toBe(sentReports.length);
    const counts = await control.app.db.orm.select({ key: alerts.key, count: alerts.count }).from(alerts);
    expect(counts.find((a) => a.key === 'breaker:ins_1')?.count).toBe(1);
  });

  it("samples the engine's key metrics into control's history", async () => {
    const series = await eventually(async () => {
      const res = await control!.app.inject({
        method: 'GET',
        url: '/v1/monitoring/series?metric=deliveries.pending',
        headers: control!.operator,
      });
      const body = res.json<Series>();
      return body.series[0]?.points.length ? body : undefined;
    });
    expect(series.series[0]!.points[0]![1]).toBe(0);
  });
});
