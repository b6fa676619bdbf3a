import { afterEach, describe, expect, it } from 'vitest';
import { sendWebhooks, whatsappTextMessage } from '@mic/meta-sandbox';
import { eventually, startTestMailbox, TEST_DATABASE_URL, type TestMailbox } from '@mic/platform/testing';
import {
  connectSimInstance,
  controlCall,
  health,
  micEnv,
  ownerOf,
  runMic,
  waitForHealth,
  type MicEnv,
  type MicProcess,
} from './harness.ts';

/**
 * Control goes away while Meta keeps sending (DESIGN.md rule 7): the engine delivers from its last
 * config snapshot, says so in its health, tells the operators itself once control has been gone
 * past its threshold, and what it reported meanwhile reaches control when control is back.
 */
const APP_SECRET = 'control-outage-e2e-app-secret';

const running: MicProcess[] = [];
const cleanups: (() => Promise<void>)[] = [];

afterEach(async () => {
  for (const mic of running.splice(0)) await mic.stop(5_000);
  for (const cleanup of cleanups.splice(0)) await cleanup();
});

function run(args: string[], env: MicEnv): MicProcess {
  const mic = runMic(args, env);
  running.push(mic);
  return mic;
}

const ready = (url: string) =>
  eventually(async () => ((await fetch(`${url}/readyz`)).ok ? true : undefined), 60_000, 250);

describe(`control down on ${TEST_DATABASE_URL ? 'Postgres' : 'PGlite'}`, () => {
  it(
    'the engine delivers everything, reports warn, alerts the operators itself, and its outbox drains into control after',
    { timeout: 180_000 },
    async () => {
      const mailbox: TestMailbox = await startTestMailbox();
      cleanups.push(() => mailbox.stop());
      const env = await micEnv({
        META_APP_SECRET: APP_SECRET,
        QUEUE_POLLING_INTERVAL: '500ms',
        ALERT_SMTP_URL: mailbox.url,
        ALERT_EMAIL_TO: 'ops@example.com',
        CONTROL_UNREACHABLE_ALERT_AFTER: '3s',
        CONFIG_SYNC_STALE_AFTER: '2s',
        CONTROL_PING_INTERVAL: '500ms',
        REPORTS_FLUSH_INTERVAL: '500ms',
        REPORTS_MAX_BACKOFF: '1s',
      });
      cleanups.push(() => env.cleanup());
      // Two processes of their own, so that control can stop while the engine serves.
      let control = run(['control'], env);
      await ready(control.controlUrl);
      const engine = run(['engine'], env);
      await waitForHealth(`${engine.engineUrl}/health`, 'pass');
      const { sim, phoneNumberId } = await connectSimInstance(control, env, {
        name: 'outage',
        phoneNumberId: '100000000077',
      });
      cleanups.push(() => sim.stop());

      expect((await control.stop()).code).toBe(0);
      const texts = Array.from({ length: 60 }, (_, i) => `mensaje ${i}`);
      const report = await sendWebhooks({
        url: `${engine.engineUrl}/meta/webhook`,
        appSecret: APP_SECRET,
        bodies: texts.map((text, i) =>
          whatsappTextMessage({ phoneNumberId, from: `52155501${String(i % 5).padStart(2, '0')}`, text }),
        ),
        rate: 20,
      });
      expect(report.summary.ok).toBe(texts.length);
      await sim.waitFor((received) => new Set(received.map((d) => d.webhookId)).size >= texts.length, 60_000);

      const degraded = await waitForHealth(`${engine.engineUrl}/health`, 'warn');
      expect(degraded.body.checks?.['config:snapshot']?.[0]?.status).toBe('warn');
      expect(degraded.body.checks?.['control:reachability']?.[0]?.status).toBe('warn');
      const mail = await eventually(async () => mailbox.mails.find((m) => /control/i.test(m.raw)), 30_000);
      expect(mail.to).toEqual(['ops@example.com']);

      control = run(['control'], env);
      await ready(control.controlUrl);
      const operator = await ownerOf(control, env);
      // Raised while control was away, then resolved: both waited in the engine's outbox.
      await eventually(async () => {
        const list = await controlCall<{ type: string; state: string; count: number }[]>(
          control,
          operator,
          'GET',
          '/v1/alerts',
        );
        const alert = list.body.find((a) => a.type === 'control-unreachable');
        return alert?.state === 'resolved' ? alert : undefined;
      }, 30_000);
      await eventually(async () => {
        const h = await health(`${engine.engineUrl}/health`);
        return h.body.status === 'pass' ? true : undefined;
      }, 30_000);
      // The engine told the operators once, and once more that control was back; control repeated neither.
      await eventually(
        async () => (mailbox.mails.some((m) => /reachable again/.test(m.raw)) ? true : undefined),
        30_000,
      );
      expect(
        mailbox.mails.map((m) =>
          /reachable again/.test(m.raw) ? 'back' : /unreachable/i.test(m.raw) ? 'down' : 'other',
        ),
      ).toEqual(['down', 'back']);
    },
  );
});
