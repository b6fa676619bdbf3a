import { Series, SeriesQuery } from '@mic/contracts';
import { problems, type HttpServer } from '@mic/platform';

export function registerMonitoringRoutes(app: HttpServer): void {
  app.get(
    '/v1/monitoring/series',
    {
      config: { permission: 'monitoring.read' },
      schema: {
        tags: ['monitoring'],
        summary: "A metric's history for charts (default: the last 24 h), averaged into at most ~500 points",
        description:
          'Metrics: queue.queued, queue.active, queue.failed (label queue), deliveries.pending, deliveries.due, ' +
          'deliveries.dead, deliveries.delivered, deliveries.errors, delivery.latency.p50, delivery.latency.p99, ' +
          'breakers.open, breakers.half_open, reports.unsent; from the engine reports, per instance (label ' +
          'instance): instance.delivered, instance.failed, instance.retried, instance.dead_lettered, ' +
          'instance.latency.p50, instance.latency.p95, instance.latency.p99.',
        querystring: SeriesQuery,
        response: { 200: Series },
      },
    },
    async (req) => {
      const since = req.query.since ? new Date(req.query.since) : undefined;
      const until = req.query.until ? new Date(req.query.until) : undefined;
      if (since && until && since >= until) {
        throw problems.validation([{ field: 'querystring.since', message: 'must be before until' }]);
      }
      return app.monitoring.series({
        metric: req.query.metric,
        ...(since ? { since } : {}),
        ...(until ? { until } : {}),
        ...(req.query.labels !== undefined ? { labels: req.query.labels } : {}),
      });
    },
  );
}
