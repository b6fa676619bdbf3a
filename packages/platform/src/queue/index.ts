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

/** A queue's worker loops in this process, and which of them are running a handler. */
interface Loops {
  ids: string[];
  busy: Set<string>;
  /** Notifications that came while every loop was busy: the next loops to finish fetch again at once. */
  owed: number;
  next: number;
}

/**
 * The plane's job queue: pg-boss on the plane's own database, in its own `<schema>_queue` schema,
 * woken by LISTEN/NOTIFY with polling as the floor for delayed jobs.
 *
 * The wake-ups are this class's, not pg-boss's: pg-boss wakes every idle worker loop of a queue on
 * each NOTIFY, so a queue with 20 loops in each of 3 processes answered every job with up to 60
 * fetches, 59 of them empty (a quarter of all statements in the outbound bench). Here a NOTIFY
 * wakes one idle loop per process; a loop whose fetch came back full fetches again at once and wakes
 * one more, so a burst fans out to as many loops as it needs and a trickle costs one fetch per job.
 */
export class JobQueue {
  readonly boss: PgBoss;
  readonly #logger: Logger;
  readonly #pollingIntervalSeconds: number;
  readonly #queues = new Set<string>();
  readonly #loops = new Map<string, Loops>();
  #listener: { close(): Promise<void> } | undefined;
  readonly #schema: string;

  constructor(options: QueueOptions) {
    const connection = options.database.queueConnection;
    this.#logger = options.logger.child({ component: 'queue' });
    this.#pollingIntervalSeconds = options.pollingIntervalSeconds;
    this.#schema = `${options.database.schema}_queue`;
    this.boss = new PgBoss({
      ...(connection.backend === 'pglite'
        ? { db: connection.db, backend: 'pglite' }
        : { connectionString: connection.connectionString, backend: 'postgres', max: 4 }),
      schema: this.#schema,
      // Jobs still NOTIFY (every queue is defined with notify); this class listens (see above).
      useListenNotify: false,
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
    const db = this.boss.getDb();
    if (!db.listen) {
      this.#logger.warn('the database connection cannot LISTEN: workers find jobs by polling alone');
      return;
    }
    // The channel pg-boss's inserts notify on (its plans' notifyChannelSql).
    const { rows } = await db.executeSql(
      `select 'pgboss_' || left(encode(sha224($1::text::bytea), 'hex'), 24) as channel`,
      [this.#schema],
    );
    const channel = (rows[0] as { channel: string }).channel;
    this.#listener = await db.listen(
      channel,
      (name) => this.#wake(name),
      // Notifications sent while the listener was away are lost: every loop looks once.
      () => {
        for (const [name, loops] of this.#loops) for (const id of loops.ids) this.#notify(name, id);
      },
    );
  }

  /** Wakes one idle loop of the queue, or, all being busy, the next one to finish. */
  #wake(name: string): void {
    const loops = this.#loops.get(name);
    if (!loops) return;
    const idle = loops.ids.filter((id) => !loops.busy.has(id));
    if (idle.length === 0) {
      loops.owed = Math.min(loops.owed + 1, loops.ids.length);
      return;
    }
    this.#notify(name, idle[loops.next++ % idle.length]!);
  }

  #notify(name: string, id: string): void {
    try {
      this.boss.notifyWorker(id);
    } catch (error) {
      this.#logger.warn({ err: error, queue: name }, 'could not wake a queue worker');
    }
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

  /**
   * Runs `handler` on the queue's jobs in `localConcurrency` loops (1 by default), each fetching up
   * to `batchSize` jobs at a time.
   */
  async work<T extends object>(
    name: string,
    options: Omit<WorkOptions, 'pollingIntervalSeconds' | 'notifyPollingIntervalSeconds'>,
    handler: (jobs: Job<T>[]) => Promise<unknown>,
  ): Promise<void> {
    const { localConcurrency = 1, ...rest } = options;
    const batchSize = options.batchSize ?? 1;
    const loops: Loops = this.#loops.get(name) ?? { ids: [], busy: new Set(), owed: 0, next: 0 };
    this.#loops.set(name, loops);
    for (let i = 0; i < localConcurrency; i++) {
      const self: { id?: string } = {};
      const run = async (jobs: Job<T>[]) => {
        const id = self.id;
        if (id === undefined) return handler(jobs);
        loops.busy.add(id);
        const isFull = jobs.length >= batchSize;
        if (isFull) this.#wake(name); // there may be more: one more loop looks
        try {
          return await handler(jobs);
        } finally {
          loops.busy.delete(id);
          if (isFull || loops.owed > 0) {
            if (!isFull) loops.owed -= 1;
            this.#notify(name, id); // fetches again instead of sleeping out its poll
          }
        }
      };
      self.id = await this.boss.work<T>(
        name,
        { ...rest, localConcurrency: 1, pollingIntervalSeconds: this.#pollingIntervalSeconds },
        run,
      );
      loops.ids.push(self.id);
    }
  }

  /** Stops the queue's loops in this process (their running handlers finish). */
  async offWork(name: string): Promise<void> {
    this.#loops.delete(name);
    await this.boss.offWork(name);
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
    await this.#listener?.close().catch(() => {});
    this.#listener = undefined;
    await this.boss.stop({ graceful: true, close: true, timeout: timeoutMs });
  }
}
