/**
 * `npm run bench:delivery`: end-to-end latency from a signed Meta webhook reaching the engine to
 * the delivery reaching the instance, at 200 and 1,000 events/s, against the same webhooks posted
 * straight to the instance (one bare HTTP hop), on PGlite and on Postgres. Delivery must be woken
 * by NOTIFY, not bound by the polling interval.
 */
import { createServer } from 'node:http';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { sendWebhooks, whatsappTextMessage } from '@mic/meta-sandbox';
import { freePort, uniqueName } from '@mic/platform/testing';
import { emptySnapshot, withTestInstance } from '../apps/engine/src/testing.ts';
import {
  BENCH_DATABASE_URL,
  dropSchemas,
  engineAuth,
  isPostgresUp,
  percentile,
  start,
  stop,
  until,
  controlStandIn,
} from './processes.ts';

const SECRET = 'bench-app-secret';
const RUNS = [
  { rate: 200, seconds: Number(process.env.BENCH_DURATION_S ?? 10) },
  { rate: 1000, seconds: Math.max(3, Math.round(Number(process.env.BENCH_DURATION_S ?? 10) / 2)) },
];

/** An instance stand-in that notes when each message arrives (by its wamid). */
async function receiver() {
  const arrivals = new Map<string, number>();
  let deliveries = 0;
  const server = createServer((req, res) => {
    let body = '';
    req.on('data', (c: Buffer) => (body += c.toString()));
    req.on('end', () => {
      const at = Date.now();
      deliveries += 1;
      try {
        const parsed = JSON.parse(body) as {
          raw?: { messages?: { id: string }[] };
          entry?: { changes: { value: { messages: { id: string }[] } }[] }[];
        };
        const id = parsed.raw?.messages?.[0]?.id ?? parsed.entry?.[0]?.changes[0]?.value.messages[0]?.id;
        if (id && !arrivals.has(id)) arrivals.set(id, at);
      } catch {
        /* not ours */
      }
      res.writeHead(204).end();
    });
  });
  const port = await freePort();
  await new Promise<void>((r) => server.listen(port, '127.0.0.1', r));
  return {
    url: `http://127.0.0.1:${port}/hooks`,
    arrivals,
    deliveries: () => deliveries,
    close: () => new Promise((r) => server.close(r)),
  };
}

interface Row {
  target: string;
  rate: number;
  sent: number;
  delivered: number;
  p50: number;
  p99: number;
}

async function measure(
  target: string,
  url: string,
  rate: number,
  seconds: number,
  arrivals: Map<string, number>,
): Promise<Row> {
  const sentAt = new Map<string, number>();
  const count = rate * seconds;
  const report = await sendWebhooks({
    url,
    appSecret: SECRET,
    rate,
    count,
    concurrency: 64,
    generator: (i) => {
      const messageId = `wamid.bench.${target.length}.${rate}.${i}.${Date.now()}`;
      sentAt.set(messageId, Date.now());
      return whatsappTextMessage({
        phoneNumberId: '1000000001',
        from: `52155${String(i % 200).padStart(8, '0')}`,
        messageId,
        text: `bench ${i}`,
      });
    },
  });
  const accepted = report.results.filter((r) => r.status >= 200 && r.status < 300).length;
  await until(async () => [...sentAt.keys()].every((id) => arrivals.has(id)), 120_000).catch(() => {});
  const latencies = [...sentAt]
    .filter(([id]) => arrivals.has(id))
    .map(([id, at]) => arrivals.get(id)! - at)
    .sort((a, b) => a - b);
  return {
    target,
    rate,
    sent: accepted,
    delivered: latencies.length,
    p50: percentile(latencies, 50),
    p99: percentile(latencies, 99),
  };
}

async function engineRows(kind: 'pglite' | 'postgres'): Promise<Row[]> {
  const dataDir = mkdtempSync(join(tmpdir(), 'mic-bench-delivery-'));
  const schema = uniqueName('bench_engine');
  const port = await freePort();
  const base = `http://127.0.0.1:${port}`;
  const r = await receiver();
  const snapshot = withTestInstance(emptySnapshot(), {
    id: 'ins-bench',
    webhookUrl: r.url,
    channels: [{ platform: 'whatsapp', channelId: '1000000001' }],
  });
  const control = await controlStandIn({ ...snapshot, version: 1 });
  const child = start([join(import.meta.dirname, '..', 'apps', 'mic', 'src', 'main.ts'), 'engine'], {
    MIC_DATA_DIR: dataDir,
    ENGINE_PORT: String(port),
    CONTROL_URL: control.url,
    META_APP_SECRET: SECRET,
    ...(kind === 'postgres' ? { ENGINE_DATABASE_URL: BENCH_DATABASE_URL, ENGINE_DATABASE_SCHEMA: schema } : {}),
  });
  try {
    await until(async () => (await fetch(`${base}/health`)).ok);
    await fetch(`${base}/internal/v1/instances/ins-bench/credentials`, {
      method: 'POST',
      headers: engineAuth(dataDir),
    });
    await until(async () => {
      const sync = await fetch(`${base}/internal/v1/config`, { headers: engineAuth(dataDir) });
      return ((await sync.json()) as { version: number | null }).version === 1;
    });
    const label = `engine on ${kind === 'pglite' ? 'PGlite' : 'Postgres'}`;
    const rows: Row[] = [];
    for (const run of RUNS) rows.push(await measure(label, `${base}/meta/webhook`, run.rate, run.seconds, r.arrivals));
    return rows;
  } finally {
    await stop(child);
    await r.close();
    await control.close();
    rmSync(dataDir, { recursive: true, force: true });
    if (kind === 'postgres') await dropSchemas([schema, `${schema}_queue`]);
  }
}

async function bareRows(): Promise<Row[]> {
  const r = await receiver();
  try {
    const rows: Row[] = [];
    for (const run of RUNS)
      rows.push(await measure('straight to the instance (bare hop)', r.url, run.rate, run.seconds, r.arrivals));
    return rows;
  } finally {
    await r.close();
  }
}

const rows = [...(await bareRows()), ...(await engineRows('pglite'))];
if (await isPostgresUp()) rows.push(...(await engineRows('postgres')));
else console.log(`(Postgres at ${BENCH_DATABASE_URL} not reachable: its rows are skipped)`);

console.log(`\ndelivery: webhook sent → instance received, Node ${process.version}\n`);
console.log('| target | events/s | accepted | delivered | p50 | p99 | p99 vs bare |');
console.log('| --- | --- | --- | --- | --- | --- | --- |');
for (const row of rows) {
  const bare = rows.find((b) => b.rate === row.rate && b.target.startsWith('straight'))!;
  console.log(
    `| ${row.target} | ${row.rate} | ${row.sent} | ${row.delivered} | ${row.p50} ms | ${row.p99} ms | ${(row.p99 / Math.max(1, bare.p99)).toFixed(1)}× |`,
  );
}
