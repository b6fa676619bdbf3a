import { sql } from 'drizzle-orm';
import type { MessageError, MessageState } from '@mic/contracts';
import { GroupWriter, type Clock, type Db } from '@mic/platform';
import type { RoutedEvent } from '../delivery/index.ts';
import { outboundMessageEvents, outboundMessages } from './schema.ts';
import type { MessageStatuses, SettledOutcome } from './statuses.ts';

type MessageRow = typeof outboundMessages.$inferSelect;

/** Meta's answer to the Graph call that settled a message, as the Graph-compatible API returns it. */
export interface GraphAnswer {
  status: number;
  body: unknown;
}

/** A message's move to a state, and its entry in the timeline. */
export interface StateChange {
  row: MessageRow;
  state: MessageState;
  attempt: number;
  error?: MessageError;
  isOutcomeUnknown?: boolean;
  metaMessageId?: string | null;
  raw?: unknown;
  graphAnswer?: GraphAnswer;
  /** Moves the message only from these states; the change answers false when it was in another. */
  onlyFrom?: readonly MessageState[];
}

export interface RecorderDeps {
  db: Db;
  clock: Clock;
  statuses: MessageStatuses;
  /** The outbound events of the changes, and what listeners add to them, go to the instances. */
  deliver: (tx: Db, events: readonly RoutedEvent[]) => Promise<void>;
  /** How long a change waits for others to share its transaction (the first of a batch only). */
  gatherMs: number;
}

/**
 * Writes messages' state changes, each with its timeline entry and, for `sent` and `failed`, its
 * outbound event. Changes that come together share one transaction and one statement per table
 * (a group commit): a lane sending 76 messages a second makes two changes per message, which would
 * otherwise be two transactions of five to ten statements each.
 */
export class StateRecorder {
  readonly #deps: RecorderDeps;
  /**
   * Critical and conversation messages have a writer of their own: their `sending` is recorded
   * right before their slot, and waiting behind a broadcast's batch there would make them miss it.
   */
  readonly #urgent: GroupWriter<StateChange, boolean>;
  readonly #bulk: GroupWriter<StateChange, boolean>;

  constructor(deps: RecorderDeps) {
    this.#deps = deps;
    const writer = () =>
      new GroupWriter({
        write: (changes: readonly StateChange[]) => this.#write(changes),
        gatherMs: deps.gatherMs,
        keyOf: (change: StateChange) => change.row.id,
      });
    this.#urgent = writer();
    this.#bulk = writer();
  }

  /** Resolves true once the change is committed, false when the message was not in `onlyFrom`. */
  record(change: StateChange): Promise<boolean> {
    return (change.row.priority === 'marketing' ? this.#bulk : this.#urgent).write(change);
  }

  async #write(changes: readonly StateChange[]): Promise<boolean[]> {
    const at = this.#deps.clock.now();
    return this.#deps.db.transaction(async (tx) => {
      const values = changes.map(
        (c) =>
          sql`(${c.row.id}::uuid, ${c.state}::text, ${c.attempt}::integer, ${c.metaMessageId !== undefined}::boolean, ${c.metaMessageId ?? null}::text, ${c.graphAnswer === undefined ? null : JSON.stringify(c.graphAnswer)}::jsonb, ${c.onlyFrom ? c.onlyFrom.join(',') : null}::text)`,
      );
      const result = await tx.execute<{ id: string }>(sql`
        update ${outboundMessages} m set
          state = v.state, attempts = v.attempt, updated_at = ${at.toISOString()}::timestamptz,
          meta_message_id = case when v.sets_meta then v.meta_message_id else m.meta_message_id end,
          sent_at = case when v.sets_meta then ${at.toISOString()}::timestamptz else m.sent_at end,
          graph_answer = coalesce(v.graph_answer, m.graph_answer)
        from (values ${sql.join(values, sql`, `)}) as v (id, state, attempt, sets_meta, meta_message_id, graph_answer, only_from)
        where m.id = v.id and (v.only_from is null or m.state = any (string_to_array(v.only_from, ',')))
        returning m.id`);
      const movedIds = new Set(result.rows.map((r) => r.id));
      const moved = changes.filter((c) => movedIds.has(c.row.id));
      if (moved.length === 0) return changes.map(() => false);
      await tx.insert(outboundMessageEvents).values(
        moved.map((c) => ({
          messageId: c.row.id,
          state: c.state,
          at,
          attempt: c.attempt,
          error: c.error ?? null,
          isOutcomeUnknown: c.isOutcomeUnknown ?? false,
        })),
      );
      const settled: { row: MessageRow; outcome: SettledOutcome }[] = [];
      for (const c of moved) {
        if (c.state === 'sent' && c.metaMessageId !== undefined)
          settled.push({ row: c.row, outcome: { state: 'sent', metaMessageId: c.metaMessageId, raw: c.raw ?? {} } });
        else if (c.state === 'failed' && c.error)
          settled.push({ row: c.row, outcome: { state: 'failed', error: c.error } });
      }
      if (settled.length > 0) await this.#deps.deliver(tx, await this.#deps.statuses.settle(tx, settled));
      return changes.map((c) => movedIds.has(c.row.id));
    });
  }
}
