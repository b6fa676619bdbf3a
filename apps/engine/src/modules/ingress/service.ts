import { and, desc, eq, sql } from 'drizzle-orm';
import { uuidv7 } from 'uuidv7';
import { metaEnvelopeOf, parseMetaWebhook, type MetaEnvelope, type MetaWebhookEvent } from '@mic/meta';
import { GroupWriter, Problem, problems, type Clock, type Db } from '@mic/platform';
import type { Route, Routing } from '../routing/index.ts';
import type { Deliveries, RoutedEvent } from '../delivery/index.ts';
import { inboundEvents, webhookReceipts } from './schema.ts';

export interface Receipt {
  receiptId: string;
  events: number;
  newEvents: number;
  unrouted: number;
}

export type InboundEvent = typeof inboundEvents.$inferSelect;

/** Told of newly stored events, routed or not, in the transaction that stores them. */
export type StoredListener = (tx: Db, events: readonly InboundEvent[]) => Promise<void>;

/** Webhooks stored in one transaction at most. */
const MAX_BATCH = 100;

interface PendingWebhook {
  app: string;
  body: string;
  traceParent: string;
  receivedAt: Date;
  events: MetaWebhookEvent[];
  /** Each event's place in the body, in the order of `events`. */
  envelopes: (MetaEnvelope | null)[];
}

export interface EventQuery {
  routeState?: 'routed' | 'unrouted' | undefined;
  platform?: string | undefined;
  channelId?: string | undefined;
  type?: string | undefined;
  limit?: number | undefined;
}

/**
 * Stores what Meta sends, durably and once: a webhook is acknowledged only after its body and its
 * events are committed; an event seen before (same dedup key) is not stored again.
 */
export class Ingress {
  readonly #db: Db;
  readonly #routing: Routing;
  readonly #clock: Clock;
  readonly #deliveries: Deliveries;
  readonly #storedListeners: StoredListener[] = [];
  /** Bodies that arrive while a commit is under way are stored together in the next one. */
  readonly #writer = new GroupWriter<PendingWebhook, Receipt>({
    write: (batch) => this.#store(batch),
    maxBatch: MAX_BATCH,
  });

  constructor(db: Db, routing: Routing, deliveries: Deliveries, clock: Clock) {
    this.#db = db;
    this.#routing = routing;
    this.#deliveries = deliveries;
    this.#clock = clock;
  }

  /** Listens to newly stored events (Meta's template status updates, for one). */
  onStored(listener: StoredListener): void {
    this.#storedListeners.push(listener);
  }

  /**
   * Stores a webhook body whose signature has been checked; resolves once it is committed. Bodies
   * that arrive while a commit is under way are stored together in the next one (group commit):
   * one transaction per batch instead of per webhook under load, no added wait when idle.
   */
  async accept(app: string, body: Buffer, traceParent: string): Promise<Receipt> {
    let parsed: unknown;
    try {
      parsed = JSON.parse(body.toString('utf8'));
    } catch {
      throw new Problem({ status: 400, type: 'invalid-json', title: 'The body is not valid JSON' });
    }
    const receivedAt = this.#clock.now();
    const events = parseMetaWebhook(parsed, { receivedAt });
    const envelopes = events.map((event) => metaEnvelopeOf(parsed, event.raw));
    return this.#writer.write({
      app,
      body: body.toString('utf8'),
      traceParent,
      receivedAt,
      events,
      envelopes,
    });
  }

  async #store(batch: readonly PendingWebhook[]): Promise<Receipt[]> {
    const receipts = batch.map(() => uuidv7());
    const store = async (db: Db) => {
      const events = this.#rowsOf(batch, receipts, await this.#routesOf(db, batch));
      const fresh = new Set(events.length ? await this.#insert(db, batch, receipts, events) : []);
      if (!events.length) await this.#insertReceipts(db, batch, receipts);
      const inserted = events.filter((e) => fresh.has(e.id));
      for (const listener of this.#storedListeners) await listener(db, inserted);
      // Deliveries and their jobs commit with the events: no event is stored without its delivery.
      await this.#deliveries.createFor(db, inserted.filter(isRouted));
      return batch.map((item, i) => {
        const mine = inserted.filter((e) => e.receiptId === receipts[i]);
        return {
          receiptId: receipts[i]!,
          events: item.events.length,
          newEvents: mine.length,
          unrouted: mine.filter((e) => e.routeState === 'unrouted').length,
        };
      });
    };
    // A body without events is a receipt alone: one statement, atomic on its own.
    return batch.some((item) => item.events.length > 0) ? this.#db.transaction(store) : store(this.#db);
  }

  /** The batch's new events, one per dedup key (repeats in one batch too), in arrival order. */
  #rowsOf(
    batch: readonly PendingWebhook[],
    receipts: readonly string[],
    routes: ReadonlyMap<string, Route | null>,
  ): InboundEvent[] {
    const rows = new Map<string, InboundEvent>();
    batch.forEach((item, i) => {
      for (const [j, event] of item.events.entries()) {
        if (rows.has(event.dedupKey)) continue;
        const route = routes.get(routeKey(event.platform, event.channelId));
        rows.set(event.dedupKey, {
          id: uuidv7(),
          receiptId: receipts[i]!,
          dedupKey: event.dedupKey,
          type: event.type,
          platform: event.platform,
          channelId: event.channelId,
          businessAccountId: event.businessAccountId ?? null,
          conversationKey: event.conversationKey ?? null,
          routeState: route ? 'routed' : 'unrouted',
          instanceId: route?.instanceId ?? null,
          tenantId: route?.tenantId ?? null,
          traceParent: item.traceParent,
          occurredAt: new Date(event.occurredAt),
          receivedAt: item.receivedAt,
          data: event.data,
          raw: event.raw ?? null,
          envelope: item.envelopes[j] ?? null,
        });
      }
    });
    return [...rows.values()]; // arrival order gives each conversation its order
  }

  /**
   * Inserts the events that are new and every receipt (with its count of new events) in one
   * statement; returns the ids of the new events.
   */
  async #insert(
    db: Db,
    batch: readonly PendingWebhook[],
    receipts: readonly string[],
    events: readonly InboundEvent[],
  ): Promise<string[]> {
    const newEvents = db
      .insert(inboundEvents)
      .values([...events])
      .onConflictDoNothing({ target: inboundEvents.dedupKey })
      .returning({ id: inboundEvents.id, receiptId: inboundEvents.receiptId });
    const bodies = batch.map(
      (item, i) =>
        sql`(${receipts[i]}::uuid, ${item.app}, ${item.body}, ${item.events.length}::integer, ${item.traceParent}, ${item.receivedAt.toISOString()}::timestamptz)`,
    );
    const result = await db.execute<{ id: string }>(sql`
      with fresh as (${newEvents.getSQL()}),
      receipts as (
        insert into ${webhookReceipts} (id, app, body, event_count, new_event_count, trace_parent, received_at)
        select r.id, r.app, r.body, r.event_count,
          (select count(*) from fresh where fresh.receipt_id = r.id), r.trace_parent, r.received_at
        from (values ${sql.join(bodies, sql`, `)}) as r (id, app, body, event_count, trace_parent, received_at)
      )
      select id from fresh`);
    return result.rows.map((row) => row.id);
  }

  async #insertReceipts(db: Db, batch: readonly PendingWebhook[], receipts: readonly string[]): Promise<void> {
    await db.insert(webhookReceipts).values(
      batch.map((item, i) => ({
        id: receipts[i]!,
        app: item.app,
        body: item.body,
        eventCount: item.events.length,
        newEventCount: 0,
        traceParent: item.traceParent,
        receivedAt: item.receivedAt,
      })),
    );
  }

  /** Routes the events a channel's instance missed while the channel had none. */
  async reroute(platform: string, channelId: string, route: Route): Promise<number> {
    return this.#db.transaction(async (tx) => {
      await tx.execute(sql`select pg_advisory_xact_lock(hashtext(${routeLockKey(platform, channelId)}))`);
      const rows = await tx
        .update(inboundEvents)
        .set({ routeState: 'routed', instanceId: route.instanceId, tenantId: route.tenantId })
        .where(
          and(
            eq(inboundEvents.routeState, 'unrouted'),
            eq(inboundEvents.platform, platform),
            eq(inboundEvents.channelId, channelId),
          ),
        )
        .returning();
      await this.#deliveries.createFor(tx, rows.filter(isRouted));
      return rows.length;
    });
  }

  async list(query: EventQuery): Promise<InboundEvent[]> {
    const conditions = [
      query.routeState ? eq(inboundEvents.routeState, query.routeState) : undefined,
      query.platform ? eq(inboundEvents.platform, query.platform) : undefined,
      query.channelId ? eq(inboundEvents.channelId, query.channelId) : undefined,
      query.type ? eq(inboundEvents.type, query.type) : undefined,
    ].filter((c) => c !== undefined);
    return this.#db
      .select()
      .from(inboundEvents)
      .where(conditions.length ? and(...conditions) : sql`true`)
      .orderBy(desc(inboundEvents.receivedAt), desc(inboundEvents.id))
      .limit(query.limit ?? 100);
  }

  async get(id: string): Promise<InboundEvent> {
    const [event] = await this.#db.select().from(inboundEvents).where(eq(inboundEvents.id, id));
    if (!event) throw problems.notFound(`no event ${id}`);
    return event;
  }

  /**
   * Each channel's route, inside the storing transaction. A channel without one may be getting it
   * right now: its events are stored under a shared lock on the channel, which `reroute` takes
   * exclusively, and its route is read again under that lock; so either `reroute` sees them, or
   * they see the route. Otherwise an event stored as the route commits would wait unrouted for good.
   */
  async #routesOf(tx: Db, batch: readonly PendingWebhook[]): Promise<Map<string, Route | null>> {
    const routes = new Map<string, Route | null>();
    for (const { platform, channelId } of batch.flatMap((item) => item.events)) {
      const key = routeKey(platform, channelId);
      if (!routes.has(key)) routes.set(key, await this.#routing.routeOf(platform, channelId, { db: tx }));
    }
    const missing = [...routes.keys()].filter((key) => routes.get(key) === null && !key.endsWith(':')).sort();
    for (const key of missing) {
      const [platform, ...rest] = key.split(':');
      const channelId = rest.join(':');
      await tx.execute(sql`select pg_advisory_xact_lock_shared(hashtext(${routeLockKey(platform!, channelId)}))`);
      routes.set(key, await this.#routing.routeOf(platform!, channelId, { db: tx, fresh: true }));
    }
    return routes;
  }
}

function isRouted(event: InboundEvent): event is InboundEvent & RoutedEvent {
  return event.routeState === 'routed' && event.instanceId !== null && event.tenantId !== null;
}

function routeKey(platform: string, channelId: string | null): string {
  return `${platform}:${channelId ?? ''}`;
}

const routeLockKey = (platform: string, channelId: string) => `ingress-route:${platform}:${channelId}`;
