import { and, asc, eq } from 'drizzle-orm';
import { LRUCache } from 'lru-cache';
import type { Clock, Db } from '@mic/platform';
import { problems } from '@mic/platform';
import type { ChannelPlatform, PutInstanceRoute } from '@mic/contracts';
import { channelRoutes, instanceRoutes } from './schema.ts';

export interface Route {
  instanceId: string;
  tenantId: string;
}

export type ChannelRoutedListener = (platform: ChannelPlatform, channelId: string, route: Route) => Promise<number>;

/** The routing table: channel → instance, and each instance's endpoint. */
export class Routing {
  readonly #db: Db;
  readonly #clock: Clock;
  readonly #listeners: ChannelRoutedListener[] = [];
  readonly #instanceListeners: ((instanceId: string) => Promise<void>)[] = [];

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

  /** Called after an instance's route is set (a re-enabled endpoint gets its held deliveries). */
  onInstanceUpdated(listener: (instanceId: string) => Promise<void>): void {
    this.#instanceListeners.push(listener);
  }

  /** Sets an instance's endpoint; setting it again re-enables an endpoint disabled by a 410. */
  async putInstance(instanceId: string, body: PutInstanceRoute) {
    const row = {
      instanceId,
      tenantId: body.tenantId,
      webhookUrl: body.webhookUrl,
      deliveryFormat: body.deliveryFormat ?? 'standard-webhooks',
      disabledAt: null,
      disabledReason: null,
      updatedAt: this.#clock.now(),
    };
    await this.#db
      .insert(instanceRoutes)
      .values(row)
      .onConflictDoUpdate({ target: instanceRoutes.instanceId, set: row });
    for (const listener of this.#instanceListeners) await listener(instanceId);
    return row;
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

  async instance(instanceId: string) {
    const cached = this.#instanceRows.get(instanceId);
    if (cached) return cached.row ?? undefined;
    const [row] = await this.#db.select().from(instanceRoutes).where(eq(instanceRoutes.instanceId, instanceId));
    this.#instanceRows.set(instanceId, { row: row ?? null });
    return row;
  }

  /** Called when a channel gets an instance, e.g. to route the events kept unrouted until then. */
  onChannelRouted(listener: ChannelRoutedListener): void {
    this.#listeners.push(listener);
  }

  /** Gives a channel to an instance; returns how many waiting events the listeners routed. */
  async putChannel(platform: ChannelPlatform, channelId: string, instanceId: string): Promise<number> {
    const instance = await this.instance(instanceId);
    if (!instance) throw problems.notFound(`no instance ${instanceId} in the routing table`);
    const row = { platform, channelId, instanceId, updatedAt: this.#clock.now() };
    await this.#db
      .insert(channelRoutes)
      .values(row)
      .onConflictDoUpdate({ target: [channelRoutes.platform, channelRoutes.channelId], set: row });
    this.#forget();
    let rerouted = 0;
    for (const listener of this.#listeners) {
      rerouted += await listener(platform, channelId, { instanceId, tenantId: instance.tenantId });
    }
    return rerouted;
  }

  async removeChannel(platform: ChannelPlatform, channelId: string): Promise<boolean> {
    const rows = await this.#db
      .delete(channelRoutes)
      .where(and(eq(channelRoutes.platform, platform), eq(channelRoutes.channelId, channelId)))
      .returning({ id: channelRoutes.channelId });
    this.#forget();
    return rows.length > 0;
  }

  /** The instance that owns a channel, or null: its events are kept as unrouted. */
  async routeOf(platform: string, channelId: string | null): Promise<Route | null> {
    if (!channelId) return null;
    const key = `${platform}:${channelId}`;
    const cached = this.#routes.get(key);
    if (cached) return cached.route;
    const [row] = await this.#db
      .select({ instanceId: instanceRoutes.instanceId, tenantId: instanceRoutes.tenantId })
      .from(channelRoutes)
      .innerJoin(instanceRoutes, eq(instanceRoutes.instanceId, channelRoutes.instanceId))
      .where(and(eq(channelRoutes.platform, platform), eq(channelRoutes.channelId, channelId)));
    this.#routes.set(key, { route: row ?? null });
    return row ?? null;
  }
}
