import { setTimeout as sleep } from 'node:timers/promises';
import { and, asc, count, desc, eq, gte, inArray, isNotNull, sql } from 'drizzle-orm';
import { uuidv7 } from 'uuidv7';
import {
  validateSendRequest,
  type ChannelPlatform,
  type ConfigSnapshot,
  type MessageError,
  type MessageState,
  type MessageStatus,
  type SendAccepted,
  type SendMessageRequest,
} from '@mic/contracts';
import {
  GraphError,
  graphErrorBody,
  parseGraphSendResponse,
  toGraphRequest,
  type GraphClient,
  type GraphSendRequest,
} from '@mic/meta';
import { Problem, persistently, problems, requestHash, type Clock, type Db, type Logger } from '@mic/platform';
import { laneOf, type ClaimedItem, type Lanes, type Priority, type SendOutcome } from '../outbound/index.ts';
import type { RoutedEvent } from '../delivery/index.ts';
import type { NewAlert } from '../reports/service.ts';
import { outboundMessageEvents, outboundMessages } from './schema.ts';
import { MessageStatuses, statusReportsOf } from './statuses.ts';
import { StateRecorder, type GraphAnswer, type StateChange } from './recorder.ts';

export type { GraphAnswer };

export interface MessagesOptions {
  /** Delay before the second Graph call of a message after a transient failure; doubled each time. */
  retryBaseMs: number;
  /** The longest delay between two Graph calls of a message. */
  retryMaxMs: number;
  /** Graph calls (transient failures included) before a message fails for good. */
  maxAttempts: number;
  /** A lane Meta throttled (130429, 131048, …) sends this many times slower… */
  slowFactor: number;
  /** …for this long. */
  slowForMs: number;
  /** How long a recipient's messages wait after Meta's pair rate (131056). */
  pairRateDelayMs: number;
  /** How long a state change waits for others to share its transaction (5 ms when not given). */
  recordGatherMs?: number;
}

export interface MessagesDeps {
  db: Db;
  clock: Clock;
  lanes: Lanes;
  graph: GraphClient;
  logger: Pick<Logger, 'info' | 'warn' | 'error'>;
  snapshot: () => ConfigSnapshot | undefined;
  accessToken: (platform: ChannelPlatform, channelId: string) => Promise<string | null>;
  /** The Facebook page an Instagram account sends from (the channel connection's object id). */
  instagramPageId: (channelId: string) => Promise<string | undefined>;
  alert: (alert: NewAlert, tx?: Db) => Promise<unknown>;
  /** Delivers events to their instances, inside the caller's transaction. */
  deliver: (tx: Db, events: readonly RoutedEvent[]) => Promise<void>;
  options: MessagesOptions;
}

type MessageRow = typeof outboundMessages.$inferSelect;

/** A check every send passes before it is queued (a template's approval and parameters): throws a Problem. */
export type SendCheck = (instanceId: string, request: SendMessageRequest) => Promise<void>;

/**
 * Told of the outbound events of messages changing state, inside the transaction that records the
 * change; answers more events to deliver with them.
 */
export type OutboundListener = (tx: Db, events: readonly RoutedEvent[]) => Promise<readonly RoutedEvent[]>;
/** Told of each message one send queued (not broadcasts, which count their own), after it committed. */
export type QueuedListener = (queued: { request: SendMessageRequest; at: Date }) => Promise<void>;

/** Messages queued together (a broadcast's batch): one request per recipient, in one transaction. */
export interface MessageBatch {
  instanceId: string;
  tenantId: string;
  priority: Priority;
  /** The lane batch and the broadcast the messages belong to. */
  broadcastId: string;
  notBefore?: Date;
  messages: readonly { id: string; request: SendMessageRequest }[];
}

/** Why a message its caller stopped waiting for was not sent: Meta's throughput error, as a client expects. */
const NOT_SENT_IN_TIME: MessageError = {
  code: 130429,
  subcode: null,
  title: 'Rate limit hit',
  message: 'the message could not leave within the wait bound: its lane is busy or paused',
};

const startOfUtcMonth = (now: Date) => new Date(Date.UTC(now.getUTCFullYear(), now.getUTCMonth(), 1));

function graphMessageError(error: GraphError): MessageError {
  return {
    code: error.code,
    subcode: error.subcode,
    title: error.type ?? 'Graph API error',
    message: error.details ? `${error.message}: ${error.details}` : error.message,
  };
}

/**
 * The Send API: accepts an instance's message (stored with its lane item in one transaction),
 * sends it to Meta when its lane's slot comes (`send`, the lanes' handler) and answers its status.
 */
export class Messages {
  readonly #deps: MessagesDeps;
  readonly #statuses: MessageStatuses;
  readonly #recorder: StateRecorder;
  readonly #checks: SendCheck[] = [];
  readonly #listeners: OutboundListener[] = [];
  readonly #queuedListeners: QueuedListener[] = [];

  constructor(deps: MessagesDeps) {
    this.#deps = deps;
    this.#statuses = new MessageStatuses({ clock: deps.clock });
    this.#recorder = new StateRecorder({
      db: deps.db,
      clock: deps.clock,
      statuses: this.#statuses,
      deliver: async (tx, events) => deps.deliver(tx, [...events, ...(await this.#notify(tx, events))]),
      gatherMs: deps.options.recordGatherMs ?? 5,
    });
  }

  /**
   * Checks and queues a message. `assertMaySend` is the config's verdict on the instance (paused,
   * module off, engine disabled). With an idempotency key, a repeat of the same request answers
   * the first message again; the same key with another request is refused (422).
   */
  async accept(
    instanceId: string,
    body: unknown,
    idempotencyKey: string | undefined,
    assertMaySend: (platform: ChannelPlatform) => Promise<void>,
  ): Promise<SendAccepted> {
    const validation = validateSendRequest(body);
    if (!validation.ok) throw problems.validation(validation.errors);
    return this.queue(instanceId, validation.value, { idempotencyKey, assertMaySend });
  }

  /**
   * Queues a validated request on its lane, after the checks every send passes (the channel is the
   * instance's, the instance may send, the priority and the quota). `graphRequest` is Meta's own
   * call, sent as it came (the Graph-compatible API); `expiresAt` is when a send that has not left
   * is no longer wanted.
   */
  async queue(
    instanceId: string,
    request: SendMessageRequest,
    options: {
      idempotencyKey?: string | undefined;
      assertMaySend: (platform: ChannelPlatform) => Promise<void>;
      graphRequest?: GraphSendRequest;
      expiresAt?: Date;
    },
  ): Promise<SendAccepted> {
    const { idempotencyKey, assertMaySend } = options;
    const priority = request.priority ?? 'conversation';
    const { kind, id: channelId } = request.channel;
    const snapshot = this.#deps.snapshot();
    const owner = snapshot?.channels.find((c) => c.platform === kind && c.channelId === channelId);
    if (!owner || owner.instanceId !== instanceId) {
      throw new Problem({
        status: 403,
        type: 'channel-not-yours',
        title: 'The channel is not connected to this instance',
        detail: `${kind} channel ${channelId} is not routed to this instance`,
        channel: request.channel,
      });
    }
    await assertMaySend(kind);
    for (const check of this.#checks) await check(instanceId, request);
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
    if (!tenant.limits.priorities.includes(priority)) {
      throw new Problem({
        status: 403,
        type: 'priority-not-allowed',
        title: 'The priority is not allowed for this tenant',
        detail: `priority ${priority} is not one of ${tenant.limits.priorities.join(', ') || '(none)'}`,
        priority,
        allowed: tenant.limits.priorities,
      });
    }
    const hash = requestHash(request);
    const quota = tenant.limits.messagesPerMonth;
    const { db, clock, lanes } = this.#deps;
    let queuedAt: Date | undefined;
    const accepted = await db.transaction(async (tx) => {
      // Serializes the check-then-insert of the quota count and of the idempotency key.
      if (quota !== null) {
        await tx.execute(sql`select pg_advisory_xact_lock(hashtext(${`outbound-quota:${tenant.id}`}))`);
      } else if (idempotencyKey !== undefined) {
        await tx.execute(
          sql`select pg_advisory_xact_lock(hashtext(${`outbound-key:${instanceId}:${idempotencyKey}`}))`,
        );
      }
      if (idempotencyKey !== undefined) {
        const [first] = await tx
          .select({ id: outboundMessages.id, requestHash: outboundMessages.requestHash })
          .from(outboundMessages)
          .where(and(eq(outboundMessages.instanceId, instanceId), eq(outboundMessages.idempotencyKey, idempotencyKey)));
        if (first) {
          if (first.requestHash !== hash) {
            throw new Problem({
              status: 422,
              type: 'idempotency-key-reused',
              title: 'The Idempotency-Key was used for another request',
              detail: 'a key names one request: send this one with a new key',
            });
          }
          return { id: first.id, state: 'queued' as const };
        }
      }
      const now = clock.now();
      let usedBefore = 0;
      if (quota !== null) {
        const [used] = await tx
          .select({ n: count() })
          .from(outboundMessages)
          .where(and(eq(outboundMessages.tenantId, tenant.id), gte(outboundMessages.createdAt, startOfUtcMonth(now))));
        if ((used?.n ?? 0) >= quota) {
          throw new Problem({
            status: 429,
            type: 'message-quota-exceeded',
            title: "The tenant's monthly message quota is used up",
            detail: `${used?.n ?? 0} of ${quota} messages this month`,
            quota,
            used: used?.n ?? 0,
          });
        }
        usedBefore = used?.n ?? 0;
      }
      const id = uuidv7();
      const lane = laneOf(kind, channelId);
      await tx.insert(outboundMessages).values({
        id,
        instanceId,
        tenantId: tenant.id,
        channel: lane,
        recipient: request.to,
        priority,
        request,
        state: 'queued',
        attempts: 0,
        idempotencyKey: idempotencyKey ?? null,
        requestHash: hash,
        graphRequest: options.graphRequest ?? null,
        expiresAt: options.expiresAt ?? null,
        createdAt: now,
        updatedAt: now,
      });
      await tx.insert(outboundMessageEvents).values({ messageId: id, state: 'queued', at: now });
      await lanes.enqueue(tx, { messageId: id, lane, priority, recipient: request.to });
      if (quota !== null) await this.#alertQuotaCrossed(tx, tenant.id, instanceId, quota, usedBefore + 1, now);
      queuedAt = now;
      return { id, state: 'queued' as const };
    });
    if (queuedAt) {
      for (const listener of this.#queuedListeners) {
        await listener({ request, at: queuedAt }).catch((error: unknown) =>
          this.#deps.logger.warn({ err: error, messageId: accepted.id }, 'a listener of queued messages failed'),
        );
      }
    }
    return accepted;
  }

  /** Crossing 80 % and 100 % of the month's quota each raises one usage alert (a key per month and step). */
  async #alertQuotaCrossed(tx: Db, tenantId: string, instanceId: string, quota: number, used: number, now: Date) {
    for (const share of [80, 100]) {
      if (used !== Math.ceil((quota * share) / 100)) continue;
      const month = now.toISOString().slice(0, 7);
      await this.#deps.alert(
        {
          key: `quota:${tenantId}:${month}:${share}`,
          state: 'raised',
          type: 'quota-crossed',
          severity: share === 100 ? 'critical' : 'warning',
          tenantId,
          instanceId,
          message: `tenant ${tenantId} has used ${used} of its ${quota} messages for ${month} (${share} %)`,
          details: { quota, used, month, share },
        },
        tx,
      );
    }
  }

  /**
   * Meta's statuses of sent messages in newly routed events (the delivery module's listener):
   * applied in the transaction that stores them; answers the outbound events to deliver with them.
   */
  async recordStatuses(tx: Db, events: readonly RoutedEvent[]): Promise<RoutedEvent[]> {
    const outbound = await this.#statuses.apply(tx, statusReportsOf(events));
    return [...outbound, ...(await this.#notify(tx, outbound))];
  }

  /** Adds a check that every send passes before it is queued (`POST /v1/messages`, the Graph-compatible API). */
  addCheck(check: SendCheck): void {
    this.#checks.push(check);
  }

  onQueued(listener: QueuedListener): void {
    this.#queuedListeners.push(listener);
  }

  /** Listens to messages' state changes (their outbound events) in the transactions that record them. */
  onOutboundEvents(listener: OutboundListener): void {
    this.#listeners.push(listener);
  }

  async #notify(tx: Db, events: readonly RoutedEvent[]): Promise<RoutedEvent[]> {
    if (events.length === 0) return [];
    const more: RoutedEvent[] = [];
    for (const listener of this.#listeners) more.push(...(await listener(tx, events)));
    return more;
  }

  /**
   * Queues already checked messages in the caller's transaction, in chunks (a broadcast's batch):
   * each with its `queued` timeline entry and its lane item, under the batch's broadcast id.
   */
  async queueMany(tx: Db, batch: MessageBatch): Promise<void> {
    if (batch.messages.length === 0) return;
    const now = this.#deps.clock.now();
    const CHUNK = 1_000;
    for (let i = 0; i < batch.messages.length; i += CHUNK) {
      const chunk = batch.messages.slice(i, i + CHUNK);
      await tx.insert(outboundMessages).values(
        chunk.map(({ id, request }) => ({
          id,
          instanceId: batch.instanceId,
          tenantId: batch.tenantId,
          channel: laneOf(request.channel.kind, request.channel.id),
          recipient: request.to,
          priority: batch.priority,
          request,
          state: 'queued',
          attempts: 0,
          requestHash: requestHash(request),
          broadcastId: batch.broadcastId,
          createdAt: now,
          updatedAt: now,
        })),
      );
      await tx
        .insert(outboundMessageEvents)
        .values(chunk.map(({ id }) => ({ messageId: id, state: 'queued', at: now })));
    }
    await this.#deps.lanes.enqueueMany(
      tx,
      batch.messages.map(({ id, request }) => ({
        messageId: id,
        lane: laneOf(request.channel.kind, request.channel.id),
        priority: batch.priority,
        recipient: request.to,
        batch: batch.broadcastId,
        ...(batch.notBefore ? { notBefore: batch.notBefore } : {}),
      })),
    );
  }

  /**
   * Puts messages still queued back in their lanes (after their batch was withdrawn, a paused
   * broadcast resuming); a message whose lane item is still there keeps it.
   */
  async requeue(tx: Db, ids: readonly string[], batch: string): Promise<void> {
    if (ids.length === 0) return;
    const rows = await tx
      .select({
        id: outboundMessages.id,
        channel: outboundMessages.channel,
        recipient: outboundMessages.recipient,
        priority: outboundMessages.priority,
      })
      .from(outboundMessages)
      .where(and(inArray(outboundMessages.id, [...ids]), eq(outboundMessages.state, 'queued')));
    await this.#deps.lanes.enqueueMany(
      tx,
      rows.map((row) => ({
        messageId: row.id,
        lane: row.channel,
        priority: row.priority as Priority,
        recipient: row.recipient,
        batch,
      })),
    );
  }

  /**
   * Ends queued messages that will not be sent (their batch was cancelled and withdrawn from the
   * lanes): failed with `error`, without an outbound event each (the caller reports them together).
   */
  async discard(tx: Db, ids: readonly string[], error: MessageError): Promise<void> {
    if (ids.length === 0) return;
    const now = this.#deps.clock.now();
    for (let i = 0; i < ids.length; i += 1_000) {
      const ended = await tx
        .update(outboundMessages)
        .set({ state: 'failed', updatedAt: now })
        .where(and(inArray(outboundMessages.id, ids.slice(i, i + 1_000)), eq(outboundMessages.state, 'queued')))
        .returning({ id: outboundMessages.id });
      if (ended.length > 0) {
        await tx
          .insert(outboundMessageEvents)
          .values(ended.map(({ id }) => ({ messageId: id, state: 'failed', at: now, error })));
      }
    }
  }

  /** Messages the tenant queued this calendar month (UTC), for its monthly quota. */
  async usedThisMonth(tenantId: string): Promise<number> {
    const [used] = await this.#deps.db
      .select({ n: count() })
      .from(outboundMessages)
      .where(
        and(
          eq(outboundMessages.tenantId, tenantId),
          gte(outboundMessages.createdAt, startOfUtcMonth(this.#deps.clock.now())),
        ),
      );
    return used?.n ?? 0;
  }

  /** The message with its timeline, if it is the instance's. */
  async status(instanceId: string, id: string): Promise<MessageStatus> {
    const { db } = this.#deps;
    const isUuid = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i.test(id);
    const [row] = isUuid
      ? await db
          .select()
          .from(outboundMessages)
          .where(and(eq(outboundMessages.id, id), eq(outboundMessages.instanceId, instanceId)))
      : [];
    if (!row) throw problems.notFound(`no message ${id} of this instance`);
    const events = await db
      .select()
      .from(outboundMessageEvents)
      .where(eq(outboundMessageEvents.messageId, id))
      .orderBy(asc(outboundMessageEvents.seq));
    const request = row.request as SendMessageRequest;
    return {
      id: row.id,
      channel: request.channel,
      to: row.recipient,
      priority: request.priority ?? 'conversation',
      state: row.state as MessageStatus['state'],
      metaMessageId: row.metaMessageId,
      createdAt: row.createdAt.toISOString(),
      timeline: events.map((e) => ({
        state: e.state as MessageStatus['state'],
        at: e.at.toISOString(),
        ...(e.error ? { error: e.error as MessageError } : {}),
        ...(e.isOutcomeUnknown ? { isOutcomeUnknown: true } : {}),
      })),
    };
  }

  /**
   * Recording what Meta answered must not fail on a passing database error (a full pool, a
   * failover): a send Meta took must not go back to the lane, which would send it twice.
   */
  get #recordingAnswer() {
    return { logger: this.#deps.logger, what: "recording Meta's answer" };
  }

  /** The lanes' send handler: one Graph call for the item's message, and what the lane does next. */
  readonly send = async (
    item: ClaimedItem,
    atSlot: () => Promise<boolean> = async () => true,
  ): Promise<SendOutcome> => {
    const { db, graph } = this.#deps;
    const [row] = await db.select().from(outboundMessages).where(eq(outboundMessages.id, item.messageId));
    if (!row || row.state === 'sent' || row.state === 'failed')
      return { outcome: row?.state === 'sent' ? 'sent' : 'failed' };
    const request = row.request as SendMessageRequest;
    const { kind, id: channelId } = request.channel;
    const attempt = row.attempts + 1;
    if (row.expiresAt && row.state === 'queued' && this.#deps.clock.now() >= row.expiresAt) {
      await this.expire(row.id);
      return { outcome: 'failed' };
    }
    const token = await this.#deps.accessToken(kind, channelId);
    if (!token) {
      const error: MessageError = {
        code: null,
        subcode: null,
        title: 'No access token',
        message: 'the channel has no stored access token',
      };
      return this.#pause(row, item, attempt, error, 'no access token');
    }
    const pageId = kind === 'instagram' ? await this.#deps.instagramPageId(channelId) : undefined;
    let graphRequest = row.graphRequest as GraphSendRequest | null;
    try {
      graphRequest ??= toGraphRequest(request, pageId ? { instagramPageId: pageId } : {});
    } catch (error) {
      const message = error instanceof Error ? error.message : String(error);
      await this.#record(row, 'failed', attempt, {
        error: { code: null, subcode: null, title: 'Not sendable', message },
      });
      return { outcome: 'failed' };
    }
    // A message left `sending` by a worker that died mid-call may have reached Meta already.
    const wasInFlight = row.state === 'sending' && item.claims > 1;
    // Only from queued or sending: a message its waiting caller gave up on stays given up. Recorded
    // before the slot, so that only the call itself is left for the slot.
    const isMine = await this.#record(row, 'sending', attempt, {
      isOutcomeUnknown: wasInFlight,
      onlyFrom: ['queued', 'sending'],
    });
    if (!isMine) return { outcome: 'failed' };
    if (!(await atSlot())) {
      await this.#record(row, 'queued', row.attempts, { onlyFrom: ['sending'] });
      return { outcome: 'put-back' };
    }
    // Its caller stopped waiting while it waited for a slot: it is not sent later.
    if (row.expiresAt && this.#deps.clock.now() >= row.expiresAt) {
      await this.#giveUp(row, 'sending');
      return { outcome: 'failed' };
    }

    try {
      const answer = await graph.send(graphRequest.path, graphRequest.body, token);
      const metaMessageId = parseGraphSendResponse(answer);
      await persistently(
        () =>
          this.#record(row, 'sent', attempt, {
            metaMessageId,
            raw: answer,
            graphAnswer: { status: 200, body: answer },
          }),
        this.#recordingAnswer,
      );
      return { outcome: 'sent' };
    } catch (error) {
      if (!(error instanceof GraphError)) throw error;
      return this.#failed(row, item, attempt, error);
    }
  };

  async #failed(row: MessageRow, item: ClaimedItem, attempt: number, error: GraphError): Promise<SendOutcome> {
    const { options } = this.#deps;
    // Lane times are wall-clock times, as the lanes keep them.
    const now = Date.now();
    const details = graphMessageError(error);
    const requeue = () =>
      this.#record(row, 'queued', attempt, { error: details, isOutcomeUnknown: error.isOutcomeUnknown });
    switch (error.classification) {
      case 'rate-limited':
        await requeue();
        if (error.code === 131056) return { outcome: 'recipient-delayed', untilMs: now + options.pairRateDelayMs };
        if (error.code === 131048) await this.#alertSpamRate(row, item, details);
        return {
          outcome: 'lane-slowed',
          factor: options.slowFactor,
          untilMs: now + options.slowForMs,
          retryAtMs: now + this.#backoff(attempt),
        };
      case 'transient':
        if (attempt >= options.maxAttempts) break;
        await requeue();
        return { outcome: 'retry', atMs: now + this.#backoff(attempt) };
      case 'auth':
        return this.#pause(row, item, attempt, details, `Meta refused the token (${error.code ?? error.status})`);
      default:
        break;
    }
    await persistently(
      () =>
        this.#record(row, 'failed', attempt, {
          error: details,
          isOutcomeUnknown: error.isOutcomeUnknown,
          graphAnswer: { status: error.status, body: graphErrorBody(error) },
        }),
      this.#recordingAnswer,
    );
    return { outcome: 'failed' };
  }

  async #pause(
    row: MessageRow,
    item: ClaimedItem,
    attempt: number,
    error: MessageError,
    reason: string,
  ): Promise<SendOutcome> {
    await this.#record(row, 'queued', attempt, { error });
    this.#deps.logger.warn({ lane: item.lane, code: error.code }, 'channel token refused: its lane is paused');
    await this.#deps.alert({
      // The channels module raises the same condition when a subscription meets a refused token.
      key: `channel:${item.lane}`,
      state: 'raised',
      type: 'reauthorize-channel',
      severity: 'critical',
      tenantId: row.tenantId,
      instanceId: row.instanceId,
      channel: item.lane,
      message: `Meta refused the token of ${item.lane}: its sends are paused until the channel is reauthorized`,
      details: { code: error.code, subcode: error.subcode, messageId: row.id },
    });
    return { outcome: 'lane-paused', reason };
  }

  /**
   * Meta limits a number whose messages people block or report (131048): the lane slows down, and
   * the operator hears of it, since only better content or consent lifts the limit.
   */
  async #alertSpamRate(row: MessageRow, item: ClaimedItem, error: MessageError): Promise<void> {
    this.#deps.logger.warn({ lane: item.lane, code: error.code }, "Meta's spam rate limit: the lane slows down");
    await this.#deps.alert({
      key: `spam-rate:${item.lane}`,
      state: 'raised',
      type: 'spam-rate-limited',
      severity: 'warning',
      tenantId: row.tenantId,
      instanceId: row.instanceId,
      channel: item.lane,
      message: `Meta limits ${item.lane} for its spam rate (131048): recipients block or report its messages; its sends slow down`,
      details: { code: error.code, subcode: error.subcode, messageId: row.id },
    });
  }

  /** Exponential backoff with jitter (half of it random): spreads the retries of a burst that failed together. */
  #backoff(attempt: number): number {
    const { retryBaseMs, retryMaxMs } = this.#deps.options;
    const ceiling = Math.min(retryMaxMs, retryBaseMs * 2 ** Math.max(0, attempt - 1));
    return Math.round(ceiling / 2 + Math.random() * (ceiling / 2));
  }

  /**
   * Moves the message to `state` and appends the change to its timeline; `sent` (with Meta's id)
   * and `failed` also go to the instance as outbound events, with any status Meta reported first.
   */
  async #record(
    row: MessageRow,
    state: MessageState,
    attempt: number,
    extra: Omit<StateChange, 'row' | 'state' | 'attempt'> = {},
  ): Promise<boolean> {
    return this.#recorder.record({ row, state, attempt, ...extra });
  }

  /**
   * Gives up on a message that has not left by its `expiresAt` (its caller no longer waits): it
   * fails with the last error Meta gave it, or with Meta's throughput error, and is never sent.
   * False when it already left.
   */
  async expire(id: string): Promise<boolean> {
    const [row] = await this.#deps.db.select().from(outboundMessages).where(eq(outboundMessages.id, id));
    if (!row || row.state !== 'queued') return false;
    return this.#giveUp(row, 'queued');
  }

  async #giveUp(row: MessageRow, from: MessageState): Promise<boolean> {
    const error = (await this.lastError(row.id)) ?? NOT_SENT_IN_TIME;
    const graphAnswer: GraphAnswer = {
      status: 400,
      body: graphErrorBody({
        code: error.code,
        subcode: error.subcode,
        type: 'OAuthException',
        message: error.code === null ? error.message : `(#${error.code}) ${error.title}`,
        details: error.message,
      }),
    };
    return this.#record(row, 'failed', row.attempts, { error, graphAnswer, onlyFrom: [from] });
  }

  /** The last error in the message's timeline, if any. */
  async lastError(id: string): Promise<MessageError | undefined> {
    const [last] = await this.#deps.db
      .select({ error: outboundMessageEvents.error })
      .from(outboundMessageEvents)
      .where(and(eq(outboundMessageEvents.messageId, id), isNotNull(outboundMessageEvents.error)))
      .orderBy(desc(outboundMessageEvents.seq))
      .limit(1);
    return (last?.error as MessageError | null | undefined) ?? undefined;
  }

  /**
   * Waits until the message has left (sent or failed), polling its row; at `expiresAt` a message
   * still queued is given up on (`expire`). Answers the row as it ended.
   */
  async settled(id: string, expiresAt: Date, signal?: AbortSignal): Promise<MessageRow> {
    let pause = 10;
    for (;;) {
      const [row] = await this.#deps.db.select().from(outboundMessages).where(eq(outboundMessages.id, id));
      if (!row) throw problems.notFound(`no message ${id}`);
      if (row.state === 'sent' || row.state === 'failed') return row;
      if (row.state === 'queued' && this.#deps.clock.now() >= expiresAt) {
        await this.expire(id);
        continue;
      }
      await sleep(pause, undefined, signal ? { signal } : {});
      pause = Math.min(pause * 2, 100);
    }
  }
}

/**
 * A lane's per-second cap: the `sendsPerSecond` of the tenant whose instance the channel is routed
 * to, never above `defaultRate` (Meta's default throughput); `defaultRate` for a lane not routed.
 */
export function laneCap(snapshot: ConfigSnapshot | undefined, lane: string, defaultRate: number): number {
  const channel = snapshot?.channels.find((c) => laneOf(c.platform, c.channelId) === lane);
  const instance = channel && snapshot?.instances.find((i) => i.id === channel.instanceId);
  const tenant = instance && snapshot?.tenants.find((t) => t.id === instance.tenantId);
  return Math.min(tenant?.limits.sendsPerSecond ?? defaultRate, defaultRate);
}
