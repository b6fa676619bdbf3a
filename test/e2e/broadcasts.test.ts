import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Broadcast } from '@mic/contracts';
import { eventually, TEST_DATABASE_URL } from '@mic/platform/testing';
import {
  connectSimInstance,
  controlCall,
  controlConfigVersion,
  engineRuns,
  ownerOf,
  micEnv,
  runMic,
  systemStatus,
  waitForHealth,
  type MicEnv,
  type MicProcess,
  type SimInstance,
} from './harness.ts';

/**
 * A broadcast end to end on real processes: an instance's `POST /v1/broadcasts` over HTTP, the
 * engine's dispatch and lanes, the Graph sandbox as Meta; the engine is killed -9 mid-way.
 */

const COMPRESSED = {
  META_GRAPH_TIMEOUT: '2s',
  OUTBOUND_LEASE: '3s',
  // The bound on repeats after the kill: no worker holds more of a lane's sends at once.
  OUTBOUND_MAX_IN_FLIGHT_LANE: '40',
  BROADCAST_TICK: '200ms',
};

const PHONE = '100000000091';
const RECIPIENTS = 300;

describe(`a broadcast on ${TEST_DATABASE_URL ? 'Postgres' : 'PGlite'}`, () => {
  let env: MicEnv;
  let mic: MicProcess;
  let instance: SimInstance;

  beforeAll(async () => {
    env = await micEnv(COMPRESSED);
    // The account's portfolio has no messaging limit: this test is about the kill.
    env.graph.accounts.setPortfolio(`waba${PHONE}`, 'biz-e2e');
    env.graph.accounts.setTier('biz-e2e', 'TIER_UNLIMITED');
    mic = runMic(['start'], env);
    await waitForHealth(`${mic.engineUrl}/health`, 'pass');
    instance = await connectSimInstance(mic, env, { name: 'ins-broadcast', phoneNumberId: PHONE });
    // The number as Meta knows it: in the account, so it shares the portfolio's (unlimited) messaging limit.
    env.graph.addObject({
      id: PHONE,
      kind: 'whatsapp-phone-number',
      token: `EAAG-e2e-${PHONE}`,
      businessAccountId: `waba${PHONE}`,
    });
    const synced = await fetch(`${mic.engineUrl}/v1/templates/sync`, {
      method: 'POST',
      headers: { authorization: `Bearer ${instance.apiToken}` },
    });
    expect(synced.status).toBe(200);
    const operator = await ownerOf(mic, env);
    const modules = await controlCall(mic, operator, 'PATCH', `/v1/tenants/${instance.tenantId}`, {
      modules: { marketing: true },
      limits: { priorities: ['critical', 'conversation', 'marketing'] },
    });
    expect(modules.status).toBe(200);
    await engineRuns(mic, await controlConfigVersion(mic));
  }, 90_000);

  afterAll(async () => {
    await mic?.stop(5_000);
    await instance?.sim.stop();
    await env?.cleanup();
  });

  it(
    'reaches every recipient after the engine is killed -9 mid-way, repeating only sends in flight',
    { timeout: 120_000 },
    async () => {
      const started = Date.now();
      // Meta's answer takes a while: sends are in flight when the engine dies.
      env.graph.setLatency(200);
      const recipients = Array.from({ length: RECIPIENTS }, (_, i) => ({ to: `+3461${String(i).padStart(7, '0')}` }));
      const created = await fetch(`${mic.engineUrl}/v1/broadcasts`, {
        method: 'POST',
        headers: { authorization: `Bearer ${instance.apiToken}`, 'content-type': 'application/json' },
        body: JSON.stringify({
          channel: { kind: 'whatsapp', id: PHONE },
          message: { type: 'template', template: { name: 'hello_world', language: { code: 'en_US' } } },
          recipients,
        }),
        signal: AbortSignal.timeout(30_000),
      });
      const body = (await created.json()) as Broadcast;
      expect(created.status, JSON.stringify(body)).toBe(201);

      const sends = () => env.graph.sends({ objectId: PHONE });
      await eventually(async () => (sends().length >= RECIPIENTS / 4 ? true : undefined), 60_000, 50);
      const engine = await systemStatus(mic, 'engine');
      process.kill(engine.pid, 'SIGKILL');
      const atKill = sends().length;
      expect(atKill).toBeLessThan(RECIPIENTS);

      await eventually(
        async () => {
          const status = await systemStatus(mic, 'engine').catch(() => undefined);
          return status && status.pid !== engine.pid ? status : undefined;
        },
        60_000,
        250,
      );
      let last = '';
      const done = await eventually(
        async () => {
          const res = await fetch(`${mic.engineUrl}/v1/broadcasts/${body.id}`, {
            headers: { authorization: `Bearer ${instance.apiToken}` },
            signal: AbortSignal.timeout(10_000),
          });
          const current = (await res.json()) as Broadcast;
          last = `${current.state} ${JSON.stringify(current.totals)}; ${sends().length} sends`;
          return current.state === 'completed' ? current : undefined;
        },
        90_000,
        500,
      ).catch((error: unknown) => {
        throw new Error(`${String(error)}; last: ${last}`);
      });
      env.graph.setLatency(0);

      const counts = new Map<string, number>();
      for (const send of sends()) counts.set(send.recipient, (counts.get(send.recipient) ?? 0) + 1);
      const repeated = [...counts.values()].filter((n) => n > 1).length;
      expect(counts.size).toBe(RECIPIENTS);
      expect([...counts.values()].every((n) => n <= 2)).toBe(true);
      expect(repeated).toBeLessThanOrEqual(Number(COMPRESSED.OUTBOUND_MAX_IN_FLIGHT_LANE));
      expect(done.totals.sent + done.totals.delivered + done.totals.read).toBe(RECIPIENTS);
      console.info(
        `broadcast kill -9: ${RECIPIENTS} recipients, ${atKill} sent at the kill, ${repeated} sent twice; ` +
          `run ${((Date.now() - started) / 1000).toFixed(1)} s`,
      );
    },
  );
});
