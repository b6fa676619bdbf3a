import { BackupList, TakeBackup, TakenBackup } from '@mic/contracts';
import type { HttpServer } from '../http/index.ts';
import type { Logger } from '../logging/index.ts';
import { PlaneBackups, type BackupSettings } from './service.ts';

export const BACKUP_QUEUE = 'backups.take';
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
  const logger = app.log.child({ module: 'backups' }) as Logger;

  await app.queue.define(BACKUP_QUEUE, { retryLimit: 0, expireInSeconds: 6 * 3_600, deleteAfterSeconds: 7 * 86_400 });
  if (app.runsWorkers) {
    await app.queue.work(BACKUP_QUEUE, { batchSize: 1 }, async () => {
      const manifest = await backups.take({ trigger: 'scheduled', onStep: (line) => logger.info(line) });
      if (manifest.state === 'verified') logger.info({ backup: manifest.id }, 'scheduled backup verified');
      else logger.error({ backup: manifest.id, error: manifest.error }, 'scheduled backup failed');
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
    async () => ({ plane: app.plane, folder: backups.folder, backups: await backups.list() }),
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
