import { createServer, type IncomingMessage, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { StartupError, type HttpServer } from '@mic/platform';

/** Requests that came in on the Graph API's own port (their URLs name no prefix). */
const ownPortRequests = new WeakSet<IncomingMessage>();

export const isOwnPortRequest = (req: IncomingMessage): boolean => ownPortRequests.has(req);

export interface GraphListenerOptions {
  host: string;
  port: number;
  /** The prefix the routes are registered under on the engine's own port. */
  prefix: string;
  /** How long a stopping listener waits for its in-flight requests (downloads) before closing them. */
  shutdownTimeoutMs: number;
}

/**
 * A listener of its own for the Graph-compatible API with no prefix, for clients that only let you
 * change the host: each request gets the prefix in front of its path and goes through the engine's
 * own router, so the routes, authentication, hooks, logs and Graph errors are the same ones, and
 * nothing but the Graph API is reachable on this port. Listens once the engine is ready; stops
 * accepting when the engine closes.
 */
export function serveOnOwnPort(app: HttpServer, options: GraphListenerOptions): void {
  if (options.prefix === '' || options.prefix === '/') {
    throw new StartupError(
      'GRAPH_API_PORT needs a GRAPH_API_PREFIX (such as /graph): with none, the port would serve every engine route',
      true,
    );
  }
  const server: Server = createServer((req, res) => {
    ownPortRequests.add(req);
    req.url = `${options.prefix}${req.url?.startsWith('/') ? '' : '/'}${req.url ?? ''}`;
    app.routing(req, res);
  });
  let closed: Promise<void> | undefined;

  app.addHook('onReady', async () => {
    await new Promise<void>((resolve, reject) => {
      server.once('error', (error: NodeJS.ErrnoException) => {
        if (error.code === 'EADDRINUSE') {
          reject(new StartupError(`GRAPH_API_PORT=${options.port} is already in use by another process`, true));
        } else reject(error);
      });
      server.listen(options.port, options.host, () => resolve());
    });
    const address = server.address() as AddressInfo;
    app.log.info({ url: `http://${options.host}:${address.port}` }, 'Graph-compatible API listening on its own port');
  });
  app.addHook('preClose', async () => {
    if (!server.listening) return;
    closed = new Promise((resolve) => server.close(() => resolve()));
    server.closeIdleConnections();
  });
  app.addHook('onClose', async () => {
    if (!closed) return;
    const timer = setTimeout(() => server.closeAllConnections(), options.shutdownTimeoutMs);
    await closed;
    clearTimeout(timer);
  });
}
