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

/**
 * The scenario at its size: 2,000 recipients, 100 opted out, 50 repeats, paused and resumed
 * mid-way, then the engine killed -9. Meta's cap on the number, and the lane's, is raised so the
 * run is quick (some 20 s here); E2E_BROADCAST_RECIPIENTS sets another size.
 */
const CAP = 200;
const RECIPIENTS = Number(process.env.E2E_BROADCAST_RECIPIENTS ?? 2000);
const OPTED_OUT = Math.round(RECIPIENTS / 20);
const DUPLICATES = Math.round(RECIPIENTS / 40);
const REACHED = RECIPIENTS - OPTED_OUT - DUPLICATES;

const COMPRESSED = {
  META_GRAPH_TIMEOUT: '2s',
  OUTBOUND_DEFAULT_RATE: String(CAP),
  OUTBOUND_LEASE: '3s',
  // The bound on repeats after the kill: no worker holds more of a lane's sends at once.
  OUTBOUND_MAX_IN_FLIGHT_LANE: '40',
  BROADCAST_TICK: '200ms',
};

const PHONE = '100000000091';

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
      ratePerSecond: CAP,
    });
    const synced = await fetch(`${mic.engineUrl}/v1/templates/sync`, {
      method: 'POST',
      headers: { authorization: `Bearer ${instance.apiToken}` },
    });
    expect(synced.status).toBe(200);
    const operator = await ownerOf(mic, env);
    const modules = await controlCall(mic, operator, 'PATCH', `/v1/tenants/${instance.tenantId}`, {
      modules: { marketing: true },
      limits: { priorities: ['critical', 'conversation', 'marketing'], sendsPerSecond: CAP },
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
    'reaches every recipient once through a pause and a resume, and after the engine is killed -9 mid-way repeats only sends in flight',
    { timeout: 240_000 },
    async () => {
      const started = Date.now();
      // Meta's answer takes a while: sends are in flight when the engine dies.
      env.graph.setLatency(200);
      const to = (i: number) => `+3461${String(i).padStart(7, '0')}`;
      const api = (method: string, path: string, body?: object) =>
        fetch(`${mic.engineUrl}${path}`, {
          method,
          headers: {
            authorization: `Bearer ${instance.apiToken}`,
            ...(body ? { 'content-type': 'application/json' } : {}),
          },
          ...(body ? { body: JSON.stringify(body) } : {}),
          signal: AbortSignal.timeout(30_000),
        });
      const optedOut = Array.from({ length: OPTED_OUT }, (_, i) => to(i * 19 + 5));
      for (const who of optedOut) expect((await api('PUT', `/v1/opt-outs/${who.slice(1)}`)).status).toBe(200);
      const recipients = [
        ...Array.from({ length: RECIPIENTS - DUPLICATES }, (_, i) => ({ to: to(i) })),
        // Repeats, in another format.
        ...Array.from({ length: DUPLICATES }, (_, i) => ({ to: to(i * 37).slice(1) })),
      ];
      const created = await api('POST', '/v1/broadcasts', {
        channel: { kind: 'whatsapp', id: PHONE },
        message: { type: 'template', template: { name: 'hello_world', language: { code: 'en_US' } } },
        recipients,
      });
      const body = (await created.json()) as Broadcast;
      expect(created.status, JSON.stringify(body)).toBe(201);
      expect(body.totals).toMatchObject({ duplicates: DUPLICATES, suppressed: OPTED_OUT });

      const sends = () => env.graph.sends({ objectId: PHONE });
      const distinct = () => new Set(sends().map((send) => send.recipient)).size;
      await eventually(async () => (sends().length >= REACHED / 8 ? true : undefined), 60_000, 50);
      const paused = await api('POST', `/v1/broadcasts/${body.id}/pause`);
      expect(((await paused.json()) as Broadcast).state).toBe('paused');
      // The sends holding a slot finish; then nothing more leaves, and nobody got two.
      const atPause = await eventually(async () => {
        const before = sends().length;
        await new Promise((r) => setTimeout(r, 700));
        return sends().length === before ? before : undefined;
      }, 30_000);
      expect(atPause).toBeLessThan(REACHED / 2);
      expect(distinct()).toBe(atPause);
      const resumed = await api('POST', `/v1/broadcasts/${body.id}/resume`);
      expect(((await resumed.json()) as Broadcast).state).toBe('running');

      await eventually(async () => (sends().length >= REACHED / 2 ? true : undefined), 60_000, 50);
      expect(distinct()).toBe(sends().length);
      const engine = await systemStatus(mic, 'engine');
      process.kill(engine.pid, 'SIGKILL');
      const atKill = sends().length;
      expect(atKill).toBeLessThan(REACHED);

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
          const res = await api('GET', `/v1/broadcasts/${body.id}`);
          const current = (await res.json()) as Broadcast;
          last = `${current.state} ${JSON.stringify(current.totals)}; ${sends().length} sends`;
          return current.state === 'completed' ? current : undefined;
        },
        180_000,
        500,
      ).catch((error: unknown) => {
        throw new Error(`${String(error)}; last: ${last}`);
      });
      env.graph.setLatency(0);

      const counts = new Map<string, number>();
      for (const send of sends()) counts.set(send.recipient, (counts.get(send.recipient) ?? 0) + 1);
      const repeated = [...counts.values()].filter((n) => n > 1).length;
      expect(counts.size).toBe(REACHED);
      expect(optedOut.some((who) => counts.has(who) || counts.has(who.slice(1)))).toBe(false);
      // Meta's cap held across the kill and the restart.
      expect(env.graph.sendRates().find((r) => r.objectId === PHONE)!.maxPerSecond).toBeLessThanOrEqual(CAP);
      expect([...counts.values()].every((n) => n <= 2)).toBe(true);
      expect(repeated).toBeLessThanOrEqual(Number(COMPRESSED.OUTBOUND_MAX_IN_FLIGHT_LANE));
      expect(done.totals.sent + done.totals.delivered + done.totals.read).toBe(REACHED);
      console.info(
        `broadcast pause, resume and kill -9: ${REACHED} of ${RECIPIENTS} recipients, ${atPause} sent at the pause, ` +
          `${atKill} at the kill, ${repeated} sent twice; ` +
          `run ${((Date.now() - started) / 1000).toFixed(1)} s`,
      );
    },
  );
});
