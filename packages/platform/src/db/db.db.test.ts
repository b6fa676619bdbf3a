import { afterEach, describe, expect, it } from 'vitest';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { sql } from 'drizzle-orm';
import { DataDirLockedError, openDatabase, type Database } from './index.ts';
import { TEST_DATABASE_URL, testDatabase, type TestDatabase } from '../testing/index.ts';

const FIXTURE_MIGRATIONS = join(import.meta.dirname, '..', 'testing', 'migrations');
const opened: Database[] = [];
const made: TestDatabase[] = [];

async function open(test: TestDatabase): Promise<Database> {
  const db = await openDatabase(test.options);
  opened.push(db);
  return db;
}

afterEach(async () => {
  for (const db of opened.splice(0)) await db.close();
  for (const t of made.splice(0)) await t.drop();
});

describe(`database on ${TEST_DATABASE_URL ? 'Postgres' : 'PGlite'}`, () => {
  it('applies migration files once, in order, inside its own schema', async () => {
    const test = testDatabase(FIXTURE_MIGRATIONS);
    made.push(test);
    const db = await open(test);
    expect(await db.pendingMigrations()).toEqual(['0000_fixture', '0001_fixture_note']);
    expect(await db.migrate()).toEqual(['0000_fixture', '0001_fixture_note']);
    expect(await db.migrate()).toEqual([]);
    expect(await db.pendingMigrations()).toEqual([]);
    await db.orm.execute(sql`insert into fixture_items (id, name, note) values (gen_random_uuid(), 'a', 'b')`);
    const where = await db.orm.execute<{ schema: string }>(
      sql`select table_schema as schema from information_schema.tables where table_name = 'fixture_items'`,
    );
    expect(where.rows.map((r) => r.schema)).toContain(test.options.schema);
    expect(await db.ping()).toBeGreaterThanOrEqual(0);
  });

  it.runIf(TEST_DATABASE_URL)(
    'lets replicas that start together migrate without running a migration twice',
    async () => {
      const test = testDatabase(FIXTURE_MIGRATIONS);
      made.push(test);
      const [a, b] = await Promise.all([open(test), open(test)]);
      const [appliedA, appliedB] = await Promise.all([a.migrate(), b.migrate()]);
      expect([...appliedA, ...appliedB].sort()).toEqual(['0000_fixture', '0001_fixture_note']);
    },
  );
});

describe.skipIf(TEST_DATABASE_URL)('PGlite data folder lock', () => {
  const dirs: string[] = [];
  afterEach(() => dirs.splice(0).forEach((d) => rmSync(d, { recursive: true, force: true })));

  it('refuses a second opener of a folder and frees it on close', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'mic-lock-'));
    dirs.push(dir);
    const options = { dataDir: dir, schema: 'lock_test', migrationsFolder: FIXTURE_MIGRATIONS };
    const first = await openDatabase(options);
    await expect(openDatabase(options)).rejects.toBeInstanceOf(DataDirLockedError);
    await expect(openDatabase(options)).rejects.toThrow(`the data folder ${dir} is in use by process ${process.pid}`);
    await first.close();
    const again = await openDatabase(options);
    await again.close();
  });

  it('takes back a folder whose holder died without releasing it', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'mic-lock-'));
    dirs.push(dir);
    writeFileSync(join(dir, 'mic.lock'), '999999999');
    const db = await openDatabase({ dataDir: dir, schema: 'lock_test', migrationsFolder: FIXTURE_MIGRATIONS });
    expect(readFileSync(join(dir, 'mic.lock'), 'utf8')).toBe(String(process.pid));
    await db.close();
  });
});
