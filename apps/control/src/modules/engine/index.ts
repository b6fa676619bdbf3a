import fp from 'fastify-plugin';
import { InternalClient, type HttpServer } from '@mic/platform';

declare module 'fastify' {
  interface FastifyInstance {
    /** The engine's internal API, called with control's service token. */
    engine: InternalClient;
  }
}

/** Control's link to the engine: the one client every control module uses to reach it. */
export default fp(
  async (app: HttpServer, options: { engineUrl: string; timeoutMs: number }) => {
    app.decorate(
      'engine',
      new InternalClient({
        baseUrl: options.engineUrl,
        token: app.peerToken,
        timeoutMs: options.timeoutMs,
        peer: 'engine',
      }),
    );
  },
  { name: 'engine' },
);
