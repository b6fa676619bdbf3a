import fp from 'fastify-plugin';
import type { HttpServer, UrlPolicy } from '@mic/platform';
import { Tenants } from './service.ts';
import { registerTenantRoutes } from './routes.ts';

export { Tenants, HUB_INSTANCE_ID, HUB_TENANT_ID, type Change, type InstanceRow } from './service.ts';

declare module 'fastify' {
  interface FastifyInstance {
    /** Tenants, their instances and channels: who receives what, and in which state. */
    tenants: Tenants;
  }
}

export default fp(
  async (app: HttpServer, options: { urlPolicy: UrlPolicy }) => {
    const tenants = new Tenants({ db: app.db.orm, clock: app.clock, publisher: app.configPublisher, urlPolicy: options.urlPolicy });
    app.decorate('tenants', tenants);
    app.configPublisher.section(() => tenants.snapshotSection());
    await tenants.ensureHub();
    registerTenantRoutes(app);
  },
  { name: 'tenants', dependencies: ['config-sync', 'outbox', 'secrets', 'engine'] },
);
