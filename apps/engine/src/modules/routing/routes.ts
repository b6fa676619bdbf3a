import { Type } from 'typebox';
import { InstanceRoute } from '@mic/contracts';
import type { HttpServer } from '@mic/platform';
import type { instanceRoutes } from './schema.ts';

function serialize(row: typeof instanceRoutes.$inferSelect) {
  return {
    instanceId: row.instanceId,
    tenantId: row.tenantId,
    kind: row.kind as 'nexus' | 'hub',
    webhookUrl: row.webhookUrl,
    deliveryFormat: row.deliveryFormat as 'standard-webhooks' | 'meta',
    state: row.state as 'active' | 'paused' | 'suspended' | 'deprovisioned',
    disabledAt: row.disabledAt?.toISOString() ?? null,
    disabledReason: row.disabledReason,
    updatedAt: row.updatedAt.toISOString(),
  };
}

/** The routing table as the engine runs it (filled from control's config snapshot; read-only here). */
export function registerRoutingRoutes(app: HttpServer): void {
  app.get(
    '/internal/v1/routing/instances',
    {
      schema: {
        tags: ['routing'],
        summary: 'Instances in the routing table: endpoint, state, disabled by a 410',
        response: { 200: Type.Array(InstanceRoute) },
      },
    },
    async () => (await app.routingTable.instances()).map(serialize),
  );
}
