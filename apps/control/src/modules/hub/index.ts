import fp from 'fastify-plugin';
import { desc } from 'drizzle-orm';
import { Type } from 'typebox';
import { DeliveredEvent } from '@mic/contracts';
import type { HttpServer } from '@mic/platform';
import { hubEvents } from './schema.ts';

/**
 * Tenant zero: the engine delivers the hub's own channels' events here with its service token (the
 * hub instance holds no signing secret). Stored once per delivery id: the engine delivers at least once.
 */
export default fp(
  async (app: HttpServer) => {
    app.post(
      '/internal/v1/hub/events',
      {
        schema: { tags: ['hub'], summary: "An event of the hub's own channels, from the engine", body: DeliveredEvent },
      },
      async (req, reply) => {
        const event = req.body;
        await app.db.orm
          .insert(hubEvents)
          .values({
            id: event.id,
            type: event.type,
            channelKind: event.channel.kind,
            channelId: event.channel.id,
            conversationId: event.conversation?.id ?? null,
            event,
            receivedAt: app.clock.now(),
          })
          .onConflictDoNothing();
        void reply.status(204);
      },
    );
    app.get(
      '/v1/hub/events',
      {
        config: { permission: 'crm.read' },
        schema: {
          tags: ['hub'],
          summary: "Latest events of the hub's own channels",
          querystring: Type.Object({ limit: Type.Optional(Type.Integer({ minimum: 1, maximum: 500, default: 100 })) }),
          response: { 200: Type.Array(DeliveredEvent) },
        },
      },
      async (req) =>
        (
          await app.db.orm
            .select({ event: hubEvents.event })
            .from(hubEvents)
            .orderBy(desc(hubEvents.receivedAt))
            .limit(req.query.limit ?? 100)
        ).map((r) => r.event),
    );
  },
  { name: 'hub' },
);
