import fp from 'fastify-plugin';
import type { HttpServer } from '@mic/platform';
import { ControlSecrets } from './service.ts';
import { registerSecretRoutes } from './routes.ts';

export { ControlSecrets } from './service.ts';

declare module 'fastify' {
  interface FastifyInstance {
    /**
     * Secrets as control sees them: set, rotate, delete in the engine; references kept here.
     * (Named apart from the engine's `secrets`: one type program covers both planes.)
     */
    secretRefs: ControlSecrets;
  }
}

export default fp(
  async (app: HttpServer) => {
    app.decorate('secretRefs', new ControlSecrets(app.db.orm, app.engine));
    registerSecretRoutes(app);
  },
  { name: 'secrets', dependencies: ['engine'] },
);
