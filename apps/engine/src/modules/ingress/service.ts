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

  constructor(db: Db, routing: Routing, deliveries: Deliveries, clock: Clock) {
    this.#db = db;
    this.#routing = routing;
    this.#deliveries = deliveries;
    this.#clock = clock;
  }

  /** Stores a webhook body whose signature has been checked. */
  async accept(app: string, body: Buffer, traceParent: string): Promise<Receipt> {
    let parsed: unknown;
    try {
      parsed = JSON.parse(body.toString('utf8'));
    } catch {
      throw new Problem({ status: 400, type: 'invalid-json', title: 'The body is not valid JSON' });
    }
    const receivedAt = this.#clock.now();
    const events = parseMetaWebhook(parsed, { receivedAt });
    const routes = await this.#routesOf(events);
    const receiptId = uuidv7();
    return this.#db.transaction(async (tx) => {
      const rows = events.map((event) => {
        const route = routes.get(routeKey(event.platform, event.channelId));
        return {
          id: uuidv7(),
          receiptId,
          dedupKey: event.dedupKey,
          type: event.type,
          platform: event.platform,
          channelId: event.channelId,
          businessAccountId: event.businessAccountId ?? null,
          conversationKey: event.conversationKey ?? null,
          routeState: route ? 'routed' : 'unrouted',
          instanceId: route?.instanceId ?? null,
          tenantId: route?.tenantId ?? null,
          traceParent,
          occurredAt: new Date(event.occurredAt),
          receivedAt,
          data: event.data,
          raw: (event.raw ?? null) as object,
        };
      });
      const inserted = rows.length
        ? await tx
            .insert(inboundEvents)
            .values(rows)
            .onConflictDoNothing({ target: inboundEvents.dedupKey })
            .returning()
        : [];
      // Deliveries and their jobs commit with the events: no event is stored without its delivery.
      await this.#deliveries.createFor(tx, inserted.filter(isRouted));
      await tx.insert(webhookReceipts).values({
        id: receiptId,
        app,
        body: body.toString('utf8'),
        eventCount: events.length,
        newEventCount: inserted.length,
        traceParent,
        receivedAt,
      });
      return {
        receiptId,
        events: events.length,
        newEvents: inserted.length,
        unrouted: inserted.filter((r) => r.routeState === 'unrouted').length,
      };
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
