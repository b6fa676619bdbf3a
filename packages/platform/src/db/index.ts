import { PGlite } from '@electric-sql/pglite';
import { drizzle as drizzlePglite } from 'drizzle-orm/pglite';
import { migrate as migratePglite } from 'drizzle-orm/pglite/migrator';
import { drizzle as drizzlePg } from 'drizzle-orm/node-postgres';
import { migrate as migratePg } from 'drizzle-orm/node-postgres/migrator';
import type { NodePgDatabase } from 'drizzle-orm/node-postgres';
import { sql } from 'drizzle-orm';
import pg from 'pg';
import type { Db as QueueDb } from 'pg-boss';
import { fromPglite } from 'pg-boss';
import { readdirSync } from 'node:fs';
import { lockDataDir } from './lock.ts';

export { DataDirLockedError, lockDataDir, lockHolder } from './lock.ts';
export { persistently, type PersistentlyOptions } from './persistently.ts';
export { GroupWriter, type GroupWriterOptions } from './group-writer.ts';

/**
 * The Drizzle client every module uses. PGlite's client has the same query API and result shape
 * (`rows`), so both are typed as the node-postgres one.
 */
export type Db = NodePgDatabase<Record<string, never>>;
export type DbKind = 'pglite' | 'postgres';
/** Runs one statement and returns its rows. */
export type SqlReader = <R extends Record<string, unknown>>(text: string) => Promise<R[]>;

export interface DatabaseOptions {
  /** A postgres:// URL; unset means PGlite in `dataDir`. */
  url?: string | undefined;
  /** PGlite data folder, or `memory://` for a throwaway database (tests). */
  dataDir: string;
  /** Postgres schema holding this plane's tables (one server can hold both planes). */
  schema: string;
  /** Folder of this plane's migration files (drizzle-kit output). */
  migrationsFolder: string;
  /** Postgres pool size. */
  poolSize?: number;
  /** A PGlite data dump to start from (test templates). */
  loadDataDir?: Blob;
  /** PGlite's shared_buffers (e.g. `32MB`): most of an embedded plane's memory. */
  pgliteSharedBuffers?: string;
}

export interface Database {
  readonly kind: DbKind;
  readonly schema: string;
  readonly orm: Db;
  /** What pg-boss runs on: its own pool on Postgres, the shared instance on PGlite. */
  readonly queueConnection: { db: QueueDb; backend: 'pglite' } | { connectionString: string; backend: 'postgres' };
  /** Round-trip time of `select 1`, in ms. */
  ping(): Promise<number>;
  /** Applies pending migrations and returns the names of those applied now. */
  migrate(): Promise<string[]>;
  /** Names of migration files not yet applied. */
  pendingMigrations(): Promise<string[]>;
  /** PGlite only: a tarball of the data folder (used for test templates and backups). */
  dumpDataDir?(): Promise<Blob>;
  /**
   * PGlite only: `read` runs, then the data folder is dumped, with no other query in between, so
   * what `read` saw (row counts for a backup's manifest) is exactly what the dump holds.
   */
  snapshotDataDir?<T>(read: (query: SqlReader) => Promise<T>): Promise<{ dump: Blob; read: T }>;
  close(): Promise<void>;
}

const MIGRATIONS_TABLE = '__migrations';

function assertIdentifier(name: string): string {
  if (!/^[a-z_][a-z0-9_]{0,62}$/.test(name)) throw new Error(`invalid schema name ${JSON.stringify(name)}`);
  return name;
}

function migrationFiles(folder: string): string[] {
  return readdirSync(folder)
    .filter((f) => f.endsWith('.sql'))
    .map((f) => f.replace(/\.sql$/, ''))
    .sort();
}

async function appliedCount(orm: Db, schema: string): Promise<number> {
  const exists = await orm.execute<{ present: boolean }>(
    sql`select to_regclass(${`${schema}.${MIGRATIONS_TABLE}`}) is not null as present`,
  );
  if (!exists.rows[0]?.present) return 0;
  const rows = await orm.execute<{ n: number }>(
    sql.raw(`select count(*)::int as n from "${schema}"."${MIGRATIONS_TABLE}"`),
  );
  return rows.rows[0]?.n ?? 0;
}

export async function openDatabase(options: DatabaseOptions): Promise<Database> {
  const schema = assertIdentifier(options.schema);
  return options.url ? openPostgres(options.url, schema, options) : openPglite(schema, options);
}

async function timed(run: () => Promise<unknown>): Promise<number> {
  const start = performance.now();
  await run();
  return performance.now() - start;
}

async function openPglite(schema: string, options: DatabaseOptions): Promise<Database> {
  const inMemory = options.dataDir.startsWith('memory://');
  const unlock = inMemory ? () => {} : lockDataDir(options.dataDir);
  let client: PGlite;
  try {
    client = await PGlite.create({
      ...(inMemory ? {} : { dataDir: options.dataDir }),
      ...(options.loadDataDir ? { loadDataDir: options.loadDataDir } : {}),
      postgresqlconf: [`shared_buffers=${options.pgliteSharedBuffers ?? '32MB'}`],
    });
    await client.exec(`create schema if not exists "${schema}"; set search_path to "${schema}", public`);
  } catch (error) {
    unlock();
    throw error;
  }
  const orm = drizzlePglite({ client }) as unknown as Db;
  const files = () => migrationFiles(options.migrationsFolder);
  return {
    kind: 'pglite',
    schema,
    orm,
    queueConnection: { db: fromPglite(client), backend: 'pglite' },
    ping: () => timed(() => client.query('select 1')),
    async migrate() {
      const before = await appliedCount(orm, schema);
      await migratePglite(drizzlePglite({ client }), {
        migrationsFolder: options.migrationsFolder,
        migrationsSchema: schema,
        migrationsTable: MIGRATIONS_TABLE,
      });
      return files().slice(before);
    },
    async pendingMigrations() {
      return files().slice(await appliedCount(orm, schema));
    },
    dumpDataDir: async () => client.dumpDataDir('none'),
    // Every PGlite query waits for an open transaction, and the dump waits only for the running
    // query, so inside this transaction nothing else runs between `read` and the dump.
    snapshotDataDir: <T>(read: (query: SqlReader) => Promise<T>) =>
      client.transaction(async (tx) => {
        const result = await read(async <R>(text: string) => (await tx.query<R>(text)).rows);
        return { dump: await client.dumpDataDir('none'), read: result };
      }),
    async close() {
      try {
        if (!client.closed) await client.close();
      } finally {
        unlock();
      }
    },
  };
}

async function openPostgres(url: string, schema: string, options: DatabaseOptions): Promise<Database> {
  const searchPath = `-c search_path="${schema}",public`;
  const pool = new pg.Pool({
    connectionString: url,
    max: options.poolSize ?? 10,
    options: searchPath,
    connectionTimeoutMillis: 5_000,
    application_name: `mic-${schema}`,
  });
  // An idle client that loses its server emits 'error' on the pool; without a listener that kills
  // the process. Queries fail and health reports it instead.
  pool.on('error', () => {});
  try {
    await pool.query(`create schema if not exists "${schema}"`);
  } catch (error) {
    // Two replicas creating the schema at once: "if not exists" still races in Postgres.
    const code = (error as { code?: string }).code;
    if (code !== '23505' && code !== '42P06') {
      await pool.end();
      throw error;
    }
  }
  const orm = drizzlePg({ client: pool }) as unknown as Db;
  const files = () => migrationFiles(options.migrationsFolder);
  return {
    kind: 'postgres',
    schema,
    orm,
    queueConnection: { connectionString: url, backend: 'postgres' },
    ping: () => timed(() => pool.query('select 1')),
    async migrate() {
      // Replicas starting together must not run the same migration twice: one holds the lock.
      const client = await pool.connect();
      try {
        await client.query('select pg_advisory_lock(hashtext($1))', [`mic-migrate-${schema}`]);
        const db = drizzlePg({ client });
        const before = await appliedCount(db, schema);
        await migratePg(db, {
          migrationsFolder: options.migrationsFolder,
          migrationsSchema: schema,
          migrationsTable: MIGRATIONS_TABLE,
        });
        return files().slice(before);
      } finally {
        await client.query('select pg_advisory_unlock(hashtext($1))', [`mic-migrate-${schema}`]).catch(() => {});
        client.release();
      }
    },
    async pendingMigrations() {
      return files().slice(await appliedCount(orm, schema));
    },
    async close() {
      await pool.end();
    },
  };
}
