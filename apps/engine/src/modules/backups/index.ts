import fp from 'fastify-plugin';
import { setUpPlaneBackups, type HttpServer, type PlaneBackupOptions, type PlaneBackups } from '@mic/platform';

declare module 'fastify' {
  interface FastifyInstance {
    /** The engine's own backups; null when its database is in memory and BACKUP_DIR is unset. */
    backups: PlaneBackups | null;
  }
}

/**
 * The engine's database backups: scheduled (worker role), on request through `/internal/v1/backups`
 * (`mic backup engine` while the engine runs), and the `/health/backups` group. The keyring is
 * never in them: health names where it is until a copy of it is confirmed elsewhere.
 */
export default fp(
  async (app: HttpServer, options: PlaneBackupOptions) => {
    const settings = options.settings && {
      ...options.settings,
      keyLocations: [...options.settings.keyLocations, `the engine's keyring: ${app.secrets.keyring.describe()}`],
    };
    app.decorate('backups', await setUpPlaneBackups(app, { ...options, settings }));
  },
  { name: 'backups', dependencies: ['secrets'] },
);
