import { and, eq, sql } from 'drizzle-orm';
import type { Db } from '@mic/platform';
import { conversationLeases } from './schema.ts';

export interface ConversationKey {
  instanceId: string;
  conversation: string;
}

/** Who may deliver a conversation now: one drain at a time, across every worker process. */
export interface ConversationLeases {
  /** False when another drain holds it: that drain is told (see `release`). */
  claim(key: ConversationKey, holder: string): Promise<boolean>;
  /** False when the lease was lost (expired and taken): the holder must stop. */
  renew(key: ConversationKey, holder: string): Promise<boolean>;
  /** Lets go; true when a drain was turned away meanwhile (its deliveries may wait for a look). */
  release(key: ConversationKey, holder: string): Promise<boolean>;
}

const where = (key: ConversationKey) =>
  and(eq(conversationLeases.instanceId, key.instanceId), eq(conversationLeases.conversation, key.conversation));

/**
 * Leases as rows, for Postgres, where several engine processes share the database. A holder
 * renews only once a third of its lease has gone by (one write per drain in the common case), so
 * an attempt always starts with two thirds of a lease ahead of it.
 */
export class DatabaseLeases implements ConversationLeases {
  readonly #db: Db;
  readonly #leaseMs: number;
  /** When each of this process's holders last wrote its lease. */
  readonly #writtenAt = new Map<string, number>();

  constructor(db: Db, leaseMs: number) {
    this.#db = db;
    this.#leaseMs = leaseMs;
  }

  async claim(key: ConversationKey, holder: string): Promise<boolean> {
    const now = Date.now();
    const leasedUntil = new Date(now + this.#leaseMs);
    const at = new Date(now).toISOString();
    // A live lease is not taken, but marked contended: its holder looks again before letting go.
    const [row] = await this.#db
      .insert(conversationLeases)
      .values({ ...key, holder, leasedUntil, contended: false })
      .onConflictDoUpdate({
        target: [conversationLeases.instanceId, conversationLeases.conversation],
        set: {
          holder: sql`case when ${conversationLeases.leasedUntil} < ${at}::timestamptz then ${holder}::uuid else ${conversationLeases.holder} end`,
          leasedUntil: sql`case when ${conversationLeases.leasedUntil} < ${at}::timestamptz then ${leasedUntil.toISOString()}::timestamptz else ${conversationLeases.leasedUntil} end`,
          contended: sql`${conversationLeases.leasedUntil} >= ${at}::timestamptz`,
        },
      })
      .returning({ holder: conversationLeases.holder });
    if (row?.holder !== holder) return false;
    this.#writtenAt.set(holder, now);
    return true;
  }

  async renew(key: ConversationKey, holder: string): Promise<boolean> {
    const now = Date.now();
    if (now - (this.#writtenAt.get(holder) ?? 0) < this.#leaseMs / 3) return true;
    const renewed = await this.#db
      .update(conversationLeases)
      .set({ leasedUntil: new Date(now + this.#leaseMs) })
      .where(and(where(key), eq(conversationLeases.holder, holder)))
      .returning({ holder: conversationLeases.holder });
    if (renewed.length === 0) return false;
    this.#writtenAt.set(holder, now);
    return true;
  }

  async release(key: ConversationKey, holder: string): Promise<boolean> {
    this.#writtenAt.delete(holder);
    const [released] = await this.#db
      .delete(conversationLeases)
      .where(and(where(key), eq(conversationLeases.holder, holder)))
      .returning({ contended: conversationLeases.contended });
    return released?.contended ?? false;
  }
}

/**
 * Leases in memory, for the embedded PGlite database: its folder belongs to one process (MIC's
 * lock file), so that process is the only one that can deliver, and a crash ends its leases too.
 */
export class ProcessLeases implements ConversationLeases {
  readonly #holders = new Map<string, { holder: string; contended: boolean }>();

  async claim(key: ConversationKey, holder: string): Promise<boolean> {
    const id = `${key.instanceId}|${key.conversation}`;
    const held = this.#holders.get(id);
    if (held) {
      held.contended = true;
      return false;
    }
    this.#holders.set(id, { holder, contended: false });
    return true;
  }

  async renew(key: ConversationKey, holder: string): Promise<boolean> {
    return this.#holders.get(`${key.instanceId}|${key.conversation}`)?.holder === holder;
  }

  async release(key: ConversationKey, holder: string): Promise<boolean> {
    const id = `${key.instanceId}|${key.conversation}`;
    const held = this.#holders.get(id);
    if (held?.holder !== holder) return false;
    this.#holders.delete(id);
    return held.contended;
  }
}
