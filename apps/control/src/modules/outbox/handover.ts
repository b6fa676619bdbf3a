import { PeerError, type Db, type JobQueue } from '@mic/platform';

/** Retried with backoff for as long as control's outbox would: the engine may be down for days. */
export const OUTBOX_RETRIES = { retryLimit: 100_000, retryDelay: 1, retryBackoff: true, retryDelayMax: 60 };

/** A 4xx other than 408/409/429: the engine will never take the request, so it is not retried. */
export function isFinalRefusal(error: unknown): error is PeerError {
  return (
    error instanceof PeerError && error.status >= 400 && error.status < 500 && ![408, 409, 429].includes(error.status)
  );
}

/** Why the engine refused a handed-over request for good, as the operator sees it. */
export interface Refusal {
  title: string;
  message: string;
}

/**
 * Something the operator asks of the engine (a hub broadcast, a hub post) that waits in a row of
 * control's database until the engine takes it: the row and its job are written in one transaction,
 * the job hands it over (idempotent by control's id, so a retry after a lost answer names the same
 * thing) until the engine takes or refuses it, and the row mirrors the engine's copy from then on.
 */
export class EngineHandover {
  readonly #queue: JobQueue;
  readonly #name: string;

  constructor(queue: JobQueue, name: string) {
    this.#queue = queue;
    this.#name = name;
  }

  /** Queues the hand-over of row `id`, in the transaction that writes the row. */
  async enqueue(tx: Db, id: string): Promise<void> {
    await this.#queue.send(this.#name, { id }, {}, tx);
  }

  /** Runs `handOver` for each queued row, retried with backoff while it throws (see `handOver`). */
  async work(handOver: (id: string) => Promise<void>): Promise<void> {
    await this.#queue.define(this.#name, { ...OUTBOX_RETRIES, deleteAfterSeconds: 86_400 });
    await this.#queue.work<{ id: string }>(this.#name, { batchSize: 1, localConcurrency: 2 }, async ([job]) =>
      handOver(job!.data.id),
    );
  }
}

/**
 * Makes the request that hands a row over: the engine's answer, or its refusal when final. The
 * engine unreachable, overloaded or not configured yet throws, so the job is retried.
 */
export async function handOver<T>(
  request: () => Promise<T>,
  what: string,
): Promise<{ accepted: T; refusal?: never } | { accepted?: never; refusal: Refusal }> {
  try {
    return { accepted: await request() };
  } catch (error) {
    if (!isFinalRefusal(error)) throw error;
    return {
      refusal: {
        title: error.problem?.title ?? `The engine refused the ${what}`,
        message: error.problem?.detail ?? error.message,
      },
    };
  }
}

/** The engine's answer about a handed-over row, or null when it gives none (down, failing, refusing): the row answers then. */
export async function engineCopy<T>(read: () => Promise<T>): Promise<T | null> {
  try {
    return await read();
  } catch (error) {
    if (!(error instanceof PeerError)) throw error;
    return null;
  }
}
