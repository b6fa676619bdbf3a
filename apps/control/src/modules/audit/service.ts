import { and, asc, desc, eq, gt, gte, like, lt, or, sql, type SQL } from 'drizzle-orm';
import { uuidv7 } from 'uuidv7';
import type { Clock, Db } from '@mic/platform';
import type { AuditActorType, AuditVerification } from '@mic/contracts';
import { auditLog } from './schema.ts';
import { chainHash, GENESIS_HASH, redact, type Json } from './chain.ts';

/** A transaction from `app.db.orm.transaction(...)`: an audit row written in it commits with the change. */
export type DbTransaction = Parameters<Parameters<Db['transaction']>[0]>[0];

export type AuditRow = typeof auditLog.$inferSelect;

export interface AuditActor {
  type: AuditActorType;
  id: string | null;
  /** What a person reads: an email, `mic admin create`, `engine`… */
  label: string | null;
  requestId?: string | null;
  ip?: string | null;
}

export interface AuditRecord {
  actor: AuditActor;
  /** `<object>.<verb>`: `instance.pause`, `operator.login`, `secret.rotate`… */
  action: string;
  target?: { type: string; id?: string | null };
  /** Snapshots of the target; secret-looking keys are redacted before they are written. */
  before?: unknown;
  after?: unknown;
}

export interface AuditFilters {
  /** An actor's id or label. */
  actor?: string;
  /** An action, or a prefix ending in `.*`. */
  action?: string;
  targetType?: string;
  targetId?: string;
  /** Entries about any of these (a type alone: any of its ids). */
  targets?: readonly { type: string; id?: string | undefined }[];
  since?: Date;
  until?: Date;
}

const VERIFY_BATCH = 1_000;

/**
 * The append-only, hash-chained audit log. Appends take a transaction-scoped advisory lock, so two
 * writers (two requests, two replicas) cannot both build on the same last row and fork the chain;
 * the lock is released when the transaction that holds the audited change commits or rolls back.
 */
export class AuditLog {
  readonly #db: Db;
  readonly #clock: Clock;

  constructor(db: Db, clock: Clock) {
    this.#db = db;
    this.#clock = clock;
  }

  async record(entry: AuditRecord, tx?: DbTransaction): Promise<AuditRow> {
    if (tx) return this.#append(tx, entry);
    return this.#db.transaction((own) => this.#append(own, entry));
  }

  async #append(tx: DbTransaction, entry: AuditRecord): Promise<AuditRow> {
    await tx.execute(sql`select pg_advisory_xact_lock(hashtext(current_schema() || '.audit_log'))`);
    const [last] = await tx
      .select({ seq: auditLog.seq, hash: auditLog.hash })
      .from(auditLog)
      .orderBy(desc(auditLog.seq))
      .limit(1);
    const fields = {
      id: uuidv7(),
      seq: (last?.seq ?? 0) + 1,
      at: this.#clock.now(),
      actorType: entry.actor.type,
      actorId: entry.actor.id,
      actorLabel: entry.actor.label,
      action: entry.action,
      targetType: entry.target?.type ?? null,
      targetId: entry.target?.id ?? null,
      before: redact(entry.before),
      after: redact(entry.after),
      requestId: entry.actor.requestId ?? null,
      ip: entry.actor.ip ?? null,
    };
    const prevHash = last?.hash ?? GENESIS_HASH;
    const [row] = await tx
      .insert(auditLog)
      .values({ ...fields, prevHash, hash: chainHash(prevHash, fields) })
      .returning();
    return row!;
  }

  /** Newest first; `cursor` is the `nextCursor` of the previous page. */
  async list(options: {
    filters?: AuditFilters;
    cursor?: string | undefined;
    limit?: number | undefined;
  }): Promise<{ items: AuditRow[]; nextCursor: string | null }> {
    const f = options.filters ?? {};
    const limit = options.limit ?? 50;
    const where: (SQL | undefined)[] = [
      f.actor ? or(eq(auditLog.actorId, f.actor), eq(auditLog.actorLabel, f.actor)) : undefined,
      f.action?.endsWith('.*')
        ? like(auditLog.action, `${f.action.slice(0, -1).replace(/[\\%_]/g, '\\$&')}%`)
        : f.action
          ? eq(auditLog.action, f.action)
          : undefined,
      f.targetType ? eq(auditLog.targetType, f.targetType) : undefined,
      f.targetId ? eq(auditLog.targetId, f.targetId) : undefined,
      f.targets?.length
        ? or(
            ...f.targets.map((target) =>
              and(eq(auditLog.targetType, target.type), target.id ? eq(auditLog.targetId, target.id) : undefined),
            ),
          )
        : undefined,
      f.since ? gte(auditLog.at, f.since) : undefined,
      f.until ? lt(auditLog.at, f.until) : undefined,
      options.cursor ? lt(auditLog.seq, Number(options.cursor)) : undefined,
    ];
    const rows = await this.#db
      .select()
      .from(auditLog)
      .where(and(...where))
      .orderBy(desc(auditLog.seq))
      .limit(limit + 1);
    const items = rows.slice(0, limit);
    return { items, nextCursor: rows.length > limit ? String(items.at(-1)!.seq) : null };
  }

  /** Walks the whole chain: seq without gaps from 1, each prev_hash the previous hash, each hash recomputed. */
  async verify(): Promise<AuditVerification> {
    let expected = { seq: 1, prevHash: GENESIS_HASH };
    for (;;) {
      const rows = await this.#db
        .select()
        .from(auditLog)
        .where(gt(auditLog.seq, expected.seq - 1))
        .orderBy(asc(auditLog.seq))
        .limit(VERIFY_BATCH);
      for (const row of rows) {
        if (row.seq !== expected.seq) {
          return { ok: false, brokenAt: expected.seq, reason: `row ${expected.seq} is missing` };
        }
        if (row.prevHash !== expected.prevHash) {
          return { ok: false, brokenAt: row.seq, reason: 'its prev_hash is not the hash of the row before it' };
        }
        if (chainHash(row.prevHash, { ...row, before: row.before as Json, after: row.after as Json }) !== row.hash) {
          return { ok: false, brokenAt: row.seq, reason: 'its content does not match its hash' };
        }
        expected = { seq: row.seq + 1, prevHash: row.hash };
      }
      if (rows.length < VERIFY_BATCH) return { ok: true, rows: expected.seq - 1 };
    }
  }
}
