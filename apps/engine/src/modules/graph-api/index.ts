import type { HttpServer } from '@mic/platform';
import { registerGraphRoutes, type GraphApiOptions } from './routes.ts';

/**
 * Meta's Graph API send calls, answered by the engine (registered under its `prefix`): an instance
 * that speaks Meta's API (any WhatsApp Cloud API client library) moves onto the hub by changing its
 * base URL and token. Not wrapped in fastify-plugin: its own context, so its errors are Meta's error
 * bodies, not problem details.
 */
export default async function graphApi(app: HttpServer, options: GraphApiOptions): Promise<void> {
  registerGraphRoutes(app, options);
}
