import {
  PgBoss,
  fromDrizzle,
  type Job,
  type JobInsert,
  type Queue as QueueDefinition,
  type SendOptions,
  type WorkOptions,
} from 'pg-boss';
import { sql } from 'drizzle-orm';
import type { Logger } from 'pino';
import type { Database, Db } from '../db/index.ts';

export type { Job, SendOptions };

export interface QueueOptions {
  database: Database;
  logger: Logger;
  /**
   * Idle polling interval. NOTIFY wakes workers only for jobs that are ready now; delayed jobs
   * (retry steps, Retry-After, schedules) are found by polling, so keep this below the shortest
   * delay the plane promises.
   */
  pollingIntervalSeconds: number;
  /** Set false for processes that only enqueue (the ingress role). */
  runMaintenance?: boolean;
  /** Name shown in pg-boss's instance registry. */
  instanceName: string;
  /** How often queue counts (depths) are refreshed by maintenance; depths are as of that pass. */
  statsIntervalSeconds?: number;
}

export type QueueSettings = Omit<QueueDefinition, 'name' | 'notify'>;

/**
 * The plane's job queue: pg-boss on the plane's own database, in its own `<schema>_queue` schema,
 * woken by LISTEN/NOTIFY with polling as the floor for delayed jobs.
 */
export class JobQueue {
  readonly boss: PgBoss;
  readonly #logger: Logger;
  readonly #pollingIntervalSeconds: number;
  readonly #queues = new Set<string>();

  constructor(options: QueueOptions) {
    const connection = options.database.queueConnection;
    this.#logger = options.logger.child({ component: 'queue' });
    this.#pollingIntervalSeconds = options.pollingIntervalSeconds;
    this.boss = new PgBoss({
      ...(connection.backend === 'pglite'
        ? { db: connection.db, backend: 'pglite' }
        : { connectionString: connection.connectionString, backend: 'postgres', max: 4 }),
      schema: `${options.database.schema}_queue`,
      useListenNotify: true,
      supervise: options.runMaintenance ?? true,
      monitorIntervalSeconds: options.statsIntervalSeconds ?? 10,
      superviseIntervalSeconds: options.statsIntervalSeconds ?? 10,
      instanceName: options.instanceName,
      application_name: `mic-${options.instanceName}`,
    });
    this.boss.on('error', (error: unknown) => this.#logger.error({ err: error }, 'queue error'));
    this.boss.on('warning', (warning: unknown) => this.#logger.warn({ warning }, 'queue warning'));
  }

  async start(): Promise<void> {
    await this.boss.start();
  }

  /** Creates (or updates) a queue. Every queue is notify-enabled so workers wake at once. */
  async define(name: string, settings: QueueSettings = {}): Promise<void> {
    const existing = await this.boss.getQueue(name);
    if (existing) {
      // A queue's policy is fixed at creation (pg-boss refuses to change it): update the rest.
      const { policy, ...changeable } = settings;
      if (policy && existing.policy !== policy) {
        this.#logger.warn({ queue: name, policy: existing.policy, wanted: policy }, 'queue keeps its original policy');
      }
      await this.boss.updateQueue(name, { ...changeable, notify: true });
    } else {
      await this.boss.createQueue(name, { ...settings, notify: true });
    }
    this.#queues.add(name);
  }

  /**
   * Enqueues a job. Given `tx`, the job is written in that transaction: it exists if and only if
   * the caller's state change commits (no dual write).
   */
  async send(name: string, data: object, options: SendOptions = {}, tx?: Db): Promise<string | null> {
    return this.boss.send(name, data, tx ? { ...options, db: fromDrizzle(tx, sql) } : options);
  }

  /** Enqueues many jobs in one statement, in the caller's transaction when given one. */
  async sendMany(name: string, jobs: JobInsert<object>[], tx?: Db): Promise<void> {
    if (jobs.length === 0) return;
    await this.boss.insert(name, jobs, tx ? { db: fromDrizzle(tx, sql) } : {});
  }

  async work<T extends object>(
    name: string,
    options: Omit<WorkOptions, 'pollingIntervalSeconds' | 'notifyPollingIntervalSeconds'>,
    handler: (jobs: Job<T>[]) => Promise<unknown>,
  ): Promise<string> {
    // NOTIFY wakes a worker only for jobs ready now; delayed jobs (retries, schedules) are found by
    // polling, so the notify-mode backstop must poll as often as the base interval.
    const polling = {
      pollingIntervalSeconds: this.#pollingIntervalSeconds,
      notifyPollingIntervalSeconds: this.#pollingIntervalSeconds,
    };
    return this.boss.work<T>(name, { ...polling, ...options }, handler);
  }

  /** Jobs waiting, running and failed per defined queue, as of the last maintenance pass. */
  async depths(): Promise<Record<string, { queued: number; active: number; failed: number }>> {
    const result: Record<string, { queued: number; active: number; failed: number }> = {};
    for (const name of this.#queues) {
      const q = await this.boss.getQueue(name);
      if (q) result[name] = { queued: q.queuedCount, active: q.activeCount, failed: q.failedCount };
    }
    return result;
  }

  /** Stops fetching, lets in-flight jobs finish within `timeoutMs`, then releases the rest. */
  async stop(timeoutMs: number): Promise<void> {
    await this.boss.stop({ graceful: true, close: true, timeout: timeoutMs });
  }
}
