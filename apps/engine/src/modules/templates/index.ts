import fp from 'fastify-plugin';
import { GraphClient } from '@mic/meta';
import type { HttpServer } from '@mic/platform';
import { registerTemplateRoutes } from './routes.ts';
import { TEMPLATE_SYNC_QUEUE, Templates } from './service.ts';

export {
  Templates,
  TEMPLATE_SYNC_QUEUE,
  MESSAGING_TIER_LIMITS,
  templateMismatch,
  type MessagingLimit,
} from './service.ts';
export { parameterCounts, parameterErrors } from './parameters.ts';

declare module 'fastify' {
  interface FastifyInstance {
    /** WhatsApp message templates, their accounts and messaging limits. */
    templates: Templates;
  }
}

export interface TemplatesModuleOptions {
  graph: { baseUrl: string; version: string; timeoutMs: number; userAgent: string };
  /** How often every connected account is synced again (besides on connect and on demand). */
  syncIntervalMs: number;
}

/**
 * `GET /v1/templates`, `POST /v1/templates/sync`; the template check of every send; background
 * syncs on worker processes (on connect, every `syncIntervalMs`, and for templates a status webhook
 * names that the engine does not know). Ingress hands it Meta's template status webhooks.
 */
export default fp(
  async (app: HttpServer, options: TemplatesModuleOptions) => {
    const templates = new Templates({
      db: app.db.orm,
      clock: app.clock,
      graph: new GraphClient(options.graph),
      queue: app.queue,
      logger: app.log.child({ module: 'templates' }),
      snapshot: () => app.configSync.snapshot,
      connections: app.channelConnections,
    });
    app.decorate('templates', templates);
    app.messages.addCheck(templates.checkSend);
    await app.queue.define(TEMPLATE_SYNC_QUEUE, { policy: 'short', retryLimit: 3, retryDelay: 30, retryBackoff: true });
    app.channelConnections.onSubscribed(async (platform, channelId) => {
      const wabaId = platform === 'whatsapp' ? await templates.accountOf(channelId) : undefined;
      if (wabaId) await templates.requestSync(wabaId);
    });
    if (app.runsWorkers) {
      await app.queue.work<{ wabaId: string }>(TEMPLATE_SYNC_QUEUE, { batchSize: 1 }, async ([job]) =>
        templates.sync(job!.data.wabaId),
      );
      const log = app.log.child({ module: 'templates' });
      const timer = setInterval(
        () =>
          void templates
            .requestSyncAll()
            .catch((error: unknown) => log.warn({ err: error }, 'template sync not queued')),
        options.syncIntervalMs,
      );
      timer.unref();
      app.addHook('onClose', async () => clearInterval(timer));
    }
    registerTemplateRoutes(app, templates);
  },
  { name: 'templates', dependencies: ['channels', 'config-sync', 'messages'] },
);
