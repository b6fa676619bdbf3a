import fp from 'fastify-plugin';
import { GraphClient } from '@mic/meta';
import type { HttpServer } from '@mic/platform';
import { laneOf } from '../outbound/index.ts';
import { registerMessageRoutes } from './routes.ts';
import { Messages, type MessagesOptions } from './service.ts';

export {
  Messages,
  laneCap,
  type GraphAnswer,
  type MessageBatch,
  type MessagesOptions,
  type OutboundListener,
  type SendCheck,
} from './service.ts';

declare module 'fastify' {
  interface FastifyInstance {
    /** The Send API: messages instances send, their lane items and their Graph calls. */
    messages: Messages;
  }
}

export interface MessagesModuleOptions extends MessagesOptions {
  graph: { baseUrl: string; version: string; timeoutMs: number; userAgent: string };
}

/**
 * `POST /v1/messages` and `GET /v1/messages/:id`; on worker processes, the outbound lanes' send
 * handler (started when the app is ready, stopped by the outbound module on close).
 */
export default fp(
  async (app: HttpServer, options: MessagesModuleOptions) => {
    const { graph, ...sendOptions } = options;
    const messages = new Messages({
      db: app.db.orm,
      clock: app.clock,
      lanes: app.lanes,
      graph: new GraphClient(graph),
      logger: app.log.child({ module: 'messages' }),
      snapshot: () => app.configSync.snapshot,
      accessToken: (platform, channelId) => app.channelConnections.accessToken(platform, channelId),
      instagramPageId: async (channelId) =>
        (await app.channelConnections.get('instagram', channelId))?.objectId ?? undefined,
      alert: (alert, tx) => app.reports.alert(alert, tx),
      deliver: (tx, events) => app.deliveries.createFor(tx, events),
      options: sendOptions,
    });
    app.decorate('messages', messages);
    // A lane stopped by Meta refusing its token (190) goes again once the channel is subscribed anew.
    app.channelConnections.onSubscribed((platform, channelId) => app.lanes.resume(laneOf(platform, channelId)));
    app.deliveries.onRoutedEvents((tx, events) => messages.recordStatuses(tx, events));
    registerMessageRoutes(app, messages);
    if (app.runsWorkers) {
      app.addHook('onReady', async () => app.lanes.start(messages.send));
    }
  },
  { name: 'messages', dependencies: ['outbound', 'channels', 'config-sync', 'reports', 'credentials', 'delivery'] },
);
