/**
 * `npm run bench:startup`: time from `mic start` to every health endpoint passing, cold (new data
 * folder: initdb and migrations) and warm (same folder again), and the resident memory of each
 * plane when idle, each against a bare Fastify process started and measured the same way.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { freePort } from '@mic/platform/testing';

const ROOT = join(import.meta.dirname, '..');
const IDLE_MS = Number(process.env.BENCH_IDLE_MS ?? 10_000);

function rssMiB(pid: number): number {
  const line = readFileSync(`/proc/${pid}/status`, 'utf8')
    .split('\n')
    .find((l) => l.startsWith('VmRSS:'));
  return Number(line?.split(/\s+/)[1] ?? 0) / 1024;
}

async function until(ok: () => Promise<boolean>, timeoutMs = 120_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (Date.now() < deadline) {
    if (await ok().catch(() => false)) return;
    await new Promise((r) => setTimeout(r, 25));
  }
  throw new Error('timed out');
}

async function passes(url: string): Promise<boolean> {
  const res = await fetch(url);
  return ((await res.json()) as { status?: string }).status === 'pass';
}

async function stop(child: ChildProcess): Promise<void> {
  const exited = new Promise((r) => child.on('exit', r));
  child.kill('SIGTERM');
  await exited;
}

async function bareFastify(): Promise<{ startMs: number; rss: number }> {
  const port = await freePort();
  const started = performance.now();
  const child = spawn(process.execPath, [join(import.meta.dirname, 'bare-fastify.ts')], {
    env: { ...process.env, PORT: String(port) },
    stdio: 'ignore',
  });
  await until(async () => (await fetch(`http://127.0.0.1:${port}/`)).ok);
  const startMs = performance.now() - started;
  await new Promise((r) => setTimeout(r, IDLE_MS));
  const rss = rssMiB(child.pid!);
  await stop(child);
  return { startMs, rss };
}

async function micStart(dataDir: string): Promise<{ startMs: number; control: number; engine: number }> {
  const [controlPort, enginePort] = [await freePort(), await freePort()];
  const env = {
    ...process.env,
    MIC_DATA_DIR: dataDir,
    CONTROL_PORT: String(controlPort),
    ENGINE_PORT: String(enginePort),
    LOG_LEVEL: 'warn',
  };
  const started = performance.now();
  const child = spawn(process.execPath, [join(ROOT, 'apps/mic/src/main.ts'), 'start'], { env, stdio: 'ignore' });
  const c = `http://127.0.0.1:${controlPort}`;
  await until(
    async () =>
      (await passes(`${c}/health/api`)) && (await passes(`${c}/health/db`)) && (await passes(`${c}/health/engine`)),
  );
  const startMs = performance.now() - started;
  await new Promise((r) => setTimeout(r, IDLE_MS));
  const tokens = JSON.parse(readFileSync(join(dataDir, 'keys', 'service-tokens.json'), 'utf8')) as Record<
    string,
    string
  >;
  const pid = async (url: string, token: string | undefined) =>
    (
      (await (await fetch(`${url}/internal/v1/system`, { headers: { authorization: `Bearer ${token}` } })).json()) as {
        pid: number;
      }
    ).pid;
  const control = rssMiB(await pid(c, tokens.engine));
  const engine = rssMiB(await pid(`http://127.0.0.1:${enginePort}`, tokens.control));
  await stop(child);
  return { startMs, control, engine };
}

const dataDir = mkdtempSync(join(tmpdir(), 'mic-bench-'));
try {
  const bare = await bareFastify();
  const cold = await micStart(dataDir);
  const warm = await micStart(dataDir);
  const s = (ms: number) => `${(ms / 1000).toFixed(2)} s`;
  const x = (a: number, b: number) => `${(a / b).toFixed(1)}×`;
  console.log(
    `\nstartup on ${process.platform} ${process.arch}, Node ${process.version}, embedded PGlite, idle ${IDLE_MS / 1000} s\n`,
  );
  console.log('| figure | MIC | bare Fastify | ratio |');
  console.log('| --- | --- | --- | --- |');
  console.log(
    `| cold start to all health pass | ${s(cold.startMs)} | ${s(bare.startMs)} | ${x(cold.startMs, bare.startMs)} |`,
  );
  console.log(
    `| warm start to all health pass | ${s(warm.startMs)} | ${s(bare.startMs)} | ${x(warm.startMs, bare.startMs)} |`,
  );
  console.log(
    `| control RSS idle | ${warm.control.toFixed(0)} MiB | ${bare.rss.toFixed(0)} MiB | ${x(warm.control, bare.rss)} |`,
  );
  console.log(
    `| engine RSS idle | ${warm.engine.toFixed(0)} MiB | ${bare.rss.toFixed(0)} MiB | ${x(warm.engine, bare.rss)} |`,
  );
} finally {
  rmSync(dataDir, { recursive: true, force: true });
}
