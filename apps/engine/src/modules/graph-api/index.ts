import multipart from '@fastify/multipart';
import { GraphMediaClient, WHATSAPP_MEDIA_MAX_BYTES } from '@mic/meta';
import type { HttpServer, Logger } from '@mic/platform';
import { unknownPath } from './errors.ts';
import { isOwnPortRequest, serveOnOwnPort } from './listener.ts';
import { GraphMediaService } from './media.ts';
import { registerMediaRoutes } from './media-routes.ts';
import { registerGraphRoutes } from './routes.ts';

export interface GraphApiModuleOptions {
  /** Where the routes are on the engine's port (`GRAPH_API_PREFIX`). */
  prefix: string;
  waitMs: number;
  graph: { baseUrl: string; version: string; timeoutMs: number; userAgent: string };
  /** Uploads to and downloads from Meta, body included. */
  mediaTimeoutMs: number;
  /** A port of their own where the routes answer with no prefix (`GRAPH_API_PORT`); none by default. */
  ownPort?: { host: string; port: number; shutdownTimeoutMs: number } | undefined;
}

/**
 * Meta's Graph API calls, answered by the engine (registered under its `prefix`): message sends and
 * WhatsApp media, so an instance that speaks Meta's API (any WhatsApp Cloud API client library)
 * moves onto the hub by changing its base URL and token. Not wrapped in fastify-plugin: its own
 * context, so its errors (unknown paths included) are Meta's error bodies, not problem details.
 */
export default async function graphApi(app: HttpServer, options: GraphApiModuleOptions): Promise<void> {
  const media = new GraphMediaService({
    db: app.db.orm,
    clock: app.clock,
    client: new GraphMediaClient({
      baseUrl: options.graph.baseUrl,
      version: options.graph.version,
      timeoutMs: options.graph.timeoutMs,
      transferTimeoutMs: options.mediaTimeoutMs,
      userAgent: options.graph.userAgent,
    }),
    logger: app.log.child({ module: 'graph-api' }) as Logger,
    accessToken: (phoneNumberId) => app.channelConnections.accessToken('whatsapp', phoneNumberId),
    isChannelOf: (instanceId, phoneNumberId) =>
      (app.configSync.snapshot?.channels ?? []).some(
        (c) => c.instanceId === instanceId && c.platform === 'whatsapp' && c.channelId === phoneNumberId,
      ),
  });
  app.deliveries.onRoutedEvents((tx, events) => media.recordReceived(tx, events));

  // Files stream to a temporary file as they come; Meta's largest type (documents) bounds them.
  await app.register(multipart, {
    throwFileSizeLimit: false,
    limits: { fileSize: WHATSAPP_MEDIA_MAX_BYTES, files: 1, fields: 10, fieldSize: 4096, parts: 12 },
  });
  registerGraphRoutes(app, { waitMs: options.waitMs });
  registerMediaRoutes(app, media, { prefix: options.prefix });
  app.setNotFoundHandler((req, reply) => {
    const path = new URL(req.url, 'http://engine').pathname;
    const failure = unknownPath(isOwnPortRequest(req.raw) ? path.slice(options.prefix.length) || '/' : path);
    return reply.status(failure.status).send(failure.body);
  });
  if (options.ownPort) serveOnOwnPort(app, { ...options.ownPort, prefix: options.prefix });
}
