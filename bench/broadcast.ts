/**
 * `npm run bench:broadcast`: one broadcast of 20,000 recipients through one WhatsApp number whose
 * cap Meta (the Graph sandbox, in a process of its own) holds at 1,000 msg/s. An engine process
 * without the worker role accepts `POST /v1/broadcasts`; worker processes on one Postgres send it.
 * Figures, measured where Meta would measure them: the rate the broadcast achieved against the cap,
 * the most sends in any one second, 130429 answers, repeats (goal 0); and the latency of critical
 * sends on the same number made while the broadcast runs, against the same sends with no broadcast
 * running (the baseline, same run). BENCH_RECIPIENTS (20,000), BENCH_CRITICAL (50), BENCH_CAP
 * (1,000), BENCH_WORKERS (2) and BENCH_DRAIN_TIMEOUT_S (300) shorten or reshape a run.
 */
import { createServer } from 'node:http';
import { loadavg } from 'node:os';
import type { ChildProcess } from 'node:child_process';
import type { Broadcast, MessageStatus } from '@mic/contracts';
import type { GraphSend } from '@mic/meta-sandbox';
import { freePort, uniqueName } from '@mic/platform/testing';
import { emptySnapshot, withTestInstance } from '../apps/engine/src/testing.ts';
import {
  BENCH_DATABASE_URL,
  dropSchemas,
  isPostgresUp,
  percentile,
  startBenchEngines,
  startGraphSandboxProcess,
  stop,
  until,
  type GraphSandboxProcess,
} from './processes.ts';

const RECIPIENTS = Number(process.env.BENCH_RECIPIENTS ?? 20_000);
const CRITICAL = Number(process.env.BENCH_CRITICAL ?? 50);
const CAP = Number(process.env.BENCH_CAP ?? 1_000);
const WORKERS = Number(process.env.BENCH_WORKERS ?? 2);
const DRAIN_TIMEOUT_MS = Number(process.env.BENCH_DRAIN_TIMEOUT_S ?? 300) * 1000;
/** Critical sends go one at a time, this far apart: each meets the lane as it is, not the others. */
const CRITICAL_SPACING_MS = 100;

const WABA = 'wababroadcast1';
const PORTFOLIO = 'biz-bench';
const PHONE = '1600000000';
const TOKEN = 'EAAG-bench-broadcast';
const INSTANCE = 'ins-bench-broadcast';
/** Broadcast recipients and critical recipients live in number ranges of their own. */
const broadcastRecipient = (i: number) => `+1555${String(i).padStart(7, '0')}`;
const criticalRecipient = (label: string, i: number) =>
  `+1666${label === 'baseline' ? 0 : 1}${String(i).padStart(6, '0')}`;
const isBroadcastSend = (send: GraphSend) => send.recipient.replace(/^\+/, '').startsWith('1555');

async function graphSandbox(): Promise<GraphSandboxProcess> {
  const sandbox = await startGraphSandboxProcess();
  const { call } = sandbox;
  await call('PUT', `objects/${WABA}`, { kind: 'whatsapp-business-account', token: TOKEN });
  await call('PUT', `objects/${PHONE}`, {
    kind: 'whatsapp-phone-number',
    token: TOKEN,
    ratePerSecond: CAP,
    businessAccountId: WABA,
  });
  // The messaging limit is not what this bench measures: the portfolio has none.
  await call('PUT', `portfolios/${PORTFOLIO}`, { tier: 'TIER_UNLIMITED', accounts: [WABA] });
  return sandbox;
}

/** The instance's webhook endpoint: takes every delivered event, as a healthy instance would. */
async function instanceStandIn(): Promise<{ url: string; close(): Promise<unknown> }> {
  const server = createServer((req, res) => {
    req.resume();
    req.on('end', () => res.writeHead(204).end());
  });
  const port = await freePort();
  await new Promise<void>((r) => server.listen(port, '127.0.0.1', r));
  return { url: `http://127.0.0.1:${port}/hooks`, close: () => new Promise((r) => server.close(r)) };
}

async function engines(sandbox: GraphSandboxProcess, schema: string, webhookUrl: string) {
  const snapshot = withTestInstance(emptySnapshot(), {
    id: INSTANCE,
    webhookUrl,
    channels: [{ platform: 'whatsapp' as const, channelId: PHONE }],
  });
  for (const tenant of snapshot.tenants) tenant.limits.sendsPerSecond = CAP;
  const fleet = await startBenchEngines({
    name: 'broadcast',
    snapshot,
    instanceId: INSTANCE,
    channels: [{ phoneNumberId: PHONE, accessToken: TOKEN, objectId: WABA }],
    graphUrl: sandbox.url,
    schema,
    env: { OUTBOUND_DEFAULT_RATE: String(CAP), INSTANCE_URL_ALLOW_PRIVATE: 'true' },
  });
  const { api } = fleet;
  const authorization = `Bearer ${fleet.apiToken}`;
  const synced = await fetch(`${api}/v1/templates/sync`, { method: 'POST', headers: { authorization } });
  if (!synced.ok) throw new Error(`template sync: ${synced.status} ${await synced.text()}`);

  let workers: ChildProcess[] = [];
  return {
    async startWorkers() {
      const started = await Promise.all(Array.from({ length: WORKERS }, () => fleet.startEngine('worker')));
      workers = started.map((w) => w.child);
    },
    /** `POST /v1/messages` at critical priority; when the request left (ms since the epoch) and the message's id. */
    async critical(to: string, body: string): Promise<{ at: number; id: string }> {
      const at = Date.now();
      const res = await fetch(`${api}/v1/messages`, {
        method: 'POST',
        headers: { authorization, 'content-type': 'application/json', 'idempotency-key': `${to}-${body}` },
        body: JSON.stringify({
          channel: { kind: 'whatsapp', id: PHONE },
          to,
          priority: 'critical',
          message: { type: 'text', text: { body } },
        }),
        signal: AbortSignal.timeout(30_000),
      });
      if (res.status !== 202) throw new Error(`POST /v1/messages: ${res.status} ${await res.text()}`);
      return { at, id: ((await res.json()) as { id: string }).id };
    },
    async message(id: string): Promise<MessageStatus> {
      const res = await fetch(`${api}/v1/messages/${id}`, {
        headers: { authorization },
        signal: AbortSignal.timeout(30_000),
      });
      return (await res.json()) as MessageStatus;
    },
    async broadcast(count: number): Promise<Broadcast> {
      const res = await fetch(`${api}/v1/broadcasts`, {
        method: 'POST',
        headers: { authorization, 'content-type': 'application/json' },
        body: JSON.stringify({
          name: 'bench',
          channel: { kind: 'whatsapp', id: PHONE },
          message: { type: 'template', template: { name: 'hello_world', language: { code: 'en_US' } } },
          recipients: Array.from({ length: count }, (_, i) => ({ to: broadcastRecipient(i) })),
        }),
        signal: AbortSignal.timeout(120_000),
      });
      if (res.status !== 201) throw new Error(`POST /v1/broadcasts: ${res.status} ${await res.text()}`);
      return (await res.json()) as Broadcast;
    },
    async broadcastState(id: string): Promise<Broadcast> {
      const res = await fetch(`${api}/v1/broadcasts/${id}`, {
        headers: { authorization },
        signal: AbortSignal.timeout(30_000),
      });
      return (await res.json()) as Broadcast;
    },
    async close() {
      await Promise.all(workers.map(stop));
      await fleet.close();
    },
  };
}

type Engines = Awaited<ReturnType<typeof engines>>;

/** A critical run's waits, each sorted: POST sent → Meta received, and its two parts. */
interface CriticalRun {
  /** POST sent → Meta received (a send Meta never got counts as the longest wait). */
  total: number[];
  /** POST sent → a worker took it and began its send (its `sending` entry). */
  toSending: number[];
  /** Its `sending` entry → Meta received: the wait for its slot, and the call. */
  sendingToMeta: number[];
}

/**
 * `CRITICAL` critical sends, one every CRITICAL_SPACING_MS, each to a recipient of its own, and
 * where each one's wait went.
 */
async function criticalRun(label: string, sandbox: GraphSandboxProcess, mic: Engines): Promise<CriticalRun> {
  const posted: { at: number; id: string }[] = [];
  for (let i = 0; i < CRITICAL; i += 1) {
    posted.push(await mic.critical(criticalRecipient(label, i), `${label} ${i}`));
    await new Promise((r) => setTimeout(r, CRITICAL_SPACING_MS));
  }
  const wanted = new Set(posted.map((_, i) => criticalRecipient(label, i)));
  const deadline = Date.now() + 60_000;
  let got: GraphSend[] = [];
  while (Date.now() < deadline) {
    got = (await sandbox.sends(PHONE)).filter((s) => wanted.has(s.recipient));
    if (new Set(got.map((s) => s.recipient)).size >= CRITICAL) break;
    await new Promise((r) => setTimeout(r, 500));
  }
  const first = new Map<string, number>();
  for (const s of got) if (!first.has(s.recipient)) first.set(s.recipient, s.atMs);
  const run: CriticalRun = { total: [], toSending: [], sendingToMeta: [] };
  for (const [i, { at, id }] of posted.entries()) {
    const metaAt = first.get(criticalRecipient(label, i)) ?? Number.POSITIVE_INFINITY;
    run.total.push(metaAt - at);
    const sending = (await mic.message(id)).timeline.find((entry) => entry.state === 'sending');
    if (!sending) continue;
    const sendingAt = Date.parse(sending.at);
    run.toSending.push(sendingAt - at);
    run.sendingToMeta.push(metaAt - sendingAt);
  }
  for (const list of [run.total, run.toSending, run.sendingToMeta]) list.sort((a, b) => a - b);
  return run;
}

async function main(): Promise<void> {
  if (!(await isPostgresUp())) {
    console.log(`(Postgres at ${BENCH_DATABASE_URL} not reachable: the broadcast bench needs it)`);
    process.exitCode = 1;
    return;
  }
  const loadStart = loadavg()[0]!.toFixed(1);
  const schema = uniqueName('bench_broadcast');
  const sandbox = await graphSandbox();
  const instance = await instanceStandIn();
  let mic: Engines | undefined;
  try {
    mic = await engines(sandbox, schema, instance.url);
    await mic.startWorkers();

    const baseline = await criticalRun('baseline', sandbox, mic);
    await sandbox.clear();

    const acceptStart = Date.now();
    const created = await mic.broadcast(RECIPIENTS);
    const acceptSeconds = (Date.now() - acceptStart) / 1000;
    // The critical sends start once the broadcast is on the wire, so each meets a busy lane.
    await until(async () => (await sandbox.sends(PHONE)).some(isBroadcastSend), 60_000);
    const during = await criticalRun('during', sandbox, mic);

    const deadline = Date.now() + DRAIN_TIMEOUT_MS;
    let state = await mic.broadcastState(created.id);
    while (state.state !== 'completed' && Date.now() < deadline) {
      await new Promise((r) => setTimeout(r, 1_000));
      state = await mic.broadcastState(created.id);
    }
    const doneSeconds = (Date.now() - acceptStart) / 1000;
    const sends = await sandbox.sends(PHONE);
    const calls = await sandbox.calls();
    const rate = (await sandbox.rates()).find((r) => r.objectId === PHONE);
    const broadcastSends = sends.filter(isBroadcastSend);
    const distinct = new Set(broadcastSends.map((s) => s.recipient)).size;
    const times = broadcastSends.map((s) => s.atMs);
    const spanMs = Math.max(...times) - Math.min(...times);
    const achieved = broadcastSends.length > 1 ? ((broadcastSends.length - 1) * 1000) / spanMs : Number.NaN;
    const allRepeats = sends.length - new Set(sends.map((s) => s.recipient)).size;

    const f1 = (n: number) => n.toFixed(1);
    console.log(
      `\nbroadcast: POST /v1/broadcasts → lanes → Graph sandbox (cap ${CAP}/s on one number), 1 accepting engine + ` +
        `${WORKERS} engine workers on Postgres, Node ${process.version}; load average ${loadStart} at the start\n`,
    );
    console.log(
      '| recipients | accepted in | state | reached / distinct | achieved/s (first → last send) | vs cap | max in any 1 s | 130429 | duplicates | created → completed (or BENCH_DRAIN_TIMEOUT_S) |',
    );
    console.log('| --- | --- | --- | --- | --- | --- | --- | --- | --- | --- |');
    console.log(
      `| ${RECIPIENTS} | ${f1(acceptSeconds)} s | ${state.state} | ${distinct} / ${RECIPIENTS} | ${f1(achieved)} | ` +
        `${f1((achieved / CAP) * 100)} % | ${rate?.maxPerSecond ?? 0} (≤ ${CAP}) | ` +
        `${calls.filter((c) => c.code === 130429).length} | ${broadcastSends.length - distinct} | ${f1(doneSeconds)} s |`,
    );
    console.log(
      `\ncritical sends on the same number, one every ${CRITICAL_SPACING_MS} ms: POST sent → Meta received ` +
        `(${allRepeats} repeats among all sends of the broadcast run)\n`,
    );
    console.log(
      '| lane | critical | p50 | p99 | max | p50 vs baseline | p99 vs baseline | POST → sending p50 / p99 | sending → Meta p50 / p99 |',
    );
    console.log('| --- | --- | --- | --- | --- | --- | --- | --- | --- |');
    const ratio = (value: number, base: number) => `${(value / Math.max(1, base)).toFixed(1)}×`;
    const p50p99 = (list: number[]) => `${percentile(list, 50)} / ${percentile(list, 99)} ms`;
    for (const [name, run] of [
      ['no broadcast (baseline)', baseline],
      [`during the ${RECIPIENTS}-recipient broadcast`, during],
    ] as const) {
      const [p50, p99] = [percentile(run.total, 50), percentile(run.total, 99)];
      console.log(
        `| ${name} | ${run.total.length} | ${p50} ms | ${p99} ms | ${run.total.at(-1)} ms | ` +
          `${ratio(p50, percentile(baseline.total, 50))} | ${ratio(p99, percentile(baseline.total, 99))} | ` +
          `${p50p99(run.toSending)} | ${p50p99(run.sendingToMeta)} |`,
      );
    }
    console.log(`\nload average ${loadavg()[0]!.toFixed(1)} at the end`);
  } finally {
    await mic?.close();
    await instance.close();
    await stop(sandbox.child);
    await dropSchemas([schema, `${schema}_queue`]);
  }
}

await main();
