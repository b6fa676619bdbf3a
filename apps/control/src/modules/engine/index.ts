import fp from 'fastify-plugin';
import { InternalClient, type HttpServer } from '@mic/platform';

declare module 'fastify' {
  interface FastifyInstance {
    /** The engine's internal API, called with control's service token. */
    engine: InternalClient;
  }
}

/** A query string for a call to the engine (`?a=1&b=x`, or nothing), leaving out what is undefined. */
export function engineQuery(query: Record<string, string | number | undefined>): string {
  const params = new URLSearchParams();
  for (const [key, value] of Object.entries(query)) if (value !== undefined) params.set(key, String(value));
  const text = params.toString();
  return text ? `?${text}` : '';
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
