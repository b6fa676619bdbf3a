import { and, eq, gte, lt, sql } from 'drizzle-orm';
import { uuidv7 } from 'uuidv7';
import type { Clock, Db, Logger } from '@mic/platform';
import { instanceAvailability, instanceProbes } from './schema.ts';

/** A probe's outcome: answered with a valid health result (`ok`), or why not. */
export interface ProbeSample {
  instanceId: string;
  at: Date;
  ok: boolean;
  latencyMs: number;
  status: string | null;
  error: string | null;
}

/** An instance that stopped answering (`down`) or answers again (`up`). */
export interface AvailabilityChange {
  instanceId: string;
  state: 'up' | 'down';
  /** When the new state began. */
  since: Date;
  lastOkAt: Date | null;
  consecutiveFailures: number;
  /** The last probe's error, when down. */
  error: string | null;
}

export type AvailabilityListener = (change: AvailabilityChange) => void | Promise<void>;

export interface InstanceUptimeInfo {
  instanceId: string;
  state: 'up' | 'down' | 'unknown';
  since: Date | null;
  lastOkAt: Date | null;
  consecutiveFailures: number;
  ratio24h: number | null;
  ratio30d: number | null;
  probes24h: number;
  probes30d: number;
}

const DAY_MS = 86_400_000;

/**
 * Per-instance availability from probe samples. An instance is `down` once it has failed every
 * probe for `downAfterMs` (counted from its first failed probe, so a restart of control after a
 * long stop does not mark everything down at the first miss), and `up` at its next answer.
 * Listeners hear each change once: the transition is decided in the transaction that records it.
 */
export class Availability {
  readonly #db: Db;
  readonly #clock: Clock;
  readonly #logger: Logger;
  readonly #downAfterMs: number;
  readonly #retentionMs: number;
  readonly #listeners = { down: new Set<AvailabilityListener>(), up: new Set<AvailabilityListener>() };

  constructor(deps: { db: Db; clock: Clock; logger: Logger; downAfterMs: number; retentionMs: number }) {
    this.#db = deps.db;
    this.#clock = deps.clock;
    this.#logger = deps.logger;
    this.#downAfterMs = deps.downAfterMs;
    this.#retentionMs = deps.retentionMs;
  }

  on(state: 'up' | 'down', listener: AvailabilityListener): () => void {
    this.#listeners[state].add(listener);
    return () => this.#listeners[state].delete(listener);
  }

  async record(sample: ProbeSample): Promise<AvailabilityChange | null> {
    const change = await this.#db.transaction(async (tx) => {
      await tx.insert(instanceProbes).values({ id: uuidv7(), ...sample });
      const [current] = await tx
        .select()
        .from(instanceAvailability)
        .where(eq(instanceAvailability.instanceId, sample.instanceId))
        .for('update');
      const next = this.#next(current, sample);
      await tx
        .insert(instanceAvailability)
        .values(next)
        .onConflictDoUpdate({ target: instanceAvailability.instanceId, set: next });
      const wasDown = current?.state === 'down';
      if (next.state === 'down' && !wasDown) return { ...next, state: 'down' as const, error: sample.error };
      if (next.state === 'up' && wasDown) return { ...next, state: 'up' as const, error: null };
      return null;
    });
    if (change) await this.#tell(change);
    return change;
  }

  #next(
    current: typeof instanceAvailability.$inferSelect | undefined,
    sample: ProbeSample,
  ): typeof instanceAvailability.$inferSelect {
    if (sample.ok) {
      return {
        instanceId: sample.instanceId,
        state: 'up',
        since: current?.state === 'up' ? current.since : sample.at,
        lastOkAt: sample.at,
        failingSince: null,
        consecutiveFailures: 0,
      };
    }
    const failingSince = current?.failingSince ?? sample.at;
    const isDown = current?.state === 'down' || sample.at.getTime() - failingSince.getTime() >= this.#downAfterMs;
    const state = isDown ? 'down' : (current?.state ?? 'unknown');
    return {
      instanceId: sample.instanceId,
      state,
      since: current && current.state === state ? current.since : sample.at,
      lastOkAt: current?.lastOkAt ?? null,
      failingSince,
      consecutiveFailures: (current?.consecutiveFailures ?? 0) + 1,
    };
  }

  async #tell(change: AvailabilityChange): Promise<void> {
    if (change.state === 'down') {
      this.#logger.warn(
        { instanceId: change.instanceId, lastOkAt: change.lastOkAt, error: change.error },
        'instance unreachable',
      );
    } else {
      this.#logger.info({ instanceId: change.instanceId }, 'instance reachable again');
    }
    for (const listener of this.#listeners[change.state]) {
      try {
        await listener(change);
      } catch (error) {
        this.#logger.error({ err: error, instanceId: change.instanceId }, `instance ${change.state} listener failed`);
      }
    }
  }

  async prune(): Promise<void> {
    await this.#db
      .delete(instanceProbes)
      .where(lt(instanceProbes.at, new Date(this.#clock.now().getTime() - this.#retentionMs)));
  }

  async uptime(instanceId: string): Promise<InstanceUptimeInfo> {
    const now = this.#clock.now().getTime();
    const dayAgo = sql`${new Date(now - DAY_MS).toISOString()}::timestamptz`;
    const [current] = await this.#db
      .select()
      .from(instanceAvailability)
      .where(eq(instanceAvailability.instanceId, instanceId));
    const [counts] = await this.#db
      .select({
        probes24h: sql<number>`count(*) filter (where ${instanceProbes.at} >= ${dayAgo})`.mapWith(Number),
        ok24h: sql<number>`count(*) filter (where ${instanceProbes.at} >= ${dayAgo} and ${instanceProbes.ok})`.mapWith(
          Number,
        ),
        probes30d: sql<number>`count(*)`.mapWith(Number),
        ok30d: sql<number>`count(*) filter (where ${instanceProbes.ok})`.mapWith(Number),
      })
      .from(instanceProbes)
      .where(and(eq(instanceProbes.instanceId, instanceId), gte(instanceProbes.at, new Date(now - 30 * DAY_MS))));
    const ratio = (ok: number, all: number) => (all === 0 ? null : ok / all);
    return {
      instanceId,
      state: (current?.state as InstanceUptimeInfo['state'] | undefined) ?? 'unknown',
      since: current?.since ?? null,
      lastOkAt: current?.lastOkAt ?? null,
      consecutiveFailures: current?.consecutiveFailures ?? 0,
      ratio24h: ratio(counts?.ok24h ?? 0, counts?.probes24h ?? 0),
      ratio30d: ratio(counts?.ok30d ?? 0, counts?.probes30d ?? 0),
      probes24h: counts?.probes24h ?? 0,
      probes30d: counts?.probes30d ?? 0,
    };
  }
}
