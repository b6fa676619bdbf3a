import { and, asc, desc, eq, lte, sql } from 'drizzle-orm';
import { uuidv7 } from 'uuidv7';
import type { Clock, Db, JobQueue, Logger } from '@mic/platform';
import type { ChannelPlatform, DeliveredEvent } from '@mic/contracts';
import type { InstanceCredentials } from '../credentials/index.ts';
import type { Routing } from '../routing/index.ts';
import type { EndpointBreakers } from './breaker.ts';
import { nextDelay } from './schedule.ts';
import { attemptDelivery, type AttemptOutcome } from './sender.ts';
import { conversationSequences, deliveries, deliveryAttempts, engineAlerts } from './schema.ts';
import { metaWebhookBodyOf, type MetaEnvelope } from '@mic/meta';
import type { ConversationLeases } from './leases.ts';

export const DRAIN_QUEUE = 'delivery.drain';

/** A stored event that has an instance: what a delivery is made from. */
export interface RoutedEvent {
  id: string;
  instanceId: string;
  tenantId: string;
  type: string;
  platform: string;
  channelId: string | null;
  conversationKey: string | null;
  occurredAt: Date;
  receivedAt: Date;
  data: unknown;
  raw: unknown;
  traceParent: string;
  /** Where `raw` sat in Meta's body, for instances that take Meta's format; none for the engine's own events. */
  envelope?: MetaEnvelope | null;
}

export type RoutedListener = (tx: Db, events: readonly RoutedEvent[]) => Promise<readonly RoutedEvent[]>;

/** Why an instance's deliveries are held now (paused, module or engine off), or null. */
export type HoldReason = (instanceId: string, platform?: ChannelPlatform) => Promise<string | null>;

/** Where the hub's own events go: control's internal events endpoint, with the service token. */
export interface HubTarget {
  url: string;
  token: () => string;
}

export interface DeliveryOptions {
  schedule: readonly number[];
  timeoutMs: number;
  /** Deliveries one drain job sends before handing over to a fresh job. */
  drainBatch: number;
  userAgent: string;
}

export type Delivery = typeof deliveries.$inferSelect;

/** breaker.opened, breaker.closed, endpoint.disabled */
export type DeliveryAlert = { kind: string; instanceId: string; detail: object; at: Date };
export type AlertListener = (alert: DeliveryAlert, tx: Db) => Promise<void>;

export interface DeliveryQuery {
  state?: string | undefined;
  instanceId?: string | undefined;
  type?: string | undefined;
  limit?: number | undefined;
}

const isObject = (value: unknown): value is Record<string, unknown> =>
  typeof value === 'object' && value !== null && !Array.isArray(value);

type Drain = { instanceId: string; conversation: string };
type Delivered = {
  head: Delivery;
  outcome: Extract<AttemptOutcome, { outcome: 'delivered' }>;
  at: Date;
  deliveredAt: Date;
};
/** Pending deliveries of a conversation read at once, in sequence order. */
const HEADS_PER_LOOK = 20;
const groupOf = (d: Drain) => ({ id: `${d.instanceId}|${d.conversation}` });

/**
 * Deliveries to instances. Each conversation is drained by one job at a time (pg-boss group
 * concurrency 1, across all replicas), in sequence order: a failed delivery is retried on its
 * schedule and the conversation waits behind it; a dead-lettered one no longer blocks it.
 */
export class Deliveries {
  readonly #db: Db;
  readonly #queue: JobQueue;
  readonly #clock: Clock;
  readonly #routing: Routing;
  readonly #credentials: InstanceCredentials;
  readonly #breakers: EndpointBreakers;
  readonly #leases: ConversationLeases;
  readonly #options: DeliveryOptions;
  readonly #logger: Logger;
  readonly #observe: (outcome: AttemptOutcome, receivedAt: Date) => void;
  readonly #alertListeners: AlertListener[] = [];
  readonly #routedListeners: RoutedListener[] = [];
  readonly #holdReason: HoldReason;
  readonly #hub: HubTarget;

  constructor(deps: {
    holdReason: HoldReason;
    hub: HubTarget;
    db: Db;
    queue: JobQueue;
    clock: Clock;
    routing: Routing;
    credentials: InstanceCredentials;
    breakers: EndpointBreakers;
    leases: ConversationLeases;
    options: DeliveryOptions;
    logger: Logger;
    observe: (outcome: AttemptOutcome, receivedAt: Date) => void;
  }) {
    this.#db = deps.db;
    this.#queue = deps.queue;
    this.#clock = deps.clock;
    this.#routing = deps.routing;
    this.#credentials = deps.credentials;
    this.#breakers = deps.breakers;
    this.#leases = deps.leases;
    this.#options = deps.options;
    this.#logger = deps.logger;
    this.#observe = deps.observe;
    this.#holdReason = deps.holdReason;
    this.#hub = deps.hub;
  }

  /**
   * Told of newly routed events inside the transaction that stores them (e.g. statuses of sent
   * messages); the events a listener answers are delivered with them.
   */
  onRoutedEvents(listener: RoutedListener): void {
    this.#routedListeners.push(listener);
  }

  /**
   * Creates the deliveries of newly stored events, with their jobs, inside the caller's
   * transaction: one statement for the sequences of all their conversations, one insert for all
   * deliveries, one for all jobs (ingress stores webhooks in batches under load).
   */
  async createFor(tx: Db, stored: readonly RoutedEvent[]): Promise<void> {
    if (stored.length === 0) return;
    const all = [...stored];
    for (const listener of this.#routedListeners) all.push(...(await listener(tx, stored)));
    const events = await this.#deliverable(tx, all);
    if (events.length === 0) return;
    const now = this.#clock.now();
    const conversations = new Map<string, { drain: Drain; events: RoutedEvent[] }>();
    for (const event of events) {
      const conversation = event.conversationKey ?? `event:${event.id}`;
      const key = `${event.instanceId}|${conversation}`;
      const entry = conversations.get(key) ?? { drain: { instanceId: event.instanceId, conversation }, events: [] };
      entry.events.push(event);
      conversations.set(key, entry);
    }
    const sequences = await tx
      .insert(conversationSequences)
      .values(
        // In key order: transactions creating deliveries at once (ingress, reroute) lock rows in one order.
        [...conversations.entries()]
          .sort(([a], [b]) => (a < b ? -1 : 1))
          .map(([, { drain, events: inOrder }]) => ({
            instanceId: drain.instanceId,
            conversation: drain.conversation,
            lastSeq: inOrder.length,
          })),
      )
      .onConflictDoUpdate({
        target: [conversationSequences.instanceId, conversationSequences.conversation],
        set: { lastSeq: sql`${conversationSequences.lastSeq} + excluded.last_seq` },
      })
      .returning();
    const rows: (typeof deliveries.$inferInsert)[] = [];
    for (const sequence of sequences) {
      const { drain, events: inOrder } = conversations.get(`${sequence.instanceId}|${sequence.conversation}`)!;
      const first = sequence.lastSeq - inOrder.length + 1;
      inOrder.forEach((event, i) => rows.push(this.#deliveryRow(event, drain.conversation, first + i, now)));
    }
    for (let i = 0; i < rows.length; i += 500) await tx.insert(deliveries).values(rows.slice(i, i + 500));
    const jobs = [...conversations.values()].map(({ drain }) => ({ data: drain, group: groupOf(drain) }));
    await this.#queue.sendMany(DRAIN_QUEUE, jobs, tx);
  }

  /**
   * An instance that takes Meta's format gets what Meta sent and nothing else: the engine's own
   * events (`<platform>.outbound.<state>`) have no Meta shape, so they are not delivered to it.
   */
  async #deliverable(tx: Db, events: readonly RoutedEvent[]): Promise<RoutedEvent[]> {
    const own = new Set(events.filter((e) => e.type.includes('.outbound.')).map((e) => e.instanceId));
    const metaFormat = new Set<string>();
    for (const instanceId of own) {
      if ((await this.#routing.instance(instanceId, tx))?.deliveryFormat === 'meta') metaFormat.add(instanceId);
    }
    return events.filter((e) => !(metaFormat.has(e.instanceId) && e.type.includes('.outbound.')));
  }

  #deliveryRow(event: RoutedEvent, conversation: string, seq: number, now: Date): typeof deliveries.$inferInsert {
    const id = uuidv7();
    const payload: DeliveredEvent = {
      id,
      type: event.type,
      tenantId: event.tenantId,
      instanceId: event.instanceId,
      channel: { kind: event.platform as DeliveredEvent['channel']['kind'], id: event.channelId ?? '' },
      conversation: event.conversationKey ? { id: event.conversationKey, seq } : null,
      occurredAt: event.occurredAt.toISOString(),
      receivedAt: event.receivedAt.toISOString(),
      data: isObject(event.data) ? event.data : { value: event.data ?? null },
      // The contract promises an object: a fragment Meta sent as anything else travels wrapped.
      raw: isObject(event.raw) ? event.raw : { value: event.raw ?? null },
    };
    return {
      id,
      eventId: event.id,
      instanceId: event.instanceId,
      conversation,
      seq,
      state: 'pending',
      attempts: 0,
      nextAttemptAt: now,
      payload,
      envelope: event.envelope ?? null,
      traceParent: event.traceParent,
      createdAt: now,
    };
  }

  /**
   * Sends a conversation's due deliveries in order, until one fails or none is left. Only the
   * holder of the conversation's lease sends; a drain that finds it taken leaves the work to the
   * holder, which looks again for due deliveries after letting go.
   */
  async drain(drain: Drain): Promise<void> {
    const holder = uuidv7();
    if (!(await this.#leases.claim(drain, holder))) return;
    let finished: 'empty' | 'waiting';
    let turnedAway: boolean;
    try {
      finished = await this.#drainHeld(drain, holder);
    } finally {
      turnedAway = await this.#leases.release(drain, holder);
    }
    // A drain turned away while we held the lease may have come for deliveries stored after our
    // last look. (When the drain stopped for another reason, it has scheduled what comes next.)
    if (finished !== 'empty' || !turnedAway) return;
    const [due] = await this.#db
      .select({ id: deliveries.id })
      .from(deliveries)
      .where(
        and(
          eq(deliveries.instanceId, drain.instanceId),
          eq(deliveries.conversation, drain.conversation),
          eq(deliveries.state, 'pending'),
          lte(deliveries.nextAttemptAt, this.#clock.now()),
        ),
      )
      .limit(1);
    if (due) await this.#schedule(drain, this.#clock.now());
  }

  /** Drains several jobs at once (one fetch): each conversation once, whatever its number of jobs. */
  async drainAll(drains: readonly Drain[]): Promise<PromiseSettledResult<void>[]> {
    const byConversation = new Map<string, Promise<void>>();
    return Promise.allSettled(
      drains.map((d) => {
        const key = groupOf(d).id;
        const running = byConversation.get(key) ?? this.drain(d);
        byConversation.set(key, running);
        return running;
      }),
    );
  }

  async #drainHeld(drain: Drain, holder: string): Promise<'empty' | 'waiting'> {
    let sent = 0;
    while (sent < this.#options.drainBatch) {
      const route = await this.#routing.instance(drain.instanceId);
      // Held (no route, endpoint disabled by a 410, paused, module or engine off): the snapshot that
      // releases it kicks the instance's conversations again.
      if (!route || route.disabledAt) return 'waiting';
      const limit = Math.min(HEADS_PER_LOOK, this.#options.drainBatch - sent);
      const heads = await this.#db
        .select()
        .from(deliveries)
        .where(
          and(
            eq(deliveries.instanceId, drain.instanceId),
            eq(deliveries.conversation, drain.conversation),
            eq(deliveries.state, 'pending'),
          ),
        )
        .orderBy(asc(deliveries.seq))
        .limit(limit);
      if (heads.length === 0) return 'empty';
      const delivered: Delivered[] = [];
      try {
        for (const head of heads) {
          if (sent > 0 && !(await this.#leases.renew(drain, holder))) return 'waiting';
          if (await this.#holdReason(drain.instanceId, (head.payload as DeliveredEvent).channel.kind)) return 'waiting';
          const now = this.#clock.now();
          if (head.nextAttemptAt > now) {
            await this.#schedule(drain, head.nextAttemptAt);
            return 'waiting';
          }
          const permit = await this.#breakers.permit(drain.instanceId);
          if (!permit.allowed) {
            await this.#schedule(drain, permit.retryAt); // waits; no attempt spent
            return 'waiting';
          }
          const outcome = await this.#attempt(
            head,
            route.kind === 'hub' || route.webhookUrl === null
              ? null
              : { url: route.webhookUrl, isMetaFormat: route.deliveryFormat === 'meta' },
            now,
          );
          sent += 1;
          if (outcome.outcome !== 'delivered') {
            await this.#recordDelivered(delivered.splice(0)); // the ones before it, in order
            await this.#afterFailure(drain, head, outcome, now);
            return 'waiting';
          }
          delivered.push({ head, outcome, at: now, deliveredAt: this.#clock.now() });
          await this.#breakers.success(drain.instanceId);
        }
      } finally {
        await this.#recordDelivered(delivered);
      }
      // A short look saw the end of the conversation: what came after it has its own drain.
      if (heads.length < limit) return 'empty';
    }
    await this.#schedule(drain, this.#clock.now()); // more to send: hand over to a fresh job
    return 'waiting';
  }

  /**
   * One attempt. `target` null is the hub, which gets the service token instead of a signature; an
   * instance in Meta's format gets the body Meta sent for this event alone, with `X-Hub-Signature-256`.
   */
  async #attempt(
    head: Delivery,
    target: { url: string; isMetaFormat: boolean } | null,
    now: Date,
  ): Promise<AttemptOutcome> {
    let outcome: AttemptOutcome;
    try {
      const metaBody = target?.isMetaFormat ? this.#metaBodyOf(head) : null;
      const body = JSON.stringify(metaBody ?? head.payload);
      const auth =
        target === null
          ? { authorization: `Bearer ${this.#hub.token()}` }
          : metaBody
            ? { 'x-hub-signature-256': await this.#credentials.signMetaDelivery(head.instanceId, body) }
            : { 'webhook-signature': await this.#credentials.signDelivery(head.instanceId, head.id, now, body) };
      outcome = await attemptDelivery({
        url: target?.url ?? this.#hub.url,
        body,
        timeoutMs: this.#options.timeoutMs,
        now,
        headers: {
          'content-type': 'application/json',
          'user-agent': this.#options.userAgent,
          'webhook-id': head.id,
          'webhook-timestamp': String(Math.floor(now.getTime() / 1000)),
          ...auth,
          traceparent: head.traceParent,
        },
      });
    } catch (error) {
      outcome = {
        outcome: 'failed',
        status: null,
        error: (error as Error).message,
        retryAfterMs: null,
        durationMs: 0,
        isLocal: true,
      };
    }
    this.#observe(outcome, new Date((head.payload as DeliveredEvent).receivedAt));
    return outcome;
  }

  /** Marks sent deliveries delivered, with their attempts, in one statement. */
  async #recordDelivered(sent: readonly Delivered[]): Promise<void> {
    if (sent.length === 0) return;
    const rows = sent.map(
      ({ head, outcome, at, deliveredAt }) =>
        sql`(${head.id}::uuid, ${uuidv7()}::uuid, ${head.attempts + 1}::integer, ${at.toISOString()}::timestamptz, ${outcome.status}::integer, ${outcome.durationMs}::integer, ${deliveredAt.toISOString()}::timestamptz)`,
    );
    await this.#db.execute(sql`
      with sent (delivery_id, attempt_id, attempt, at, status, duration_ms, delivered_at) as (values ${sql.join(rows, sql`, `)}),
      attempts as (
        insert into ${deliveryAttempts} (id, delivery_id, attempt, at, outcome, status, duration_ms, error)
        select attempt_id, delivery_id, attempt, at, 'delivered', status, duration_ms, null from sent
      )
      update ${deliveries} set state = 'delivered', attempts = sent.attempt, last_status = sent.status,
        last_error = null, delivered_at = sent.delivered_at
      from sent where ${deliveries.id} = sent.delivery_id`);
  }

  async #afterFailure(
    drain: Drain,
    head: Delivery,
    outcome: Exclude<AttemptOutcome, { outcome: 'delivered' }>,
    now: Date,
  ): Promise<void> {
    const attempts = head.attempts + 1;
    await this.#db.insert(deliveryAttempts).values({
      id: uuidv7(),
      deliveryId: head.id,
      attempt: attempts,
      at: now,
      outcome: outcome.outcome,
      status: outcome.status,
      durationMs: outcome.durationMs,
      error: outcome.outcome === 'failed' ? outcome.error : null,
    });
    if (outcome.outcome === 'gone') {
      await this.#db
        .update(deliveries)
        .set({ attempts, lastStatus: 410, lastError: 'endpoint answered 410 Gone' })
        .where(eq(deliveries.id, head.id));
      await this.#routing.disable(drain.instanceId, 'the endpoint answered 410 Gone');
      await this.alert('endpoint.disabled', drain.instanceId, { deliveryId: head.id, status: 410 });
      return;
    }
    if (!outcome.isLocal) await this.#breakers.failure(drain.instanceId);
    const scheduled = nextDelay(this.#options.schedule, attempts);
    if (scheduled === null) {
      await this.#db
        .update(deliveries)
        .set({ state: 'dead', attempts, lastStatus: outcome.status, lastError: outcome.error, deadAt: now })
        .where(eq(deliveries.id, head.id));
      this.#logger.warn({ deliveryId: head.id, instanceId: drain.instanceId, attempts }, 'delivery dead-lettered');
      return this.#schedule(drain, now); // the conversation goes on without it
    }
    const at = new Date(now.getTime() + (outcome.retryAfterMs ?? scheduled));
    await this.#db
      .update(deliveries)
      .set({ attempts, lastStatus: outcome.status, lastError: outcome.error, nextAttemptAt: at })
      .where(eq(deliveries.id, head.id));
    await this.#schedule(drain, at);
  }

  async #schedule(drain: Drain, at: Date): Promise<void> {
    await this.#queue.send(DRAIN_QUEUE, drain, { group: groupOf(drain), startAfter: at });
  }

  /** Drains every conversation of an instance that has pending deliveries (after releasing it). */
  /** Meta's webhook body for the event alone; null for an event that did not come from Meta. */
  #metaBodyOf(head: Delivery): Record<string, unknown> | null {
    if (!head.envelope) return null;
    return metaWebhookBodyOf(head.envelope as MetaEnvelope, (head.payload as DeliveredEvent).raw);
  }

  async kick(instanceId: string): Promise<number> {
    const rows = await this.#db
      .selectDistinct({ conversation: deliveries.conversation })
      .from(deliveries)
      .where(and(eq(deliveries.instanceId, instanceId), eq(deliveries.state, 'pending')));
    for (const { conversation } of rows) await this.#schedule({ instanceId, conversation }, this.#clock.now());
    return rows.length;
  }

  /** Puts dead-lettered deliveries back in their conversation, to be sent at once. */
  async replay(filter: { id?: string; instanceId?: string; type?: string }): Promise<number> {
    const conditions = [
      eq(deliveries.state, 'dead'),
      filter.id ? eq(deliveries.id, filter.id) : undefined,
      filter.instanceId ? eq(deliveries.instanceId, filter.instanceId) : undefined,
      filter.type ? sql`${deliveries.payload}->>'type' = ${filter.type}` : undefined,
    ].filter((c) => c !== undefined);
    const replayed = await this.#db
      .update(deliveries)
      .set({ state: 'pending', attempts: 0, nextAttemptAt: this.#clock.now(), deadAt: null })
      .where(and(...conditions))
      .returning({ instanceId: deliveries.instanceId, conversation: deliveries.conversation });
    const drains = new Map(replayed.map((r) => [`${r.instanceId}|${r.conversation}`, r]));
    for (const drain of drains.values()) await this.#schedule(drain, this.#clock.now());
    return replayed.length;
  }

  async list(query: DeliveryQuery): Promise<Delivery[]> {
    const conditions = [
      query.state ? eq(deliveries.state, query.state) : undefined,
      query.instanceId ? eq(deliveries.instanceId, query.instanceId) : undefined,
      query.type ? sql`${deliveries.payload}->>'type' = ${query.type}` : undefined,
    ].filter((c) => c !== undefined);
    return this.#db
      .select()
      .from(deliveries)
      .where(conditions.length ? and(...conditions) : sql`true`)
      .orderBy(desc(deliveries.createdAt), desc(deliveries.id))
      .limit(query.limit ?? 100);
  }

  async get(id: string) {
    const [delivery] = await this.#db.select().from(deliveries).where(eq(deliveries.id, id));
    if (!delivery) return null;
    const attempts = await this.#db
      .select()
      .from(deliveryAttempts)
      .where(eq(deliveryAttempts.deliveryId, id))
      .orderBy(asc(deliveryAttempts.attempt));
    return { delivery, attempts };
  }

  /** Called in the transaction that records each alert (the reports module forwards them to control). */
  onAlert(listener: AlertListener): void {
    this.#alertListeners.push(listener);
  }

  async alert(kind: string, instanceId: string, detail: object): Promise<void> {
    const at = this.#clock.now();
    await this.#db.transaction(async (tx) => {
      await tx.insert(engineAlerts).values({ id: uuidv7(), kind, instanceId, detail, createdAt: at });
      for (const listener of this.#alertListeners) await listener({ kind, instanceId, detail, at }, tx);
    });
    this.#logger.warn({ alert: kind, instanceId, ...detail }, `alert: ${kind}`);
  }

  async alerts(instanceId?: string) {
    return this.#db
      .select()
      .from(engineAlerts)
      .where(instanceId ? eq(engineAlerts.instanceId, instanceId) : sql`true`)
      .orderBy(desc(engineAlerts.createdAt));
  }
}
