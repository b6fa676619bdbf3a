import { Heartbeat, HeartbeatParams, SystemStatus } from '@mic/contracts';
import type { HttpServer } from '../http/index.ts';
import { problems } from '../http/index.ts';
import type { Heartbeat as HeartbeatRow } from '../heartbeat/index.ts';

function serialize(h: HeartbeatRow) {
  return {
    id: h.id,
    enqueuedAt: h.enqueuedAt.toISOString(),
    processedAt: h.processedAt?.toISOString() ?? null,
    roundTripMs: h.roundTripMs,
  };
}

/** `/internal/v1/system`: what this plane process is and whether its queue works, for operators and tests. */
export function registerSystemRoutes(app: HttpServer, options: { version: string; roles: string[] }): void {
  const startedAt = new Date().toISOString();
  const tags = ['system'];
  app.get(
    '/internal/v1/system',
    { schema: { tags, summary: 'This plane process: version, database, queues', response: { 200: SystemStatus } } },
    async () => {
      const last = await app.heartbeats.latestProcessed();
      return {
        plane: app.plane,
        version: options.version,
        pid: process.pid,
        startedAt,
        database: { kind: app.db.kind, schema: app.db.schema, pendingMigrations: await app.db.pendingMigrations() },
        roles: options.roles,
        queues: await app.queue.depths(),
        lastHeartbeat: last ? serialize(last) : null,
      };
    },
  );
  app.post(
    '/internal/v1/system/heartbeats',
    { schema: { tags, summary: 'Send a heartbeat job through the queue now', response: { 202: Heartbeat } } },
    async (_req, reply) => {
      void reply.status(202);
      return serialize(await app.heartbeats.enqueue());
    },
  );
  app.get(
    '/internal/v1/system/heartbeats/:id',
    {
      schema: {
        tags,
        summary: 'A heartbeat and whether a worker processed it',
        params: HeartbeatParams,
        response: { 200: Heartbeat },
      },
    },
    async (req) => {
      const heartbeat = await app.heartbeats.get(req.params.id);
      if (!heartbeat) throw problems.notFound(`no heartbeat ${req.params.id}`);
      return serialize(heartbeat);
    },
  );
}
