/**
 * `npm run bench:outbound`: the Send API's lanes against Meta's per-number cap (80/s), measured
 * where Meta would measure them: by the Graph sandbox, in a process of its own. Three engine worker
 * processes share one Postgres; a fourth engine process, without the worker role, accepts the
 * messages (`POST /v1/messages`, an Idempotency-Key each), so a backlog is in place before the
 * workers start. Figures: the rate each number achieved against its cap, 130429 answers, repeats,
 * the most sends in any one-second window; and the latency of critical messages behind a marketing
 * backlog on their lane, against the same messages with no backlog (the baseline, same run).
 * BENCH_MESSAGES (10,000), BENCH_BACKLOG (20,000) and BENCH_CRITICAL (50) shorten a run;
 * BENCH_SCENARIOS (`one,critical,many`) picks the parts to run.
 */
import { createServer, type Server } from 'node:http';
import { loadavg } from 'node:os';
import type { ChildProcess } from 'node:child_process';
import pg from 'pg';
import type { GraphSend } from '@mic/meta-sandbox';
import { uniqueName } from '@mic/platform/testing';
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

const MESSAGES = Number(process.env.BENCH_MESSAGES ?? 10_000);
const BACKLOG = Number(process.env.BENCH_BACKLOG ?? 2 * MESSAGES);
const CRITICAL = Number(process.env.BENCH_CRITICAL ?? 50);
const SCENARIOS = new Set((process.env.BENCH_SCENARIOS ?? 'one,critical,many').split(',').map((s) => s.trim()));
/** A scenario reports what Meta got by then, drained or not. */
const DRAIN_TIMEOUT_MS = Number(process.env.BENCH_DRAIN_TIMEOUT_S ?? 300) * 1000;
const NUMBERS = 50;
const CAP = 80;
const WORKERS = 3;
const ACCEPT_CONCURRENCY = 32;
/** Critical messages go one at a time, this far apart: each meets the lane as it is, not the others. */
const CRITICAL_SPACING_MS = 100;

const WABA = 'wababench1';
const TOKEN = 'EAAG-bench-token';
const INSTANCE = 'ins-bench';
const SOLO = '1500000000';
const SPREAD = Array.from({ length: NUMBERS }, (_, i) => String(1500000001 + i));

async function graphSandbox(): Promise<GraphSandboxProcess> {
  const sandbox = await startGraphSandboxProcess();
  await sandbox.call('PUT', `objects/${WABA}`, { kind: 'whatsapp-business-account', token: TOKEN });
  for (const id of [SOLO, ...SPREAD]) {
    await sandbox.call('PUT', `objects/${id}`, { kind: 'whatsapp-phone-number', token: TOKEN, ratePerSecond: CAP });
  }
  return sandbox;
}

interface Accepted {
  /** When the request left (ms since the epoch). */
  at: number;
  id: string;
}

/**
 * The instance: it takes every event the engine delivers (each send's `outbound.sent`), as a healthy
 * Nexus does, so the run includes telling the instance.
 */
async function instanceEndpoint(): Promise<{ url: string; server: Server }> {
  const server = createServer((req, res) => {
    req.resume();
    req.on('end', () => res.writeHead(204).end());
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  return { url: `http://127.0.0.1:${(server.address() as { port: number }).port}/hooks`, server };
}

/** The engines: one accepting the Send API, and the worker processes, started and stopped at will. */
async function engines(sandbox: GraphSandboxProcess, schema: string, webhookUrl: string) {
  const numbers = [SOLO, ...SPREAD];
  const fleet = await startBenchEngines({
    name: 'outbound',
    snapshot: withTestInstance(emptySnapshot(), {
      id: INSTANCE,
      webhookUrl,
      channels: numbers.map((channelId) => ({ platform: 'whatsapp' as const, channelId })),
    }),
    instanceId: INSTANCE,
    channels: numbers.map((phoneNumberId) => ({ phoneNumberId, accessToken: TOKEN, objectId: WABA })),
    graphUrl: sandbox.url,
    schema,
  });
  const { api, apiToken } = fleet;

  const db = new pg.Client({ connectionString: BENCH_DATABASE_URL });
  await db.connect();
  const countOf = async (query: string, values: unknown[] = []) =>
    Number((await db.query<{ n: string }>(query, values)).rows[0]!.n);

  let workers: { url: string; child: ChildProcess }[] = [];
  return {
    /** Throws away what is left in a lane: a backlog the bench does not wait for. */
    dropLane: async (phoneNumberId: string) => {
      await db.query(`delete from "${schema}".outbound_items where lane = $1`, [`whatsapp:${phoneNumberId}`]);
    },
    /** Sends still in a lane (waiting, or in flight): 0 once every message got its final outcome. */
    itemsLeft: () => countOf(`select count(*) as n from "${schema}".outbound_items`),
    /**
     * Messages whose timeline says a send may have reached Meta twice, since `since`: a Graph call
     * with no answer in time (`queued` again), or a send taken over from a worker whose lease ran
     * out (`sending` again).
     */
    outcomeUnknown: async (since: Date) => {
      const count = (state: string) =>
        countOf(
          `select count(distinct message_id) as n from "${schema}".outbound_message_events where is_outcome_unknown and state = $1 and at >= $2`,
          [state, since],
        );
      return { timedOut: await count('queued'), takenOver: await count('sending') };
    },
    /** `POST /v1/messages`, `concurrency` at a time; answers when each request left, by index. */
    async accept(count: number, request: (i: number) => object, key: (i: number) => string): Promise<Accepted[]> {
      const accepted: Accepted[] = [];
      let next = 0;
      const worker = async () => {
        while (next < count) {
          const i = next++;
          accepted[i] = await post(request(i), key(i));
        }
      };
      await Promise.all(Array.from({ length: Math.min(count, ACCEPT_CONCURRENCY) }, worker));
      return accepted;
    },
    post,
    async startWorkers() {
      workers = await Promise.all(Array.from({ length: WORKERS }, () => fleet.startEngine('worker')));
    },
    /** `outbound_lane_events_total{event}` summed over the running workers. */
    async workerEvents(event: string): Promise<number> {
      let total = 0;
      for (const worker of workers) {
        const text = await (await fetch(`${worker.url}/metrics`)).text();
        total += Number(
          new RegExp(`^outbound_lane_events_total\\{[^}]*event="${event}"[^}]*\\} (\\S+)$`, 'm').exec(text)?.[1] ?? 0,
        );
      }
      return total;
    },
    async stopWorkers() {
      await Promise.all(workers.map((w) => stop(w.child)));
      workers = [];
    },
    async close() {
      await this.stopWorkers();
      await db.end();
      await fleet.close();
    },
  };

  async function post(body: object, idempotencyKey: string): Promise<Accepted> {
    const at = Date.now();
    for (let attempt = 1; ; attempt += 1) {
      const res = await fetch(`${api}/v1/messages`, {
        method: 'POST',
        headers: {
          authorization: `Bearer ${apiToken}`,
          'content-type': 'application/json',
          'idempotency-key': idempotencyKey,
        },
        body: JSON.stringify(body),
        signal: AbortSignal.timeout(30_000),
      }).catch((error: unknown) => {
        // The same key again: a request that got no answer is made once.
        if (attempt >= 3) throw error;
        return null;
      });
      if (!res) continue;
      if (res.status !== 202) throw new Error(`POST /v1/messages: ${res.status} ${await res.text()}`);
      return { at, id: ((await res.json()) as { id: string }).id };
    }
  }
}

type Engines = Awaited<ReturnType<typeof engines>>;

const text = (phoneNumberId: string, label: string, i: number, priority: string) => ({
  channel: { kind: 'whatsapp', id: phoneNumberId },
  // One recipient per message: Meta's pair rate (131056) is per recipient.
  to: `+1555${String(i).padStart(7, '0')}`,
  priority,
  message: { type: 'text', text: { body: `${label} ${i}` } },
});

const labelOf = (send: GraphSend) => (send.body as { text?: { body?: string } }).text?.body ?? '';

/**
 * Waits until the sandbox took `count` sends with labels starting `prefix` (looking at the totals
 * per number while `numbers` are given: cheaper for the sandbox than listing the sends), or until
 * BENCH_DRAIN_TIMEOUT_S passed.
 */
async function sandboxGot(sandbox: GraphSandboxProcess, prefix: string, count: number, numbers?: readonly string[]) {
  const deadline = Date.now() + DRAIN_TIMEOUT_MS;
  while (Date.now() < deadline) {
    if (numbers) {
      const rates = await sandbox.rates();
      const total = rates.filter((r) => numbers.includes(r.objectId)).reduce((n, r) => n + r.total, 0);
      if (total >= count) {
        const got = (await sandbox.sends()).filter((s) => labelOf(s).startsWith(prefix));
        if (new Set(got.map(labelOf)).size >= count) return;
      }
    } else {
      const got = (await sandbox.sends()).filter((s) => labelOf(s).startsWith(prefix));
      if (new Set(got.map(labelOf)).size >= count) return;
    }
    await new Promise((r) => setTimeout(r, 1_000));
  }
}

/** Sends per second between a number's first and last send. */
function achievedRate(sends: readonly GraphSend[]): number {
  if (sends.length < 2) return Number.NaN;
  const times = sends.map((s) => s.atMs);
  return ((sends.length - 1) * 1000) / (Math.max(...times) - Math.min(...times));
}

interface CapRow {
  scenario: string;
  numbers: number;
  messages: number;
  /** Distinct messages Meta got. */
  sent: number;
  acceptedPerSecond: number;
  rates: number[];
  throttled: number;
  duplicates: number;
  outcomeUnknown: { timedOut: number; takenOver: number };
  missedSlots: number;
  /** Lane slow-downs for lateness (a worker too slow for its slots). */
  lateSlowDowns: number;
  maxInOneSecond: number;
  drainSeconds: number;
}

/** `count` messages over `numbers`, accepted first, then drained by the workers. */
async function capRun(
  scenario: string,
  sandbox: GraphSandboxProcess,
  mic: Engines,
  numbers: string[],
): Promise<CapRow> {
  const label = scenario.replace(/\W+/g, '-');
  const since = new Date();
  const acceptStart = Date.now();
  await mic.accept(
    MESSAGES,
    (i) => text(numbers[i % numbers.length]!, label, i, 'conversation'),
    (i) => `${label}-${i}`,
  );
  const acceptedPerSecond = (MESSAGES * 1000) / (Date.now() - acceptStart);
  const drainStart = Date.now();
  await mic.startWorkers();
  await sandboxGot(sandbox, `${label} `, MESSAGES, numbers);
  const drainSeconds = (Date.now() - drainStart) / 1000;
  // Retries of sends whose outcome was unknown may still be due: they count as repeats too.
  await until(async () => (await mic.itemsLeft()) === 0, 60_000).catch(() => undefined);
  const missedSlots = await mic.workerEvents('missed-slot');
  const lateSlowDowns = await mic.workerEvents('late-slow-down');
  await mic.stopWorkers();
  const sends = (await sandbox.sends()).filter((s) => labelOf(s).startsWith(`${label} `));
  const calls = await sandbox.calls();
  const rates = await sandbox.rates();
  await sandbox.clear();
  const byNumber = numbers.map((n) => sends.filter((s) => s.objectId === n));
  return {
    scenario,
    numbers: numbers.length,
    messages: MESSAGES,
    sent: new Set(sends.map(labelOf)).size,
    acceptedPerSecond,
    rates: byNumber.map(achievedRate).sort((a, b) => a - b),
    throttled: calls.filter((c) => c.code === 130429).length,
    duplicates: sends.length - new Set(sends.map(labelOf)).size,
    outcomeUnknown: await mic.outcomeUnknown(since),
    missedSlots,
    lateSlowDowns,
    maxInOneSecond: Math.max(...rates.filter((r) => numbers.includes(r.objectId)).map((r) => r.maxPerSecond)),
    drainSeconds,
  };
}

interface LatencyRow {
  scenario: string;
  latencies: number[];
  backlogLeft: number;
}

/** `CRITICAL` critical messages on the solo number, one every CRITICAL_SPACING_MS: POST sent → Meta received. */
async function criticalRun(
  scenario: string,
  sandbox: GraphSandboxProcess,
  mic: Engines,
  backlog: number,
): Promise<LatencyRow> {
  const label = `critical-${scenario.replace(/\W+/g, '-')}`;
  const accepted: Accepted[] = [];
  for (let i = 0; i < CRITICAL; i += 1) {
    accepted.push(await mic.post(text(SOLO, label, i, 'critical'), `${label}-${i}`));
    await new Promise((r) => setTimeout(r, CRITICAL_SPACING_MS));
  }
  await sandboxGot(sandbox, `${label} `, CRITICAL);
  const sends = (await sandbox.sends()).filter((s) => labelOf(s).startsWith(`${label} `));
  const first = new Map<string, number>();
  for (const s of sends) if (!first.has(labelOf(s))) first.set(labelOf(s), s.atMs);
  const all = await sandbox.sends();
  return {
    scenario,
    // A critical message Meta never got counts as the longest wait.
    latencies: accepted
      .map((a, i) => (first.get(`${label} ${i}`) ?? Number.POSITIVE_INFINITY) - a.at)
      .sort((a, b) => a - b),
    backlogLeft: backlog - all.filter((s) => labelOf(s).startsWith('marketing ')).length,
  };
}

async function main(): Promise<void> {
  if (!(await isPostgresUp())) {
    console.log(`(Postgres at ${BENCH_DATABASE_URL} not reachable: the outbound bench needs it)`);
    process.exitCode = 1;
    return;
  }
  const loadStart = loadavg()[0]!.toFixed(1);
  const schema = uniqueName('bench_outbound');
  const sandbox = await graphSandbox();
  const instance = await instanceEndpoint();
  let mic: Engines | undefined;
  try {
    mic = await engines(sandbox, schema, instance.url);
    const pct = (rate: number) => `${((rate / CAP) * 100).toFixed(1)} %`;
    const f1 = (n: number) => n.toFixed(1);
    const capTable = () => {
      console.log(
        '| scenario | sent / accepted | accepted/s | drained in | achieved/s per number (min / median / max) | vs cap | 130429 | duplicates | outcome unknown (timed out / taken over) | missed slots / slow-downs | max in any 1 s |',
      );
      console.log('| --- | --- | --- | --- | --- | --- | --- | --- | --- | --- | --- |');
    };
    const capLine = (row: CapRow) => {
      const [min, median, max] = [row.rates[0]!, percentile(row.rates, 50), row.rates.at(-1)!];
      const rates = row.numbers === 1 ? f1(min) : `${f1(min)} / ${f1(median)} / ${f1(max)}`;
      const versus = row.numbers === 1 ? pct(min) : `${pct(min)} / ${pct(median)} / ${pct(max)}`;
      console.log(
        `| ${row.scenario} | ${row.sent} / ${row.messages} | ${Math.round(row.acceptedPerSecond)} | ${f1(row.drainSeconds)} s (${Math.round(row.sent / row.drainSeconds)} /s in all) | ${rates} | ${versus} | ${row.throttled} | ${row.duplicates} | ${row.outcomeUnknown.timedOut} / ${row.outcomeUnknown.takenOver} | ${row.missedSlots} / ${row.lateSlowDowns} | ${row.maxInOneSecond} (≤ ${CAP}) |`,
      );
    };
    console.log(
      `\noutbound: Send API → lanes → Graph sandbox (cap ${CAP}/s per number), ${WORKERS} engine workers on Postgres, ` +
        `Node ${process.version}; load average ${loadStart} at the start\n`,
    );
    capTable();
    if (SCENARIOS.has('one')) capLine(await capRun('one number', sandbox, mic, [SOLO]));

    // The latency run comes before the run over many numbers, whose lanes may not drain.
    if (SCENARIOS.has('critical')) await latencyRuns(sandbox, mic);
    if (SCENARIOS.has('many')) {
      console.log('');
      capTable();
      capLine(await capRun(`${NUMBERS} numbers`, sandbox, mic, SPREAD));
    }
    console.log(`\nload average ${loadavg()[0]!.toFixed(1)} at the end`);
  } finally {
    await mic?.close();
    instance.server.close();
    await stop(sandbox.child);
    await dropSchemas([schema, `${schema}_queue`]);
  }
}

/** Critical messages on one number with no backlog (the baseline), then behind a marketing backlog. */
async function latencyRuns(sandbox: GraphSandboxProcess, mic: Engines): Promise<void> {
  const f1 = (n: number) => n.toFixed(1);
  await mic.startWorkers();
  const baseline = await criticalRun('no backlog', sandbox, mic, 0);
  await mic.stopWorkers();
  const backlogStart = Date.now();
  await mic.accept(
    BACKLOG,
    (i) => text(SOLO, 'marketing', i, 'marketing'),
    (i) => `marketing-${i}`,
  );
  const backlogSeconds = (Date.now() - backlogStart) / 1000;
  await mic.startWorkers();
  const behind = await criticalRun(`behind ${BACKLOG} marketing`, sandbox, mic, BACKLOG);
  await mic.stopWorkers();
  await mic.dropLane(SOLO);
  await sandbox.clear();
  console.log(
    `\ncritical messages on one number, one every ${CRITICAL_SPACING_MS} ms: POST sent → Meta received ` +
      `(the ${BACKLOG} marketing messages were accepted in ${f1(backlogSeconds)} s)\n`,
  );
  console.log('| lane | critical | p50 | p99 | max | p50 vs baseline | p99 vs baseline | marketing left after |');
  console.log('| --- | --- | --- | --- | --- | --- | --- | --- |');
  for (const row of [baseline, behind]) {
    const [p50, p99] = [percentile(row.latencies, 50), percentile(row.latencies, 99)];
    const ratio = (value: number, base: number) => `${(value / Math.max(1, base)).toFixed(1)}×`;
    console.log(
      `| ${row.scenario} | ${row.latencies.length} | ${p50} ms | ${p99} ms | ${row.latencies.at(-1)} ms | ` +
        `${ratio(p50, percentile(baseline.latencies, 50))} | ${ratio(p99, percentile(baseline.latencies, 99))} | ${row.backlogLeft} |`,
    );
  }
}

await main();
