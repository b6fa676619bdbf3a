import { spawn } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { join } from 'node:path';
import type { Readable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import pg from 'pg';
import { countRows } from './row-counts.ts';

/** Where pg_dump and pg_restore are: a folder, or the PATH when unset. */
export interface PgTools {
  binDir?: string | undefined;
}

const tool = (tools: PgTools, name: string) => (tools.binDir ? join(tools.binDir, name) : name);

/** libpq's environment for a postgres:// URL, so the password never shows in a process list. */
function libpqEnv(url: string): Record<string, string> {
  const u = new URL(url);
  const env: Record<string, string> = {
    PGHOST: decodeURIComponent(u.hostname.replace(/^\[|\]$/g, '')) || 'localhost',
    PGPORT: u.port || '5432',
    PGDATABASE: decodeURIComponent(u.pathname.replace(/^\//, '')) || 'postgres',
  };
  if (u.username) env.PGUSER = decodeURIComponent(u.username);
  if (u.password) env.PGPASSWORD = decodeURIComponent(u.password);
  const sslmode = u.searchParams.get('sslmode');
  if (sslmode) env.PGSSLMODE = sslmode;
  const host = u.searchParams.get('host');
  if (host) env.PGHOST = host;
  return env;
}

/** Runs pg_dump or pg_restore, feeding `stdin` and handing its stdout to `consume`. */
async function runTool<T>(
  path: string,
  args: string[],
  url: string,
  io: { stdin?: Readable; consume?: (stdout: Readable) => Promise<T> },
): Promise<T | undefined> {
  const child = spawn(path, args, {
    env: { ...process.env, ...libpqEnv(url) },
    stdio: [io.stdin ? 'pipe' : 'ignore', io.consume ? 'pipe' : 'ignore', 'pipe'],
  });
  let stderr = '';
  child.stderr!.on('data', (chunk: Buffer) => {
    stderr = (stderr + chunk.toString()).slice(-4_000);
  });
  const exited = new Promise<number>((resolve, reject) => {
    child.on('error', reject);
    child.on('close', (code) => resolve(code ?? 1));
  });
  const feeding = io.stdin
    ? pipeline(io.stdin, child.stdin!).catch((error: unknown) => {
        child.kill();
        throw error;
      })
    : Promise.resolve();
  const consuming = io.consume ? io.consume(child.stdout!) : Promise.resolve(undefined);
  const [code, fed, consumed] = await Promise.allSettled([exited, feeding, consuming]);
  if (code.status === 'rejected') throw new Error(`${path}: ${(code.reason as Error).message}`);
  // A broken input (a wrong key, a tampered file) is the cause; the tool's complaint is its effect.
  if (fed.status === 'rejected' && (fed.reason as NodeJS.ErrnoException).code !== 'EPIPE') throw fed.reason;
  if (code.value !== 0) throw new Error(`${path} exited with ${code.value}: ${stderr.trim()}`);
  if (consumed.status === 'rejected') throw consumed.reason;
  return consumed.value;
}

/**
 * Dumps `schemas` with pg_dump (custom format, uncompressed: the backup file is compressed as a
 * whole) inside a REPEATABLE READ transaction whose exported snapshot pg_dump uses, and counts the
 * rows of every table in that same snapshot.
 */
export async function dumpPostgres<T>(options: {
  url: string;
  schemas: string[];
  tools: PgTools;
  sink: (dump: Readable) => Promise<T>;
}): Promise<{ sunk: T; rowCounts: Record<string, number> }> {
  const client = new pg.Client({ connectionString: options.url, application_name: 'mic-backup' });
  await client.connect();
  try {
    await client.query('begin isolation level repeatable read read only');
    const { rows } = await client.query<{ snapshot: string }>('select pg_export_snapshot() as snapshot');
    const rowCounts = await countRows(
      async (text) => (await client.query<Record<string, unknown>>(text)).rows,
      options.schemas,
    );
    const args = [
      '--format=custom',
      '--compress=0',
      '--no-owner',
      '--no-privileges',
      `--snapshot=${rows[0]!.snapshot}`,
    ];
    for (const schema of options.schemas) args.push(`--schema=${schema}`);
    const sunk = await runTool(tool(options.tools, 'pg_dump'), args, options.url, { consume: options.sink });
    await client.query('commit');
    return { sunk: sunk as T, rowCounts };
  } finally {
    await client.end().catch(() => {});
  }
}

/** Restores a custom-format dump into the database at `url`, in one transaction (all or nothing). */
export async function restorePostgres(options: { url: string; dump: Readable; tools: PgTools }): Promise<void> {
  await runTool(
    tool(options.tools, 'pg_restore'),
    [
      '--no-owner',
      '--no-privileges',
      '--exit-on-error',
      '--single-transaction',
      `--dbname=${libpqEnv(options.url).PGDATABASE}`,
    ],
    options.url,
    { stdin: options.dump },
  );
}

async function withClient<T>(url: string, run: (client: pg.Client) => Promise<T>): Promise<T> {
  const client = new pg.Client({ connectionString: url, application_name: 'mic-backup' });
  await client.connect();
  try {
    return await run(client);
  } finally {
    await client.end().catch(() => {});
  }
}

/** The same server's URL for another database. */
function databaseUrl(url: string, database: string): string {
  const u = new URL(url);
  u.pathname = `/${encodeURIComponent(database)}`;
  return u.toString();
}

/**
 * Runs `use` on a new, empty database on the same server (its role needs CREATEDB), dropped
 * afterwards whatever happens.
 */
export async function withScratchDatabase<T>(
  url: string,
  use: (scratchUrl: string, name: string) => Promise<T>,
): Promise<T> {
  const name = `mic_verify_${randomBytes(6).toString('hex')}`;
  await withClient(url, (c) => c.query(`create database "${name}"`));
  try {
    return await use(databaseUrl(url, name), name);
  } finally {
    await withClient(url, (c) => c.query(`drop database if exists "${name}" with (force)`)).catch(() => {});
  }
}

/**
 * Sessions open on the plane's database by its processes (their pools name themselves
 * `mic-<schema>`), on any machine: a restore must wait until there are none.
 */
export function planeSessions(url: string, schema: string): Promise<number> {
  return withClient(url, async (client) => {
    const { rows } = await client.query<{ n: number }>(
      'select count(*)::int as n from pg_stat_activity where datname = current_database() and application_name = $1',
      [`mic-${schema}`],
    );
    return rows[0]?.n ?? 0;
  });
}

/** Counts the rows of `schemas` in the database at `url`. */
export function countRowsAt(url: string, schemas: string[]): Promise<Record<string, number>> {
  return withClient(url, (client) =>
    countRows(async (text) => (await client.query<Record<string, unknown>>(text)).rows, schemas),
  );
}

/**
 * Moves a plane's live schemas out of the way under `suffix` before a restore; returns a function
 * that puts them back (restore failed) and the names they are kept under.
 */
export async function setSchemasAside(
  url: string,
  schemas: string[],
  suffix: string,
): Promise<{ keptAs: string[]; putBack: () => Promise<void> }> {
  return withClient(url, async (client) => {
    const { rows } = await client.query<{ name: string }>(
      'select nspname as name from pg_namespace where nspname = any($1)',
      [schemas],
    );
    const moved = rows.map((r) => ({ from: r.name, to: `${r.name}_${suffix}`.slice(0, 63) }));
    await client.query('begin');
    for (const m of moved) await client.query(`alter schema "${m.from}" rename to "${m.to}"`);
    await client.query('commit');
    return {
      keptAs: moved.map((m) => m.to),
      putBack: () =>
        withClient(url, async (c) => {
          await c.query('begin');
          for (const m of moved) {
            await c.query(`drop schema if exists "${m.from}" cascade`);
            await c.query(`alter schema "${m.to}" rename to "${m.from}"`);
          }
          await c.query('commit');
        }),
    };
  });
}
