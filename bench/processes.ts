// Starting and stopping the processes a benchmark measures, on this machine only (127.0.0.1).
import { spawn, type ChildProcess } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import pg from 'pg';
import { createServer } from 'node:http';
import { snapshotEtag, type ConfigSnapshot } from '@mic/contracts';
import type { GraphCall, GraphSend, SendRate } from '@mic/meta-sandbox';
import { freePort } from '@mic/platform/testing';

export const ROOT = join(import.meta.dirname, '..');
const MIC = join(ROOT, 'apps', 'mic', 'src', 'main.ts');
const SANDBOX = join(ROOT, 'tools', 'meta-sandbox', 'src', 'main.ts');
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

/**
 * The Graph sandbox in a process of its own: its clock stamps sends however busy the bench process
 * is. `call` sets it up (`PUT objects/{id}`, `PUT portfolios/{id}`); the rest reads what it got.
 */
export async function startGraphSandboxProcess() {
  const port = await freePort();
  const url = `http://127.0.0.1:${port}`;
  const child = start([SANDBOX, 'graph', '--port', String(port)], {});
  await until(async () => (await fetch(`${url}/_sandbox/calls`)).ok);
  const call = async <T>(method: string, path: string, body?: object): Promise<T> => {
    const res = await fetch(`${url}/_sandbox/${path}`, {
      method,
      ...(body ? { headers: { 'content-type': 'application/json' }, body: JSON.stringify(body) } : {}),
    });
    if (!res.ok) throw new Error(`sandbox ${method} ${path}: ${res.status} ${await res.text()}`);
    return (await res.json()) as T;
  };
  return {
    url,
    child,
    call,
    /** The sends Meta took, of one number or of all. */
    sends: (objectId?: string) => call<GraphSend[]>('GET', objectId ? `sends?objectId=${objectId}` : 'sends'),
    calls: () => call<GraphCall[]>('GET', 'calls'),
    rates: () => call<SendRate[]>('GET', 'rates'),
    async clear() {
      await call('DELETE', 'sends');
      await call('DELETE', 'calls');
    },
  };
}

export type GraphSandboxProcess = Awaited<ReturnType<typeof startGraphSandboxProcess>>;

export interface BenchEnginesOptions {
  /** Names the data folder (`mic-bench-<name>-…`). */
  name: string;
  /** The config snapshot control's stand-in serves (as version 1). */
  snapshot: ConfigSnapshot;
  /** The instance whose API token the bench sends with. */
  instanceId: string;
  /** The WhatsApp numbers to connect, with the token and business account Meta knows them by. */
  channels: { phoneNumberId: string; accessToken: string; objectId: string }[];
  graphUrl: string;
  /** Postgres schema of the engine's tables (and `<schema>_queue`). */
  schema: string;
  /** More environment for every engine process. */
  env?: Record<string, string>;
}

/**
 * Engine processes on one Postgres, routed by control's stand-in: one with the `ingress` role
 * (started here, the instance's API token issued and its channels connected), and more with any
 * role through `startEngine` (each answered once it runs from the snapshot).
 */
export async function startBenchEngines(options: BenchEnginesOptions) {
  const dataDir = mkdtempSync(join(tmpdir(), `mic-bench-${options.name}-`));
  const control = await controlStandIn({ ...options.snapshot, version: 1 });
  const isReady = async (base: string) => {
    if (!(await fetch(`${base}/health`)).ok) return false;
    const sync = await fetch(`${base}/internal/v1/config`, { headers: engineAuth(dataDir) });
    return ((await sync.json()) as { version: number | null }).version === 1;
  };
  const startEngine = async (roles: 'ingress' | 'worker'): Promise<{ url: string; child: ChildProcess }> => {
    const port = await freePort();
    const url = `http://127.0.0.1:${port}`;
    const child = start([MIC, 'engine'], {
      MIC_DATA_DIR: dataDir,
      ENGINE_PORT: String(port),
      ENGINE_ROLES: roles,
      CONTROL_URL: control.url,
      META_GRAPH_URL: options.graphUrl,
      ENGINE_DATABASE_URL: BENCH_DATABASE_URL,
      ENGINE_DATABASE_SCHEMA: options.schema,
      ...options.env,
    });
    await until(() => isReady(url));
    return { url, child };
  };

  const ingress = await startEngine('ingress');
  const issued = await fetch(`${ingress.url}/internal/v1/instances/${options.instanceId}/credentials`, {
    method: 'POST',
    headers: engineAuth(dataDir),
  });
  const { apiToken } = (await issued.json()) as { apiToken: string };
  for (const channel of options.channels) {
    const res = await fetch(`${ingress.url}/internal/v1/channels/whatsapp/${channel.phoneNumberId}/connection`, {
      method: 'PUT',
      headers: { ...engineAuth(dataDir), 'content-type': 'application/json' },
      body: JSON.stringify({ accessToken: channel.accessToken, objectId: channel.objectId }),
    });
    if (!res.ok) throw new Error(`channel ${channel.phoneNumberId}: ${res.status} ${await res.text()}`);
  }
  return {
    /** The ingress engine's base URL. */
    api: ingress.url,
    apiToken,
    startEngine,
    /** Stops the ingress engine and control's stand-in (stop the engines from `startEngine` first). */
    async close() {
      await stop(ingress.child);
      await control.close();
      rmSync(dataDir, { recursive: true, force: true });
    },
  };
}
