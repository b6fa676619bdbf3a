import { randomBytes } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { createServer } from 'node:net';
import pg from 'pg';
import { pino } from 'pino';
import type { DatabaseOptions } from '../db/index.ts';
import type { Logger } from '../logging/index.ts';
import type { Clock } from '../clock/index.ts';
import type { PlaneOverrides, StartedPlane } from '../plane/index.ts';

/**
 * Helpers for tests on a real database: PGlite by default (a fresh in-memory database cloned from a
 * template made once per run), or the Postgres at TEST_DATABASE_URL with a schema of its own per
 * test, so parallel runs never collide.
 */
export const TEST_DATABASE_URL = process.env.TEST_DATABASE_URL?.trim() || undefined;
export const PGLITE_TEMPLATE_ENV = 'MIC_TEST_PGLITE_TEMPLATE';

export function uniqueName(prefix: string): string {
  return `${prefix}_${randomBytes(5).toString('hex')}`;
}

export interface TestDatabase {
  options: DatabaseOptions;
  /** Drops what the test created (its Postgres schemas); PGlite memory needs nothing. */
  drop(): Promise<void>;
}

export function testDatabase(migrationsFolder: string, prefix = 't'): TestDatabase {
  const schema = uniqueName(prefix);
  if (TEST_DATABASE_URL) {
    return {
      options: { url: TEST_DATABASE_URL, dataDir: 'memory://', schema, migrationsFolder, poolSize: 4 },
      drop: () => dropSchemas(TEST_DATABASE_URL, [schema, `${schema}_queue`]),
    };
  }
  const template = process.env[PGLITE_TEMPLATE_ENV];
  return {
    options: {
      dataDir: 'memory://',
      schema,
      migrationsFolder,
      ...(template ? { loadDataDir: new Blob([readFileSync(template)]) } : {}),
    },
    drop: async () => {},
  };
}

export async function dropSchemas(url: string, schemas: string[]): Promise<void> {
  const client = new pg.Client({ connectionString: url });
  await client.connect();
  try {
    for (const s of schemas) await client.query(`drop schema if exists "${s}" cascade`);
  } finally {
    await client.end();
  }
}

/** A logger that keeps quiet unless TEST_LOG_LEVEL asks otherwise. */
export function testLogger() {
  return pino({ level: process.env.TEST_LOG_LEVEL ?? 'silent' });
}

export async function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = createServer();
    server.unref();
    server.on('error', reject);
    server.listen(0, '127.0.0.1', () => {
      const address = server.address();
      server.close(() => resolve(typeof address === 'object' && address ? address.port : 0));
    });
  });
}

/** Polls `probe` until it returns a value (not undefined) or `timeoutMs` passes. */
export async function eventually<T>(
  probe: () => Promise<T | undefined>,
  timeoutMs = 10_000,
  everyMs = 100,
): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  let lastError: unknown;
  for (;;) {
    try {
      const value = await probe();
      if (value !== undefined) return value;
    } catch (error) {
      lastError = error;
    }
    if (Date.now() > deadline) {
      throw new Error(
        `condition not met within ${timeoutMs} ms${lastError ? `: ${(lastError as Error).message}` : ''}`,
      );
    }
    await new Promise((r) => setTimeout(r, everyMs));
  }
}

/** The environment that points a plane's config at a test database (`prefix`: CONTROL or ENGINE). */
export function planeTestEnv(prefix: 'CONTROL' | 'ENGINE', test: TestDatabase): Record<string, string> {
  return {
    MIC_DATA_DIR: 'memory://',
    [`${prefix}_DATABASE_SCHEMA`]: test.options.schema,
    ...(test.options.url ? { [`${prefix}_DATABASE_URL`]: test.options.url } : {}),
  };
}

/** What a plane's start function takes besides its config, to load the PGlite template. */
export function planeTestOverrides(test: TestDatabase): { loadDataDir?: Blob } {
  return test.options.loadDataDir ? { loadDataDir: test.options.loadDataDir } : {};
}

export interface TestPlane extends StartedPlane {
  /** A service token this plane accepts, for its `/internal` routes. */
  token: string;
  /** `Authorization` headers carrying `token`. */
  auth: { authorization: string };
  /** Stops the plane and drops its test database. */
  stop(): Promise<void>;
}

/** A plane on a test database of its own (PGlite, or Postgres with TEST_DATABASE_URL), on a free port. */
export async function startTestPlane<C>(plane: {
  prefix: 'CONTROL' | 'ENGINE';
  migrations: string;
  loadConfig(env: Record<string, string>): C;
  start(config: C, logger: Logger, overrides: PlaneOverrides): Promise<StartedPlane>;
  env: Record<string, string>;
  clock?: Clock;
}): Promise<TestPlane> {
  const test = testDatabase(plane.migrations, plane.prefix.toLowerCase());
  const config = plane.loadConfig({ ...planeTestEnv(plane.prefix, test), [`${plane.prefix}_PORT`]: '0', ...plane.env });
  const overrides = { ...planeTestOverrides(test), ...(plane.clock ? { clock: plane.clock } : {}) };
  const started = await plane.start(config, testLogger(), overrides);
  const { token } = await started.app.serviceTokens.issue('test');
  return {
    ...started,
    token,
    auth: { authorization: `Bearer ${token}` },
    async stop() {
      await started.service.stop();
      await test.drop();
    },
  };
}
export * from '../notify/testing.ts';
export * from '../backup/bucket.testing.ts';
