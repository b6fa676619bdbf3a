import fp from 'fastify-plugin';
import type { HttpServer } from '@mic/platform';
import { engineCheck } from './engine.ts';
import { supervisorCheck } from './supervisor.ts';

/**
 * Health of everything, as control sees it: `/health/engine` (alias `/health/motor`) asks the
 * engine; the supervisor's restart counts join the group of the plane they describe.
 */
export default fp(
  async (app: HttpServer, options: { engineUrl: string; timeoutMs: number }) => {
    const engine = engineCheck(options.engineUrl, options.timeoutMs);
    for (const path of ['/health/engine', '/health/motor']) {
      app.health.group(path, 'the communications engine, as control reaches it');
      app.health.add(path, engine);
      app.health.add(path, supervisorCheck('engine'));
    }
    app.health.add('/health/api', supervisorCheck('control'));
  },
  { name: 'health' },
);
