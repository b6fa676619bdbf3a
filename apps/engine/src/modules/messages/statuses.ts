import { and, asc, eq, inArray, lt, lte, sql } from 'drizzle-orm';
import { uuidv7 } from 'uuidv7';
import type { ChannelPlatform, MessageError, OutboundEventState, OutboundMessageEventData } from '@mic/contracts';
import { conversationKeyOf, type WhatsAppError } from '@mic/meta';
import { childTraceParent, type Clock, type Db } from '@mic/platform';
import type { RoutedEvent } from '../delivery/index.ts';
import { laneOf } from '../outbound/index.ts';
import { earlyStatuses, outboundMessageEvents, outboundMessages } from './schema.ts';

/** How far along a sent message is; Meta may report them out of order. */
const STATUS_RANK: Record<OutboundEventState, number> = { sent: 1, delivered: 2, read: 3, failed: 4 };
const isReportedState = (value: unknown): value is OutboundEventState =>
  typeof value === 'string' && Object.hasOwn(STATUS_RANK, value);

/** What one of Meta's webhooks says about messages the engine sent. */
export type StatusReport =
  | { by: 'id'; metaId: string; state: OutboundEventState; at: Date; error: MessageError | null; raw: unknown }
  /** Messenger: every message to `recipient` on `lane` sent up to `upTo` is delivered, or read. */
  | { by: 'watermark'; lane: string; recipient: string; state: 'delivered' | 'read'; upTo: Date; raw: unknown };

/** What a message row needs to become an outbound event. */
type Sent = Pick<
  typeof outboundMessages.$inferSelect,
  'id' | 'instanceId' | 'tenantId' | 'channel' | 'recipient' | 'metaMessageId' | 'state' | 'broadcastId'
>;

export type SettledOutcome =
  { state: 'sent'; metaMessageId: string | null; raw: unknown } | { state: 'failed'; error: MessageError };

/** An unmatched status is kept this long for its message's Graph answer to be stored. */
const EARLY_STATUS_TTL_MS = 60 * 60 * 1000;

function whatsappError(errors: unknown): MessageError | null {
  const first = Array.isArray(errors) ? (errors[0] as WhatsAppError | undefined) : undefined;
  if (!first) return null;
  const message = first.message ?? first.title ?? 'failed';
  return {
    code: first.code ?? null,
    subcode: null,
    title: first.title ?? 'Message failed',
    message: first.details ? `${message}: ${first.details}` : message,
  };
}

/**
 * Reads the statuses out of newly routed events: WhatsApp's `statuses` (by Meta's id), Messenger's
 * delivery (mids and a watermark) and read (a watermark) receipts, and Instagram's `messaging_seen`
 * (by mid; Instagram reports no delivery).
 */
export function statusReportsOf(events: readonly RoutedEvent[]): StatusReport[] {
  const reports: StatusReport[] = [];
  for (const event of events) {
    const data = (event.data ?? {}) as Record<string, unknown>;
    const at = event.occurredAt;
    if (event.type === 'whatsapp.message.status') {
      if (typeof data.messageId === 'string' && isReportedState(data.status)) {
        const error = data.status === 'failed' ? whatsappError(data.errors) : null;
        reports.push({ by: 'id', metaId: data.messageId, state: data.status, at, error, raw: event.raw });
      }
    } else if (event.type === 'messenger.message.delivered' || event.type === 'messenger.message.read') {
      const state = event.type === 'messenger.message.read' ? 'read' : 'delivered';
      const ids = Array.isArray(data.messageIds) ? data.messageIds : [];
      for (const metaId of ids) {
        if (typeof metaId === 'string') reports.push({ by: 'id', metaId, state, at, error: null, raw: event.raw });
      }
      if (typeof data.watermark === 'string' && typeof data.senderId === 'string') {
        const lane = laneOf(event.platform, event.channelId ?? '');
        const upTo = new Date(data.watermark);
        reports.push({ by: 'watermark', lane, recipient: data.senderId, state, upTo, raw: event.raw });
      }
    } else if (event.type === 'instagram.message.read' && typeof data.messageId === 'string') {
      reports.push({ by: 'id', metaId: data.messageId, state: 'read', at, error: null, raw: event.raw });
    }
  }
  return reports;
}

/**
 * The states of sent messages as Meta reports them: each change joins the message's timeline and
 * becomes a `<platform>.outbound.<state>` event for its instance, delivered in the conversation with
 * that recipient. A state only moves forward (a late `delivered` after `read` joins the timeline,
 * not the state); `failed` always shows.
 */
export class MessageStatuses {
  readonly #clock: Clock;

  constructor(deps: { clock: Clock }) {
    this.#clock = deps.clock;
  }

  /**
   * Applies reports inside the transaction that stores their webhooks and answers the outbound
   * events to deliver. A status whose message has no Meta id yet is kept until it has one.
   */
  async apply(tx: Db, reports: readonly StatusReport[]): Promise<RoutedEvent[]> {
    if (reports.length === 0) return [];
    const byId = reports.filter((r) => r.by === 'id');
    const events: RoutedEvent[] = [];
    if (byId.length > 0) {
      const metaIds = [...new Set(byId.map((r) => r.metaId))];
      await lockMetaIds(tx, metaIds);
      const rows = await tx.select().from(outboundMessages).where(inArray(outboundMessages.metaMessageId, metaIds));
      const byMetaId = new Map(rows.map((r) => [r.metaMessageId, r]));
      const early: (typeof earlyStatuses.$inferInsert)[] = [];
      const now = this.#clock.now();
      for (const report of byId) {
        const row = byMetaId.get(report.metaId);
        if (row) events.push(...(await this.#move(tx, row, report.state, report.at, report.error, report.raw)));
        else early.push({ metaMessageId: report.metaId, ...pick(report), receivedAt: now });
      }
      if (early.length > 0) {
        await tx.insert(earlyStatuses).values(early);
        await tx
          .delete(earlyStatuses)
          .where(lt(earlyStatuses.receivedAt, new Date(now.getTime() - EARLY_STATUS_TTL_MS)));
      }
    }
    for (const report of reports) {
      if (report.by !== 'watermark') continue;
      const covered = await tx
        .select()
        .from(outboundMessages)
        .where(
          and(
            eq(outboundMessages.channel, report.lane),
            eq(outboundMessages.recipient, report.recipient),
            report.state === 'read'
              ? inArray(outboundMessages.state, ['sent', 'delivered'])
              : eq(outboundMessages.state, 'sent'),
            lte(outboundMessages.sentAt, report.upTo),
          ),
        )
        .orderBy(asc(outboundMessages.sentAt));
      for (const row of covered)
        events.push(...(await this.#move(tx, row, report.state, report.upTo, null, report.raw)));
    }
    return events;
  }

  /**
   * Records that Meta accepted messages (`sent`, with their Meta ids) or refused them for good
   * (`failed`), inside the caller's transaction, then the statuses that arrived before the answers
   * were stored. Answers the outbound events to deliver.
   */
  async settle(tx: Db, settled: readonly { row: Sent; outcome: SettledOutcome }[]): Promise<RoutedEvent[]> {
    const at = this.#clock.now();
    const events: RoutedEvent[] = [];
    const sent: Sent[] = [];
    for (const { row, outcome } of settled) {
      if (outcome.state === 'failed') {
        events.push(this.#event({ ...row, state: 'failed' }, 'failed', at, outcome.error, {}));
        continue;
      }
      const moved = { ...row, state: 'sent', metaMessageId: outcome.metaMessageId };
      events.push(this.#event(moved, 'sent', at, null, outcome.raw));
      // Mark-as-read has no message of its own, so no status follows it.
      if (outcome.metaMessageId !== null) sent.push(moved);
    }
    if (sent.length === 0) return events;
    const metaIds = sent.map((row) => row.metaMessageId!);
    await lockMetaIds(tx, metaIds);
    const early = await tx.delete(earlyStatuses).where(inArray(earlyStatuses.metaMessageId, metaIds)).returning();
    early.sort((a, b) => a.seq - b.seq);
    const byMetaId = new Map(sent.map((row) => [row.metaMessageId, row]));
    for (const status of early) {
      const row = byMetaId.get(status.metaMessageId);
      if (!row || !isReportedState(status.state)) continue;
      const error = (status.error as MessageError | null) ?? null;
      events.push(...(await this.#move(tx, row, status.state, status.at, error, status.raw)));
    }
    return events;
  }

  /** Moves `row` to `state` (when it is a step forward, or a failure) and appends it to the timeline. */
  async #move(
    tx: Db,
    row: Sent,
    state: OutboundEventState,
    at: Date,
    error: MessageError | null,
    raw: unknown,
  ): Promise<RoutedEvent[]> {
    await tx.insert(outboundMessageEvents).values({ messageId: row.id, state, at, error });
    const isForward = STATUS_RANK[state] > (isReportedState(row.state) ? STATUS_RANK[row.state] : 0);
    if (state !== 'failed' && !isForward) return [];
    await tx
      .update(outboundMessages)
      .set({ state, updatedAt: this.#clock.now() })
      .where(eq(outboundMessages.id, row.id));
    row.state = state;
    return [this.#event(row, state, at, error, raw)];
  }

  #event(row: Sent, state: OutboundEventState, at: Date, error: MessageError | null, raw: unknown): RoutedEvent {
    const [platform = '', ...rest] = row.channel.split(':');
    const channelId = rest.join(':');
    // WhatsApp's own events name the customer by wa_id, digits only.
    const customer = platform === 'whatsapp' ? row.recipient.replace(/\D/g, '') : row.recipient;
    const data: OutboundMessageEventData = {
      messageId: row.id,
      metaMessageId: row.metaMessageId,
      to: row.recipient,
      state,
      at: at.toISOString(),
      ...(error ? { error } : {}),
      ...(row.broadcastId ? { broadcastId: row.broadcastId } : {}),
    };
    return {
      id: uuidv7(),
      instanceId: row.instanceId,
      tenantId: row.tenantId,
      type: `${platform as ChannelPlatform}.outbound.${state}`,
      platform,
      channelId,
      conversationKey: conversationKeyOf(channelId, customer) ?? null,
      occurredAt: at,
      receivedAt: this.#clock.now(),
      data,
      raw,
      traceParent: childTraceParent(),
    };
  }
}

function pick(report: Extract<StatusReport, { by: 'id' }>) {
  return { state: report.state, at: report.at, error: report.error, raw: report.raw ?? {} };
}

/**
 * Serializes the statuses of one Meta id with the storing of its Graph answer, so a status that
 * arrives meanwhile is either matched or kept as early, never lost between the two. Taken in key
 * order: two ingress batches never wait on each other in a cycle.
 */
async function lockMetaIds(tx: Db, metaIds: readonly string[]): Promise<void> {
  const keys = sql.join(
    metaIds.map((id) => sql`(${`meta-message:${id}`})`),
    sql`, `,
  );
  await tx.execute(
    sql`select pg_advisory_xact_lock(hashtext(k)) from (select k from (values ${keys}) as v(k) order by k) as s`,
  );
}
