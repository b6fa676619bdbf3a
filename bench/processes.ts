// Starting and stopping the processes a benchmark measures, on this machine only (127.0.0.1).
import { spawn, type ChildProcess } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import pg from 'pg';
import { createServer } from 'node:http';
import { snapshotEtag, type ConfigSnapshot } from '@mic/contracts';
import { freePort } from '@mic/platform/testing';

export const ROOT = join(import.meta.dirname, '..');
export const BENCH_DATABASE_URL = process.env.BENCH_DATABASE_URL ?? 'postgres://postgres@127.0.0.1:5432/test';

export async function until(ok: () => Promise<boolean>, timeoutMs = 120_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (Date.now() < deadline) {
    if (await ok().catch(() => false)) return;
    await new Promise((r) => setTimeout(r, 50));
  }
  throw new Error('timed out');
}

export function start(args: string[], env: Record<string, string>): ChildProcess {
  return spawn(process.execPath, args, {
    cwd: ROOT,
    env: { ...process.env, LOG_LEVEL: 'warn', ...env },
    stdio: ['ignore', 'ignore', 'inherit'],
  });
}

export async function stop(child: ChildProcess): Promise<void> {
  if (child.exitCode !== null) return;
  const exited = new Promise((r) => child.on('exit', r));
  child.kill('SIGTERM');
  await exited;
}

export async function isPostgresUp(): Promise<boolean> {
  const client = new pg.Client({ connectionString: BENCH_DATABASE_URL, connectionTimeoutMillis: 2_000 });
  try {
    await client.connect();
    await client.end();
    return true;
  } catch {
    return false;
  }
}

export async function dropSchemas(schemas: string[]): Promise<void> {
  const client = new pg.Client({ connectionString: BENCH_DATABASE_URL });
  await client.connect();
  for (const s of schemas) await client.query(`drop schema if exists "${s}" cascade`);
  await client.end();
}

/** The token the engine accepts from control, from the embedded token file. */
export function engineAuth(dataDir: string): { authorization: string } {
  const tokens = JSON.parse(readFileSync(join(dataDir, 'keys', 'service-tokens.json'), 'utf8')) as { control: string };
  return { authorization: `Bearer ${tokens.control}` };
}

export function percentile(sorted: readonly number[], p: number): number {
  if (sorted.length === 0) return Number.NaN;
  return sorted[Math.min(sorted.length - 1, Math.floor((p / 100) * sorted.length))]!;
}

/** Control, as far as an engine needs it in a bench: the config snapshot that routes its channels. */
export async function controlStandIn(snapshot: ConfigSnapshot): Promise<{ url: string; close(): Promise<unknown> }> {
  const server = createServer((req, res) => {
    if (req.url !== '/internal/v1/config/snapshot') return void res.writeHead(204).end();
    res.writeHead(200, { 'content-type': 'application/json', etag: snapshotEtag(snapshot.version) });
    res.end(JSON.stringify(snapshot));
  });
  const port = await freePort();
  await new Promise<void>((r) => server.listen(port, '127.0.0.1', r));
  return { url: `http://127.0.0.1:${port}`, close: () => new Promise((r) => server.close(r)) };
}
