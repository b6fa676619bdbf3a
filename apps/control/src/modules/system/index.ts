import fp from 'fastify-plugin';
import { registerSystemRoutes, type HttpServer } from '@mic/platform';

export default fp(
  async (app: HttpServer, options: { version: string }) => {
    registerSystemRoutes(app, { version: options.version, roles: ['api', 'worker'] });
  },
  { name: 'system' },
);
