import fp from 'fastify-plugin';
import type { HttpServer } from '@mic/platform';
import { registerBroadcastRoutes } from './routes.ts';
import { Broadcasts, type BroadcastsOptions } from './service.ts';
import type { MessagingLimit } from '../templates/index.ts';

export { Broadcasts, customerOf, type BroadcastsOptions } from './service.ts';

declare module 'fastify' {
  interface FastifyInstance {
    /** WhatsApp broadcasts, the tenants' opt-out lists and the customers' service windows. */
    broadcasts: Broadcasts;
  }
}

export interface BroadcastsModuleOptions extends BroadcastsOptions {
  /** A lane's send rate (its cap times the share the lanes pace to). */
  rateOf: (lane: string) => number;
  /** Largest `POST /v1/broadcasts` body, in bytes (100,000 recipients with parameters). */
  bodyLimit: number;
}

/**
 * `POST /v1/broadcasts` and the routes under it, `/v1/opt-outs`; on worker processes, the tick that
 * dispatches due broadcasts. Listens to the messages' state changes (recipients' states) and to
 * routed inbound messages (service windows, opt-out keywords).
 */
export default fp(
  async (app: HttpServer, options: BroadcastsModuleOptions) => {
    const { rateOf, bodyLimit, ...serviceOptions } = options;
    const log = app.log.child({ module: 'broadcasts' });
    const broadcasts = new Broadcasts({
      db: app.db.orm,
      clock: app.clock,
      lanes: app.lanes,
      messages: app.messages,
      templates: app.templates,
      snapshot: () => app.configSync.snapshot,
      rateOf,
      assertMaySend: (instanceId) => app.assertInstanceMaySend(instanceId, 'whatsapp'),
      holdReason: (instanceId) => app.holdReason(instanceId, 'whatsapp'),
      deliver: (tx, events) => app.deliveries.createFor(tx, events),
      logger: log,
      options: serviceOptions,
    });
    app.decorate('broadcasts', broadcasts);
    app.messages.onOutboundEvents(broadcasts.recordOutbound);
    app.messages.onQueued(broadcasts.countReach);
    app.deliveries.onRoutedEvents(broadcasts.recordInbound);
    registerBroadcastRoutes(app, broadcasts, { bodyLimit });

    if (app.runsWorkers) {
      let timer: NodeJS.Timeout | undefined;
      let isClosing = false;
      let pass: Promise<void> = Promise.resolve();
      const tick = async () => {
        const limits = new Map<string, MessagingLimit>();
        try {
          for (const id of await broadcasts.active()) {
            if (isClosing) return;
            await broadcasts
              .dispatch(id, limits)
              .catch((error: unknown) => log.warn({ err: error, broadcastId: id }, 'broadcast pass failed'));
          }
        } catch (error) {
          log.warn({ err: error }, 'broadcast tick failed');
        }
      };
      const loop = () => {
        pass = tick().finally(() => {
          if (!isClosing) timer = setTimeout(loop, serviceOptions.tickMs);
        });
      };
      app.addHook('onReady', async () => loop());
      app.addHook('onClose', async () => {
        isClosing = true;
        clearTimeout(timer);
        await pass;
      });
    }
  },
  { name: 'broadcasts', dependencies: ['outbound', 'messages', 'templates', 'delivery', 'config-sync'] },
);
