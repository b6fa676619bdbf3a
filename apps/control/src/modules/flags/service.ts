import { GLOBAL_FLAGS, type GlobalFlag } from '@mic/contracts';
import { problems, type Clock, type Db } from '@mic/platform';
import type { ConfigPublisher } from '../config-sync/index.ts';
import { featureFlags } from './schema.ts';

export interface FlagState {
  key: GlobalFlag;
  description: string;
  enabled: boolean;
  updatedAt: Date | null;
  updatedBy: string | null;
}

export const isGlobalFlag = (key: string): key is GlobalFlag => key in GLOBAL_FLAGS;

/** Global flags: `engine.enabled` and the module kill switches; the engine gets them in its snapshot. */
export class FeatureFlags {
  readonly #db: Db;
  readonly #clock: Clock;
  readonly #publisher: ConfigPublisher;
  #values = new Map<string, typeof featureFlags.$inferSelect>();

  constructor(db: Db, clock: Clock, publisher: ConfigPublisher) {
    this.#db = db;
    this.#clock = clock;
    this.#publisher = publisher;
  }

  async load(): Promise<void> {
    const rows = await this.#db.select().from(featureFlags);
    this.#values = new Map(rows.map((r) => [r.key, r]));
  }

  /** Stored values only; an absent flag is on. */
  values(): Record<string, boolean> {
    return Object.fromEntries([...this.#values].map(([key, row]) => [key, row.enabled]));
  }

  list(): FlagState[] {
    return (Object.keys(GLOBAL_FLAGS) as GlobalFlag[]).map((key) => {
      const row = this.#values.get(key);
      return {
        key,
        description: GLOBAL_FLAGS[key],
        enabled: row?.enabled ?? true,
        updatedAt: row?.updatedAt ?? null,
        updatedBy: row?.updatedBy ?? null,
      };
    });
  }

  /** Sets a flag inside the caller's transaction; returns the state before and after. */
  async set(tx: Db, key: string, enabled: boolean, by: string): Promise<{ before: FlagState; after: FlagState }> {
    if (!isGlobalFlag(key))
      throw problems.notFound(`no flag ${key}; known flags: ${Object.keys(GLOBAL_FLAGS).join(', ')}`);
    const before = this.list().find((f) => f.key === key)!;
    const row = { key, enabled, updatedAt: this.#clock.now(), updatedBy: by };
    await tx.insert(featureFlags).values(row).onConflictDoUpdate({ target: featureFlags.key, set: row });
    await this.#publisher.changed(tx);
    return { before, after: { ...before, enabled, updatedAt: row.updatedAt, updatedBy: by } };
  }

  /** Called after the transaction that set flags commits. */
  async refresh(): Promise<void> {
    await this.load();
  }
}
