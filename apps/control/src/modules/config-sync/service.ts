import { eq, sql } from 'drizzle-orm';
import type { ConfigSnapshot } from '@mic/contracts';
import type { Clock, Db } from '@mic/platform';
import type { EngineOutbox } from '../outbox/index.ts';
import { configVersion } from './schema.ts';

type Sections = Omit<ConfigSnapshot, 'version' | 'generatedAt'>;
export type SnapshotSection = () => Promise<Partial<Sections>>;

/**
 * Publishes the engine's configuration: every change raises the version in the transaction that
 * makes it and hints the engine through the outbox; the engine pulls the snapshot (and polls, so a
 * lost hint only delays it by one interval).
 */
export class ConfigPublisher {
  readonly #db: Db;
  readonly #clock: Clock;
  readonly #outbox: EngineOutbox;
  readonly #sections: SnapshotSection[] = [];
  #cached: ConfigSnapshot | undefined;

  constructor(db: Db, clock: Clock, outbox: EngineOutbox) {
    this.#db = db;
    this.#clock = clock;
    this.#outbox = outbox;
  }

  /** Modules that own part of the snapshot (tenants, flags) add a builder for it. */
  section(builder: SnapshotSection): void {
    this.#sections.push(builder);
  }

  /** Marks the configuration changed, inside the caller's transaction. */
  async changed(tx: Db): Promise<number> {
    const now = this.#clock.now();
    const [row] = await tx
      .insert(configVersion)
      .values({ id: 1, version: 1, changedAt: now })
      .onConflictDoUpdate({
        target: configVersion.id,
        set: { version: sql`${configVersion.version} + 1`, changedAt: now },
      })
      .returning({ version: configVersion.version });
    await this.#outbox.enqueue({ method: 'POST', path: '/internal/v1/config/hint', body: {} }, tx, {
      coalesceKey: 'config-hint',
      retryLimit: 20,
    });
    return row!.version;
  }

  async version(): Promise<number> {
    const [row] = await this.#db.select().from(configVersion).where(eq(configVersion.id, 1));
    return row?.version ?? 0;
  }

  /** The current snapshot, built again only when the version moved (read twice to catch a change mid-build). */
  async snapshot(): Promise<ConfigSnapshot> {
    for (;;) {
      const version = await this.version();
      if (this.#cached?.version === version) return this.#cached;
      const sections: Sections = { flags: {}, tenants: [], instances: [], channels: [] };
      for (const build of this.#sections) Object.assign(sections, await build());
      if ((await this.version()) !== version) continue;
      this.#cached = { version, generatedAt: this.#clock.now().toISOString(), ...sections };
      return this.#cached;
    }
  }
}
