import { ENGINE_STATS_PATH, EngineStats } from '@mic/contracts';
import type { HttpServer } from '@mic/platform';
import type { EngineFigures } from './metrics.ts';

/** The engine's key metrics now: what control samples into its history for the console's charts. */
export function registerReportRoutes(app: HttpServer, figures: EngineFigures, windowMs: number): void {
  app.get(
    ENGINE_STATS_PATH,
    {
      schema: {
        tags: ['reports'],
        summary: 'Queue depths, deliveries waiting, latency and errors over the last window, breakers',
        response: { 200: EngineStats },
      },
    },
    async () => {
      const now = app.clock.now();
      return {
        at: now.toISOString(),
        windowSeconds: Math.round(windowMs / 1000),
        queues: await app.queue.depths(),
        ...(await figures.current(now, windowMs)),
      };
    },
  );
}
