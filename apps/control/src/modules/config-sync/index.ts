import fp from 'fastify-plugin';
import { ConfigSnapshot, snapshotEtag } from '@mic/contracts';
import type { HttpServer } from '@mic/platform';
import { ConfigPublisher } from './service.ts';

export { ConfigPublisher, type SnapshotSection } from './service.ts';

declare module 'fastify' {
  interface FastifyInstance {
    /** The engine's configuration: its version, raised by every change, and the snapshot itself. */
    configPublisher: ConfigPublisher;
  }
}

export default fp(
  async (app: HttpServer) => {
    const publisher = new ConfigPublisher(app.db.orm, app.clock, app.engineOutbox);
    app.decorate('configPublisher', publisher);
    app.get(
      '/internal/v1/config/snapshot',
      {
        schema: {
          tags: ['config sync'],
          summary: 'The configuration the engine runs from (ETag; 304 when unchanged)',
          response: { 200: ConfigSnapshot, 304: { type: 'null', description: 'unchanged since If-None-Match' } },
        },
      },
      async (req, reply) => {
        const snapshot = await publisher.snapshot();
        const etag = snapshotEtag(snapshot.version);
        void reply.header('etag', etag).header('cache-control', 'no-cache');
        if (req.headers['if-none-match'] === etag) return reply.status(304).send(null);
        return snapshot;
      },
    );
  },
  { name: 'config-sync', dependencies: ['outbox'] },
);
