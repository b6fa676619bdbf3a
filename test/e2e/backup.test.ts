import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { TEST_DATABASE_URL, dropSchemas, eventually } from '@mic/platform/testing';
import {
  controlCall,
  health,
  operatorLogin,
  micEnv,
  plainLines,
  runMic,
  systemStatus,
  waitForHealth,
  type MicEnv,
  type MicProcess,
  type OperatorSession,
} from './harness.ts';

/**
 * `mic backup` while MIC runs (each plane takes its own backup, asked over its internal API), then
 * `mic restore` while it still runs: control stops, restores as `mic start` brings it back, and
 * resumes; the data is back as it was at the backup, and the restore is in control's audit log.
 * The engine is restored the same way through control's API.
 */
let env: MicEnv;
let mic: MicProcess;
let operator: OperatorSession;

beforeAll(async () => {
  env = await micEnv();
  mic = runMic(['start'], env);
  await waitForHealth(`${mic.controlUrl}/health/engine`, 'pass');
  operator = await operatorLogin(mic, env);
});
afterAll(async () => {
  await mic?.stop();
  await env?.cleanup();
});

const tenantNames = async () =>
  (await controlCall<{ items?: { name: string }[] } | { name: string }[]>(mic, operator, 'GET', '/v1/tenants')).body;

describe('backing up a running MIC and restoring it', () => {
  it('backs up both running planes, then restores each while MIC runs', async () => {
    expect((await controlCall(mic, operator, 'POST', '/v1/tenants', { name: 'Before the backup' })).status).toBe(201);

    const backup = runMic(['backup'], env);
    expect((await backup.exited).code).toBe(0);
    const lines = plainLines(backup.output());
    for (const plane of ['control', 'engine']) {
      expect(lines).toContainEqual(expect.stringMatching(new RegExp(`^${plane}: running.*it takes the backup$`)));
      expect(lines).toContainEqual(expect.stringMatching(new RegExp(`^${plane}: verified: every table`)));
    }
    const id = /control: backup (control-\S+) is verified/.exec(backup.output())?.[1];
    expect(id).toBeTruthy();
    const engineId = /engine: backup (engine-\S+) is verified/.exec(backup.output())?.[1];
    const engineBackups = await controlCall<{ backups: { id: string }[] }>(mic, operator, 'GET', '/v1/engine/backups');
    expect(engineBackups.body.backups.map((b) => b.id)).toEqual([engineId]);

    const keys = await health(`${mic.controlUrl}/health/backups`);
    expect(keys.body.status).toBe('warn');
    const confirm = runMic(['backup', 'confirm-keys', '--yes'], env);
    expect((await confirm.exited).code).toBe(0);
    expect((await health(`${mic.controlUrl}/health/backups`)).body.status).toBe('pass');
    expect((await health(`${mic.engineUrl}/health/backups`)).body.status).toBe('pass');

    expect((await controlCall(mic, operator, 'POST', '/v1/tenants', { name: 'After the backup' })).status).toBe(201);

    // Restored while MIC runs: control stops its work, restores as mic start brings it back, and resumes.
    const controlPid = (await systemStatus(mic, 'control')).pid;
    const restore = runMic(['restore', id!, '--yes'], env);
    expect((await restore.exited).code, restore.output()).toBe(0);
    expect(restore.output()).toContain('checksum OK');
    expect(restore.output()).toContain('control: restored while it ran');
    const keptAs =
      /control: once all is well, delete the previous copy: (.+)$/m.exec(restore.output())?.[1]?.split(', ') ?? [];
    if (TEST_DATABASE_URL) await dropSchemas(TEST_DATABASE_URL, keptAs);
    await waitForHealth(`${mic.controlUrl}/health/engine`, 'pass');
    expect((await systemStatus(mic, 'control')).pid).not.toBe(controlPid);
    const names = JSON.stringify(await tenantNames());
    expect(names).toContain('Before the backup');
    expect(names).not.toContain('After the backup');
    const audit = await controlCall(mic, operator, 'GET', '/v1/audit?action=backup.restore');
    expect(JSON.stringify(audit.body)).toContain(id!);
    // Its workers run again: a backup job (a pg-boss worker) is taken and verified.
    const again = await controlCall<{ backup: { state: string } }>(mic, operator, 'POST', '/v1/backups', {});
    expect(again.body.backup.state).toBe('verified');

    // The engine too, asked through control's API by an operator.
    const engineRestore = await controlCall<{ requestId: string }>(
      mic,
      operator,
      'POST',
      `/v1/engine/backups/${engineId!}/restore`,
      { confirm: 'engine' },
    );
    expect(engineRestore.status).toBe(202);
    const done = await eventually(async () => {
      const list = await controlCall<{ lastRestore: { requestId: string; state: string; keptAs: string[] } | null }>(
        mic,
        operator,
        'GET',
        '/v1/engine/backups',
      ).catch(() => null);
      const last = list?.status === 200 ? list.body.lastRestore : null;
      return last?.requestId === engineRestore.body.requestId && last.state !== 'pending' ? last : undefined;
    }, 60_000);
    expect(done.state).toBe('restored');
    if (TEST_DATABASE_URL) await dropSchemas(TEST_DATABASE_URL, done.keptAs);
    await waitForHealth(`${mic.controlUrl}/health/engine`, 'pass');
  });
});
