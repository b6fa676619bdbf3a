import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { BackupList, TakenBackup } from '@mic/contracts';
import type { HealthReport } from '@mic/platform';
import { TEST_DATABASE_URL } from '@mic/platform/testing';
import { startTestEngine, type TestEngine } from '../../testing.ts';

let engine: TestEngine;
let root: string;

beforeAll(async () => {
  root = mkdtempSync(join(tmpdir(), 'mic-engine-backups-'));
  engine = await startTestEngine({ BACKUP_DIR: join(root, 'backups'), BACKUP_KEY_FILE: join(root, 'backup.key') });
});
afterAll(async () => {
  await engine?.stop();
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
});
