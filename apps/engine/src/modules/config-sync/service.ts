import { eq } from 'drizzle-orm';
import { Compile } from 'typebox/compile';
import {
  ConfigSnapshot,
  snapshotEtag,
  type ConfigSyncStatus,
  type SnapshotInstance,
  type TenantModules,
} from '@mic/contracts';
import { PeerError, type Clock, type Db, type InternalClient, type Logger } from '@mic/platform';
import type { Routing } from '../routing/index.ts';
import { configSnapshots } from './schema.ts';

const validator = Compile(ConfigSnapshot);

/** Instances whose deliveries may have been released by a new snapshot: their held work is looked at again. */
export type ReleasedListener = (instanceIds: string[]) => Promise<void>;

/**
 * The engine's copy of control's configuration. Every replica pulls the snapshot on an interval
 * (and at once on control's hint), with the ETag so an unchanged one costs a 304; the first replica
 * to see a new version writes it and the routing table in one transaction. While control is
 * unreachable the engine runs from the last snapshot it stored.
 */
export class ConfigSync {
  readonly #db: Db;
  readonly #clock: Clock;
  readonly #control: InternalClient;
  readonly #routing: Routing;
  readonly #logger: Logger;
  readonly #released: ReleasedListener[] = [];
  #snapshot: ConfigSnapshot | undefined;
  #instances = new Map<string, SnapshotInstance>();
  #tenantModules = new Map<string, TenantModules>();
  #confirmedAt: Date | null = null;
  #lastAttemptAt: Date | null = null;
  #lastError: string | null = null;
  #pulling: Promise<void> | undefined;
  #again = false;

  constructor(deps: { db: Db; clock: Clock; control: InternalClient; routing: Routing; logger: Logger }) {
    this.#db = deps.db;
    this.#clock = deps.clock;
    this.#control = deps.control;
    this.#routing = deps.routing;
    this.#logger = deps.logger;
  }

  onReleased(listener: ReleasedListener): void {
    this.#released.push(listener);
  }

  get snapshot(): ConfigSnapshot | undefined {
    return this.#snapshot;
  }

  /** Loads the stored snapshot at start, before control is asked. */
  async load(): Promise<void> {
    const [row] = await this.#db.select().from(configSnapshots).where(eq(configSnapshots.id, 1));
    if (row) this.#use(row.body);
  }

  /** Pulls now; concurrent calls share one pull, and a call during a pull makes one more after it. */
  pull(): Promise<void> {
    if (this.#pulling) {
      this.#again = true;
      return this.#pulling;
    }
    this.#pulling = (async () => {
      try {
        do {
          this.#again = false;
          await this.#pullOnce();
        } while (this.#again);
      } finally {
        this.#pulling = undefined;
      }
    })();
    return this.#pulling;
  }

  async #pullOnce(): Promise<void> {
    this.#lastAttemptAt = this.#clock.now();
    let body: unknown;
    try {
      const headers: Record<string, string> = this.#snapshot
        ? { 'if-none-match': snapshotEtag(this.#snapshot.version) }
        : {};
      body = await this.#control.request<unknown>('GET', '/internal/v1/config/snapshot', undefined, headers);
    } catch (error) {
      this.#lastError = error instanceof PeerError ? error.message : String(error);
      return;
    }
    this.#lastError = null;
    this.#confirmedAt = this.#clock.now();
    if (body === undefined) return; // 304: ours is current
    if (!validator.Check(body)) {
      this.#lastError = 'control sent a snapshot that does not match the contract';
      this.#logger.error({ errors: [...validator.Errors(body)].slice(0, 5) }, this.#lastError);
      return;
    }
    await this.apply(body);
  }

  /** Stores a snapshot newer than ours and makes the routing table match it (tests call this directly). */
  async apply(snapshot: ConfigSnapshot): Promise<void> {
    const previous = this.#snapshot;
    if (previous && snapshot.version < previous.version) return;
    const routingChange = await this.#db.transaction(async (tx) => {
      const [stored] = await tx.select({ version: configSnapshots.version }).from(configSnapshots).for('update');
      if (stored && stored.version >= snapshot.version) return undefined; // another replica wrote it
      const row = { id: 1, version: snapshot.version, body: snapshot, fetchedAt: this.#clock.now() };
      await tx.insert(configSnapshots).values(row).onConflictDoUpdate({ target: configSnapshots.id, set: row });
      return this.#routing.apply(tx, snapshot);
    });
    if (routingChange) await this.#routing.applied(routingChange);
    this.#use(snapshot);
    const released = new Set(routingChange?.reenabled ?? []);
    for (const id of this.#releasedBy(previous, snapshot)) released.add(id);
    if (released.size > 0) for (const listener of this.#released) await listener([...released]);
    if (!previous || previous.version !== snapshot.version) {
      this.#logger.info({ version: snapshot.version }, 'running config snapshot');
    }
  }

  #use(snapshot: ConfigSnapshot): void {
    this.#snapshot = snapshot;
    this.#instances = new Map(snapshot.instances.map((i) => [i.id, i]));
    this.#tenantModules = new Map(snapshot.tenants.map((t) => [t.id, t.modules]));
  }

  /** Active instances that the previous snapshot held back (paused, a module or the engine off). */
  #releasedBy(previous: ConfigSnapshot | undefined, next: ConfigSnapshot): string[] {
    if (!previous) return next.instances.filter((i) => i.state === 'active').map((i) => i.id);
    const was = new Map(previous.instances.map((i) => [i.id, i]));
    const tenantsBefore = new Map(previous.tenants.map((t) => [t.id, JSON.stringify(t.modules)]));
    const flagsChanged = JSON.stringify(previous.flags) !== JSON.stringify(next.flags);
    return next.instances
      .filter((i) => i.state === 'active')
      .filter(
        (i) =>
          flagsChanged ||
          was.get(i.id)?.state !== 'active' ||
          tenantsBefore.get(i.tenantId) !== JSON.stringify(this.#tenantModules.get(i.tenantId)),
      )
      .map((i) => i.id);
  }

  instance(id: string): SnapshotInstance | undefined {
    return this.#instances.get(id);
  }

  tenantModules(tenantId: string): TenantModules | undefined {
    return this.#tenantModules.get(tenantId);
  }

  globalFlags(): Record<string, boolean> {
    return this.#snapshot?.flags ?? {};
  }

  /** How old the engine's view is: the time since control last confirmed it. */
  status(): ConfigSyncStatus {
    const now = this.#clock.now().getTime();
    return {
      version: this.#snapshot?.version ?? null,
      fetchedAt: this.#confirmedAt?.toISOString() ?? null,
      lastAttemptAt: this.#lastAttemptAt?.toISOString() ?? null,
      lastError: this.#lastError,
      ageSeconds: this.#confirmedAt ? (now - this.#confirmedAt.getTime()) / 1000 : null,
    };
  }
}
