import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';
import type { BackupList, LiveRestore, TakenBackup } from '@mic/contracts';
import type { HealthReport } from '@mic/platform';
import { TEST_DATABASE_URL, eventually, startTestBucketServer, type TestBucketServer } from '@mic/platform/testing';
import { startTestEngine, type TestEngine } from '../../testing.ts';

let engine: TestEngine;
let root: string;
let s3: TestBucketServer;
const S3_SECRET = 'secret-that-must-never-show-0123456789';

beforeAll(async () => {
  root = mkdtempSync(join(tmpdir(), 'mic-engine-backups-'));
  s3 = await startTestBucketServer(['engine-backups']);
  engine = await startTestEngine({
    BACKUP_DIR: join(root, 'backups'),
    BACKUP_KEY_FILE: join(root, 'backup.key'),
    BACKUP_S3_BUCKET: 'engine-backups',
    BACKUP_S3_ENDPOINT: s3.endpoint,
    BACKUP_S3_ACCESS_KEY_ID: 'S3RVER',
    BACKUP_S3_SECRET_ACCESS_KEY: S3_SECRET,
    BACKUP_S3_FORCE_PATH_STYLE: 'true',
  });
});
afterAll(async () => {
  await engine?.stop();
  await s3?.stop();
  rmSync(root, { recursive: true, force: true });
});

describe(`engine backups on ${TEST_DATABASE_URL ? 'Postgres' : 'PGlite'}`, () => {
  it('takes a verified backup when mic backup asks the running engine, and health names the keyring', async () => {
    const refused = await engine.app.inject({ method: 'POST', url: '/internal/v1/backups', payload: {} });
    expect(refused.statusCode).toBe(401);

    const res = await engine.app.inject({
      method: 'POST',
      url: '/internal/v1/backups',
      headers: engine.auth,
      payload: {},
    });
    expect(res.statusCode).toBe(201);
    const taken = res.json<TakenBackup>();
    expect(taken.backup).toMatchObject({ plane: 'engine', state: 'verified', trigger: 'manual' });
    expect(taken.backup.schemas).toEqual([engine.app.db.schema, `${engine.app.db.schema}_queue`]);
    expect(taken.keyLocations).toEqual([
      `the backup key: ${join(root, 'backup.key')}`,
      "the engine's keyring: memory (tests only)",
    ]);

    const list = await engine.app.inject({ method: 'GET', url: '/internal/v1/backups', headers: engine.auth });
    expect(list.json<BackupList>().backups.map((b) => b.id)).toEqual([taken.backup.id]);

    const health = (await engine.app.inject({ method: 'GET', url: '/health/backups' })).json<HealthReport>();
    expect(health.status).toBe('warn');
    expect(health.checks['backups:latest']?.[0]?.status).toBe('pass');
    expect(health.checks['backups:keys']?.[0]?.output).toContain("the engine's keyring");
  });

  it('copies its backups to the configured bucket, and names the bucket but never its secret', async () => {
    const list = await engine.app.inject({ method: 'GET', url: '/internal/v1/backups', headers: engine.auth });
    const body = list.json<BackupList>();
    expect(body.bucket).toBe(`s3://engine-backups/mic/ at ${new URL(s3.endpoint).host}`);
    expect(body.backups[0]!.copy).toMatchObject({
      state: 'uploaded',
      key: `mic/engine/${body.backups[0]!.file}`,
      sha256: body.backups[0]!.sha256,
    });
    expect((await engine.app.backups!.bucket!.list('engine')).map((b) => b.id)).toEqual([body.backups[0]!.id]);
    const health = await engine.app.inject({ method: 'GET', url: '/health/backups' });
    expect(health.json<HealthReport>().checks['backups:bucket']?.[0]?.status).toBe('pass');
    expect(list.body + health.body).not.toContain(S3_SECRET);
  });

  it('restores into the live engine when asked: answers 202, then restarts to apply it', async () => {
    const [backup] = (await engine.app.backups!.list()).filter((b) => b.state === 'verified');
    const restart = vi.fn();
    engine.app.backups!.restartForRestore = restart;
    const res = await engine.app.inject({
      method: 'POST',
      url: `/internal/v1/backups/${backup!.id}/restore`,
      headers: engine.auth,
      payload: { by: 'owner@example.com', actor: { type: 'operator', id: 'op_1', label: 'owner@example.com' } },
    });
    expect(res.statusCode).toBe(202);
    expect(res.json<LiveRestore>()).toMatchObject({ plane: 'engine', backupId: backup!.id, state: 'pending' });
    await eventually(async () => (restart.mock.calls.length === 1 ? true : undefined));
  });
});
