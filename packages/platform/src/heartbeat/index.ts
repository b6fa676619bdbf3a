import { and, desc, eq, isNotNull, isNull, lt } from 'drizzle-orm';
import { uuidv7 } from 'uuidv7';
import type { Db } from '../db/index.ts';
import type { JobQueue } from '../queue/index.ts';
import type { HealthCheck } from '../health/index.ts';
import { queueHeartbeats } from './schema.ts';

export { queueHeartbeats } from './schema.ts';

export const HEARTBEAT_QUEUE = 'system.heartbeat';

export interface Heartbeat {
  id: string;
  enqueuedAt: Date;
  processedAt: Date | null;
  /** Time from enqueue to processing, in ms. */
  roundTripMs: number | null;
}

function toHeartbeat(row: typeof queueHeartbeats.$inferSelect): Heartbeat {
  return {
    ...row,
    roundTripMs: row.processedAt ? row.processedAt.getTime() - row.enqueuedAt.getTime() : null,
  };
}

/**
 * Proves the queue end to end: a heartbeat is a table row and a job written in one transaction;
 * the worker stamps the row. Health reads the latest stamped row, so a stuck worker, a broken
 * NOTIFY or a dead database shows up as a stale heartbeat.
 */
export class QueueHeartbeats {
  readonly #orm: Db;
  readonly #queue: JobQueue;
  readonly #intervalMs: number;
  #timer: NodeJS.Timeout | undefined;

  constructor(orm: Db, queue: JobQueue, intervalMs: number) {
    this.#orm = orm;
    this.#queue = queue;
    this.#intervalMs = intervalMs;
  }

  async enqueue(): Promise<Heartbeat> {
    return this.#orm.transaction(async (tx) => {
      const [row] = await tx.insert(queueHeartbeats).values({ id: uuidv7(), enqueuedAt: new Date() }).returning();
      await this.#queue.send(HEARTBEAT_QUEUE, { heartbeatId: row!.id }, { retryLimit: 0 }, tx);
      return toHeartbeat(row!);
    });
  }

  async get(id: string): Promise<Heartbeat | null> {
    const [row] = await this.#orm.select().from(queueHeartbeats).where(eq(queueHeartbeats.id, id));
    return row ? toHeartbeat(row) : null;
  }

  async latestProcessed(): Promise<Heartbeat | null> {
    const [row] = await this.#orm
      .select()
      .from(queueHeartbeats)
      .where(isNotNull(queueHeartbeats.processedAt))
      .orderBy(desc(queueHeartbeats.processedAt))
      .limit(1);
    return row ? toHeartbeat(row) : null;
  }

  /** Defines the queue, registers the stamping worker when this process runs workers, and beats. */
  async start(runsWorkers: boolean, onError: (error: unknown) => void): Promise<void> {
    await this.#queue.define(HEARTBEAT_QUEUE, { retryLimit: 0, deleteAfterSeconds: 3600 });
    if (runsWorkers) await this.#work();
    this.#beat(onError);
  }

  async #work(): Promise<void> {
    await this.#queue.work<{ heartbeatId: string }>(HEARTBEAT_QUEUE, { batchSize: 10 }, async (jobs) => {
      for (const job of jobs) {
        await this.#orm
          .update(queueHeartbeats)
          .set({ processedAt: new Date() })
          .where(and(eq(queueHeartbeats.id, job.data.heartbeatId), isNull(queueHeartbeats.processedAt)));
      }
    });
  }

  /** Sends a heartbeat now and every interval, pruning old rows. */
  #beat(onError: (error: unknown) => void): void {
    const beat = async () => {
      try {
        await this.enqueue();
        await this.#orm.delete(queueHeartbeats).where(lt(queueHeartbeats.enqueuedAt, new Date(Date.now() - 3_600_000)));
      } catch (error) {
        onError(error);
      }
    };
    void beat();
    this.#timer = setInterval(() => void beat(), this.#intervalMs);
    this.#timer.unref();
  }

  stop(): void {
    clearInterval(this.#timer);
  }

  /** `queue:roundTrip`: warn when no heartbeat went through for three intervals. */
  check(startedAt: Date): HealthCheck {
    return {
      name: 'queue:roundTrip',
      run: async () => {
        const last = await this.latestProcessed();
        const staleAfter = this.#intervalMs * 3;
        const age = last?.processedAt ? Date.now() - last.processedAt.getTime() : null;
        const isStale = age === null ? Date.now() - startedAt.getTime() > staleAfter : age > staleAfter;
        return {
          componentId: 'pg-boss',
          componentType: 'component',
          observedValue: last?.roundTripMs ?? null,
          observedUnit: 'ms',
          status: isStale ? 'warn' : 'pass',
          ...(isStale
            ? {
                output:
                  age === null
                    ? 'no heartbeat has gone through the queue yet'
                    : `last heartbeat went through ${Math.round(age / 1000)} s ago`,
              }
            : {}),
        };
      },
    };
  }
}
