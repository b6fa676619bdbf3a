import fp from 'fastify-plugin';
import type { HttpServer } from '@mic/platform';
import { registerMonitoringRoutes } from './routes.ts';
import { Monitoring } from './service.ts';

export { Monitoring, labelsText, type Sample } from './service.ts';

declare module 'fastify' {
  interface FastifyInstance {
    /** The history of the engine's key metrics: `record(samples, tx?)`, `series(query)`. */
    monitoring: Monitoring;
  }
}

export default fp(
  async (app: HttpServer, options: { sampleIntervalMs: number; retentionMs: number }) => {
    const monitoring = new Monitoring({
      db: app.db.orm,
      clock: app.clock,
      engine: app.engine,
      logger: app.log as never,
      options: { ...options, maxPoints: 500 },
    });
    app.decorate('monitoring', monitoring);
    registerMonitoringRoutes(app);
    app.addHook('onReady', async () => monitoring.start());
    app.addHook('onClose', async () => monitoring.stop());
  },
  { name: 'monitoring', dependencies: ['engine'] },
);
