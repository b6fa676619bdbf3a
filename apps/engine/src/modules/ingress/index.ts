import fp from 'fastify-plugin';
import type { HttpServer } from '@mic/platform';
import { Ingress } from './service.ts';
import { MetaAppSecrets } from './app-secrets.ts';
import { registerIngressRoutes } from './routes.ts';

export { Ingress, type InboundEvent, type Receipt, type StoredListener } from './service.ts';

declare module 'fastify' {
  interface FastifyInstance {
    /** Meta webhooks in: stored durably, once each. */
    ingress: Ingress;
  }
}

export default fp(
  async (app: HttpServer, options: { bodyLimit: number; secretCacheMs: number }) => {
    const ingress = new Ingress(app.db.orm, app.routingTable, app.deliveries, app.clock);
    app.decorate('ingress', ingress);
    app.routingTable.onChannelRouted((platform, channelId, route) => ingress.reroute(platform, channelId, route));
    registerIngressRoutes(app, {
      secrets: new MetaAppSecrets(app.secrets, options.secretCacheMs),
      bodyLimit: options.bodyLimit,
    });
  },
  { name: 'ingress', dependencies: ['secrets', 'routing', 'delivery'] },
);
