/**
 * `npm run bench:ingress`: how many signed WhatsApp webhooks per second the engine's ingress
 * stores (signature check, parse, durable insert, dedup, delivery rows and jobs), and its ack
 * latency, against a bare Fastify handler that only answers 200, with the same load tool
 * (autocannon), connections and bodies, on PGlite and on Postgres.
 */
import autocannon from 'autocannon';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { signMetaBody } from '@mic/meta';
import { whatsappTextMessage } from '@mic/meta-sandbox';
import { freePort, uniqueName } from '@mic/platform/testing';
import { BENCH_DATABASE_URL, dropSchemas, isPostgresUp, start, stop, until } from './processes.ts';

const SECRET = 'bench-app-secret';
const DURATION = Number(process.env.BENCH_DURATION_S ?? 10);
const CONNECTIONS = Number(process.env.BENCH_CONNECTIONS ?? 10);
const BODIES = 40_000;

// Real, distinct bodies: a repeated body would take the cheaper duplicate path.
const bodies = Array.from({ length: BODIES }, (_, i) => {
  const body = JSON.stringify(
    whatsappTextMessage({
      phoneNumberId: '1000000001',
      from: `52155${String(i % 500).padStart(8, '0')}`,
      text: `bench ${i}`,
    }),
  );
  return { body, signature: signMetaBody(body, SECRET) };
});

async function load(url: string) {
  let i = 0;
  return autocannon({
    url,
    connections: CONNECTIONS,
    duration: DURATION,
    requests: [
      {
        method: 'POST',
        setupRequest: (req) => {
          const next = bodies[i++ % BODIES]!;
          return {
            ...req,
            method: 'POST',
            body: next.body,
            headers: { 'content-type': 'application/json', 'x-hub-signature-256': next.signature },
          };
        },
      },
    ],
  });
}

interface Row {
  target: string;
  rps: number;
  p50: number;
  p99: number;
  non2xx: number;
}

async function bare(): Promise<Row> {
  const port = await freePort();
  const child = start([join(import.meta.dirname, 'bare-fastify.ts')], { PORT: String(port) });
  try {
    await until(async () => (await fetch(`http://127.0.0.1:${port}/`)).ok);
    const r = await load(`http://127.0.0.1:${port}/`);
    return {
      target: 'bare Fastify handler (200 only)',
      rps: r.requests.average,
      p50: r.latency.p50,
      p99: r.latency.p99,
      non2xx: r.non2xx,
    };
  } finally {
    await stop(child);
  }
}

async function engine(kind: 'pglite' | 'postgres'): Promise<Row> {
  const dataDir = mkdtempSync(join(tmpdir(), 'mic-bench-ingress-'));
  const schema = uniqueName('bench_engine');
  const port = await freePort();
  const child = start([join(import.meta.dirname, '..', 'apps', 'mic', 'src', 'main.ts'), 'engine'], {
    MIC_DATA_DIR: dataDir,
    ENGINE_PORT: String(port),
    ENGINE_ROLES: 'ingress',
    META_APP_SECRET: SECRET,
    ...(kind === 'postgres' ? { ENGINE_DATABASE_URL: BENCH_DATABASE_URL, ENGINE_DATABASE_SCHEMA: schema } : {}),
  });
  try {
    await until(async () => (await fetch(`http://127.0.0.1:${port}/health`)).ok);
    const r = await load(`http://127.0.0.1:${port}/meta/webhook`);
    return {
      target: `engine ingress on ${kind === 'pglite' ? 'PGlite' : 'Postgres'}`,
      rps: r.requests.average,
      p50: r.latency.p50,
      p99: r.latency.p99,
      non2xx: r.non2xx,
    };
  } finally {
    await stop(child);
    rmSync(dataDir, { recursive: true, force: true });
    if (kind === 'postgres') await dropSchemas([schema, `${schema}_queue`]);
  }
}

const rows = [await bare(), await engine('pglite')];
if (await isPostgresUp()) rows.push(await engine('postgres'));
else console.log(`(Postgres at ${BENCH_DATABASE_URL} not reachable: its row is skipped)`);

const base = rows[0]!;
console.log(
  `\ningress: ${DURATION} s per target, ${CONNECTIONS} connections, distinct signed WhatsApp text webhooks, Node ${process.version}\n`,
);
console.log('| target | req/s | vs bare | ack p50 | ack p99 | non-2xx |');
console.log('| --- | --- | --- | --- | --- | --- |');
for (const r of rows) {
  console.log(
    `| ${r.target} | ${r.rps.toFixed(0)} | ${((r.rps / base.rps) * 100).toFixed(1)} % | ${r.p50} ms | ${r.p99} ms | ${r.non2xx} |`,
  );
}
