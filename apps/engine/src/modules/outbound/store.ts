import { and, eq, inArray, sql } from 'drizzle-orm';
import type { Db } from '@mic/platform';
import { outboundItems, outboundLanes, outboundRecipientHolds } from './schema.ts';

export const PRIORITIES = ['critical', 'conversation', 'marketing'] as const;
export type Priority = (typeof PRIORITIES)[number];

/** A send waiting in its lane. */
export interface LaneItem {
  /** The outbound message this item sends; enqueueing the same id twice keeps the first. */
  messageId: string;
  /** `platform:channelId` (see `laneOf`). */
  lane: string;
  priority: Priority;
  /** Who the message goes to: sends to a recipient on hold (pair rate) wait. */
  recipient: string;
  /** A group to withdraw together, e.g. a broadcast's id. */
  batch?: string;
  /** Not sent before this time (a scheduled send); now when unset. */
  notBefore?: Date;
}

/** An item a worker holds, with the send slot it reserved for it. */
export interface ClaimedItem {
  messageId: string;
  lane: string;
  priority: Priority;
  recipient: string;
  /** Times the item was taken, this one included: above 1, an earlier send may have reached Meta. */
  claims: number;
  /** When it may be sent (epoch ms): never earlier, and not much later (see `Lanes`). */
  slotMs: number;
}

/** What one claim on a lane got. */
export type Claim =
  /** Another worker is claiming this lane right now (or the lane does not exist). */
  | { kind: 'busy' }
  | { kind: 'paused' }
  /** Nothing is due. */
  | { kind: 'idle' }
  /** Slots are reserved far enough ahead: claim again at `atMs`. */
  | { kind: 'ahead'; atMs: number }
  /**
   * Slots for the `carry` items the worker already holds (`carriedSlots`), then the new items in
   * send order; `frontierMs` is the first slot after theirs.
   */
  | {
      kind: 'claimed';
      carriedSlots: number[];
      items: ClaimedItem[];
      frontierMs: number;
      /** The slots' spacing, and the lane's slow-down factor in it. */
      intervalMs: number;
      slowFactor: number;
    };

export interface ClaimRequest {
  lane: string;
  worker: string;
  /** Messages per second the lane may send (Meta's cap times the share the engine paces to). */
  ratePerSecond: number;
  /** How far ahead of now slots are reserved. */
  horizonMs: number;
  /** At most this many new items. */
  limit: number;
  /**
   * At most this many new `critical` and `conversation` items, taken first: ahead of the carried
   * items and beyond `limit` (a worker whose marketing sends fill its in-flight limit still takes them).
   */
  urgentLimit: number;
  /** Items the worker holds without a slot (it was too late for theirs): they get the first slots. */
  carry: number;
  /**
   * Marketing items the worker holds with slots still to come: with the lane's slots reserved a
   * horizon ahead, up to this many urgent items are still taken (slots at the cursor), for the
   * worker to swap them into those earlier slots.
   */
  swappable?: number;
  /**
   * On a lane whose cursor is behind now, no slot before this time: the first slots would otherwise
   * be now, already past by the time the claim returns and the handler is ready.
   */
  earliestSlotMs?: number;
  leaseMs: number;
}

const MARKETING = 2;

export const laneOf = (platform: string, channelId: string): string => `${platform}:${channelId}`;

const at = (ms: number) => sql`${new Date(ms).toISOString()}::timestamptz`;

/** The due, unclaimed (or abandoned), not held items of a lane. */
const claimable = (now: number) => sql`
  i.not_before <= ${at(now)}
  and (i.claimed_until is null or i.claimed_until < ${at(now)})
  and not exists (
    select 1 from outbound_recipient_holds h
    where h.lane = i.lane and h.recipient = i.recipient and h.until > ${at(now)}
  )`;

interface TakenRow extends Record<string, unknown> {
  message_id: string;
  priority: number;
  /** A bigint: a string from node-postgres. */
  seq: string | number;
  recipient: string;
  claims: number;
}

/** The lanes' tables; nothing else touches them. */
export class LaneStore {
  readonly #db: Db;

  constructor(db: Db) {
    this.#db = db;
  }

  async enqueue(tx: Db, items: readonly LaneItem[], nowMs: number): Promise<void> {
    const lanes = [...new Set(items.map((item) => item.lane))];
    if (lanes.length === 0) return;
    await tx
      .insert(outboundLanes)
      .values(lanes.map((lane) => ({ lane, nextSlotMs: 0 })))
      .onConflictDoNothing();
    const enqueuedAt = new Date(nowMs);
    for (let i = 0; i < items.length; i += 1_000) {
      await tx
        .insert(outboundItems)
        .values(
          items.slice(i, i + 1_000).map((item) => ({
            messageId: item.messageId,
            lane: item.lane,
            priority: PRIORITIES.indexOf(item.priority),
            recipient: item.recipient,
            batch: item.batch ?? null,
            notBefore: item.notBefore ?? enqueuedAt,
            enqueuedAt,
          })),
        )
        .onConflictDoNothing();
    }
  }

  /**
   * Takes the lane's next due items in priority then FIFO order and reserves one send slot each,
   * in one transaction holding the lane's row. SKIP LOCKED: a worker never waits for another one
   * claiming the same lane, and lanes never wait for each other.
   */
  async claim(request: ClaimRequest, nowMs: number): Promise<Claim> {
    return this.#db.transaction(async (tx) => {
      const [lane] = await tx
        .select()
        .from(outboundLanes)
        .where(eq(outboundLanes.lane, request.lane))
        .for('update', { skipLocked: true });
      if (!lane) return { kind: 'busy' };
      if (lane.pausedReason !== null) return { kind: 'paused' };
      const slowed = lane.slowUntil !== null && lane.slowUntil.getTime() > nowMs;
      const slowFactor = slowed ? Math.max(1, lane.slowFactor) : 1;
      const intervalMs = (1000 * slowFactor) / request.ratePerSecond;
      // A lane whose cursor is behind now has been idle (or its worker fell behind): its first slot
      // leaves the worker time to get ready; a busy lane's next slot is its cursor.
      const start = lane.nextSlotMs >= nowMs ? lane.nextSlotMs : Math.max(nowMs, request.earliestSlotMs ?? nowMs);
      const isAhead = start > nowMs + request.horizonMs;
      const room = isAhead
        ? Math.min(request.urgentLimit, request.swappable ?? 0)
        : Math.floor((nowMs + request.horizonMs - start) / intervalMs) + 1;
      const take = async (limit: number, urgentOnly: boolean) =>
        limit <= 0
          ? []
          : (
              await tx.execute<TakenRow>(sql`
                with picked as (
                  select i.message_id from outbound_items i
                  where i.lane = ${request.lane} and ${claimable(nowMs)}
                    ${urgentOnly ? sql`and i.priority < ${MARKETING}` : sql``}
                  order by i.priority, i.seq
                  limit ${limit}
                  for update skip locked
                )
                update outbound_items o
                set claimed_by = ${request.worker}::uuid, claimed_until = ${at(nowMs + request.leaseMs)}, claims = o.claims + 1
                from picked where o.message_id = picked.message_id
                returning o.message_id, o.priority, o.seq, o.recipient, o.claims`)
            ).rows;
      // Urgent items first, then the carried ones (they hold no slot), then new items of any priority;
      // with nothing carried and room for the urgent ones within the limit, one look does all that.
      const isOneLook = !isAhead && request.carry === 0 && request.limit >= Math.min(room, request.urgentLimit);
      const urgent = isOneLook ? [] : await take(Math.min(room, request.urgentLimit), true);
      if (isAhead && urgent.length === 0) return { kind: 'ahead', atMs: start - request.horizonMs / 2 };
      const carry = isAhead ? 0 : Math.min(room - urgent.length, request.carry);
      const restLimit = isAhead ? 0 : Math.min(room - urgent.length - carry, request.limit - urgent.length);
      const rest = await take(restLimit, false);
      if (carry + urgent.length + rest.length === 0) {
        // Nothing due, or only items beyond the in-flight limit: look again soon without going idle.
        return restLimit > 0 ? { kind: 'idle' } : { kind: 'ahead', atMs: nowMs + request.horizonMs / 2 };
      }
      const taken = { rows: [...urgent, ...rest] };
      const rows = taken.rows.sort((a, b) => a.priority - b.priority || Number(a.seq) - Number(b.seq));
      const frontierMs = start + (carry + rows.length) * intervalMs;
      await tx.update(outboundLanes).set({ nextSlotMs: frontierMs }).where(eq(outboundLanes.lane, request.lane));
      return {
        kind: 'claimed',
        frontierMs,
        intervalMs,
        slowFactor,
        carriedSlots: Array.from({ length: carry }, (_, i) => start + i * intervalMs),
        items: rows.map((row, i) => ({
          messageId: row.message_id,
          lane: request.lane,
          priority: PRIORITIES[row.priority] ?? 'marketing',
          recipient: row.recipient,
          claims: row.claims,
          slotMs: start + (carry + i) * intervalMs,
        })),
      };
    });
  }

  /**
   * Takes items out of their lanes unless a worker holds them now (their send may be under way):
   * returns the ids withdrawn.
   */
  async withdraw(
    tx: Db,
    which: { messageIds: readonly string[] } | { batch: string },
    nowMs: number,
  ): Promise<string[]> {
    if ('messageIds' in which && which.messageIds.length === 0) return [];
    const chosen =
      'batch' in which ? eq(outboundItems.batch, which.batch) : inArray(outboundItems.messageId, [...which.messageIds]);
    const removed = await tx
      .delete(outboundItems)
      .where(and(chosen, sql`(${outboundItems.claimedUntil} is null or ${outboundItems.claimedUntil} < ${at(nowMs)})`))
      .returning({ messageId: outboundItems.messageId });
    return removed.map((row) => row.messageId);
  }

  /** Lanes with claimable items, for the worker's poll. */
  async lanesWithWork(nowMs: number): Promise<string[]> {
    const result = await this.#db.execute<{ lane: string }>(sql`
      select l.lane from outbound_lanes l
      where l.paused_reason is null
        and exists (select 1 from outbound_items i where i.lane = l.lane and ${claimable(nowMs)})`);
    return result.rows.map((row) => row.lane);
  }

  /** The items' sends are over (sent, or failed for good): they leave their lanes. */
  async finish(messageIds: readonly string[], worker: string): Promise<void> {
    await this.#db
      .delete(outboundItems)
      .where(and(inArray(outboundItems.messageId, [...messageIds]), eq(outboundItems.claimedBy, worker)));
  }

  /**
   * Puts items back, keeping their place (`seq`), due at `notBeforeMs` when given. With `worker`,
   * only while that worker still holds them: a claim that expired and was taken is not touched.
   */
  async release(messageIds: readonly string[], worker: string | null, notBeforeMs?: number): Promise<void> {
    if (messageIds.length === 0) return;
    await this.#db
      .update(outboundItems)
      .set({
        claimedBy: null,
        claimedUntil: null,
        ...(notBeforeMs === undefined ? {} : { notBefore: new Date(notBeforeMs) }),
      })
      .where(
        and(
          inArray(outboundItems.messageId, [...messageIds]),
          worker === null ? undefined : eq(outboundItems.claimedBy, worker),
        ),
      );
  }

  /** Extends every claim the worker holds. */
  async heartbeat(worker: string, untilMs: number): Promise<void> {
    await this.#db
      .update(outboundItems)
      .set({ claimedUntil: new Date(untilMs) })
      .where(eq(outboundItems.claimedBy, worker));
  }

  /** Slows the lane; overlapping slow-downs keep the stronger factor and the later end. */
  async slowDown(lane: string, factor: number, untilMs: number, nowMs: number): Promise<void> {
    await this.#ensureLane(lane);
    await this.#db
      .update(outboundLanes)
      .set({
        slowFactor: sql`case when ${outboundLanes.slowUntil} > ${at(nowMs)} then greatest(${outboundLanes.slowFactor}, ${factor}) else ${factor} end`,
        slowUntil: sql`greatest(${outboundLanes.slowUntil}, ${at(untilMs)})`,
      })
      .where(eq(outboundLanes.lane, lane));
  }

  async pause(lane: string, reason: string, nowMs: number): Promise<void> {
    await this.#ensureLane(lane);
    await this.#db
      .update(outboundLanes)
      .set({ pausedReason: reason, pausedAt: new Date(nowMs) })
      .where(eq(outboundLanes.lane, lane));
  }

  async resume(lane: string): Promise<void> {
    await this.#db
      .update(outboundLanes)
      .set({ pausedReason: null, pausedAt: null })
      .where(eq(outboundLanes.lane, lane));
  }

  async holdRecipient(lane: string, recipient: string, untilMs: number): Promise<void> {
    await this.#db
      .insert(outboundRecipientHolds)
      .values({ lane, recipient, until: new Date(untilMs) })
      .onConflictDoUpdate({
        target: [outboundRecipientHolds.lane, outboundRecipientHolds.recipient],
        set: { until: sql`greatest(${outboundRecipientHolds.until}, excluded.until)` },
      });
  }

  /** Holds that have run out. */
  async purgeHolds(nowMs: number): Promise<void> {
    await this.#db.delete(outboundRecipientHolds).where(sql`${outboundRecipientHolds.until} <= ${at(nowMs)}`);
  }

  async laneState(lane: string) {
    const [row] = await this.#db.select().from(outboundLanes).where(eq(outboundLanes.lane, lane));
    return row;
  }

  async #ensureLane(lane: string): Promise<void> {
    await this.#db.insert(outboundLanes).values({ lane, nextSlotMs: 0 }).onConflictDoNothing();
  }
}
