import fp from 'fastify-plugin';
import { desc } from 'drizzle-orm';
import { Type } from 'typebox';
import { DeliveredEvent } from '@mic/contracts';
import type { HttpServer } from '@mic/platform';
import type { DbTransaction } from '../audit/index.ts';
import { hubEvents } from './schema.ts';

/** Runs in the transaction that stores a new hub event (once per event: repeats are not new). */
export type HubEventListener = (tx: DbTransaction, event: DeliveredEvent) => Promise<void>;

declare module 'fastify' {
  interface FastifyInstance {
    /** The hub's own channels' events: other modules (the CRM) listen to them. */
    hub: { onEvent(listener: HubEventListener): void };
  }
}

/**
 * Tenant zero: the engine delivers the hub's own channels' events here with its service token (the
 * hub instance holds no signing secret). Stored once per delivery id: the engine delivers at least once.
 */
export default fp(
  async (app: HttpServer) => {
    const listeners: HubEventListener[] = [];
    app.decorate('hub', { onEvent: (listener: HubEventListener) => void listeners.push(listener) });
    app.post(
      '/internal/v1/hub/events',
      {
        schema: { tags: ['hub'], summary: "An event of the hub's own channels, from the engine", body: DeliveredEvent },
      },
      async (req, reply) => {
        const event = req.body;
        await app.db.orm.transaction(async (tx) => {
          const [stored] = await tx
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
            .onConflictDoNothing()
            .returning({ id: hubEvents.id });
          if (stored) for (const listener of listeners) await listener(tx, event);
        });
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
