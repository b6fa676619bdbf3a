import { BackupList, BackupParams, InternalRestoreLive, LiveRestore, TakeBackup, TakenBackup } from '@mic/contracts';
import { Problem, type HttpServer } from '../http/index.ts';
import type { Logger } from '../logging/index.ts';
import { isSupervised } from '../supervision/index.ts';
import { BackupBucketError } from './bucket.ts';
import type { BackupVerification } from './manifest.ts';
import { latestLiveRestore, RestorePendingError, scheduleLiveRestore, type RestoreActor } from './live-restore.ts';
import { BackupChecksumError, BackupNotFoundError, PlaneBackups, type BackupSettings } from './service.ts';

export const BACKUP_QUEUE = 'backups.take';

/** The plane's backups as `GET …/backups` answers: newest first, with the latest live restore. */
export async function backupList(backups: PlaneBackups): Promise<BackupList> {
  return {
    plane: backups.plane,
    folder: backups.folder,
    bucket: backups.bucket?.location ?? null,
    backups: await backups.list(),
    lastRestore: await latestLiveRestore(backups.folder),
  };
}

/**
 * Schedules a restore of backup `backupId` into the live plane (fetched from the bucket first when
 * it is not here), its checksum checked now so that a damaged file is refused before anything
 * stops. The route that calls this restarts the plane once it has answered.
 */
export async function requestLiveRestore(
  backups: PlaneBackups,
  backupId: string,
  request: { by: string; actor: RestoreActor | null; now: Date },
): Promise<LiveRestore> {
  try {
    const manifest = await backups.manifest(backupId);
    if (manifest.plane !== backups.plane) throw new BackupNotFoundError(backupId, backups.folder);
    if (manifest.state !== 'verified') {
      throw new Problem({
        status: 409,
        type: 'backup-failed',
        title: 'That backup failed',
        detail: `backup ${manifest.id} failed (${manifest.error ?? 'no file'}); it cannot be restored`,
      });
    }
    return await scheduleLiveRestore({
      folder: backups.folder,
      manifest,
      requestedBy: request.by,
      actor: request.actor,
      now: request.now,
    });
  } catch (error) {
    throw backupProblem(error);
  }
}

/**
 * Restores backup `backupId` into a scratch database again and compares its rows with its
 * manifest's, without touching the live plane: whether it can still be restored today.
 */
export async function verifyBackup(backups: PlaneBackups, backupId: string): Promise<BackupVerification> {
  try {
    const manifest = await backups.manifest(backupId);
    if (manifest.plane !== backups.plane) throw new BackupNotFoundError(backupId, backups.folder);
    return await backups.verify(manifest);
  } catch (error) {
    throw backupProblem(error);
  }
}

/** A backup operation's failure as the problem an operator can act on; anything else as it is. */
function backupProblem(error: unknown): unknown {
  if (error instanceof BackupNotFoundError) {
    return new Problem({ status: 404, type: 'backup-not-found', title: 'No such backup', detail: error.message });
  }
  if (error instanceof BackupChecksumError) {
    return new Problem({
      status: 422,
      type: 'backup-damaged',
      title: 'The backup file is damaged',
      detail: error.message,
    });
  }
  if (error instanceof RestorePendingError) {
    return new Problem({
      status: 409,
      type: 'restore-pending',
      title: 'A restore is already pending',
      detail: error.message,
    });
  }
  if (error instanceof BackupBucketError) {
    return new Problem({
      status: 502,
      type: 'backup-bucket-unavailable',
      title: 'The bucket could not be read',
      detail: error.message,
    });
  }
  return error;
}

/** Who restarts a plane that stops for a restore: the answer tells the operator what to expect. */
export function restartedBy(): string {
  return isSupervised() ? 'mic start' : 'the process manager that runs this plane';
}
const HEALTH_PATH = '/health/backups';

export interface PlaneBackupOptions {
  /** Undefined when there is nowhere to write (an in-memory test plane without BACKUP_DIR). */
  settings: BackupSettings | undefined;
  /** A cron expression (UTC), or `off`. */
  schedule: string;
  version: string;
}

/**
 * What both planes do for their own backups: the `/health/backups` group, the scheduled job
 * (pg-boss cron, so one replica takes each occurrence, and one missed while MIC was down runs at
 * the next start), and `/internal/v1/backups` for `mic backup` while the plane runs.
 */
export async function setUpPlaneBackups(app: HttpServer, options: PlaneBackupOptions): Promise<PlaneBackups | null> {
  app.health.group(HEALTH_PATH, `the ${app.plane} database's backups and their keys`);
  const { settings } = options;
  if (!settings) {
    app.health.add(HEALTH_PATH, {
      name: 'backups:latest',
      run: async () => ({
        status: 'pass',
        output: 'backups are off: the database is in memory and BACKUP_DIR is unset',
      }),
    });
    return null;
  }
  const backups = new PlaneBackups({
    plane: app.plane,
    database: app.db,
    settings,
    clock: app.clock,
    version: options.version,
  });
  for (const check of backups.healthChecks()) app.health.add(HEALTH_PATH, check);
  app.addHook('onClose', async () => backups.bucket?.close());
  const logger = app.log.child({ module: 'backups' }) as Logger;

  await app.queue.define(BACKUP_QUEUE, { retryLimit: 0, expireInSeconds: 6 * 3_600, deleteAfterSeconds: 7 * 86_400 });
  if (app.runsWorkers) {
    await app.queue.work(BACKUP_QUEUE, { batchSize: 1 }, async () => {
      const manifest = await backups.take({ trigger: 'scheduled', onStep: (line) => logger.info(line) });
      if (manifest.state === 'verified') logger.info({ backup: manifest.id }, 'scheduled backup verified');
      else logger.error({ backup: manifest.id, error: manifest.error }, 'scheduled backup failed');
      if (manifest.copy?.state === 'failed') {
        logger.warn({ backup: manifest.id, error: manifest.copy.error }, 'the copy to the bucket failed');
      }
    });
  }
  if (settings.isScheduled) {
    await app.queue.boss.schedule(BACKUP_QUEUE, options.schedule, {}, { tz: 'UTC', missed: 'once' });
  } else {
    await app.queue.boss.unschedule(BACKUP_QUEUE);
  }

  const tags = ['backups'];
  app.get(
    '/internal/v1/backups',
    { schema: { tags, summary: "This plane's backups, newest first", response: { 200: BackupList } } },
    () => backupList(backups),
  );
  app.post(
    '/internal/v1/backups/:backupId/restore',
    {
      schema: {
        tags,
        summary: 'Restore a backup into this live plane (`mic restore` while it runs; control for the engine)',
        description:
          'Answers 202, then the plane stops as on SIGTERM (HTTP first, then its workers, which finish or ' +
          'release their jobs), restores the backup as it starts again (under `mic start` or a process ' +
          'manager) and resumes. `lastRestore` of `GET /internal/v1/backups` tells the outcome.',
        params: BackupParams,
        body: InternalRestoreLive,
        response: { 202: LiveRestore },
      },
      onResponse: async (_req, reply) => {
        if (reply.statusCode === 202) backups.restartForRestore();
      },
    },
    async (req, reply) => {
      const restore = await requestLiveRestore(backups, req.params.backupId, {
        by: req.body.by,
        actor: req.body.actor ?? null,
        now: app.clock.now(),
      });
      req.log.warn(
        { backup: restore.backupId, by: restore.requestedBy, restartedBy: restartedBy() },
        'restoring a backup: stopping',
      );
      void reply.status(202);
      return restore;
    },
  );
  app.post(
    '/internal/v1/backups',
    {
      schema: {
        tags,
        summary: 'Take a verified backup now (`mic backup` while the plane runs)',
        body: TakeBackup,
        response: { 201: TakenBackup },
      },
    },
    async (req, reply) => {
      const steps: string[] = [];
      const backup = await backups.take({
        trigger: 'manual',
        label: req.body.label ?? null,
        onStep: (line) => {
          steps.push(line);
          req.log.info(line);
        },
      });
      void reply.status(201);
      return { backup, steps, keyLocations: settings.keyLocations };
    },
  );
  return backups;
}
