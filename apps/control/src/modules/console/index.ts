import { stat } from 'node:fs/promises';
import { join, resolve, sep } from 'node:path';
import { fileURLToPath } from 'node:url';
import fp from 'fastify-plugin';
import fastifyStatic from '@fastify/static';
import type { FastifyReply, FastifyRequest } from 'fastify';
import { Problem, type HttpServer } from '@mic/platform';

/** Where `npm run build -w apps/console` writes the console in this checkout. */
export const BUNDLED_CONSOLE_DIR = fileURLToPath(new URL('../../../../console/dist', import.meta.url));

/** Paths that belong to the API and the plane's own pages: never answered with the console. */
const SERVER_PATHS = /^\/(v1|internal|health|docs|metrics|livez|readyz)(\/|$)/;

const isFile = async (path: string) => (await stat(path).catch(() => null))?.isFile() ?? false;

/**
 * The operator console, served as static files at `/`: a file of the build when one matches the
 * path, otherwise index.html for page addresses (the console routes in the browser), and the API's
 * own 404 problem for anything under the API's prefixes.
 */
export default fp(
  async (app: HttpServer, options: { dir?: string | undefined }) => {
    const root = resolve(options.dir ?? BUNDLED_CONSOLE_DIR);
    const indexHtml = join(root, 'index.html');
    // Cache headers are set per file below: the page revalidates, hashed assets never do.
    await app.register(fastifyStatic, { root, serve: false, cacheControl: false });

    const sendIndex = async (reply: FastifyReply) => {
      if (!(await isFile(indexHtml))) {
        throw new Problem({
          status: 503,
          type: 'console-not-built',
          title: 'The console is not built',
          detail: `no index.html in ${root}: run \`npm run build -w apps/console\` (npm start does it)`,
        });
      }
      // The page itself is never cached, so a new build's hashed assets are picked up at once.
      return reply.header('cache-control', 'no-cache').sendFile('index.html');
    };

    const serve = async (req: FastifyRequest<{ Params: { '*'?: string } }>, reply: FastifyReply) => {
      const path = `/${req.params['*'] ?? ''}`;
      if (SERVER_PATHS.test(path)) return reply.callNotFound();
      const file = resolve(root, `.${decodeURIComponent(path)}`);
      if (path !== '/' && file.startsWith(root + sep) && (await isFile(file))) {
        const immutable = path.startsWith('/assets/');
        return reply
          .header('cache-control', immutable ? 'public, max-age=31536000, immutable' : 'no-cache')
          .sendFile(file.slice(root.length + 1));
      }
      // A missing asset is a 404; any other address is a page of the console.
      if (path.startsWith('/assets/') || /\.[a-z0-9]+$/i.test(path)) return reply.callNotFound();
      return sendIndex(reply);
    };

    app.get('/', { schema: { hide: true } }, serve);
    app.get('/*', { schema: { hide: true } }, serve);
  },
  { name: 'console' },
);
