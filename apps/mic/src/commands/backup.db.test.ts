import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';
import { mkdtempSync, readFileSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Readable } from 'node:stream';
import { sql } from 'drizzle-orm';
import { openDatabase, withScratchDatabase } from '@mic/platform';
import {
  TEST_DATABASE_URL,
  dropSchemas,
  startTestBucketServer,
  uniqueName,
  type TestBucketServer,
} from '@mic/platform/testing';
import { controlCli } from '@mic/control/cli';
import { adminCreate, auditVerify } from './admin.ts';
import { backupCommand, backupList, confirmKeysCommand, restoreCommand } from './backup.ts';

/**
 * The backup commands on planes that are not running: they open the databases themselves. The
 * path through a running plane is the one its `/internal/v1/backups` route serves (module tests).
 */
const dataDir = mkdtempSync(join(tmpdir(), 'mic-backup-cli-'));
const controlSchema = uniqueName('bkcli');
const engineSchema = uniqueName('bkcli_engine');
const saved = { ...process.env };
const dropLater: string[] = [];
let s3: TestBucketServer;

beforeAll(async () => {
  s3 = await startTestBucketServer(['cli-backups']);
  Object.assign(process.env, {
    BACKUP_S3_BUCKET: 'cli-backups',
    BACKUP_S3_ENDPOINT: s3.endpoint,
    BACKUP_S3_ACCESS_KEY_ID: 'S3RVER',
    BACKUP_S3_SECRET_ACCESS_KEY: 'S3RVER',
    BACKUP_S3_FORCE_PATH_STYLE: 'true',
    MIC_DATA_DIR: dataDir,
    CONTROL_DATABASE_SCHEMA: controlSchema,
    ENGINE_DATABASE_SCHEMA: engineSchema,
    ...(TEST_DATABASE_URL ? { CONTROL_DATABASE_URL: TEST_DATABASE_URL, ENGINE_DATABASE_URL: TEST_DATABASE_URL } : {}),
  });
});
afterAll(async () => {
  process.env = saved;
  await s3?.stop();
  rmSync(dataDir, { recursive: true, force: true });
  if (TEST_DATABASE_URL) await dropSchemas(TEST_DATABASE_URL, [controlSchema, engineSchema, ...dropLater]);
});

async function run(command: () => Promise<number>) {
  const out: string[] = [];
  const err: string[] = [];
  const stdout = vi.spyOn(process.stdout, 'write').mockImplementation((s) => out.push(String(s)) > 0);
  const stderr = vi.spyOn(process.stderr, 'write').mockImplementation((s) => err.push(String(s)) > 0);
  try {
    return { code: await command(), out: out.join(''), err: err.join('') };
  } finally {
    stdout.mockRestore();
    stderr.mockRestore();
  }
}

async function operatorEmails(): Promise<string[]> {
  const db = await openDatabase(controlCli.databaseOptions(controlCli.loadConfig()));
  try {
    return (await db.orm.execute<{ email: string }>(sql`select email from operators order by email`)).rows.map(
      (r) => r.email,
    );
  } finally {
    await db.close();
  }
}

const controlBackups = () => join(dataDir, 'backups', 'control');
const backupIds = () =>
  readdirSync(controlBackups())
    .filter((f) => f.endsWith('.json'))
    .map((f) => f.replace(/\.json$/, ''))
    .sort();

describe('mic backup and mic restore', () => {
  it('backs up both planes with a line per step and says where the keys are', async () => {
    const created = await run(() =>
      adminCreate(
        ['--email', 'kept@example.com', '--name', 'Kept', '--password-stdin'],
        Readable.from(['a long enough password\n']),
      ),
    );
    expect(created.code).toBe(0);

    const result = await run(() => backupCommand([]));
    expect(result).toMatchObject({ code: 0, err: '' });
    for (const plane of ['control', 'engine']) {
      expect(result.out).toMatch(
        new RegExp(`${plane}: dumping[^\\n]*\\n${plane}: wrote [^\\n]*\\n${plane}: verifying`),
      );
      expect(result.out).toMatch(new RegExp(`${plane}: backup ${plane}-\\S+ is verified`));
    }
    expect(result.out).toContain(`the backup key: ${join(dataDir, 'keys', 'backup.key')}`);
    expect(result.out).toContain(`the engine's keyring: ${join(dataDir, 'keys', 'engine-keyring.json')}`);

    expect(result.out).toMatch(/control: copied to s3:\/\/cli-backups\/mic\//);
    const list = await run(() => backupList(['control']));
    expect(list.out).toMatch(/control: 1 backup\(s\)[\s\S]*verified\s+manual.*copied to the bucket/);
    const inBucket = await run(() => backupList(['engine', '--bucket']));
    expect(inBucket.out).toMatch(/engine: 1 backup\(s\) in s3:\/\/cli-backups\/mic\/[\s\S]*verified/);
  });

  it('restores into a scratch database: an operator deleted since the backup is there', async () => {
    const db = await openDatabase(controlCli.databaseOptions(controlCli.loadConfig()));
    try {
      await db.orm.execute(sql`delete from operators`);
    } finally {
      await db.close();
    }
    expect(await operatorEmails()).toEqual([]);
    const [id] = backupIds();

    const read = async (options: { url?: string; dataDir: string }) => {
      const restored = await openDatabase({ ...controlCli.databaseOptions(controlCli.loadConfig()), ...options });
      try {
        return (await restored.orm.execute<{ email: string }>(sql`select email from operators`)).rows.map(
          (r) => r.email,
        );
      } finally {
        await restored.close();
      }
    };
    const emails = TEST_DATABASE_URL
      ? await withScratchDatabase(TEST_DATABASE_URL, async (url) => {
          const result = await run(() => restoreCommand([id!, '--into', url]));
          expect(result).toMatchObject({ code: 0, err: '' });
          return read({ url, dataDir: 'memory://' });
        })
      : await (async () => {
          const into = join(dataDir, 'scratch');
          const result = await run(() => restoreCommand([id!, '--into', into]));
          expect(result.out).toContain('checksum OK');
          return read({ dataDir: into });
        })();
    expect(emails).toEqual(['kept@example.com']);
  });

  it('refuses a corrupted backup by its checksum and changes nothing', async () => {
    const taken = await run(() => backupCommand(['control', '--label', 'to be damaged']));
    expect(taken.code).toBe(0);
    const id = backupIds().find((i) =>
      readFileSync(join(controlBackups(), `${i}.json`), 'utf8').includes('to be damaged'),
    )!;
    const file = join(controlBackups(), `${id}.mic-backup`);
    const bytes = readFileSync(file);
    bytes[bytes.length - 100]! ^= 0x01;
    writeFileSync(file, bytes);

    const result = await run(() => restoreCommand([id, '--yes']));
    expect(result.code).toBe(1);
    expect(result.err).toMatch(/^mic restore: control: restore failed, nothing was changed: .*is damaged: its SHA-256/);
    expect(await operatorEmails()).toEqual([]);
  });

  it('restores the live database after confirmation, keeps the old one aside and audits it', async () => {
    const [id] = backupIds();
    const refused = await run(() => restoreCommand([id!]));
    expect(refused.err).toContain('needs --yes outside a terminal');

    const result = await run(() => restoreCommand([id!, '--yes']));
    expect(result).toMatchObject({ code: 0, err: '' });
    expect(result.out).toContain('restored and recorded in the audit log');
    const kept = /delete the previous copy: (\S+)/.exec(result.out)?.[1];
    expect(kept).toBeTruthy();
    if (TEST_DATABASE_URL) dropLater.push(kept!);
    expect(await operatorEmails()).toEqual(['kept@example.com']);

    const verified = await run(() => auditVerify());
    expect(verified.out).toMatch(/^audit chain OK: \d+ rows/);
    const db = await openDatabase(controlCli.databaseOptions(controlCli.loadConfig()));
    try {
      const actions = await db.orm.execute<{ action: string }>(sql`select action from audit_log order by seq`);
      expect(actions.rows.map((r) => r.action)).toContain('backup.restore');
    } finally {
      await db.close();
    }
  });

  it('restores from the bucket a backup this machine no longer has, checked by its checksum', async () => {
    const [id] = backupIds();
    rmSync(controlBackups(), { recursive: true, force: true });
    const into = TEST_DATABASE_URL ? undefined : join(dataDir, 'from-bucket');
    const restore = (target: string) => run(() => restoreCommand([id!, '--into', target]));
    const result = TEST_DATABASE_URL
      ? await withScratchDatabase(TEST_DATABASE_URL, (url) => restore(url))
      : await restore(into!);
    expect(result).toMatchObject({ code: 0, err: '' });
    expect(result.out).toMatch(new RegExp(`control: fetching ${id} from s3://cli-backups/mic/`));
    expect(result.out).toMatch(/fetched .*checksum OK/);
    expect(backupIds()).toContain(id);
  });

  it('records the keys confirmation', async () => {
    const result = await run(() => confirmKeysCommand(['--yes']));
    expect(result).toMatchObject({ code: 0, err: '' });
    expect(result.out).toMatch(/confirmed at \S+ for backup key [0-9a-f]{16}/);
  });
});
