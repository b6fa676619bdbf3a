import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { existsSync, mkdtempSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { ListObjectsV2Command, PutObjectCommand, S3Client } from '@aws-sdk/client-s3';
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
  RestorePendingError,
  applyPendingRestore,
  countRowsAt,
  latestLiveRestore,
  scheduleLiveRestore,
  restoreBackup,
  verifyChecksum,
  withScratchDatabase,
  type BackupManifest,
  type BackupSettings,
} from './index.ts';
import { startTestBucketServer, type TestBucketServer } from './bucket.testing.ts';

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

describe(`copies in an S3-compatible bucket (s3rver over HTTP), on ${TEST_DATABASE_URL ? 'Postgres' : 'PGlite'}`, () => {
  let s3: TestBucketServer;
  beforeAll(async () => {
    s3 = await startTestBucketServer(['mic-backups']);
  });
  afterAll(async () => {
    await s3?.stop();
  });

  const rawClient = () =>
    new S3Client({
      endpoint: s3.endpoint,
      region: 'us-east-1',
      forcePathStyle: true,
      credentials: { accessKeyId: 'S3RVER', secretAccessKey: 'S3RVER' },
    });

  const objectKeys = async (prefix: string) => {
    const client = rawClient();
    try {
      const listed = await client.send(new ListObjectsV2Command({ Bucket: 'mic-backups', Prefix: prefix }));
      return (listed.Contents ?? []).map((o) => o.Key!).sort();
    } finally {
      client.destroy();
    }
  };

  it('copies each verified backup with its checksum, applies retention there too, and restores from it', async () => {
    const db = await fixtureDatabase();
    await insertItems(db, ['acme', 'globex']);
    const root = tempDir('mic-backup-');
    const prefix = `run-${Date.now()}/`;
    const clock = new ManualClock('2026-03-01T03:00:00Z');
    const backups = new PlaneBackups({
      plane: 'control',
      database: db,
      settings: {
        ...settings(root),
        retention: { daily: 2, weekly: 0, monthly: 0 },
        bucket: s3.settings('mic-backups', { prefix }),
      },
      clock,
      version: '1.0.0',
    });
    const steps: string[] = [];
    const first = await backups.take({ trigger: 'scheduled', onStep: (line) => steps.push(line) });
    expect(first.copy).toMatchObject({
      state: 'uploaded',
      bucket: 'mic-backups',
      key: `${prefix}control/${first.file}`,
      sha256: first.sha256,
      error: null,
    });
    expect(steps.join('\n')).toMatch(/copying it to s3:\/\/mic-backups\/[\s\S]*copied to s3:\/\/mic-backups/);
    expect(await objectKeys(prefix)).toEqual([`${prefix}control/${first.id}.json`, `${prefix}control/${first.file}`]);
    const [, , bucketCheck] = backups.healthChecks();
    expect(bucketCheck!.name).toBe('backups:bucket');
    expect(await bucketCheck!.run()).toMatchObject({ status: 'pass' });

    // Three more daily backups: the bucket, like the folder, keeps the newest of the last 2 days.
    const ids = [first.id];
    for (let day = 0; day < 3; day++) {
      clock.advance(86_400_000);
      ids.push((await backups.take({ trigger: 'scheduled' })).id);
    }
    expect((await backups.list()).map((m) => m.id)).toEqual([ids[3], ids[2]]);
    expect((await backups.bucket!.list('control')).map((m) => m.id)).toEqual([ids[3], ids[2]]);
    expect(await objectKeys(prefix)).toHaveLength(4);

    // The machine lost its backups: the one in the bucket comes back, checked, and restores.
    const latest = (await backups.list())[0]!;
    rmSync(backups.folder, { recursive: true, force: true });
    await db.orm.execute(sql`delete from fixture_items`);
    const fetched = await backups.manifest(latest.id);
    expect(fetched).toMatchObject({ id: latest.id, sha256: latest.sha256 });
    expect(await namesInScratch(backups, fetched, db.schema)).toEqual(['acme', 'globex']);

    // A copy altered in the bucket is refused by its checksum, and nothing is left behind.
    const client = rawClient();
    try {
      await client.send(
        new PutObjectCommand({ Bucket: 'mic-backups', Key: latest.copy!.key, Body: Buffer.from('not the backup') }),
      );
    } finally {
      client.destroy();
    }
    rmSync(backups.folder, { recursive: true, force: true });
    await expect(backups.manifest(latest.id)).rejects.toThrow(BackupChecksumError);
    expect(existsSync(join(backups.folder, latest.file!))).toBe(false);
  });

  it('keeps a verified local backup when the upload fails, warns with why, never shows the secret, and copies it later', async () => {
    const db = await fixtureDatabase();
    await insertItems(db, ['acme']);
    const root = tempDir('mic-backup-');
    const secret = 'not-the-right-secret-0123456789';
    const backups = new PlaneBackups({
      plane: 'engine',
      database: db,
      settings: {
        ...settings(root),
        // s3rver takes any signature: a bucket that is not there makes the upload fail instead.
        bucket: s3.settings('no-such-bucket', {
          credentials: { accessKeyId: 'S3RVER', secretAccessKey: secret },
        }),
      },
      clock: new ManualClock('2026-03-01T03:00:00Z'),
      version: '1.0.0',
    });
    const steps: string[] = [];
    const manifest = await backups.take({ trigger: 'scheduled', onStep: (line) => steps.push(line) });

    expect(manifest.state).toBe('verified');
    expect(manifest.copy).toMatchObject({ state: 'failed', error: expect.stringMatching(/NoSuchBucket/) as string });
    expect(existsSync(join(backups.folder, manifest.file!))).toBe(true);
    const checks = backups.healthChecks();
    const latest = await checks.find((c) => c.name === 'backups:latest')!.run();
    const bucket = await checks.find((c) => c.name === 'backups:bucket')!.run();
    expect(latest).toMatchObject({ status: 'pass' });
    expect(bucket).toMatchObject({
      status: 'warn',
      output: expect.stringContaining(`the copy of ${manifest.id} to the bucket failed`) as string,
    });
    const everything = JSON.stringify({
      manifest,
      steps,
      bucket,
      onDisk: readFileSync(join(backups.folder, `${manifest.id}.json`), 'utf8'),
    });
    expect(everything).not.toContain(secret);

    // Once the bucket answers again, the next backup copies itself and the one whose copy failed.
    const healed = new PlaneBackups({
      plane: 'engine',
      database: db,
      settings: { ...settings(root), bucket: s3.settings('mic-backups', { prefix: `healed-${Date.now()}/` }) },
      clock: new ManualClock('2026-03-02T03:00:00Z'),
      version: '1.0.0',
    });
    const next = await healed.take({ trigger: 'scheduled' });
    expect(next.copy?.state).toBe('uploaded');
    expect((await healed.list()).map((m) => m.copy?.state)).toEqual(['uploaded', 'uploaded']);
    expect((await healed.bucket!.list('engine')).map((m) => m.id)).toEqual([next.id, manifest.id]);
    expect(
      await healed
        .healthChecks()
        .find((c) => c.name === 'backups:bucket')!
        .run(),
    ).toMatchObject({
      status: 'pass',
    });
  });
});

describe('restoring into the live plane: asked while it runs, applied as it starts again', () => {
  it('restores at the next start, keeps what was live aside, and records the outcome', async () => {
    const root = tempDir('mic-backup-');
    const schema = `bk_live_${Date.now().toString(36)}`;
    const options = TEST_DATABASE_URL
      ? { url: TEST_DATABASE_URL, dataDir: 'memory://', schema, migrationsFolder: FIXTURE_MIGRATIONS }
      : { dataDir: join(root, 'control'), schema, migrationsFolder: FIXTURE_MIGRATIONS };
    let db = await openDatabase(options);
    cleanups.push(async () => {
      await db.close();
      if (TEST_DATABASE_URL) await dropSchemas(TEST_DATABASE_URL, [schema, `${schema}_queue`]);
    });
    await db.migrate();
    await insertItems(db, ['acme', 'globex']);
    const backupSettings = settings(root);
    const backups = new PlaneBackups({
      plane: 'control',
      database: db,
      settings: backupSettings,
      clock: new ManualClock('2026-03-01T03:00:00Z'),
      version: '1.0.0',
    });
    const manifest = await backups.take({ trigger: 'manual' });
    await db.orm.execute(sql`delete from fixture_items where name = 'acme'`);

    const pending = await scheduleLiveRestore({
      folder: backups.folder,
      manifest,
      requestedBy: 'owner@example.com',
      actor: { type: 'operator', id: 'op_1', label: 'owner@example.com' },
      now: new Date('2026-03-02T10:00:00Z'),
    });
    expect(pending).toMatchObject({ state: 'pending', backupId: manifest.id });
    await expect(
      scheduleLiveRestore({ folder: backups.folder, manifest, requestedBy: 'x', actor: null, now: new Date() }),
    ).rejects.toThrow(RestorePendingError);

    if (TEST_DATABASE_URL) {
      // Another process of the plane still holds sessions: the restore waits, then gives up untouched.
      const refused = await applyPendingRestore({
        plane: 'control',
        settings: backupSettings,
        database: options,
        sessionWaitMs: 600,
      });
      expect(refused).toMatchObject({
        state: 'failed',
        error: expect.stringContaining('stop every replica') as string,
      });
      expect(await itemNames(db)).toEqual(['globex']);
      await scheduleLiveRestore({
        folder: backups.folder,
        manifest,
        requestedBy: 'owner@example.com',
        actor: null,
        now: new Date(),
      });
    }

    await db.close(); // the plane stops
    const lines: string[] = [];
    const outcome = await applyPendingRestore({
      plane: 'control',
      settings: backupSettings,
      database: options,
      now: () => new Date('2026-03-02T10:00:05Z'),
      log: (line) => lines.push(line),
    });
    db = await openDatabase(options); // and starts again
    expect(outcome).toMatchObject({ state: 'restored', backupId: manifest.id, error: null });
    expect(outcome!.keptAs).toEqual([
      TEST_DATABASE_URL
        ? `${schema}_before_restore_20260302t100005000z`
        : `${options.dataDir}.before-restore-20260302t100005000z`,
    ]);
    if (TEST_DATABASE_URL) cleanups.push(() => dropSchemas(TEST_DATABASE_URL!, outcome!.keptAs));
    expect(await itemNames(db)).toEqual(['acme', 'globex']);
    expect(lines.join('\n')).toContain('checksum OK');
    expect(await latestLiveRestore(backups.folder)).toMatchObject({ state: 'restored', isAudited: false });
    // Nothing pending any more: the next start does nothing.
    expect(await applyPendingRestore({ plane: 'control', settings: backupSettings, database: options })).toBeNull();
  });
});
