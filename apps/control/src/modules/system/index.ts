import fp from 'fastify-plugin';
import { registerSystemRoutes, type HttpServer } from '@mic/platform';

export default fp(
  async (app: HttpServer, options: { version: string }) => {
    registerSystemRoutes(app, { version: options.version, roles: ['api', 'worker'] });
    // Until the console is served here, the address `mic start` prints opens the API reference.
    app.get('/', { schema: { hide: true } }, async (_req, reply) => reply.redirect('/docs'));
  },
  { name: 'system' },
);
