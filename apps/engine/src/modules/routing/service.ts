import { and, asc, eq, inArray } from 'drizzle-orm';
import { LRUCache } from 'lru-cache';
import type { Clock, Db } from '@mic/platform';
import type { ChannelPlatform, ConfigSnapshot } from '@mic/contracts';
import { channelRoutes, instanceRoutes } from './schema.ts';

export interface Route {
  instanceId: string;
  tenantId: string;
}

export type ChannelRoutedListener = (platform: ChannelPlatform, channelId: string, route: Route) => Promise<number>;

/** The routing table: channel → instance, and each instance's endpoint and state, as control's snapshot says. */
export class Routing {
  readonly #db: Db;
  readonly #clock: Clock;
  readonly #listeners: ChannelRoutedListener[] = [];
  readonly #reenabledListeners: ((instanceId: string) => Promise<void>)[] = [];

  /**
   * Lookups on the hot path (every webhook, every delivery) are kept for `cacheMs`; this process
   * forgets them on change, and other replicas see a change within `cacheMs`.
   */
  readonly #routes: LRUCache<string, { route: Route | null }>;
  readonly #instanceRows: LRUCache<string, { row: typeof instanceRoutes.$inferSelect | null }>;

  constructor(db: Db, clock: Clock, cacheMs = 1_000) {
    this.#db = db;
    this.#clock = clock;
    this.#routes = new LRUCache({ max: 50_000, ttl: Math.max(1, cacheMs) });
    this.#instanceRows = new LRUCache({ max: 10_000, ttl: Math.max(1, cacheMs) });
  }

  #forget(): void {
    this.#routes.clear();
    this.#instanceRows.clear();
  }

  /** Called for each channel that gets an instance, e.g. to route the events kept unrouted until then. */
  onChannelRouted(listener: ChannelRoutedListener): void {
    this.#listeners.push(listener);
  }

  /** Called after control re-enables an endpoint that a 410 had disabled (a new endpoint revision). */
  onEndpointReenabled(listener: (instanceId: string) => Promise<void>): void {
    this.#reenabledListeners.push(listener);
  }

  /**
   * Makes the routing table what a config snapshot says, inside `tx`; returns the instances whose
   * endpoint came back (a raised revision clears a 410) and the channels that got a new owner, for
   * `routed` to act on after commit.
   */
  async apply(tx: Db, snapshot: Pick<ConfigSnapshot, 'instances' | 'channels'>) {
    const now = this.#clock.now();
    const existing = new Map((await tx.select().from(instanceRoutes)).map((r) => [r.instanceId, r]));
    const reenabled: string[] = [];
    for (const instance of snapshot.instances) {
      const previous = existing.get(instance.id);
      const endpointIsNew =
        !previous ||
        instance.endpointRevision > previous.endpointRevision ||
        instance.webhookUrl !== previous.webhookUrl;
      if (previous?.disabledAt && endpointIsNew) reenabled.push(instance.id);
      const row = {
        instanceId: instance.id,
        tenantId: instance.tenantId,
        kind: instance.kind,
        webhookUrl: instance.webhookUrl,
        deliveryFormat: instance.deliveryFormat,
        state: instance.state,
        endpointRevision: instance.endpointRevision,
        disabledAt: endpointIsNew ? null : (previous?.disabledAt ?? null),
        disabledReason: endpointIsNew ? null : (previous?.disabledReason ?? null),
        updatedAt: now,
      };
      await tx.insert(instanceRoutes).values(row).onConflictDoUpdate({ target: instanceRoutes.instanceId, set: row });
    }
    const kept = new Set(snapshot.instances.map((i) => i.id));
    const gone = [...existing.keys()].filter((id) => !kept.has(id));
    if (gone.length > 0) await tx.delete(instanceRoutes).where(inArray(instanceRoutes.instanceId, gone));

    const owners = new Map(
      (await tx.select().from(channelRoutes)).map((c) => [`${c.platform}:${c.channelId}`, c.instanceId]),
    );
    // A channel whose instance the snapshot does not list stays unrouted (its events wait).
    const wanted = new Map(
      snapshot.channels.filter((c) => kept.has(c.instanceId)).map((c) => [`${c.platform}:${c.channelId}`, c]),
    );
    const routed: { platform: ChannelPlatform; channelId: string; route: Route }[] = [];
    for (const [key, channel] of wanted) {
      if (owners.get(key) === channel.instanceId) continue;
      const row = {
        platform: channel.platform,
        channelId: channel.channelId,
        instanceId: channel.instanceId,
        updatedAt: now,
      };
      await tx
        .insert(channelRoutes)
        .values(row)
        .onConflictDoUpdate({ target: [channelRoutes.platform, channelRoutes.channelId], set: row });
      const tenantId = snapshot.instances.find((i) => i.id === channel.instanceId)?.tenantId;
      if (tenantId)
        routed.push({
          platform: channel.platform,
          channelId: channel.channelId,
          route: { instanceId: channel.instanceId, tenantId },
        });
    }
    for (const key of owners.keys()) {
      if (wanted.has(key)) continue;
      const [platform, ...rest] = key.split(':');
      await tx
        .delete(channelRoutes)
        .where(and(eq(channelRoutes.platform, platform!), eq(channelRoutes.channelId, rest.join(':'))));
    }
    return { reenabled, routed };
  }

  /** After the snapshot's transaction commits: forget cached routes, route waiting events. */
  async applied(result: Awaited<ReturnType<Routing['apply']>>): Promise<number> {
    this.#forget();
    for (const instanceId of result.reenabled)
      for (const listener of this.#reenabledListeners) await listener(instanceId);
    let rerouted = 0;
    for (const { platform, channelId, route } of result.routed) {
      for (const listener of this.#listeners) rerouted += await listener(platform, channelId, route);
    }
    return rerouted;
  }

  async disable(instanceId: string, reason: string): Promise<void> {
    await this.#db
      .update(instanceRoutes)
      .set({ disabledAt: this.#clock.now(), disabledReason: reason })
      .where(eq(instanceRoutes.instanceId, instanceId));
    this.#forget();
  }

  async instances() {
    return this.#db.select().from(instanceRoutes).orderBy(asc(instanceRoutes.instanceId));
  }

  /** The instance's route; `db` is the caller's transaction when it holds one (PGlite has one connection). */
  async instance(instanceId: string, db: Db = this.#db) {
    const cached = this.#instanceRows.get(instanceId);
    if (cached) return cached.row ?? undefined;
    const [row] = await db.select().from(instanceRoutes).where(eq(instanceRoutes.instanceId, instanceId));
    this.#instanceRows.set(instanceId, { row: row ?? null });
    return row;
  }

  /**
   * The instance that owns a channel, or null: its events are kept as unrouted. `db` is the
   * caller's transaction when it holds one; `fresh` reads past this process's cache.
   */
  async routeOf(
    platform: string,
    channelId: string | null,
    { db = this.#db, fresh = false }: { db?: Db; fresh?: boolean } = {},
  ): Promise<Route | null> {
    if (!channelId) return null;
    const key = `${platform}:${channelId}`;
    const cached = fresh ? undefined : this.#routes.get(key);
    if (cached) return cached.route;
    const [row] = await db
      .select({ instanceId: instanceRoutes.instanceId, tenantId: instanceRoutes.tenantId })
      .from(channelRoutes)
      .innerJoin(instanceRoutes, eq(instanceRoutes.instanceId, channelRoutes.instanceId))
      .where(and(eq(channelRoutes.platform, platform), eq(channelRoutes.channelId, channelId)));
    this.#routes.set(key, { route: row ?? null });
    return row ?? null;
  }
}
