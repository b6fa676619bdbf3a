import { and, eq, lt } from 'drizzle-orm';
import type { Db } from '@mic/platform';
import { conversationLeases } from './schema.ts';

export interface ConversationKey {
  instanceId: string;
  conversation: string;
}

/** Who may deliver a conversation now: one drain at a time, across every worker process. */
export interface ConversationLeases {
  claim(key: ConversationKey, holder: string): Promise<boolean>;
  /** False when the lease was lost (expired and taken): the holder must stop. */
  renew(key: ConversationKey, holder: string): Promise<boolean>;
  release(key: ConversationKey, holder: string): Promise<void>;
}

const where = (key: ConversationKey) =>
  and(eq(conversationLeases.instanceId, key.instanceId), eq(conversationLeases.conversation, key.conversation));

/** Leases as rows, for Postgres, where several engine processes share the database. */
export class DatabaseLeases implements ConversationLeases {
  readonly #db: Db;
  readonly #leaseMs: number;

  constructor(db: Db, leaseMs: number) {
    this.#db = db;
    this.#leaseMs = leaseMs;
  }

  async claim(key: ConversationKey, holder: string): Promise<boolean> {
    const now = new Date();
    const [row] = await this.#db
      .insert(conversationLeases)
      .values({ ...key, holder, leasedUntil: new Date(now.getTime() + this.#leaseMs) })
      .onConflictDoUpdate({
        target: [conversationLeases.instanceId, conversationLeases.conversation],
        set: { holder, leasedUntil: new Date(now.getTime() + this.#leaseMs) },
        setWhere: lt(conversationLeases.leasedUntil, now),
      })
      .returning({ holder: conversationLeases.holder });
    return row?.holder === holder;
  }

  async renew(key: ConversationKey, holder: string): Promise<boolean> {
    const renewed = await this.#db
      .update(conversationLeases)
      .set({ leasedUntil: new Date(Date.now() + this.#leaseMs) })
      .where(and(where(key), eq(conversationLeases.holder, holder)))
      .returning({ holder: conversationLeases.holder });
    return renewed.length > 0;
  }

  async release(key: ConversationKey, holder: string): Promise<void> {
    await this.#db.delete(conversationLeases).where(and(where(key), eq(conversationLeases.holder, holder)));
  }
}

/**
 * Leases in memory, for the embedded PGlite database: its folder belongs to one process (MIC's
 * lock file), so that process is the only one that can deliver, and a crash ends its leases too.
 */
export class ProcessLeases implements ConversationLeases {
  readonly #holders = new Map<string, string>();

  async claim(key: ConversationKey, holder: string): Promise<boolean> {
    const id = `${key.instanceId}|${key.conversation}`;
    if (this.#holders.has(id)) return false;
    this.#holders.set(id, holder);
    return true;
  }

  async renew(key: ConversationKey, holder: string): Promise<boolean> {
    return this.#holders.get(`${key.instanceId}|${key.conversation}`) === holder;
  }

  async release(key: ConversationKey, holder: string): Promise<void> {
    const id = `${key.instanceId}|${key.conversation}`;
    if (this.#holders.get(id) === holder) this.#holders.delete(id);
  }
}
