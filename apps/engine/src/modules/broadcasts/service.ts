import { and, asc, desc, eq, gt, inArray, isNotNull, lt, sql } from 'drizzle-orm';
import { uuidv7 } from 'uuidv7';
import {
  validateSendRequest,
  type Broadcast,
  type BroadcastEvent,
  type BroadcastEventData,
  type BroadcastList,
  type BroadcastListQuery,
  type BroadcastRecipientPage,
  type BroadcastRecipientsQuery,
  type BroadcastState,
  type BroadcastTotals,
  type ConfigSnapshot,
  type CreateBroadcastRequest,
  type MessageError,
  type OptOut,
  type OptOutPage,
  type SendFieldError,
  type SendMessageRequest,
  type WhatsAppMessage,
  type WhatsAppTemplateComponent,
} from '@mic/contracts';
import { Problem, childTraceParent, isUuid, problems, type Clock, type Db, type Logger } from '@mic/platform';
import type { RoutedEvent } from '../delivery/index.ts';
import type { Lanes } from '../outbound/index.ts';
import { laneOf } from '../outbound/index.ts';
import type { MessageBatch } from '../messages/index.ts';
import type { MessagingLimit } from '../templates/index.ts';
import { templateMismatch, type Templates } from '../templates/index.ts';
import { emptyTotals } from './figures.ts';
import { broadcastRecipients, broadcasts, customerWindows, messagingReach, optOuts } from './schema.ts';
import { keywordOf } from './keywords.ts';

export interface BroadcastsOptions {
  /** How often a worker hands due broadcasts' next recipients to their lanes. */
  tickMs: number;
  /** How much of the lane's rate a broadcast keeps queued in it at most (ms of sends). */
  lookaheadMs: number;
  /** How often a running broadcast reports its progress as an event, at most. */
  progressIntervalMs: number;
  /** Inbound texts (trimmed, any case) that opt the sender out: STOP, BAJA, … */
  optOutKeywords: readonly string[];
}

export interface BroadcastsDeps {
  db: Db;
  clock: Clock;
  lanes: Pick<Lanes, 'withdraw'>;
  messages: {
    queueMany(tx: Db, batch: MessageBatch): Promise<void>;
    requeue(tx: Db, ids: readonly string[], batch: string): Promise<void>;
    discard(tx: Db, ids: readonly string[], error: MessageError): Promise<void>;
    usedThisMonth(tenantId: string): Promise<number>;
  };
  templates: Pick<Templates, 'approved' | 'parameterErrors' | 'messagingLimit'>;
  snapshot: () => ConfigSnapshot | undefined;
  /** The lane's per-second cap times the share the lanes pace to. */
  rateOf: (lane: string) => number;
  assertMaySend: (instanceId: string) => Promise<void>;
  /** Why the instance's sends are held now (paused, module off), or null. */
  holdReason: (instanceId: string) => Promise<string | null>;
  deliver: (tx: Db, events: readonly RoutedEvent[]) => Promise<void>;
  logger: Pick<Logger, 'info' | 'warn' | 'error'>;
  options: BroadcastsOptions;
}

type BroadcastRow = typeof broadcasts.$inferSelect;

const DAY_MS = 24 * 60 * 60 * 1000;
/** Rows per insert statement: 5 parameters each, well under Postgres's 65,535. */
const INSERT_CHUNK = 5_000;
/** A broadcast keeps at least this many recipients in its lane when its rate is low. */
const MIN_WINDOW = 10;

const RECIPIENT_RANK: Record<string, number> = { queued: 0, sent: 1, delivered: 2, read: 3, failed: 4 };

const CANCELLED: MessageError = {
  code: null,
  subcode: null,
  title: 'Cancelled',
  message: 'the broadcast was cancelled before this message was sent',
};
const OUTSIDE_WINDOW: MessageError = {
  code: 131047,
  subcode: null,
  title: 'Re-engagement message',
  message: 'not sent: more than 24 hours have passed since the customer last wrote, and the message is not a template',
};

/** WhatsApp names a user by digits only. */
export const customerOf = (to: string) => to.replace(/\D/g, '');

function withComponents(message: WhatsAppMessage, components: unknown): WhatsAppMessage {
  if (message.type !== 'template' || components === null || components === undefined) return message;
  return { ...message, template: { ...message.template, components: components as WhatsAppTemplateComponent[] } };
}

/**
 * Broadcasts: accepted with their recipients (duplicates and opted-out ones removed), then handed to
 * their lane a window at a time by `dispatch` (a worker's tick), within the business portfolio's
 * messaging limit; each recipient's message is an ordinary outbound message at `marketing`
 * priority, so the lane's rate, priorities and at-least-once guarantees hold for it.
 */
export class Broadcasts {
  readonly #deps: BroadcastsDeps;
  readonly #keywords: Set<string>;

  constructor(deps: BroadcastsDeps) {
    this.#deps = deps;
    this.#keywords = new Set(deps.options.optOutKeywords.map(keywordOf).filter(Boolean));
  }

  #tenantOf(instanceId: string) {
    const snapshot = this.#deps.snapshot();
    const instance = snapshot?.instances.find((i) => i.id === instanceId);
    const tenant = snapshot?.tenants.find((t) => t.id === instance?.tenantId);
    if (!instance || !tenant) {
      throw new Problem({
        status: 423,
        type: 'instance-unknown',
        title: 'The instance is not configured',
        detail: 'the engine has no configuration for this instance or its tenant yet',
      });
    }
    return { instance, tenant, snapshot: snapshot! };
  }

  /** `POST /v1/broadcasts`: checks, deduplicates and stores the broadcast with its recipients. */
  async create(instanceId: string, body: CreateBroadcastRequest, idempotencyKey?: string): Promise<Broadcast> {
    const { db, clock } = this.#deps;
    const { channel } = body;
    if (channel.kind !== 'whatsapp') {
      throw problems.validation([{ field: 'channel.kind', message: 'broadcasts go out on WhatsApp channels only' }]);
    }
    const { tenant, snapshot } = this.#tenantOf(instanceId);
    const owner = snapshot.channels.find((c) => c.platform === 'whatsapp' && c.channelId === channel.id);
    if (!owner || owner.instanceId !== instanceId) {
      throw new Problem({
        status: 403,
        type: 'channel-not-yours',
        title: 'The channel is not connected to this instance',
        detail: `whatsapp channel ${channel.id} is not routed to this instance`,
        channel,
      });
    }
    await this.#deps.assertMaySend(instanceId);
    if (!tenant.modules.marketing || snapshot.flags['module.marketing.enabled'] === false) {
      throw new Problem({
        status: 403,
        type: 'module-disabled',
        title: 'The module is off',
        detail: 'the marketing module (broadcasts) is off for this tenant',
        module: 'marketing',
      });
    }
    if (!tenant.limits.priorities.includes('marketing')) {
      throw new Problem({
        status: 403,
        type: 'priority-not-allowed',
        title: 'The priority is not allowed for this tenant',
        detail: 'broadcasts are sent at marketing priority, which this tenant may not use',
        priority: 'marketing',
        allowed: tenant.limits.priorities,
      });
    }
    const scheduledAt = body.scheduledAt ? new Date(body.scheduledAt) : clock.now();

    // Duplicates go first: a number given twice (in any format) is one recipient, its first entry.
    const seen = new Set<string>();
    const kept: { recipient: string; components: WhatsAppTemplateComponent[] | null; index: number }[] = [];
    body.recipients.forEach((r, index) => {
      const recipient = customerOf(r.to);
      if (seen.has(recipient)) return;
      seen.add(recipient);
      kept.push({ recipient, components: r.components ?? null, index });
    });
    const size = tenant.limits.broadcastSize;
    if (size !== null && kept.length > size) {
      throw new Problem({
        status: 422,
        type: 'broadcast-too-large',
        title: 'The broadcast has more recipients than the tenant may send to at once',
        detail: `recipients: ${kept.length} distinct recipients, the limit is ${size}`,
        errors: [{ field: 'recipients', message: `at most ${size} distinct recipients` }],
        limit: size,
      });
    }

    // One full request checked as the Send API would (the first recipient's), then each recipient's
    // parameters against the template.
    const first = kept[0]!;
    const sample: SendMessageRequest = {
      channel,
      to: `+${first.recipient}`,
      priority: 'marketing',
      message: withComponents(body.message, first.components),
    };
    const validation = validateSendRequest(sample);
    if (!validation.ok) throw problems.validation(validation.errors);
    if (body.message.type === 'template') {
      const template = await this.#deps.templates.approved(channel.id, body.message.template, {
        isStrict: true,
        field: 'message.template',
      });
      const errors: SendFieldError[] = [];
      const base = body.message.template.components ?? [];
      const baseErrors = this.#deps.templates.parameterErrors(template!, base, 'message.template.components');
      const checked = new Map<string, SendFieldError[]>();
      for (const r of kept) {
        if (errors.length >= 20) break;
        if (r.components === null) {
          errors.push(...baseErrors.splice(0));
          continue;
        }
        // Recipients' components mostly share a shape: check each shape once.
        const shape = JSON.stringify(
          r.components.map((c) => [c.type, c.type === 'button' ? c.index : null, c.parameters.length]),
        );
        let found = checked.get(shape);
        if (!found) {
          found = this.#deps.templates.parameterErrors(template!, r.components, 'components');
          checked.set(shape, found);
        }
        errors.push(...found.map((e) => ({ ...e, field: `recipients[${r.index}].${e.field}` })));
      }
      if (errors.length > 0) throw templateMismatch(errors.slice(0, 20));
    }
    const quota = tenant.limits.messagesPerMonth;
    if (quota !== null) {
      const used = await this.#deps.messages.usedThisMonth(tenant.id);
      if (used + kept.length > quota) {
        throw new Problem({
          status: 429,
          type: 'message-quota-exceeded',
          title: "The tenant's monthly message quota cannot cover the broadcast",
          detail: `${used} of ${quota} messages used this month; the broadcast needs ${kept.length}`,
          quota,
          used,
        });
      }
    }

    const id = uuidv7();
    const now = clock.now();
    const created = await db.transaction(async (tx) => {
      if (idempotencyKey !== undefined) {
        await tx.execute(
          sql`select pg_advisory_xact_lock(hashtext(${`broadcast-key:${instanceId}:${idempotencyKey}`}))`,
        );
        const [earlier] = await tx
          .select({ id: broadcasts.id })
          .from(broadcasts)
          .where(and(eq(broadcasts.instanceId, instanceId), eq(broadcasts.idempotencyKey, idempotencyKey)));
        if (earlier) return { id: earlier.id, isNew: false };
      }
      await tx.insert(broadcasts).values({
        id,
        instanceId,
        tenantId: tenant.id,
        channelId: channel.id,
        name: body.name ?? null,
        message: body.message,
        state: 'scheduled',
        duplicates: body.recipients.length - kept.length,
        idempotencyKey: idempotencyKey ?? null,
        scheduledAt,
        createdAt: now,
        updatedAt: now,
      });
      for (let i = 0; i < kept.length; i += INSERT_CHUNK) {
        await tx.insert(broadcastRecipients).values(
          kept.slice(i, i + INSERT_CHUNK).map((r, j) => ({
            broadcastId: id,
            seq: i + j,
            recipient: r.recipient,
            components: r.components,
            state: 'pending',
            updatedAt: now,
          })),
        );
      }
      await this.#suppress(tx, id, tenant.id, now);
      return { id, isNew: true };
    });
    if (created.isNew) this.#deps.logger.info({ broadcastId: id, recipients: kept.length }, 'broadcast accepted');
    return this.get(instanceId, created.id);
  }

  /** Marks the broadcast's pending recipients that opted out as suppressed. */
  async #suppress(tx: Db, broadcastId: string, tenantId: string, now: Date): Promise<void> {
    await tx.execute(sql`
      update broadcast_recipients r set state = 'suppressed', updated_at = ${now.toISOString()}::timestamptz
      from opt_outs o
      where r.broadcast_id = ${broadcastId}::uuid and r.state = 'pending'
        and o.tenant_id = ${tenantId} and o.recipient = r.recipient`);
  }

  async #optedOut(tx: Db, tenantId: string, customers: readonly string[]): Promise<Set<string>> {
    if (customers.length === 0) return new Set();
    const rows = await tx
      .select({ recipient: optOuts.recipient })
      .from(optOuts)
      .where(and(eq(optOuts.tenantId, tenantId), inArray(optOuts.recipient, [...customers])));
    return new Set(rows.map((r) => r.recipient));
  }

  async #row(instanceId: string, id: string, tx: Db = this.#deps.db): Promise<BroadcastRow> {
    const [row] = isUuid(id)
      ? await tx
          .select()
          .from(broadcasts)
          .where(and(eq(broadcasts.id, id), eq(broadcasts.instanceId, instanceId)))
      : [];
    if (!row) throw problems.notFound(`no broadcast ${id} of this instance`);
    return row;
  }

  async #totals(tx: Db, row: BroadcastRow): Promise<BroadcastTotals> {
    const counts = await tx
      .select({ state: broadcastRecipients.state, n: sql<number>`count(*)::int` })
      .from(broadcastRecipients)
      .where(eq(broadcastRecipients.broadcastId, row.id))
      .groupBy(broadcastRecipients.state);
    const totals = emptyTotals();
    for (const { state, n } of counts) {
      if (state in totals) totals[state as keyof BroadcastTotals] = n;
      totals.recipients += n;
    }
    totals.duplicates = row.duplicates;
    return totals;
  }

  #describe(row: BroadcastRow, totals: BroadcastTotals): Broadcast {
    return {
      id: row.id,
      name: row.name,
      channel: { kind: 'whatsapp', id: row.channelId },
      state: row.state as BroadcastState,
      waitingReason: row.waitingReason,
      waitingUntil: row.waitingUntil?.toISOString() ?? null,
      scheduledAt: row.scheduledAt.toISOString(),
      createdAt: row.createdAt.toISOString(),
      startedAt: row.startedAt?.toISOString() ?? null,
      finishedAt: row.finishedAt?.toISOString() ?? null,
      totals,
    };
  }

  /** `GET /v1/broadcasts/{id}`: state, progress and totals. */
  async get(instanceId: string, id: string): Promise<Broadcast> {
    const row = await this.#row(instanceId, id);
    return this.#describe(row, await this.#totals(this.#deps.db, row));
  }

  /** `GET /v1/broadcasts`: newest first (ids are time-ordered), a page at a time. */
  async list(instanceId: string, query: BroadcastListQuery): Promise<BroadcastList> {
    const limit = query.limit ?? 20;
    if (query.cursor !== undefined && !isUuid(query.cursor)) {
      throw problems.validation([{ field: 'querystring.cursor', message: 'is not a cursor this API gave' }]);
    }
    const rows = await this.#deps.db
      .select()
      .from(broadcasts)
      .where(
        and(
          eq(broadcasts.instanceId, instanceId),
          query.state === undefined ? undefined : eq(broadcasts.state, query.state),
          query.channelId === undefined ? undefined : eq(broadcasts.channelId, query.channelId),
          query.cursor === undefined ? undefined : lt(broadcasts.id, query.cursor),
        ),
      )
      .orderBy(desc(broadcasts.id))
      .limit(limit + 1);
    const page = rows.slice(0, limit);
    return {
      broadcasts: await Promise.all(
        page.map(async (row) => this.#describe(row, await this.#totals(this.#deps.db, row))),
      ),
      nextCursor: rows.length > limit ? page.at(-1)!.id : null,
    };
  }

  /** `GET /v1/broadcasts/{id}/recipients`: each recipient's state, in the order given. */
  async recipients(instanceId: string, id: string, query: BroadcastRecipientsQuery): Promise<BroadcastRecipientPage> {
    const row = await this.#row(instanceId, id);
    const limit = query.limit ?? 100;
    const after = query.after === undefined ? -1 : Number.parseInt(query.after, 10);
    if (!Number.isInteger(after))
      throw problems.validation([{ field: 'after', message: 'is not a cursor of this list' }]);
    const rows = await this.#deps.db
      .select()
      .from(broadcastRecipients)
      .where(
        and(
          eq(broadcastRecipients.broadcastId, row.id),
          gt(broadcastRecipients.seq, after),
          query.state === undefined ? undefined : eq(broadcastRecipients.state, query.state),
        ),
      )
      .orderBy(asc(broadcastRecipients.seq))
      .limit(limit + 1);
    const page = rows.slice(0, limit);
    return {
      recipients: page.map((r) => ({
        to: r.recipient,
        state: r.state as BroadcastRecipientPage['recipients'][number]['state'],
        messageId: r.messageId,
        error: (r.error as MessageError | null) ?? null,
        updatedAt: r.updatedAt.toISOString(),
      })),
      nextCursor: rows.length > limit ? String(page.at(-1)!.seq) : null,
    };
  }

  /** Pauses a broadcast: what is still in its lane is taken out (sends under way finish). */
  async pause(instanceId: string, id: string): Promise<Broadcast> {
    return this.#transition(instanceId, id, ['scheduled', 'running', 'waiting'], async (tx, row) => {
      await this.#deps.lanes.withdraw(tx, { batch: row.id });
      return { state: 'paused', event: 'paused' };
    });
  }

  /** Resumes a paused broadcast: its queued messages go back to the lane, the rest follow. */
  async resume(instanceId: string, id: string): Promise<Broadcast> {
    return this.#transition(instanceId, id, ['paused'], async (tx, row) => {
      const queued = await tx
        .select({ messageId: broadcastRecipients.messageId })
        .from(broadcastRecipients)
        .where(
          and(
            eq(broadcastRecipients.broadcastId, row.id),
            eq(broadcastRecipients.state, 'queued'),
            isNotNull(broadcastRecipients.messageId),
          ),
        );
      await this.#deps.messages.requeue(
        tx,
        queued.map((q) => q.messageId!),
        row.id,
      );
      const isDue = row.scheduledAt.getTime() <= this.#deps.clock.now().getTime();
      return { state: row.startedAt || isDue ? 'running' : 'scheduled', event: 'resumed' };
    });
  }

  /** Cancels a broadcast: nothing more is sent, except sends under way. */
  async cancel(instanceId: string, id: string): Promise<Broadcast> {
    return this.#transition(instanceId, id, ['scheduled', 'running', 'waiting', 'paused'], async (tx, row, now) => {
      const withdrawn = await this.#deps.lanes.withdraw(tx, { batch: row.id });
      await this.#deps.messages.discard(tx, withdrawn, CANCELLED);
      for (let i = 0; i < withdrawn.length; i += 1_000) {
        await tx
          .update(broadcastRecipients)
          .set({ state: 'cancelled', error: CANCELLED, updatedAt: now })
          .where(
            and(
              eq(broadcastRecipients.broadcastId, row.id),
              eq(broadcastRecipients.state, 'queued'),
              inArray(broadcastRecipients.messageId, withdrawn.slice(i, i + 1_000)),
            ),
          );
      }
      // A paused broadcast's queued messages are out of the lane already: they are withdrawn too.
      const orphans = await tx
        .update(broadcastRecipients)
        .set({ state: 'cancelled', error: CANCELLED, updatedAt: now })
        .where(
          and(
            eq(broadcastRecipients.broadcastId, row.id),
            row.state === 'paused'
              ? inArray(broadcastRecipients.state, ['pending', 'queued'])
              : eq(broadcastRecipients.state, 'pending'),
          ),
        )
        .returning({ messageId: broadcastRecipients.messageId });
      await this.#deps.messages.discard(
        tx,
        orphans.flatMap((o) => (o.messageId ? [o.messageId] : [])),
        CANCELLED,
      );
      return { state: 'cancelled', event: 'cancelled', finishedAt: now };
    });
  }

  async #transition(
    instanceId: string,
    id: string,
    from: readonly BroadcastState[],
    change: (
      tx: Db,
      row: BroadcastRow,
      now: Date,
    ) => Promise<{ state: BroadcastState; event: BroadcastEvent; finishedAt?: Date }>,
  ): Promise<Broadcast> {
    await this.#row(instanceId, id);
    await this.#deps.db.transaction(async (tx) => {
      // Waits for a dispatch pass holding the row: the pass's recipients are then in the lane to withdraw.
      const [row] = await tx.select().from(broadcasts).where(eq(broadcasts.id, id)).for('update');
      if (!from.includes(row!.state as BroadcastState)) {
        throw new Problem({
          status: 409,
          type: 'broadcast-state',
          title: 'The broadcast cannot do that in its state',
          detail: `broadcast ${id} is ${row!.state}`,
          state: row!.state,
        });
      }
      const now = this.#deps.clock.now();
      const next = await change(tx, row!, now);
      const [updated] = await tx
        .update(broadcasts)
        .set({
          state: next.state,
          waitingReason: null,
          waitingUntil: null,
          updatedAt: now,
          ...(next.finishedAt ? { finishedAt: next.finishedAt } : {}),
        })
        .where(eq(broadcasts.id, id))
        .returning();
      await this.#emit(tx, updated!, next.event);
    });
    return this.get(instanceId, id);
  }

  /** Delivers a `whatsapp.broadcast.<event>` event to the broadcast's instance. */
  async #emit(tx: Db, row: BroadcastRow, event: BroadcastEvent): Promise<void> {
    const instance = this.#deps.snapshot()?.instances.find((i) => i.id === row.instanceId);
    // An instance on Meta's format gets only what Meta would send.
    if (instance?.deliveryFormat === 'meta') return;
    const now = this.#deps.clock.now();
    const data: BroadcastEventData = {
      broadcastId: row.id,
      name: row.name,
      state: row.state as BroadcastState,
      waitingReason: row.waitingReason,
      totals: await this.#totals(tx, row),
    };
    await this.#deps.deliver(tx, [
      {
        id: uuidv7(),
        instanceId: row.instanceId,
        tenantId: row.tenantId,
        type: `whatsapp.broadcast.${event}`,
        platform: 'whatsapp',
        channelId: row.channelId,
        // A broadcast's events keep their order.
        conversationKey: `broadcast:${row.id}`,
        occurredAt: now,
        receivedAt: now,
        data,
        raw: {},
        traceParent: childTraceParent(),
      },
    ]);
  }

  /** Broadcasts a worker's tick looks at. */
  async active(): Promise<string[]> {
    const rows = await this.#deps.db
      .select({ id: broadcasts.id })
      .from(broadcasts)
      .where(inArray(broadcasts.state, ['scheduled', 'running', 'waiting']))
      .orderBy(asc(broadcasts.createdAt));
    return rows.map((r) => r.id);
  }

  /**
   * One dispatch pass of a broadcast, in one transaction holding its row (SKIP LOCKED: replicas take
   * turns): starts it when due, tops its lane up to `lookaheadMs` of the lane's sends with the
   * next pending recipients (opted-out ones suppressed, non-template messages skipped outside the
   * service window, template ones within the portfolio's messaging limit), and completes it when
   * every recipient is settled. A kill at any point leaves either all of a pass or none of it.
   */
  async dispatch(id: string, limits = new Map<string, MessagingLimit>()): Promise<void> {
    const { db, clock } = this.#deps;
    const [peek] = await db.select().from(broadcasts).where(eq(broadcasts.id, id));
    if (!peek || !['scheduled', 'running', 'waiting'].includes(peek.state)) return;
    if (await this.#deps.holdReason(peek.instanceId)) return;
    const isTemplate = (peek.message as WhatsAppMessage).type === 'template';
    let limit = limits.get(peek.channelId);
    if (isTemplate && !limit) {
      limit = await this.#deps.templates.messagingLimit(peek.channelId);
      limits.set(peek.channelId, limit);
    }
    await db.transaction(async (tx) => {
      const [row] = await tx.select().from(broadcasts).where(eq(broadcasts.id, id)).for('update', { skipLocked: true });
      if (!row || !['scheduled', 'running', 'waiting'].includes(row.state)) return;
      const now = clock.now();
      let current = row;
      const update = async (change: Partial<BroadcastRow>) => {
        const [updated] = await tx
          .update(broadcasts)
          .set({ ...change, updatedAt: now })
          .where(eq(broadcasts.id, id))
          .returning();
        current = updated!;
      };
      if (row.state === 'scheduled') {
        if (row.scheduledAt.getTime() > now.getTime()) return;
        await update({ state: 'running', startedAt: now });
        await this.#emit(tx, current, 'started');
      }
      if (row.state === 'waiting' && row.waitingUntil && row.waitingUntil.getTime() > now.getTime()) return;

      const lane = laneOf('whatsapp', row.channelId);
      const window = Math.max(MIN_WINDOW, Math.ceil((this.#deps.rateOf(lane) * this.#deps.options.lookaheadMs) / 1000));
      const [{ queued } = { queued: 0 }] = await tx
        .select({ queued: sql<number>`count(*)::int` })
        .from(broadcastRecipients)
        .where(and(eq(broadcastRecipients.broadcastId, id), eq(broadcastRecipients.state, 'queued')));
      const room = window - queued;
      let blocked: Date | null = null;
      if (room > 0) {
        const pending = await tx
          .select({
            seq: broadcastRecipients.seq,
            recipient: broadcastRecipients.recipient,
            components: broadcastRecipients.components,
          })
          .from(broadcastRecipients)
          .where(and(eq(broadcastRecipients.broadcastId, id), eq(broadcastRecipients.state, 'pending')))
          .orderBy(asc(broadcastRecipients.seq))
          .limit(room);
        // Someone may have opted out since the broadcast was accepted.
        const out = await this.#optedOut(
          tx,
          row.tenantId,
          pending.map((p) => p.recipient),
        );
        if (out.size > 0) {
          await tx
            .update(broadcastRecipients)
            .set({ state: 'suppressed', updatedAt: now })
            .where(
              and(
                eq(broadcastRecipients.broadcastId, id),
                inArray(
                  broadcastRecipients.seq,
                  pending.filter((p) => out.has(p.recipient)).map((p) => p.seq),
                ),
              ),
            );
        }
        const next = pending.filter((p) => !out.has(p.recipient));
        if (next.length > 0) {
          const result = await this.#handOver(tx, current, next, isTemplate ? limit : undefined, now);
          blocked = result.blockedUntil;
        }
      }

      if (blocked) {
        if (current.state !== 'waiting') {
          await update({
            state: 'waiting',
            waitingUntil: blocked,
            waitingReason: `the business portfolio's messaging limit (${limit?.limit ?? '?'} unique users in a moving 24 h, ${limit?.tier ?? ''}) is reached: the broadcast goes on as the window allows`,
          });
          await this.#emit(tx, current, 'waiting');
        } else {
          await update({ waitingUntil: blocked });
        }
        return;
      }
      if (current.state === 'waiting') {
        await update({ state: 'running', waitingReason: null, waitingUntil: null });
        await this.#emit(tx, current, 'resumed');
      }
      const totals = await this.#totals(tx, current);
      if (totals.pending === 0 && totals.queued === 0) {
        await update({ state: 'completed', finishedAt: now });
        await this.#emit(tx, current, 'completed');
        return;
      }
      const last = current.progressAt?.getTime() ?? 0;
      if (now.getTime() - last >= this.#deps.options.progressIntervalMs) {
        await update({ progressAt: now });
        await this.#emit(tx, current, 'progress');
      }
    });
  }

  /**
   * Hands recipients to the lane as messages. Returns when the messaging limit stopped it: the
   * time the moving window frees a place.
   */
  async #handOver(
    tx: Db,
    row: BroadcastRow,
    next: { seq: number; recipient: string; components: unknown }[],
    limit: MessagingLimit | undefined,
    now: Date,
  ): Promise<{ blockedUntil: Date | null }> {
    const customers = next.map((n) => n.recipient);
    const windowStart = new Date(now.getTime() - DAY_MS);
    const open = new Set(
      (
        await tx
          .select({ customer: customerWindows.customer })
          .from(customerWindows)
          .where(
            and(
              eq(customerWindows.channelId, row.channelId),
              inArray(customerWindows.customer, customers),
              gt(customerWindows.lastInboundAt, windowStart),
            ),
          )
      ).map((r) => r.customer),
    );
    const message = row.message as WhatsAppMessage;
    let take = next;
    const skipped: number[] = [];
    let blockedUntil: Date | null = null;
    if (message.type !== 'template') {
      take = next.filter((n) => open.has(n.recipient));
      skipped.push(...next.filter((n) => !open.has(n.recipient)).map((n) => n.seq));
    } else if (limit) {
      const outside = next.filter((n) => !open.has(n.recipient));
      const reachedNow: string[] = [];
      if (limit.limit !== null && outside.length > 0) {
        // One portfolio's numbers share the limit: their passes take turns on it.
        await tx.execute(sql`select pg_advisory_xact_lock(hashtext(${`messaging-reach:${limit.scope}`}))`);
        const already = new Set(
          (
            await tx
              .select({ customer: messagingReach.customer })
              .from(messagingReach)
              .where(
                and(
                  eq(messagingReach.scope, limit.scope),
                  inArray(
                    messagingReach.customer,
                    outside.map((o) => o.recipient),
                  ),
                  gt(messagingReach.reachedAt, windowStart),
                ),
              )
          ).map((r) => r.customer),
        );
        const [{ used } = { used: 0 }] = await tx
          .select({ used: sql<number>`count(*)::int` })
          .from(messagingReach)
          .where(and(eq(messagingReach.scope, limit.scope), gt(messagingReach.reachedAt, windowStart)));
        let remaining = limit.limit - used;
        const allowed: typeof next = [];
        for (const n of next) {
          if (open.has(n.recipient) || already.has(n.recipient)) {
            allowed.push(n);
            continue;
          }
          if (remaining <= 0) break;
          remaining -= 1;
          reachedNow.push(n.recipient);
          allowed.push(n);
        }
        if (allowed.length < next.length) {
          const [oldest] = await tx
            .select({ at: messagingReach.reachedAt })
            .from(messagingReach)
            .where(and(eq(messagingReach.scope, limit.scope), gt(messagingReach.reachedAt, windowStart)))
            .orderBy(asc(messagingReach.reachedAt))
            .limit(1);
          blockedUntil = new Date((oldest?.at ?? now).getTime() + DAY_MS);
        }
        take = allowed;
      } else {
        reachedNow.push(...outside.map((o) => o.recipient));
      }
      await this.#recordReach(tx, limit.scope, reachedNow, now);
    }
    if (skipped.length > 0) {
      await tx
        .update(broadcastRecipients)
        .set({ state: 'skipped', error: OUTSIDE_WINDOW, updatedAt: now })
        .where(and(eq(broadcastRecipients.broadcastId, row.id), inArray(broadcastRecipients.seq, skipped)));
    }
    if (take.length === 0) return { blockedUntil };
    const messages = take.map((n) => ({
      seq: n.seq,
      id: uuidv7(),
      request: {
        channel: { kind: 'whatsapp', id: row.channelId },
        to: `+${n.recipient}`,
        priority: 'marketing',
        message: withComponents(message, n.components),
      } satisfies SendMessageRequest,
    }));
    await this.#deps.messages.queueMany(tx, {
      instanceId: row.instanceId,
      tenantId: row.tenantId,
      priority: 'marketing',
      broadcastId: row.id,
      messages,
    });
    const values = sql.join(
      messages.map((m) => sql`(${m.seq}::int, ${m.id}::uuid)`),
      sql`, `,
    );
    await tx.execute(sql`
      update broadcast_recipients r set state = 'queued', message_id = v.message_id, updated_at = ${now.toISOString()}::timestamptz
      from (values ${values}) as v(seq, message_id)
      where r.broadcast_id = ${row.id}::uuid and r.seq = v.seq`);
    return { blockedUntil };
  }

  /**
   * A template the Send API queued to someone outside their service window counts against the
   * portfolio's messaging limit as a broadcast's does: Meta counts unique users reached, whoever
   * sent to them, so the broadcasts that follow see the room that is left.
   */
  readonly countReach = async ({ request, at }: { request: SendMessageRequest; at: Date }): Promise<void> => {
    if (request.channel.kind !== 'whatsapp' || request.message.type !== 'template') return;
    const channelId = request.channel.id;
    const customer = request.to.replace(/^\+/, '');
    const limit = await this.#deps.templates.messagingLimit(channelId);
    await this.#deps.db.transaction(async (tx) => {
      const [open] = await tx
        .select({ customer: customerWindows.customer })
        .from(customerWindows)
        .where(
          and(
            eq(customerWindows.channelId, channelId),
            eq(customerWindows.customer, customer),
            gt(customerWindows.lastInboundAt, new Date(at.getTime() - DAY_MS)),
          ),
        );
      if (open) return;
      await tx.execute(sql`select pg_advisory_xact_lock(hashtext(${`messaging-reach:${limit.scope}`}))`);
      await this.#recordReach(tx, limit.scope, [customer], at);
    });
  };

  async #recordReach(tx: Db, scope: string, customers: readonly string[], now: Date): Promise<void> {
    for (let i = 0; i < customers.length; i += INSERT_CHUNK) {
      await tx
        .insert(messagingReach)
        .values(customers.slice(i, i + INSERT_CHUNK).map((customer) => ({ scope, customer, reachedAt: now })))
        .onConflictDoUpdate({
          target: [messagingReach.scope, messagingReach.customer],
          set: { reachedAt: sql`excluded.reached_at` },
        });
    }
  }

  /**
   * The messages' state changes (the messages module's outbound events), in the transaction that
   * records them: each broadcast recipient moves forward (a late `delivered` after `read` does not
   * move it back; `failed` always shows, with Meta's code).
   */
  readonly recordOutbound = async (tx: Db, events: readonly RoutedEvent[]): Promise<RoutedEvent[]> => {
    const now = this.#deps.clock.now();
    for (const event of events) {
      const data = (event.data ?? {}) as {
        broadcastId?: string;
        messageId?: string;
        state?: string;
        error?: MessageError;
      };
      if (!data.broadcastId || !data.messageId || !data.state || !(data.state in RECIPIENT_RANK)) continue;
      const rank = RECIPIENT_RANK[data.state]!;
      await tx.execute(sql`
        update broadcast_recipients set state = ${data.state}, error = ${data.error ? JSON.stringify(data.error) : null}::jsonb,
          updated_at = ${now.toISOString()}::timestamptz
        where message_id = ${data.messageId}::uuid
          and (${data.state} = 'failed' or (case state when 'queued' then 0 when 'sent' then 1 when 'delivered' then 2
            when 'read' then 3 else 9 end) < ${rank})`);
    }
    return [];
  };

  /**
   * Inbound messages (routed, in the transaction that stores them): each opens its sender's 24 h
   * service window, and an opt-out keyword (STOP, BAJA, …) adds the sender to the tenant's list.
   */
  readonly recordInbound = async (tx: Db, events: readonly RoutedEvent[]): Promise<RoutedEvent[]> => {
    for (const event of events) {
      if (event.type !== 'whatsapp.message.received' || !event.channelId) continue;
      const data = (event.data ?? {}) as { from?: unknown; text?: unknown; button?: { text?: unknown } };
      if (typeof data.from !== 'string') continue;
      const customer = customerOf(data.from);
      await tx
        .insert(customerWindows)
        .values({ channelId: event.channelId, customer, lastInboundAt: event.occurredAt })
        .onConflictDoUpdate({
          target: [customerWindows.channelId, customerWindows.customer],
          set: { lastInboundAt: sql`greatest(${customerWindows.lastInboundAt}, excluded.last_inbound_at)` },
        });
      const said =
        typeof data.text === 'string' ? data.text : typeof data.button?.text === 'string' ? data.button.text : '';
      const keyword = keywordOf(said);
      if (this.#keywords.has(keyword)) {
        await tx
          .insert(optOuts)
          .values({
            tenantId: event.tenantId,
            recipient: customer,
            source: 'keyword',
            keyword,
            createdAt: this.#deps.clock.now(),
          })
          .onConflictDoNothing();
      }
    }
    return [];
  };

  /** `GET /v1/opt-outs`: the tenant's opted-out recipients. */
  async listOptOuts(instanceId: string, query: { limit?: number; after?: string }): Promise<OptOutPage> {
    const { tenant } = this.#tenantOf(instanceId);
    const limit = query.limit ?? 100;
    const rows = await this.#deps.db
      .select()
      .from(optOuts)
      .where(
        and(
          eq(optOuts.tenantId, tenant.id),
          query.after === undefined ? undefined : gt(optOuts.recipient, query.after),
        ),
      )
      .orderBy(asc(optOuts.recipient))
      .limit(limit + 1);
    const page = rows.slice(0, limit);
    return {
      optOuts: page.map(describeOptOut),
      nextCursor: rows.length > limit ? page.at(-1)!.recipient : null,
    };
  }

  /** `PUT /v1/opt-outs/{recipient}`: adds (or keeps) a recipient on the tenant's list. */
  async addOptOut(instanceId: string, to: string): Promise<OptOut> {
    const { tenant } = this.#tenantOf(instanceId);
    const recipient = customerOf(to);
    await this.#deps.db
      .insert(optOuts)
      .values({ tenantId: tenant.id, recipient, source: 'api', keyword: null, createdAt: this.#deps.clock.now() })
      .onConflictDoNothing();
    const [row] = await this.#deps.db
      .select()
      .from(optOuts)
      .where(and(eq(optOuts.tenantId, tenant.id), eq(optOuts.recipient, recipient)));
    return describeOptOut(row!);
  }

  /** `DELETE /v1/opt-outs/{recipient}`: the recipient may be reached by broadcasts again. */
  async removeOptOut(instanceId: string, to: string): Promise<void> {
    const { tenant } = this.#tenantOf(instanceId);
    const removed = await this.#deps.db
      .delete(optOuts)
      .where(and(eq(optOuts.tenantId, tenant.id), eq(optOuts.recipient, customerOf(to))))
      .returning({ recipient: optOuts.recipient });
    if (removed.length === 0) throw problems.notFound(`${to} is not on the opt-out list`);
  }
}

function describeOptOut(row: typeof optOuts.$inferSelect): OptOut {
  return {
    recipient: row.recipient,
    source: row.source as OptOut['source'],
    keyword: row.keyword,
    createdAt: row.createdAt.toISOString(),
  };
}
