import fp from 'fastify-plugin';
import type { Db, HttpServer, JobQueue, Logger } from '@mic/platform';
import { OUTBOX_RETRIES, isFinalRefusal } from './handover.ts';

export { EngineHandover, engineCopy, handOver, type Refusal } from './handover.ts';

export const ENGINE_OUTBOX = 'engine.outbox';
/** Requests where one waiting is as good as ten (config hints): at most one queued per key. */
export const ENGINE_OUTBOX_COALESCED = 'engine.outbox.coalesced';

/** A call control asks of the engine: made once the engine accepts it, however long that takes. */
export interface EngineRequest {
  method: 'POST' | 'PUT' | 'DELETE';
  path: string;
  body?: unknown;
}

export interface OutboxOptions {
  /** Give up after this many attempts (default: keep trying for days). */
  retryLimit?: number;
  /** At most one waiting request per key (e.g. config hints: one is as good as ten). */
  coalesceKey?: string;
}

/**
 * Control's outbox to the engine: a request is written in the same transaction as the change that
 * asks for it, and a worker makes it with the service token, retrying with backoff while the engine
 * is down or failing. The engine treats each request as idempotent (by its own ids).
 */
export class EngineOutbox {
  readonly #queue: JobQueue;

  constructor(queue: JobQueue) {
    this.#queue = queue;
  }

  async enqueue(request: EngineRequest, tx?: Db, options: OutboxOptions = {}): Promise<void> {
    await this.#queue.send(
      options.coalesceKey ? ENGINE_OUTBOX_COALESCED : ENGINE_OUTBOX,
      request,
      {
        ...(options.retryLimit === undefined ? {} : { retryLimit: options.retryLimit }),
        ...(options.coalesceKey ? { singletonKey: options.coalesceKey } : {}),
      },
      tx,
    );
  }
}

declare module 'fastify' {
  interface FastifyInstance {
    /** Requests to the engine that wait in control's database until the engine takes them. */
    engineOutbox: EngineOutbox;
  }
}

async function deliver(app: HttpServer, logger: Logger, request: EngineRequest): Promise<void> {
  try {
    await app.engine.request(request.method, request.path, request.body);
  } catch (error) {
    // A 4xx other than 408/409/429 will never succeed: log it and drop it instead of retrying for days.
    if (isFinalRefusal(error)) {
      logger.error(
        { request: { method: request.method, path: request.path }, err: error },
        'engine refused an outbox request',
      );
      return;
    }
    throw error;
  }
}

export default fp(
  async (app: HttpServer) => {
    app.decorate('engineOutbox', new EngineOutbox(app.queue));
    await app.queue.define(ENGINE_OUTBOX, { ...OUTBOX_RETRIES, deleteAfterSeconds: 86_400 });
    await app.queue.define(ENGINE_OUTBOX_COALESCED, { ...OUTBOX_RETRIES, policy: 'short', deleteAfterSeconds: 3_600 });
    const logger = app.log.child({ module: 'outbox' }) as Logger;
    for (const queue of [ENGINE_OUTBOX, ENGINE_OUTBOX_COALESCED]) {
      await app.queue.work<EngineRequest>(queue, { batchSize: 1, localConcurrency: 2 }, async ([job]) =>
        deliver(app, logger, job!.data),
      );
    }
  },
  { name: 'outbox', dependencies: ['engine'] },
);
