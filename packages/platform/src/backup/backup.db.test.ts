import { afterEach, describe, expect, it } from 'vitest';
import { mkdtempSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { sql } from 'drizzle-orm';
import { ManualClock } from '../clock/index.ts';
import { openDatabase, type Database } from '../db/index.ts';
import { TEST_DATABASE_URL, dropSchemas, testDatabase, type TestDatabase } from '../testing/index.ts';
import {
  BackupChecksumError,
  BackupKey,
  PlaneBackups,
  countRowsAt,
  restoreBackup,
  verifyChecksum,
  withScratchDatabase,
  type BackupManifest,
  type BackupSettings,
} from './index.ts';

const FIXTURE_MIGRATIONS = join(import.meta.dirname, '..', 'testing', 'migrations');
const cleanups: (() => Promise<void> | void)[] = [];
afterEach(async () => {
  for (const cleanup of cleanups.splice(0).reverse()) await cleanup();
});

function tempDir(prefix: string): string {
  const dir = mkdtempSync(join(tmpdir(), prefix));
  cleanups.push(() => rmSync(dir, { recursive: true, force: true }));
  return dir;
}

function settings(root: string): BackupSettings {
  return {
    dir: join(root, 'backups'),
    keyFile: join(root, 'keys', 'backup.key'),
    retention: { daily: 7, weekly: 4, monthly: 12 },
    isScheduled: true,
    overdueAfterMs: 26 * 3_600_000,
    pgTools: {},
    keyLocations: [],
  };
}

async function fixtureDatabase(options: Partial<TestDatabase['options']> = {}): Promise<Database> {
  const test = testDatabase(FIXTURE_MIGRATIONS, 'bk');
  const db = await openDatabase({ ...test.options, ...options });
  cleanups.push(async () => {
    await db.close();
    await test.drop();
  });
  await db.migrate();
  return db;
}

async function insertItems(db: Database, names: string[]): Promise<void> {
  for (const name of names) {
    await db.orm.execute(sql`insert into fixture_items (id, name) values (gen_random_uuid(), ${name})`);
  }
}

async function itemNames(db: Database): Promise<string[]> {
  const rows = await db.orm.execute<{ name: string }>(sql`select name from fixture_items order by name`);
  return rows.rows.map((r) => r.name);
}

/** Restores `manifest` into a scratch database of the same kind and returns its item names. */
async function namesInScratch(backups: PlaneBackups, manifest: BackupManifest, schema: string): Promise<string[]> {
  const key = BackupKey.load(backups.settings.keyFile);
  const now = new Date();
  if (manifest.kind === 'postgres') {
    return withScratchDatabase(TEST_DATABASE_URL!, async (url) => {
      await restoreBackup({
        folder: backups.folder,
        manifest,
        key,
        target: { kind: 'postgres', url, replace: false },
        pgTools: {},
        now,
      });
      const restored = await openDatabase({ url, dataDir: 'memory://', schema, migrationsFolder: FIXTURE_MIGRATIONS });
      try {
        return await itemNames(restored);
      } finally {
        await restored.close();
      }
    });
  }
  const dir = join(tempDir('mic-restore-'), 'control');
  await restoreBackup({
    folder: backups.folder,
    manifest,
    key,
    target: { kind: 'pglite', dir, replace: false },
    pgTools: {},
    now,
  });
  const restored = await openDatabase({ dataDir: dir, schema, migrationsFolder: FIXTURE_MIGRATIONS });
  try {
    return await itemNames(restored);
  } finally {
    await restored.close();
  }
}

describe(`backups on ${TEST_DATABASE_URL ? 'Postgres' : 'PGlite'}`, () => {
  it('takes an encrypted, checksummed backup, verifies it in a scratch database and restores what was deleted', async () => {
    const db = await fixtureDatabase();
    await insertItems(db, ['acme', 'globex', 'initech']);
    const root = tempDir('mic-backup-');
    const backups = new PlaneBackups({
      plane: 'control',
      database: db,
      settings: settings(root),
      clock: new ManualClock('2026-03-01T03:00:00Z'),
      version: '1.0.0',
    });
    const steps: string[] = [];

    const manifest = await backups.take({ trigger: 'manual', onStep: (line) => steps.push(line) });

    expect(manifest).toMatchObject({
      state: 'verified',
      kind: db.kind,
      createdAt: '2026-03-01T03:00:00.000Z',
      error: null,
    });
    expect(manifest.rowCounts[`${db.schema}.fixture_items`]).toBe(3);
    expect(manifest.verification).toMatchObject({ ok: true, problems: [] });
    expect(steps.join('\n')).toMatch(/dumping[\s\S]*wrote[\s\S]*verified[\s\S]*retention/);
    expect(statSync(join(root, 'keys', 'backup.key')).mode & 0o777).toBe(0o600);
    // Encrypted: the rows' text is nowhere in the file.
    expect(readFileSync(join(backups.folder, manifest.file!)).includes('initech')).toBe(false);
    expect(await backups.list()).toEqual([manifest]);

    await db.orm.execute(sql`delete from fixture_items where name = 'globex'`);
    expect(await itemNames(db)).toEqual(['acme', 'initech']);
    expect(await namesInScratch(backups, manifest, db.schema)).toEqual(['acme', 'globex', 'initech']);
  });

  it('detects a corrupted backup file by its checksum, and refuses to restore it', async () => {
    const db = await fixtureDatabase();
    await insertItems(db, ['acme']);
    const root = tempDir('mic-backup-');
    const backups = new PlaneBackups({
      plane: 'engine',
      database: db,
      settings: settings(root),
      clock: new ManualClock('2026-03-01T03:00:00Z'),
      version: '1.0.0',
    });
    const manifest = await backups.take({ trigger: 'scheduled' });
    const path = join(backups.folder, manifest.file!);
    const bytes = readFileSync(path);
    bytes[Math.floor(bytes.length / 2)]! ^= 0xff;
    writeFileSync(path, bytes);

    await expect(verifyChecksum(backups.folder, manifest)).rejects.toThrow(BackupChecksumError);
    await expect(namesInScratch(backups, manifest, db.schema)).rejects.toThrow(/is damaged: its SHA-256/);
    const again = await backups.verify(manifest);
    expect(again.ok).toBe(false);
    expect(again.problems.join()).toMatch(/damaged/);
  });

  it('reports a scheduled backup that failed or is overdue as warn, and a fresh install as pass', async () => {
    const db = await fixtureDatabase();
    const root = tempDir('mic-backup-');
    const clock = new ManualClock('2026-03-01T03:00:00Z');
    const backups = new PlaneBackups({
      plane: 'control',
      database: db,
      settings: settings(root),
      clock,
      version: '1.0.0',
    });
    const [latest, keys] = backups.healthChecks();
    expect(await latest!.run()).toMatchObject({ status: 'pass', output: 'no backup yet' });
    expect(await keys!.run()).toMatchObject({ status: 'pass' });

    await backups.take({ trigger: 'scheduled' });
    expect(await latest!.run()).toMatchObject({ status: 'pass' });
    expect(await keys!.run()).toMatchObject({
      status: 'warn',
      output: expect.stringContaining('mic backup confirm-keys') as string,
    });

    clock.advance(27 * 3_600_000);
    expect(await latest!.run()).toMatchObject({ status: 'warn', output: expect.stringContaining('overdue') as string });

    const unreadableKey = join(root, 'keys', 'broken.key');
    writeFileSync(unreadableKey, 'not a key', { mode: 0o600 });
    const broken = new PlaneBackups({
      plane: 'control',
      database: db,
      settings: { ...settings(root), keyFile: unreadableKey },
      clock,
      version: '1.0.0',
    });
    const failed = await broken.take({ trigger: 'scheduled' });
    expect(failed).toMatchObject({
      state: 'failed',
      file: null,
      error: expect.stringContaining('not a backup key file') as string,
    });
    expect(await latest!.run()).toMatchObject({ status: 'warn', output: expect.stringContaining('failed') as string });
  });
});

describe.runIf(TEST_DATABASE_URL)('restoring a live Postgres plane', () => {
  it('puts the schema back as it was in the backup and keeps the replaced one aside', async () => {
    const db = await fixtureDatabase();
    await insertItems(db, ['acme', 'globex']);
    const root = tempDir('mic-backup-');
    const backups = new PlaneBackups({
      plane: 'control',
      database: db,
      settings: settings(root),
      clock: new ManualClock('2026-03-01T03:00:00Z'),
      version: '1.0.0',
    });
    const manifest = await backups.take({ trigger: 'manual' });
    await db.orm.execute(sql`delete from fixture_items`);
    const { keptAs } = await restoreBackup({
      folder: backups.folder,
      manifest,
      key: BackupKey.load(backups.settings.keyFile),
      target: { kind: 'postgres', url: TEST_DATABASE_URL!, replace: true },
      pgTools: {},
      now: new Date('2026-03-02T10:00:00Z'),
    });
    cleanups.push(async () => {
      await dropSchemas(TEST_DATABASE_URL!, keptAs);
    });
    expect(keptAs).toEqual([`${db.schema}_before_restore_20260302t100000000z`]);
    expect(await itemNames(db)).toEqual(['acme', 'globex']);
    expect(await countRowsAt(TEST_DATABASE_URL!, keptAs)).toMatchObject({ [`${keptAs[0]}.fixture_items`]: 0 });
  });
});

describe.skipIf(TEST_DATABASE_URL)('restoring a live PGlite plane', () => {
  it('refuses while the plane holds its folder, and replaces the folder once it is stopped', async () => {
    const root = tempDir('mic-backup-');
    const dataDir = join(root, 'control');
    const db = await openDatabase({ dataDir, schema: 'control', migrationsFolder: FIXTURE_MIGRATIONS });
    await db.migrate();
    await insertItems(db, ['acme']);
    const backups = new PlaneBackups({
      plane: 'control',
      database: db,
      settings: settings(root),
      clock: new ManualClock('2026-03-01T03:00:00Z'),
      version: '1.0.0',
    });
    const manifest = await backups.take({ trigger: 'manual' });
    await db.orm.execute(sql`delete from fixture_items`);
    const restore = () =>
      restoreBackup({
        folder: backups.folder,
        manifest,
        key: BackupKey.load(backups.settings.keyFile),
        target: { kind: 'pglite', dir: dataDir, replace: true },
        pgTools: {},
        now: new Date('2026-03-02T10:00:00Z'),
      });
    await expect(restore()).rejects.toThrow(/in use by process/);
    await db.close();

    const { keptAs } = await restore();
    expect(keptAs).toEqual([`${dataDir}.before-restore-20260302t100000000z`]);
    const reopened = await openDatabase({ dataDir, schema: 'control', migrationsFolder: FIXTURE_MIGRATIONS });
    try {
      expect(await itemNames(reopened)).toEqual(['acme']);
    } finally {
      await reopened.close();
    }
  });
});
