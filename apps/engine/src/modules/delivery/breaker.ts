import { and, eq, lte, or, sql } from 'drizzle-orm';
import type { Clock, Db } from '@mic/platform';
import { endpointBreakers } from './schema.ts';

export interface BreakerPolicy {
  /** Consecutive failures that open the breaker. */
  threshold: number;
  /** How long it stays open before one probe is let through (half-open). */
  halfOpenAfterMs: number;
}

export type Permit = { allowed: true; isProbe: boolean } | { allowed: false; retryAt: Date };
export type BreakerAlert = 'breaker.opened' | 'breaker.closed';

/**
 * A circuit breaker per instance endpoint, its state in the database so that every worker replica
 * sees the same one. While open, that instance's deliveries wait (no attempt is spent); after
 * `halfOpenAfterMs` exactly one worker wins the right to probe; a success closes it.
 */
export class EndpointBreakers {
  readonly #db: Db;
  readonly #clock: Clock;
  readonly #policy: BreakerPolicy;
  readonly #onAlert: (kind: BreakerAlert, instanceId: string, detail: object) => Promise<void>;
  /**
   * Endpoints this process saw healthy (closed, no failure) in the last second: the hot path skips
   * the database for them. Another replica's view reaches this one within that second.
   */
  readonly #healthyUntil = new Map<string, number>();
  static readonly HEALTHY_CACHE_MS = 1_000;

  constructor(
    db: Db,
    clock: Clock,
    policy: BreakerPolicy,
    onAlert: (kind: BreakerAlert, instanceId: string, detail: object) => Promise<void>,
  ) {
    this.#db = db;
    this.#clock = clock;
    this.#policy = policy;
    this.#onAlert = onAlert;
  }

  async permit(instanceId: string): Promise<Permit> {
    if ((this.#healthyUntil.get(instanceId) ?? 0) > Date.now()) return { allowed: true, isProbe: false };
    const [row] = await this.#db.select().from(endpointBreakers).where(eq(endpointBreakers.instanceId, instanceId));
    if (!row || (row.state === 'closed' && row.consecutiveFailures === 0)) this.#markHealthy(instanceId);
    if (!row || row.state === 'closed') return { allowed: true, isProbe: false };
    const now = this.#clock.now();
    // Open and due, or a half-open probe whose worker died: one worker takes the probe.
    const [won] = await this.#db
      .update(endpointBreakers)
      .set({ state: 'half_open', probeAt: new Date(now.getTime() + this.#policy.halfOpenAfterMs), updatedAt: now })
      .where(
        and(
          eq(endpointBreakers.instanceId, instanceId),
          or(eq(endpointBreakers.state, 'open'), eq(endpointBreakers.state, 'half_open')),
          lte(endpointBreakers.probeAt, now),
        ),
      )
      .returning({ instanceId: endpointBreakers.instanceId });
    if (won) return { allowed: true, isProbe: true };
    // Another worker is probing (or just took the probe): come back when its probe window ends,
    // never in the past, so waiting drains do not spin.
    const [current] = await this.#db
      .select({ probeAt: endpointBreakers.probeAt })
      .from(endpointBreakers)
      .where(eq(endpointBreakers.instanceId, instanceId));
    const probeAt = current?.probeAt?.getTime() ?? now.getTime() + this.#policy.halfOpenAfterMs;
    return { allowed: false, retryAt: new Date(Math.max(probeAt, now.getTime() + 250)) };
  }

  #markHealthy(instanceId: string): void {
    this.#healthyUntil.set(instanceId, Date.now() + EndpointBreakers.HEALTHY_CACHE_MS);
  }

  async success(instanceId: string): Promise<void> {
    if ((this.#healthyUntil.get(instanceId) ?? 0) > Date.now()) return; // nothing to reset
    const now = this.#clock.now();
    const [before] = await this.#db
      .select({ state: endpointBreakers.state })
      .from(endpointBreakers)
      .where(eq(endpointBreakers.instanceId, instanceId));
    if (!before) return;
    await this.#db
      .update(endpointBreakers)
      .set({ state: 'closed', consecutiveFailures: 0, openedAt: null, probeAt: null, updatedAt: now })
      .where(eq(endpointBreakers.instanceId, instanceId));
    this.#markHealthy(instanceId);
    if (before.state !== 'closed') await this.#onAlert('breaker.closed', instanceId, { closedAt: now.toISOString() });
  }

  async failure(instanceId: string): Promise<void> {
    this.#healthyUntil.delete(instanceId);
    const now = this.#clock.now();
    const [row] = await this.#db
      .insert(endpointBreakers)
      .values({ instanceId, state: 'closed', consecutiveFailures: 1, updatedAt: now })
      .onConflictDoUpdate({
        target: endpointBreakers.instanceId,
        set: { consecutiveFailures: sql`${endpointBreakers.consecutiveFailures} + 1`, updatedAt: now },
      })
      .returning();
    const probeAt = new Date(now.getTime() + this.#policy.halfOpenAfterMs);
    if (row!.state === 'half_open') {
      await this.#db
        .update(endpointBreakers)
        .set({ state: 'open', probeAt })
        .where(eq(endpointBreakers.instanceId, instanceId));
    } else if (row!.state === 'closed' && row!.consecutiveFailures >= this.#policy.threshold) {
      const [opened] = await this.#db
        .update(endpointBreakers)
        .set({ state: 'open', openedAt: now, probeAt })
        .where(and(eq(endpointBreakers.instanceId, instanceId), eq(endpointBreakers.state, 'closed')))
        .returning({ instanceId: endpointBreakers.instanceId });
      if (opened)
        await this.#onAlert('breaker.opened', instanceId, {
          failures: row!.consecutiveFailures,
          probeAt: probeAt.toISOString(),
        });
    }
  }
}
