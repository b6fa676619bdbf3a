import { spawn, type ChildProcess } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { TEST_DATABASE_URL, dropSchemas, eventually, freePort, uniqueName } from '@mic/platform/testing';
import { openDatabase } from '@mic/platform';
import { sql } from 'drizzle-orm';
import type { SystemStatus } from '@mic/contracts';
import { startGraphSandbox, type GraphSandbox } from '@mic/meta-sandbox';
import { startNexusSim, type NexusSim, type SimModeRequest } from '@mic/nexus-sim';

export const ROOT = join(import.meta.dirname, '..', '..');
export const MIC = join(ROOT, 'apps', 'mic', 'src', 'main.ts');

export interface MicProcess {
  child: ChildProcess;
  controlUrl: string;
  engineUrl: string;
  dataDir: string;
  output(): string;
  exited: Promise<{ code: number | null; signal: NodeJS.Signals | null }>;
  /** SIGTERM to the process, then SIGKILL to its group after `graceMs`. */
  stop(graceMs?: number): Promise<{ code: number | null; signal: NodeJS.Signals | null }>;
}

export interface MicEnv {
  env: Record<string, string>;
  dataDir: string;
  /** Meta's Graph API as the engine reaches it (channel subscriptions). */
  graph: GraphSandbox;
  cleanup(): Promise<void>;
}

/**
 * The environment of one MIC run: free ports, a fresh data folder, and on Postgres
 * (TEST_DATABASE_URL) a schema per plane of its own.
 */
export async function micEnv(extra: Record<string, string> = {}): Promise<MicEnv> {
  const dataDir = mkdtempSync(join(tmpdir(), 'mic-e2e-'));
  const [controlPort, enginePort] = [await freePort(), await freePort()];
  const graph = await startGraphSandbox();
  const schemas = { control: uniqueName('e2e_control'), engine: uniqueName('e2e_engine') };
  const env: Record<string, string> = {
    CONTROL_PORT: String(controlPort),
    ENGINE_PORT: String(enginePort),
    MIC_DATA_DIR: dataDir,
    LOG_LEVEL: 'warn',
    SHUTDOWN_TIMEOUT: '5s',
    META_GRAPH_URL: graph.url,
    // Instances are nexus-sims on this machine's loopback.
    INSTANCE_URL_ALLOW_PRIVATE: 'true',
    CONFIG_SYNC_INTERVAL: '1s',
    ...(TEST_DATABASE_URL
      ? {
          CONTROL_DATABASE_URL: TEST_DATABASE_URL,
          ENGINE_DATABASE_URL: TEST_DATABASE_URL,
          CONTROL_DATABASE_SCHEMA: schemas.control,
          ENGINE_DATABASE_SCHEMA: schemas.engine,
        }
      : {}),
    ...extra,
  };
  return {
    env,
    dataDir,
    graph,
    async cleanup() {
      await graph.stop();
      rmSync(dataDir, { recursive: true, force: true });
      if (TEST_DATABASE_URL) {
        await dropSchemas(TEST_DATABASE_URL, [
          schemas.control,
          `${schemas.control}_queue`,
          schemas.engine,
          `${schemas.engine}_queue`,
        ]);
      }
    },
  };
}

/** Runs `mic <args>` as a user would, in its own process group; `input`, when given, is its stdin. */
export function runMic(args: string[], micEnv: MicEnv, input?: string): MicProcess {
  const child = spawn(process.execPath, [MIC, ...args], {
    cwd: ROOT,
    env: { ...process.env, ...micEnv.env },
    detached: true,
    stdio: ['pipe', 'pipe', 'pipe'],
  });
  // A command that exits before reading its input must not fail the test with EPIPE.
  child.stdin.on('error', () => {});
  child.stdin.end(input ?? '');
  let output = '';
  child.stdout.on('data', (d: Buffer) => (output += d.toString()));
  child.stderr.on('data', (d: Buffer) => (output += d.toString()));
  const exited = new Promise<{ code: number | null; signal: NodeJS.Signals | null }>((resolve) =>
    child.on('exit', (code, signal) => resolve({ code, signal })),
  );
  return {
    child,
    controlUrl: `http://127.0.0.1:${micEnv.env.CONTROL_PORT}`,
    engineUrl: `http://127.0.0.1:${micEnv.env.ENGINE_PORT}`,
    dataDir: micEnv.dataDir,
    output: () => output,
    exited,
    async stop(graceMs = 15_000) {
      child.kill('SIGTERM');
      const timer = setTimeout(() => {
        try {
          process.kill(-child.pid!, 'SIGKILL');
        } catch {
          /* already gone */
        }
      }, graceMs);
      const result = await exited;
      clearTimeout(timer);
      return result;
    },
  };
}

export interface Health {
  status: number;
  contentType: string | null;
  body: {
    status: string;
    output?: string;
    checks?: Record<string, { status: string; output?: string; observedValue?: unknown }[]>;
  };
}

export async function health(url: string): Promise<Health> {
  const res = await fetch(url, { signal: AbortSignal.timeout(10_000) });
  return {
    status: res.status,
    contentType: res.headers.get('content-type'),
    body: (await res.json()) as Health['body'],
  };
}

export async function waitForHealth(
  url: string,
  status: 'pass' | 'warn' | 'fail',
  timeoutMs = 60_000,
): Promise<Health> {
  return eventually(
    async () => {
      const h = await health(url);
      return h.body.status === status ? h : undefined;
    },
    timeoutMs,
    250,
  );
}

/** Lines of output that are not JSON log records: what a person at the terminal reads. */
export function plainLines(output: string): string[] {
  return output
    .split('\n')
    .map((l) => l.trim())
    .filter((l) => l && !l.startsWith('{'));
}

export function isAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
  }
}

/** What a plane's `/internal` routes accept: the embedded token file's token of the other plane. */
export function internalAuth(dataDir: string, plane: 'control' | 'engine'): { authorization: string } {
  const tokens = JSON.parse(readFileSync(join(dataDir, 'keys', 'service-tokens.json'), 'utf8')) as Record<
    string,
    string
  >;
  return { authorization: `Bearer ${tokens[plane === 'engine' ? 'control' : 'engine']}` };
}

export async function systemStatus(mic: MicProcess, plane: 'control' | 'engine'): Promise<SystemStatus> {
  const url = plane === 'control' ? mic.controlUrl : mic.engineUrl;
  const res = await fetch(`${url}/internal/v1/system`, { headers: internalAuth(mic.dataDir, plane) });
  return (await res.json()) as SystemStatus;
}

/**
 * Every row of every table of a stopped plane (its schema and its queue's), as JSON text: what a
 * database dump would reveal.
 */
export async function dumpPlaneDatabase(env: MicEnv, plane: 'control' | 'engine'): Promise<string> {
  const schema = env.env[`${plane.toUpperCase()}_DATABASE_SCHEMA`] ?? plane;
  const db = await openDatabase({
    url: env.env[`${plane.toUpperCase()}_DATABASE_URL`],
    dataDir: join(env.dataDir, plane),
    schema,
    migrationsFolder: join(ROOT, 'apps', plane, 'migrations'),
  });
  try {
    const tables = await db.orm.execute<{ name: string }>(
      sql`select format('%I.%I', table_schema, table_name) as name from information_schema.tables where table_schema in (${schema}, ${`${schema}_queue`}) and table_type = 'BASE TABLE'`,
    );
    const rows: string[] = [];
    for (const { name } of tables.rows) {
      const dump = await db.orm.execute<{ row: string }>(sql.raw(`select row_to_json(t)::text as row from ${name} t`));
      rows.push(...dump.rows.map((r) => r.row));
    }
    return rows.join('\n');
  } finally {
    await db.close();
  }
}

/** What an engine `/internal` route answered: its status and its JSON body (undefined when empty). */
export interface EngineAnswer<T> {
  status: number;
  body: T;
}

/** Calls an engine `/internal` route as control would, with the service token from the embedded token file. */
export async function engineCall<T = unknown>(
  engineUrl: string,
  dataDir: string,
  method: 'GET' | 'POST' | 'PUT' | 'DELETE',
  path: string,
  body?: object,
): Promise<EngineAnswer<T>> {
  const res = await fetch(`${engineUrl}${path}`, {
    method,
    headers: { ...internalAuth(dataDir, 'engine'), ...(body ? { 'content-type': 'application/json' } : {}) },
    ...(body ? { body: JSON.stringify(body) } : {}),
    signal: AbortSignal.timeout(10_000),
  });
  const text = await res.text();
  return { status: res.status, body: (text ? JSON.parse(text) : undefined) as T };
}

export interface SimInstance {
  instanceId: string;
  tenantId: string;
  /** The WhatsApp phone_number_id routed to the instance. */
  phoneNumberId: string;
  /** The simulated Nexus instance the engine delivers to, holding the instance's signing secret. */
  sim: NexusSim;
  /** The instance's engine token: what it sends `/v1/messages` with. */
  apiToken: string;
}

/** Calls control's operator API with a signed-in operator's session. */
export async function controlCall<T = unknown>(
  mic: MicProcess,
  operator: OperatorSession,
  method: 'GET' | 'POST' | 'PUT' | 'PATCH' | 'DELETE',
  path: string,
  body?: object,
): Promise<EngineAnswer<T>> {
  const res = await fetch(`${mic.controlUrl}${path}`, {
    method,
    headers: { ...operator.headers, ...(body ? { 'content-type': 'application/json' } : {}) },
    ...(body ? { body: JSON.stringify(body) } : {}),
    signal: AbortSignal.timeout(15_000),
  });
  const text = await res.text();
  return { status: res.status, body: (text ? JSON.parse(text) : undefined) as T };
}

const sessions = new WeakMap<MicEnv, Promise<OperatorSession>>();

/** One owner per run, created with `mic admin create` the first time a test needs one. */
export function ownerOf(mic: MicProcess, env: MicEnv): Promise<OperatorSession> {
  let session = sessions.get(env);
  if (!session) {
    session = operatorLogin(mic, env);
    sessions.set(env, session);
  }
  return session;
}

/**
 * Onboards a Nexus instance as the operator does, through control's API: a tenant and its instance
 * (the engine's credentials come back once; the signing secret goes to a nexus-sim started with
 * it), then a WhatsApp number whose business account and number the Graph sandbox knows. Resolves
 * once the engine runs a config snapshot that routes the number.
 */
export async function connectSimInstance(
  mic: MicProcess,
  env: MicEnv,
  instance: { name: string; phoneNumberId: string; mode?: SimModeRequest },
): Promise<SimInstance> {
  const operator = await ownerOf(mic, env);
  const call = <T>(method: 'POST' | 'PATCH', path: string, body: object) =>
    controlCall<T>(mic, operator, method, path, body);
  const tenant = await call<{ id: string }>('POST', '/v1/tenants', { name: instance.name });
  if (tenant.status !== 201) throw answerError('tenant', tenant);
  const created = await call<{
    instance: { id: string };
    credentials: { signingSecret: string; apiToken: string } | null;
  }>('POST', `/v1/tenants/${tenant.body.id}/instances`, {
    name: instance.name,
    webhookUrl: 'http://127.0.0.1:9/not-yet',
  });
  if (created.status !== 201 || !created.body.credentials) throw answerError('instance', created);
  const instanceId = created.body.instance.id;
  const sim = await startNexusSim({
    secrets: [created.body.credentials.signingSecret],
    ...(instance.mode ? { mode: instance.mode } : {}),
  });
  try {
    const updated = await call('PATCH', `/v1/instances/${instanceId}`, { webhookUrl: `${sim.url}/hooks/mic` });
    if (updated.status !== 200) throw answerError('webhook URL', updated);
    await connectChannel(mic, env, instanceId, { platform: 'whatsapp', channelId: instance.phoneNumberId });
  } catch (error) {
    await sim.stop();
    throw error;
  }
  return {
    instanceId,
    tenantId: tenant.body.id,
    phoneNumberId: instance.phoneNumberId,
    sim,
    apiToken: created.body.credentials.apiToken,
  };
}

const answerError = (what: string, answer: EngineAnswer<unknown>) =>
  new Error(`${what}: ${answer.status} ${JSON.stringify(answer.body)}`);

/** A channel as the operator adds it; Instagram sends from its linked page (`pageId`). */
export type ChannelToConnect =
  | { platform: 'whatsapp' | 'messenger'; channelId: string }
  | { platform: 'instagram'; channelId: string; pageId: string };

/**
 * Adds a channel to an instance through control's API, after making the Graph sandbox know it the
 * way Meta would: a WhatsApp number (and its business account `waba<number>`) or a page, with the
 * token `EAAG-e2e-<number or page>` that subscribes and sends. Resolves once the engine routes it.
 */
export async function connectChannel(
  mic: MicProcess,
  env: MicEnv,
  instanceId: string,
  channel: ChannelToConnect,
): Promise<void> {
  const sender = channel.platform === 'instagram' ? channel.pageId : channel.channelId;
  const accessToken = `EAAG-e2e-${sender}`;
  let body: object;
  if (channel.platform === 'whatsapp') {
    const wabaId = `waba${channel.channelId}`;
    env.graph.addObject({ id: wabaId, kind: 'whatsapp-business-account', token: accessToken });
    env.graph.addObject({ id: channel.channelId, kind: 'whatsapp-phone-number', token: accessToken });
    body = { platform: 'whatsapp', channelId: channel.channelId, wabaId, accessToken };
  } else {
    env.graph.addObject({ id: sender, kind: 'page', token: accessToken });
    body = { ...channel, accessToken };
  }
  const added = await controlCall<{ connection: { state: string } }>(
    mic,
    await ownerOf(mic, env),
    'POST',
    `/v1/instances/${instanceId}/channels`,
    body,
  );
  if (added.status !== 201 || added.body.connection.state !== 'subscribed') throw answerError('channel', added);
  await engineRuns(mic, await controlConfigVersion(mic));
}

/** The version of the configuration control publishes now. */
export async function controlConfigVersion(mic: MicProcess): Promise<number> {
  const res = await fetch(`${mic.controlUrl}/internal/v1/config/snapshot`, {
    headers: internalAuth(mic.dataDir, 'control'),
  });
  return ((await res.json()) as { version: number }).version;
}

/** Waits until the engine runs a config snapshot at least as new as `version`. */
export async function engineRuns(mic: MicProcess, version: number, timeoutMs = 15_000): Promise<void> {
  await eventually(async () => {
    const sync = await engineCall<{ version: number | null }>(mic.engineUrl, mic.dataDir, 'GET', '/internal/v1/config');
    return (sync.body.version ?? -1) >= version ? true : undefined;
  }, timeoutMs);
}

/**
 * The value of one Prometheus sample on a `/metrics` page, e.g.
 * `metricValue(text, 'delivery_attempts_total', { outcome: 'delivered' })`; 0 when absent.
 */
export function metricValue(metrics: string, name: string, labels: Record<string, string> = {}): number {
  for (const line of metrics.split('\n')) {
    const match = /^([a-zA-Z_:][a-zA-Z0-9_:]*)(?:\{(.*)\})?\s+(\S+)/.exec(line);
    if (!match || match[1] !== name) continue;
    const found = new Map<string, string>(
      [...(match[2] ?? '').matchAll(/([a-zA-Z_][a-zA-Z0-9_]*)="((?:[^"\\]|\\.)*)"/g)].map((m) => [m[1]!, m[2]!]),
    );
    if (Object.entries(labels).every(([k, v]) => found.get(k) === v)) return Number(match[3]);
  }
  return 0;
}

/** What a signed-in operator sends to control's `/v1/` routes: the session cookie and its CSRF token. */
export interface OperatorSession {
  headers: { cookie: string; 'x-csrf-token': string };
  email: string;
  password: string;
  /** The session cookie's value (a secret: it must appear in no log and no database). */
  token: string;
}

/**
 * Creates an operator on a running MIC with `mic admin create` (which asks the running control
 * through its internal route) and signs in as them.
 */
export async function operatorLogin(mic: MicProcess, env: MicEnv, role = 'owner'): Promise<OperatorSession> {
  const email = `${uniqueName(role)}@example.com`;
  const password = `e2e-${uniqueName('password')}`;
  const create = runMic(
    ['admin', 'create', '--email', email, '--name', 'E2E', '--role', role, '--password-stdin'],
    env,
    `${password}\n`,
  );
  const { code } = await create.exited;
  if (code !== 0) throw new Error(`mic admin create: exit ${code}: ${create.output()}`);
  const res = await fetch(`${mic.controlUrl}/v1/auth/login`, {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify({ email, password }),
    signal: AbortSignal.timeout(10_000),
  });
  if (res.status !== 200) throw new Error(`login of ${email}: ${res.status} ${await res.text()}`);
  const token = /mic_session=([^;]+)/.exec(res.headers.get('set-cookie') ?? '')?.[1];
  if (!token) throw new Error(`login of ${email} set no session cookie`);
  const { csrfToken } = (await res.json()) as { csrfToken: string };
  return { headers: { cookie: `mic_session=${token}`, 'x-csrf-token': csrfToken }, email, password, token };
}
