import fp from 'fastify-plugin';
import { setUpPlaneBackups, type HttpServer, type PlaneBackupOptions, type PlaneBackups } from '@mic/platform';
import { registerBackupRoutes } from './routes.ts';

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
    app.decorate('backups', await setUpPlaneBackups(app, options));
    registerBackupRoutes(app);
  },
  { name: 'backups', dependencies: ['auth', 'audit', 'engine', 'instance-control'] },
);
