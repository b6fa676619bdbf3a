import fp from 'fastify-plugin';
import type { HttpServer } from '@mic/platform';
import { Routing } from './service.ts';
import { registerRoutingRoutes } from './routes.ts';

export { Routing, type Route } from './service.ts';

declare module 'fastify' {
  interface FastifyInstance {
    /** Which instance owns each channel, and where each instance receives its events. */
    routingTable: Routing;
  }
}

export default fp(
  async (app: HttpServer) => {
    app.decorate('routingTable', new Routing(app.db.orm, app.clock));
    registerRoutingRoutes(app);
  },
  { name: 'routing' },
);
