import fp from 'fastify-plugin';
import {
  latestLiveRestore,
  markLiveRestoreAudited,
  setUpPlaneBackups,
  type HttpServer,
  type PlaneBackupOptions,
  type PlaneBackups,
} from '@mic/platform';
import type { AuditActor } from '../audit/index.ts';
import { registerBackupRoutes } from './routes.ts';

/**
 * A restore into control's live database replaced its audit log with the backup's: the outcome is
 * recorded once control is back, on the restored log.
 */
async function auditAppliedRestore(app: HttpServer, backups: PlaneBackups): Promise<void> {
  const restore = await latestLiveRestore(backups.folder);
  if (!restore || restore.state === 'pending' || restore.isAudited) return;
  const { actor, isAudited: _audited, attempts: _attempts, ...outcome } = restore;
  await app.audit.record({
    actor: (actor as AuditActor | null) ?? { type: 'system', id: null, label: restore.requestedBy },
    action: 'backup.restore',
    target: { type: 'plane', id: 'control' },
    after: outcome,
  });
  await markLiveRestoreAudited(backups.folder);
}

declare module 'fastify' {
  interface FastifyInstance {
    /** Control's own backups; null when its database is in memory and BACKUP_DIR is unset. */
    backups: PlaneBackups | null;
  }
}

/**
 * Backups: control's database on a schedule and on request, the operator's view of them, the
 * confirmation that the keys have a copy elsewhere, restores reported by `mic restore` (audited),
 * and each instance's backups (its `backup` commands).
 */
export default fp(
  async (app: HttpServer, options: PlaneBackupOptions) => {
    const backups = await setUpPlaneBackups(app, options);
    app.decorate('backups', backups);
    registerBackupRoutes(app);
    if (backups) await auditAppliedRestore(app, backups);
  },
  { name: 'backups', dependencies: ['auth', 'audit', 'engine', 'instance-control'] },
);
