import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { sql } from 'drizzle-orm';
import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';
import type { BackupList, ControlPublicKey, InstanceBackup, LiveRestore, TakenBackup } from '@mic/contracts';
import { startNexusSim } from '@mic/nexus-sim';
import {
  BACKUP_QUEUE,
  BackupKey,
  openDatabase,
  restoreBackup,
  withScratchDatabase,
  type HealthReport,
} from '@mic/platform';
import { TEST_DATABASE_URL, eventually } from '@mic/platform/testing';
import { startTestControl, type TestControl } from '../../testing.ts';
import { CONTROL_MIGRATIONS } from '../../server.ts';

let control: TestControl;
let root: string;

beforeAll(async () => {
  root = mkdtempSync(join(tmpdir(), 'mic-control-backups-'));
  control = await startTestControl({
    BACKUP_DIR: join(root, 'backups'),
    BACKUP_KEY_FILE: join(root, 'keys', 'backup.key'),
    QUEUE_POLLING_INTERVAL: '500ms',
  });
});
afterAll(async () => {
  await control?.stop();
  rmSync(root, { recursive: true, force: true });
});

const health = async (path: string) => {
  const res = await control.app.inject({ method: 'GET', url: path });
  return res.json<HealthReport>();
};

/** The tenant names in a restored copy of `backup`: a scratch database (Postgres) or data folder (PGlite). */
async function tenantsInScratchRestore(backup: TakenBackup['backup']): Promise<string[]> {
  const backups = control.app.backups!;
  const key = BackupKey.load(backups.settings.keyFile);
  const read = async (options: { url?: string; dataDir: string }) => {
    const db = await openDatabase({ ...options, schema: control.app.db.schema, migrationsFolder: CONTROL_MIGRATIONS });
    try {
      return (await db.orm.execute<{ name: string }>(sql`select name from tenants order by name`)).rows.map(
        (r) => r.name,
      );
    } finally {
      await db.close();
    }
  };
  const restore = (target: Parameters<typeof restoreBackup>[0]['target']) =>
    restoreBackup({ folder: backups.folder, manifest: backup, key, target, pgTools: {}, now: new Date() });
  if (backup.kind === 'postgres') {
    return withScratchDatabase(TEST_DATABASE_URL!, async (url) => {
      await restore({ kind: 'postgres', url, replace: false });
      return read({ url, dataDir: 'memory://' });
    });
  }
  const dataDir = join(root, 'scratch-control');
  await restore({ kind: 'pglite', dir: dataDir, replace: false });
  return read({ dataDir });
}

describe(`control backups on ${TEST_DATABASE_URL ? 'Postgres' : 'PGlite'}`, () => {
  it('passes its own health check on a fresh install, apart from /health/api and /health/db', async () => {
    const report = await health('/health/backups');
    expect(report.status).toBe('pass');
    expect(Object.keys(report.checks).sort()).toEqual(['backups:keys', 'backups:latest']);
    expect(Object.keys((await health('/health/api')).checks)).not.toContain('backups:latest');
    expect(Object.keys((await health('/health/db')).checks)).not.toContain('backups:latest');
  });

  it("answers 503 for the engine's backups while the engine is unreachable", async () => {
    const res = await control.app.inject({ method: 'GET', url: '/v1/engine/backups', headers: control.operator });
    expect(res.statusCode).toBe(503);
    expect(res.json()).toMatchObject({ type: expect.stringContaining('engine-unavailable') as string });
  });

  it('backs up, and a tenant deleted afterwards is in the backup restored into a scratch database', async () => {
    const created = await control.app.inject({
      method: 'POST',
      url: '/v1/tenants',
      headers: control.operator,
      payload: { name: 'Acme Backups' },
    });
    expect(created.statusCode).toBe(201);
    const tenantId = created.json<{ id: string }>().id;

    const res = await control.app.inject({
      method: 'POST',
      url: '/v1/backups',
      headers: control.operator,
      payload: { label: 'before cleanup' },
    });
    expect(res.statusCode).toBe(201);
    const taken = res.json<TakenBackup>();
    expect(taken.backup).toMatchObject({ state: 'verified', trigger: 'manual', label: 'before cleanup' });
    expect(taken.backup.verification).toMatchObject({ ok: true, problems: [] });
    expect(taken.backup.rowCounts[`${control.app.db.schema}.tenants`]).toBeGreaterThanOrEqual(1);
    expect(taken.steps.length).toBeGreaterThanOrEqual(4);
    expect(taken.keyLocations.join()).toContain(join(root, 'keys', 'backup.key'));

    await control.app.db.orm.execute(sql`delete from tenants where id = ${tenantId}`);
    const gone = await control.app.inject({ method: 'GET', url: `/v1/tenants/${tenantId}`, headers: control.operator });
    expect(gone.statusCode).toBe(404);

    expect(await tenantsInScratchRestore(taken.backup)).toContain('Acme Backups');

    const list = await control.app.inject({ method: 'GET', url: '/v1/backups', headers: control.operator });
    expect(list.json<{ backups: { id: string }[] }>().backups.map((b) => b.id)).toContain(taken.backup.id);
    const audit = await control.app.inject({
      method: 'GET',
      url: '/v1/audit?action=backup.create',
      headers: control.operator,
    });
    expect(JSON.stringify(audit.json())).toContain(taken.backup.id);
  });

  it('schedules a daily backup with pg-boss cron, whose job takes a scheduled backup', async () => {
    const [schedule] = await control.app.queue.boss.getSchedules(BACKUP_QUEUE);
    expect(schedule).toMatchObject({ name: BACKUP_QUEUE, cron: '0 3 * * *' });

    await control.app.queue.send(BACKUP_QUEUE, {});
    const scheduled = await eventually(
      async () => (await control.app.backups!.list()).find((b) => b.trigger === 'scheduled'),
      60_000,
    );
    expect(scheduled).toMatchObject({ state: 'verified', trigger: 'scheduled' });
  });

  it('warns until a copy of the keys is confirmed, and records who confirmed it', async () => {
    const before = await health('/health/backups');
    expect(before.status).toBe('warn');
    expect(before.checks['backups:keys']?.[0]?.output).toContain('mic backup confirm-keys');

    const readOnly = await control.loginAs('read-only');
    const refused = await control.app.inject({
      method: 'POST',
      url: '/v1/backups/keys-confirmation',
      headers: readOnly,
    });
    expect(refused.statusCode).toBe(403);
    const confirmed = await control.app.inject({
      method: 'POST',
      url: '/v1/backups/keys-confirmation',
      headers: control.operator,
    });
    expect(confirmed.statusCode).toBe(201);

    expect((await health('/health/backups')).status).toBe('pass');
    const audit = await control.app.inject({
      method: 'GET',
      url: '/v1/audit?action=backup.keys-confirmed',
      headers: control.operator,
    });
    expect(JSON.stringify(audit.json())).toContain('backup.keys-confirmed');
  });

  it("lists an instance's backups: the backup commands sent to it and what it answered", async () => {
    const publicKey = (
      await control.app.inject({ method: 'GET', url: '/v1/instance-control/public-key', headers: control.operator })
    ).json<ControlPublicKey>();
    const sim = await startNexusSim({
      secrets: ['whsec_dGVzdHRlc3R0ZXN0dGVzdHRlc3Q='],
      controlPublicKey: publicKey.publicKeyPem,
      instanceId: 'ins_backup1',
    });
    control.app.instanceControl.useDirectory({
      controlTarget: async (id) => (id === 'ins_backup1' ? { controlUrl: `${sim.url}/control` } : null),
      probeTargets: async () => [],
    });
    try {
      const issued = await control.app.inject({
        method: 'POST',
        url: '/v1/instances/ins_backup1/commands',
        headers: control.operator,
        payload: { command: 'backup', args: { label: 'nightly' } },
      });
      expect(issued.statusCode).toBe(202);
      const listed = await eventually(async () => {
        const res = await control.app.inject({
          method: 'GET',
          url: '/v1/instances/ins_backup1/backups',
          headers: control.operator,
        });
        const items = res.json<InstanceBackup[]>();
        return items[0]?.state === 'succeeded' ? items : undefined;
      });
      expect(listed).toHaveLength(1);
      expect(listed[0]).toMatchObject({
        label: 'nightly',
        backupId: expect.stringMatching(/^bkp_/) as string,
        error: null,
      });
    } finally {
      await sim.stop();
    }
  });

  it('verifies a backup again on request, without touching the live database, and says when its file is damaged', async () => {
    const backup = (await control.app.backups!.list()).find((b) => b.state === 'verified')!;
    const verify = (id: string, headers = control.operator) =>
      control.app.inject({ method: 'POST', url: `/v1/backups/${id}/verify`, headers });

    const read = await control.loginAs('read-only');
    expect((await verify(backup.id, read)).statusCode).toBe(403);
    const res = await verify(backup.id);
    expect(res.statusCode).toBe(200);
    expect(res.json()).toMatchObject({ ok: true, problems: [] });
    expect(res.json<{ rows: number }>().rows).toBeGreaterThan(0);
    expect((await verify('control-20200101T000000Z-abcdef')).json()).toMatchObject({
      status: 404,
      type: '/problems/backup-not-found',
    });
    const audit = await control.app.inject({
      method: 'GET',
      url: '/v1/audit?action=backup.verify',
      headers: control.operator,
    });
    expect(JSON.stringify(audit.json())).toContain(backup.id);

    // A file changed on disk no longer matches its manifest's checksum.
    const file = join(control.app.backups!.folder, backup.file!);
    const bytes = readFileSync(file);
    try {
      writeFileSync(file, Buffer.concat([bytes, Buffer.from('x')]));
      const damaged = await verify(backup.id);
      expect(damaged.statusCode).toBe(200);
      expect(damaged.json()).toMatchObject({ ok: false });
      expect(JSON.stringify(damaged.json())).toMatch(/checksum|sha-?256/i);
    } finally {
      writeFileSync(file, bytes);
    }
  });

  it('restores into live control only when confirmed: answers 202, then control restarts to apply it', async () => {
    const backup = (await control.app.backups!.list()).find((b) => b.state === 'verified')!;
    const restart = vi.fn();
    control.app.backups!.restartForRestore = restart;
    const ask = (id: string, payload: object, headers = control.operator) =>
      control.app.inject({ method: 'POST', url: `/v1/backups/${id}/restore`, headers, payload });

    const support = await control.loginAs('support');
    expect((await ask(backup.id, { confirm: 'control' }, support)).statusCode).toBe(403);
    const unconfirmed = await ask(backup.id, { confirm: 'yes' });
    expect(unconfirmed.statusCode).toBe(422);
    expect(unconfirmed.json()).toMatchObject({ type: '/problems/restore-not-confirmed' });
    expect((await ask('control-20200101T000000Z-abcdef', { confirm: 'control' })).json()).toMatchObject({
      status: 404,
      type: '/problems/backup-not-found',
    });
    expect(restart).not.toHaveBeenCalled();

    const res = await ask(backup.id, { confirm: 'control' });
    expect(res.statusCode).toBe(202);
    const restore = res.json<LiveRestore>();
    expect(restore).toMatchObject({ plane: 'control', backupId: backup.id, state: 'pending' });
    expect(restore.requestedBy).toMatch(/@test\.invalid$/);
    await eventually(async () => (restart.mock.calls.length === 1 ? true : undefined));

    const again = await ask(backup.id, { confirm: 'control' });
    expect(again.statusCode).toBe(409);
    expect(again.json()).toMatchObject({ type: '/problems/restore-pending' });
    const list = await control.app.inject({ method: 'GET', url: '/v1/backups', headers: control.operator });
    expect(list.json<BackupList>().lastRestore).toMatchObject({ requestId: restore.requestId, state: 'pending' });
    const audit = await control.app.inject({
      method: 'GET',
      url: '/v1/audit?action=backup.restore-requested',
      headers: control.operator,
    });
    expect(JSON.stringify(audit.json())).toContain(restore.requestId);
  });

  it("answers 503 for a restore of the engine while the engine is unreachable, and asks for the engine's name", async () => {
    const ask = (confirm: string) =>
      control.app.inject({
        method: 'POST',
        url: '/v1/engine/backups/engine-20260101T030000Z-abcdef/restore',
        headers: control.operator,
        payload: { confirm },
      });
    expect((await ask('control')).statusCode).toBe(422);
    expect((await ask('engine')).statusCode).toBe(503);
  });
});
