import { Type } from 'typebox';
import {
  Alert,
  AlertParams,
  AlertQuery,
  REPORTS_PATH,
  ReportBatch,
  ReportBatchResult,
  UsageCounter,
  UsageQuery,
  type AlertSeverity,
  type AlertState,
} from '@mic/contracts';
import type { HttpServer } from '@mic/platform';
import { actorOf } from '../audit/index.ts';
import type { AlertRow, UsageRow } from './service.ts';

const iso = (d: Date | null) => d?.toISOString() ?? null;

function serialize(a: AlertRow): Alert {
  return {
    id: a.id,
    key: a.key,
    source: a.source as Alert['source'],
    type: a.type,
    severity: a.severity as AlertSeverity,
    state: a.state as AlertState,
    tenantId: a.tenantId,
    instanceId: a.instanceId,
    message: a.message,
    details: a.details,
    firstAt: a.firstAt.toISOString(),
    lastAt: a.lastAt.toISOString(),
    count: a.count,
    acknowledgedBy: a.acknowledgedBy,
    acknowledgedAt: iso(a.acknowledgedAt),
    resolvedAt: iso(a.resolvedAt),
  };
}

const usage = (u: UsageRow) => ({ ...u, channel: u.channel || null, asOf: u.asOf.toISOString() });

/** Reports in batches of up to 500, each with a few fields: well under this. */
const REPORTS_BODY_LIMIT = 8 * 1024 * 1024;

export function registerAlertRoutes(app: HttpServer): void {
  app.get(
    '/v1/alerts',
    {
      config: { permission: 'alerts.read' },
      schema: {
        tags: ['alerts'],
        summary: 'Alerts, latest first; state=active for open and acknowledged ones',
        querystring: AlertQuery,
        response: { 200: Type.Array(Alert) },
      },
    },
    async (req) => (await app.alerts.list(req.query)).map(serialize),
  );
  app.post(
    '/v1/alerts/:id/acknowledge',
    {
      config: { permission: 'alerts.acknowledge' },
      schema: {
        tags: ['alerts'],
        summary: 'Acknowledge an open alert: operators know of it; it stays until resolved',
        params: AlertParams,
        response: { 200: Alert },
      },
    },
    async (req) => {
      const actor = actorOf(req);
      const row = await app.alerts.acknowledge(req.params.id, actor.label ?? 'unknown');
      await app.audit.record({ actor, action: 'alert.acknowledge', target: { type: 'alert', id: row.id }, after: row });
      return serialize(row);
    },
  );
  app.get(
    '/v1/usage',
    {
      config: { permission: 'monitoring.read' },
      schema: {
        tags: ['monitoring'],
        summary: 'Usage counters per day, tenant, instance, channel and metric, as the engine counted them',
        querystring: UsageQuery,
        response: { 200: Type.Array(UsageCounter) },
      },
    },
    async (req) => (await app.alerts.usage(req.query)).map(usage),
  );
  app.post(
    REPORTS_PATH,
    {
      bodyLimit: REPORTS_BODY_LIMIT,
      schema: {
        tags: ['reports'],
        summary: "The engine's reports (alerts, usage, delivery stats); idempotent by report id",
        body: ReportBatch,
        response: { 200: ReportBatchResult },
      },
    },
    async (req) => app.alerts.ingest(req.body.reports),
  );
}
