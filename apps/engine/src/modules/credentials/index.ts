import fp from 'fastify-plugin';
import type { HttpServer } from '@mic/platform';
import { InstanceCredentials } from './service.ts';
import { instanceAuthenticator, registerCredentialRoutes } from './routes.ts';

export { InstanceCredentials, INSTANCE_TOKEN_PREFIX } from './service.ts';

declare module 'fastify' {
  interface FastifyInstance {
    credentials: InstanceCredentials;
    /** preHandler for the instance API (`/v1`): sets `req.instanceId` or answers 401. */
    authenticateInstance: (req: FastifyRequest) => Promise<void>;
  }
  interface FastifyRequest {
    instanceId?: string;
  }
}

export default fp(
  async (app: HttpServer, options: { graceMs: number }) => {
    app.decorate('credentials', new InstanceCredentials(app.db.orm, app.secrets, app.clock));
    app.decorate('authenticateInstance', instanceAuthenticator(app));
    registerCredentialRoutes(app, options.graceMs);
  },
  { name: 'credentials', dependencies: ['secrets'] },
);
