import { and, desc, eq, sql } from 'drizzle-orm';
import { uuidv7 } from 'uuidv7';
import { parseMetaWebhook, type MetaWebhookEvent } from '@mic/meta';
import { Problem, type Clock, type Db } from '@mic/platform';
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

/** Webhooks stored in one transaction at most. */
const MAX_BATCH = 100;

interface PendingWebhook {
  app: string;
  body: string;
  traceParent: string;
  receivedAt: Date;
  events: MetaWebhookEvent[];
  resolve(receipt: Receipt): void;
  reject(error: unknown): void;
}

export interface EventQuery {
  routeState?: 'routed' | 'unrouted' | undefined;
  platform?: string | undefined;
  channelId?: string | undefined;
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
  readonly #pending: PendingWebhook[] = [];
  readonly #maxCommits: number;
  #commits = 0;

  /** `concurrentCommits`: batches committing at once (1 on PGlite, whose one connection runs one). */
  constructor(db: Db, routing: Routing, deliveries: Deliveries, clock: Clock, concurrentCommits = 1) {
    this.#db = db;
    this.#routing = routing;
    this.#deliveries = deliveries;
    this.#clock = clock;
    this.#maxCommits = concurrentCommits;
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
    return new Promise((resolve, reject) => {
      this.#pending.push({ app, body: body.toString('utf8'), traceParent, receivedAt, events, resolve, reject });
      this.#flush();
    });
  }

  /**
   * Starts committing what is pending, up to `concurrentCommits` batches at once. A webhook is
   * acknowledged after its own batch commits, so one acknowledged before another arrived always
   * has the earlier place in its conversation.
   */
  #flush(): void {
    while (this.#pending.length > 0 && this.#commits < this.#maxCommits) {
      const batch = this.#pending.splice(0, MAX_BATCH);
      this.#commits += 1;
      void this.#commit(batch).finally(() => {
        this.#commits -= 1;
        this.#flush();
      });
    }
  }

  async #commit(batch: PendingWebhook[]): Promise<void> {
    try {
      const receipts = await this.#store(batch);
      batch.forEach((item, i) => item.resolve(receipts[i]!));
    } catch (error) {
      if (batch.length === 1) {
        batch[0]!.reject(error); // not stored: a 5xx, and Meta sends it again
        return;
      }
      // One bad webhook must not fail the others: store each on its own.
      for (const item of batch) {
        await this.#store([item]).then(
          ([receipt]) => item.resolve(receipt!),
          (reason: unknown) => item.reject(reason),
        );
      }
    }
  }

  async #store(batch: readonly PendingWebhook[]): Promise<Receipt[]> {
    const routes = await this.#routesOf(batch.flatMap((item) => item.events));
    const receipts = batch.map(() => uuidv7());
    const rows = new Map<string, typeof inboundEvents.$inferInsert>(); // by dedup key: repeats in one batch too
    batch.forEach((item, i) => {
      for (const event of item.events) {
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
        });
      }
    });
    return this.#db.transaction(async (tx) => {
      // Inserted in dedup key order (batches committing at once lock keys in one order), handed on
      // in arrival order, which gives each conversation its order.
      const arrival = new Map([...rows.values()].map((row, i) => [row.id!, i]));
      const inserted = rows.size
        ? await tx
            .insert(inboundEvents)
            .values([...rows.values()].sort((a, b) => (a.dedupKey < b.dedupKey ? -1 : 1)))
            .onConflictDoNothing({ target: inboundEvents.dedupKey })
            .returning()
        : [];
      inserted.sort((a, b) => arrival.get(a.id)! - arrival.get(b.id)!);
      // Deliveries and their jobs commit with the events: no event is stored without its delivery.
      await this.#deliveries.createFor(tx, inserted.filter(isRouted));
      const fresh = (receiptId: string) => inserted.filter((e) => e.receiptId === receiptId);
      await tx.insert(webhookReceipts).values(
        batch.map((item, i) => ({
          id: receipts[i]!,
          app: item.app,
          body: item.body,
          eventCount: item.events.length,
          newEventCount: fresh(receipts[i]!).length,
          traceParent: item.traceParent,
          receivedAt: item.receivedAt,
        })),
      );
      return batch.map((item, i) => ({
        receiptId: receipts[i]!,
        events: item.events.length,
        newEvents: fresh(receipts[i]!).length,
        unrouted: fresh(receipts[i]!).filter((e) => e.routeState === 'unrouted').length,
      }));
    });
  }

  /** Routes the events a channel's instance missed while the channel had none. */
  async reroute(platform: string, channelId: string, route: Route): Promise<number> {
    return this.#db.transaction(async (tx) => {
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
    ].filter((c) => c !== undefined);
    return this.#db
      .select()
      .from(inboundEvents)
      .where(conditions.length ? and(...conditions) : sql`true`)
      .orderBy(desc(inboundEvents.receivedAt), desc(inboundEvents.id))
      .limit(query.limit ?? 100);
  }

  async #routesOf(events: MetaWebhookEvent[]): Promise<Map<string, Route | null>> {
    const routes = new Map<string, Route | null>();
    for (const event of events) {
      const key = routeKey(event.platform, event.channelId);
      if (!routes.has(key)) routes.set(key, await this.#routing.routeOf(event.platform, event.channelId));
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
