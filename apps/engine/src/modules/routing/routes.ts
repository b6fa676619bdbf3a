import { Type } from 'typebox';
import {
  ChannelParams,
  ChannelRoute,
  InstanceParams,
  InstanceRoute,
  PutChannelRoute,
  PutInstanceRoute,
} from '@mic/contracts';
import { problems, type HttpServer } from '@mic/platform';
import type { instanceRoutes } from './schema.ts';

const tags = ['routing'];

function serialize(row: typeof instanceRoutes.$inferSelect) {
  return {
    instanceId: row.instanceId,
    tenantId: row.tenantId,
    webhookUrl: row.webhookUrl,
    deliveryFormat: row.deliveryFormat as 'standard-webhooks' | 'meta',
    disabledAt: row.disabledAt?.toISOString() ?? null,
    disabledReason: row.disabledReason,
    updatedAt: row.updatedAt.toISOString(),
  };
}

/** The routing table's internal API (until control's config snapshot fills it). */
export function registerRoutingRoutes(app: HttpServer): void {
  app.put(
    '/internal/v1/instances/:instanceId',
    {
      schema: {
        tags,
        summary: "Set an instance's delivery endpoint",
        params: InstanceParams,
        body: PutInstanceRoute,
        response: { 200: InstanceRoute },
      },
    },
    async (req) => serialize(await app.routingTable.putInstance(req.params.instanceId, req.body)),
  );
  app.get(
    '/internal/v1/instances',
    { schema: { tags, summary: 'Instances in the routing table', response: { 200: Type.Array(InstanceRoute) } } },
    async () => (await app.routingTable.instances()).map(serialize),
  );
  app.put(
    '/internal/v1/channels/:platform/:channelId',
    {
      schema: {
        tags,
        summary: 'Give a channel to an instance; its waiting unrouted events follow',
        params: ChannelParams,
        body: PutChannelRoute,
        response: { 200: ChannelRoute },
      },
    },
    async (req) => {
      const rerouted = await app.routingTable.putChannel(
        req.params.platform,
        req.params.channelId,
        req.body.instanceId,
      );
      return { ...req.params, instanceId: req.body.instanceId, rerouted };
    },
  );
  app.delete(
    '/internal/v1/channels/:platform/:channelId',
    { schema: { tags, summary: 'Remove a channel from the routing table', params: ChannelParams } },
    async (req, reply) => {
      if (!(await app.routingTable.removeChannel(req.params.platform, req.params.channelId))) {
        throw problems.notFound(`no route for ${req.params.platform} channel ${req.params.channelId}`);
      }
      void reply.status(204);
    },
  );
}
