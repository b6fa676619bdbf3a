import fp from 'fastify-plugin';
import { ENGINE_HEALTH_PATH } from '@mic/contracts';
import { registerSystemRoutes, type HttpServer } from '@mic/platform';

/**
 * The engine's system routes, and its overall health at ENGINE_HEALTH_PATH (api, database and
 * queue in one report), which control reads for its `/health/engine`.
 */
export default fp(
  async (app: HttpServer, options: { version: string; roles: string[] }) => {
    registerSystemRoutes(app, { version: options.version, roles: options.roles });
    app.health.group(ENGINE_HEALTH_PATH, 'the communications engine: API, database and queue');
    for (const path of ['/health/api', '/health/db']) {
      for (const check of app.health.groups.get(path)?.checks ?? []) app.health.add(ENGINE_HEALTH_PATH, check);
    }
  },
  { name: 'system' },
);
