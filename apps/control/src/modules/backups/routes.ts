import { Type } from 'typebox';
import {
  BackupList,
  BackupParams,
  BackupVerification,
  InstanceBackup,
  InstanceCommandQuery,
  InstanceParams,
  KeysConfirmation,
  LiveRestore,
  RestoreLive,
  RestoreReport,
  TakeBackup,
  TakenBackup,
} from '@mic/contracts';
import {
  Problem,
  backupList,
  confirmKeys,
  peerProblem,
  requestLiveRestore,
  restartedBy,
  verifyBackup,
  type HttpServer,
  type PlaneBackups,
} from '@mic/platform';
import { actorOf, type AuditActor } from '../audit/index.ts';
import type { InstanceCommandRow } from '../instance-control/index.ts';

const notConfigured = () =>
  new Problem({
    status: 409,
    type: 'backups-not-configured',
    title: 'Backups are not configured',
    detail: 'the database is in memory and BACKUP_DIR is unset',
  });

/** The operator typed the plane's name: a restore replaces that plane's live database. */
function assertConfirmed(plane: string, confirm: string): void {
  if (confirm !== plane) {
    throw new Problem({
      status: 422,
      type: 'restore-not-confirmed',
      title: 'The restore was not confirmed',
      detail: `restoring replaces ${plane}'s live database: send { "confirm": "${plane}" } to go on`,
    });
  }
}

const restoreActor = (actor: AuditActor) => ({ type: actor.type, id: actor.id, label: actor.label });

function instanceBackup(row: InstanceCommandRow): InstanceBackup {
  const result = row.result ?? {};
  const str = (v: unknown) => (typeof v === 'string' ? v : null);
  return {
    commandId: row.id,
    state: row.state as InstanceBackup['state'],
    label: str(row.args.label),
    backupId: str(result.backupId),
    sizeBytes: typeof result.sizeBytes === 'number' ? result.sizeBytes : null,
    takenAt: str(result.createdAt),
    error: row.state === 'succeeded' ? null : (row.error ?? null),
    requestedBy: row.requestedBy,
    requestedAt: row.createdAt.toISOString(),
    completedAt: row.completedAt?.toISOString() ?? null,
  };
}

export function registerBackupRoutes(app: HttpServer): void {
  const tags = ['backups'];
  const backups = (): PlaneBackups => {
    if (!app.backups) throw notConfigured();
    return app.backups;
  };

  app.get(
    '/v1/backups',
    {
      config: { permission: 'backups.read' },
      schema: {
        tags,
        summary: "Control's backups, newest first, with their verification",
        response: { 200: BackupList },
      },
    },
    () => backupList(backups()),
  );
  app.post(
    '/v1/backups/:backupId/verify',
    {
      config: { permission: 'backups.create' },
      schema: {
        tags,
        summary: "Verify one of control's backups again: restore it into a scratch database and count its rows",
        description: 'The live database is not touched. Takes as long as a restore of the backup; audited.',
        params: BackupParams,
        response: { 200: BackupVerification },
      },
    },
    async (req) => {
      const verification = await verifyBackup(backups(), req.params.backupId);
      await app.audit.record({
        actor: actorOf(req),
        action: 'backup.verify',
        target: { type: 'backup', id: req.params.backupId },
        after: verification,
      });
      return verification;
    },
  );
  app.post(
    '/v1/backups/:backupId/restore',
    {
      config: { permission: 'backups.restore' },
      schema: {
        tags,
        summary: "Restore a backup into control's live database",
        description:
          'Answers 202; control then stops (HTTP first, then its workers, which finish or release their jobs), ' +
          'restores the backup as it starts again under `mic start` (or its process manager), and resumes. What ' +
          'was live is kept aside. The outcome is audited (`backup.restore`) once control is back, and shows in ' +
          '`lastRestore` of `GET /v1/backups`.',
        params: BackupParams,
        body: RestoreLive,
        response: { 202: LiveRestore },
      },
      onResponse: async (_req, reply) => {
        if (reply.statusCode === 202) backups().restartForRestore();
      },
    },
    async (req, reply) => {
      assertConfirmed('control', req.body.confirm);
      const actor = actorOf(req);
      const restore = await requestLiveRestore(backups(), req.params.backupId, {
        by: actor.label ?? actor.type,
        actor: restoreActor(actor),
        now: app.clock.now(),
      });
      // Recorded now in case control never comes back; the restore itself replaces this log with the
      // backup's, and control records the outcome once it has restarted.
      await app.audit.record({
        actor,
        action: 'backup.restore-requested',
        target: { type: 'plane', id: 'control' },
        after: { backupId: restore.backupId, requestId: restore.requestId },
      });
      req.log.warn({ backup: restore.backupId, restartedBy: restartedBy() }, 'restoring a backup: stopping');
      void reply.status(202);
      return restore;
    },
  );
  app.post(
    '/v1/engine/backups/:backupId/restore',
    {
      config: { permission: 'backups.restore' },
      schema: {
        tags,
        summary: "Restore a backup into the engine's live database",
        description:
          'Asks the engine, which answers 202, stops (HTTP, then its workers), restores as it starts again and ' +
          'resumes. Audited (`backup.restore`); the outcome shows in `lastRestore` of `GET /v1/engine/backups`.',
        params: BackupParams,
        body: RestoreLive,
        response: { 202: LiveRestore },
      },
    },
    async (req, reply) => {
      assertConfirmed('engine', req.body.confirm);
      const actor = actorOf(req);
      let restore: LiveRestore;
      try {
        restore = await app.engine.request<LiveRestore>(
          'POST',
          `/internal/v1/backups/${encodeURIComponent(req.params.backupId)}/restore`,
          { by: actor.label ?? actor.type, actor: restoreActor(actor) },
        );
      } catch (error) {
        throw peerProblem(error, 'engine');
      }
      await app.audit.record({
        actor,
        action: 'backup.restore',
        target: { type: 'plane', id: 'engine' },
        after: restore,
      });
      void reply.status(202);
      return restore;
    },
  );
  app.get(
    '/v1/engine/backups',
    {
      config: { permission: 'backups.read' },
      schema: {
        tags,
        summary: "The engine's backups, newest first, as the engine reports them (503 while it is unreachable)",
        response: { 200: BackupList },
      },
    },
    async () => {
      try {
        return await app.engine.request<BackupList>('GET', '/internal/v1/backups');
      } catch (error) {
        throw peerProblem(error, 'engine');
      }
    },
  );
  app.post(
    '/v1/backups',
    {
      config: { permission: 'backups.create' },
      schema: {
        tags,
        summary: "Take a verified backup of control's database now (the engine's: mic backup engine)",
        body: TakeBackup,
        response: { 201: TakenBackup },
      },
    },
    async (req, reply) => {
      const steps: string[] = [];
      const backup = await backups().take({
        trigger: 'manual',
        label: req.body.label ?? null,
        onStep: (line) => steps.push(line),
      });
      await app.audit.record({
        actor: actorOf(req),
        action: 'backup.create',
        target: { type: 'backup', id: backup.id },
        after: { state: backup.state, sha256: backup.sha256, error: backup.error },
      });
      void reply.status(201);
      return { backup, steps, keyLocations: backups().settings.keyLocations };
    },
  );

  const confirm = async (by: string) => {
    const { settings } = backups();
    return confirmKeys(settings.dir, settings.keyFile, by, app.clock.now());
  };
  app.post(
    '/v1/backups/keys-confirmation',
    {
      config: { permission: 'backups.keys' },
      schema: {
        tags,
        summary: 'Record that the backup key and the engine keyring have a copy outside this machine',
        response: { 201: KeysConfirmation },
      },
    },
    async (req, reply) => {
      const confirmation = await confirm(req.operator?.email ?? 'unknown');
      await app.audit.record({ actor: actorOf(req), action: 'backup.keys-confirmed', after: confirmation });
      void reply.status(201);
      return confirmation;
    },
  );
  app.post(
    '/internal/v1/backups/keys-confirmation',
    {
      schema: {
        tags,
        summary: 'Record the keys confirmation (`mic backup confirm-keys` while control runs)',
        body: Type.Object({ by: Type.String({ maxLength: 200 }) }, { additionalProperties: false }),
        response: { 201: KeysConfirmation },
      },
    },
    async (req, reply) => {
      const confirmation = await confirm(req.body.by);
      await app.audit.record({
        actor: { type: 'cli', id: req.serviceCaller?.id ?? null, label: req.body.by, requestId: req.id, ip: req.ip },
        action: 'backup.keys-confirmed',
        after: confirmation,
      });
      void reply.status(201);
      return confirmation;
    },
  );
  app.post(
    '/internal/v1/backups/restores',
    {
      schema: {
        tags,
        summary: 'Audit a restore done by `mic restore` (of the engine, while control runs)',
        body: RestoreReport,
        response: { 204: Type.Null() },
      },
    },
    async (req, reply) => {
      await app.audit.record({
        actor: { type: 'cli', id: req.serviceCaller?.id ?? null, label: req.body.by, requestId: req.id, ip: req.ip },
        action: 'backup.restore',
        target: { type: 'plane', id: req.body.plane },
        after: req.body,
      });
      void reply.status(204);
    },
  );

  app.get(
    '/v1/instances/:instanceId/backups',
    {
      config: { permission: 'instances.read' },
      schema: {
        tags,
        summary: "An instance's backups, newest first: each backup command sent to it and what it answered",
        params: InstanceParams,
        querystring: InstanceCommandQuery,
        response: { 200: Type.Array(InstanceBackup) },
      },
    },
    async (req) =>
      (await app.instanceControl.list(req.params.instanceId, { limit: req.query.limit ?? 50, command: 'backup' })).map(
        instanceBackup,
      ),
  );
}
