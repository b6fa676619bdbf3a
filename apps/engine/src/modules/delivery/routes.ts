import { Type } from 'typebox';
import {
  DeliveryDetail,
  DeliveryParams,
  DeliveryQuery,
  DeliverySummary,
  EngineAlert,
  ReplayFilter,
  ReplayResult,
} from '@mic/contracts';
import { problems, type HttpServer } from '@mic/platform';
import type { Delivery } from './service.ts';

const iso = (d: Date | null) => d?.toISOString() ?? null;

function summary(d: Delivery) {
  return {
    id: d.id,
    eventId: d.eventId,
    instanceId: d.instanceId,
    type: (d.payload as { type?: string }).type ?? 'unknown',
    conversation: d.conversation,
    seq: d.seq,
    state: d.state as 'pending' | 'delivered' | 'dead',
    attempts: d.attempts,
    nextAttemptAt: d.nextAttemptAt.toISOString(),
    lastStatus: d.lastStatus,
    lastError: d.lastError,
    createdAt: d.createdAt.toISOString(),
    deliveredAt: iso(d.deliveredAt),
    deadAt: iso(d.deadAt),
  };
}

/** Inspect deliveries, replay dead letters, read alerts. */
export function registerDeliveryRoutes(app: HttpServer): void {
  const tags = ['deliveries'];
  app.get(
    '/internal/v1/deliveries',
    {
      schema: {
        tags,
        summary: 'Deliveries, newest first; state=dead lists the dead letters',
        querystring: DeliveryQuery,
        response: { 200: Type.Array(DeliverySummary) },
      },
    },
    async (req) => (await app.deliveries.list(req.query)).map(summary),
  );
  app.get(
    '/internal/v1/deliveries/:id',
    {
      schema: {
        tags,
        summary: 'One delivery: its payload and every attempt',
        params: DeliveryParams,
        response: { 200: DeliveryDetail },
      },
    },
    async (req) => {
      const found = await app.deliveries.get(req.params.id);
      if (!found) throw problems.notFound(`no delivery ${req.params.id}`);
      return {
        delivery: summary(found.delivery),
        payload: found.delivery.payload,
        attempts: found.attempts.map((a) => ({
          attempt: a.attempt,
          at: a.at.toISOString(),
          outcome: a.outcome,
          status: a.status,
          durationMs: a.durationMs,
          error: a.error,
        })),
      };
    },
  );
  app.post(
    '/internal/v1/deliveries/:id/replay',
    {
      schema: {
        tags,
        summary: 'Send a dead-lettered delivery again',
        params: DeliveryParams,
        response: { 200: ReplayResult },
      },
    },
    async (req) => {
      const replayed = await app.deliveries.replay({ id: req.params.id });
      if (replayed === 0) throw problems.notFound(`no dead-lettered delivery ${req.params.id}`);
      return { replayed };
    },
  );
  app.post(
    '/internal/v1/deliveries/replay',
    {
      schema: {
        tags,
        summary: "Send again every dead letter matching the filter (an instance's, a type's, or all)",
        body: ReplayFilter,
        response: { 200: ReplayResult },
      },
    },
    async (req) => ({ replayed: await app.deliveries.replay(req.body) }),
  );
  app.get(
    '/internal/v1/alerts',
    {
      schema: {
        tags: ['alerts'],
        summary: 'Alerts the engine raised, newest first',
        querystring: Type.Object({ instanceId: Type.Optional(Type.String()) }),
        response: { 200: Type.Array(EngineAlert) },
      },
    },
    async (req) =>
      (await app.deliveries.alerts(req.query.instanceId)).map((a) => ({
        id: a.id,
        kind: a.kind,
        instanceId: a.instanceId,
        detail: a.detail,
        createdAt: a.createdAt.toISOString(),
      })),
  );
}
