import fp from 'fastify-plugin';
import { Type, type Static } from 'typebox';
import {
  BroadcastFigures,
  BroadcastFiguresQuery,
  DeliveryDetail,
  DeliveryParams,
  DeliveryQuery,
  DeliverySummary,
  InboundEventDetail,
  InboundEventParams,
  InboundEventQuery,
  InboundEventSummary,
  InstanceMessageParams,
  MessageStatus,
  OutboundMessageQuery,
  OutboundMessageSummary,
  ReplayFilter,
  ReplayResult,
} from '@mic/contracts';
import { peerProblem, type HttpServer } from '@mic/platform';
import { actorOf } from '../audit/index.ts';
import { engineQuery } from '../engine/index.ts';

/**
 * Deliveries to instances as the operator inspects and replays them, the events the engine could not
 * route yet and the messages instances sent: the engine keeps them, control asks it with its service
 * token, and every replay is written to the audit log.
 */
export default fp(
  async (app: HttpServer) => {
    const tags = ['deliveries'];
    const engine = async <T>(method: 'GET' | 'POST', path: string, body?: unknown): Promise<T> => {
      try {
        return await app.engine.request<T>(method, path, body);
      } catch (error) {
        throw peerProblem(error, 'engine');
      }
    };

    app.get(
      '/v1/deliveries',
      {
        config: { permission: 'deliveries.read' },
        schema: {
          tags,
          summary: 'Deliveries, newest first; state=dead lists the dead letters (503 while the engine is down)',
          querystring: DeliveryQuery,
          response: { 200: Type.Array(DeliverySummary) },
        },
      },
      async (req) =>
        engine<Static<typeof DeliverySummary>[]>('GET', `/internal/v1/deliveries${engineQuery(req.query)}`),
    );
    app.get(
      '/v1/deliveries/:id',
      {
        config: { permission: 'deliveries.read' },
        schema: {
          tags,
          summary: 'One delivery: the event as sent and every attempt',
          params: DeliveryParams,
          response: { 200: DeliveryDetail },
        },
      },
      async (req) => engine<Static<typeof DeliveryDetail>>('GET', `/internal/v1/deliveries/${req.params.id}`),
    );
    app.post(
      '/v1/deliveries/:id/replay',
      {
        config: { permission: 'deliveries.replay' },
        schema: {
          tags,
          summary: 'Send a dead-lettered delivery again',
          params: DeliveryParams,
          response: { 200: ReplayResult },
        },
      },
      async (req) => {
        const result = await engine<Static<typeof ReplayResult>>(
          'POST',
          `/internal/v1/deliveries/${req.params.id}/replay`,
        );
        await app.audit.record({
          actor: actorOf(req),
          action: 'delivery.replay',
          target: { type: 'delivery', id: req.params.id },
          after: result,
        });
        return result;
      },
    );
    app.post(
      '/v1/deliveries/replay',
      {
        config: { permission: 'deliveries.replay' },
        schema: {
          tags,
          summary: "Send again every dead letter matching the filter (an instance's, a type's, or all)",
          body: ReplayFilter,
          response: { 200: ReplayResult },
        },
      },
      async (req) => {
        const result = await engine<Static<typeof ReplayResult>>('POST', '/internal/v1/deliveries/replay', req.body);
        await app.audit.record({
          actor: actorOf(req),
          action: 'delivery.replay',
          target: { type: 'delivery', id: null },
          before: req.body,
          after: result,
        });
        return result;
      },
    );
    app.get(
      '/v1/events',
      {
        config: { permission: 'deliveries.read' },
        schema: {
          tags,
          summary: "Events received from Meta, newest first; routeState=unrouted lists those no tenant's channel took",
          querystring: InboundEventQuery,
          response: { 200: Type.Array(InboundEventSummary) },
        },
      },
      async (req) =>
        engine<Static<typeof InboundEventSummary>[]>('GET', `/internal/v1/events${engineQuery(req.query)}`),
    );
    app.get(
      '/v1/events/:id',
      {
        config: { permission: 'deliveries.read' },
        schema: {
          tags,
          summary: 'One event received from Meta: what the engine read from it and what Meta sent',
          params: InboundEventParams,
          response: { 200: InboundEventDetail },
        },
      },
      async (req) => engine<Static<typeof InboundEventDetail>>('GET', `/internal/v1/events/${req.params.id}`),
    );
    app.get(
      '/v1/broadcasts/figures',
      {
        config: { permission: 'deliveries.read' },
        schema: {
          tags,
          summary: "Each tenant's broadcasts of the last days (30 by default) and their recipients by state",
          querystring: BroadcastFiguresQuery,
          response: { 200: BroadcastFigures },
        },
      },
      async (req) => engine<BroadcastFigures>('GET', `/internal/v1/broadcasts/figures${engineQuery(req.query)}`),
    );
    app.get(
      '/v1/messages',
      {
        config: { permission: 'deliveries.read' },
        schema: {
          tags,
          summary: 'Messages instances sent, newest first',
          querystring: OutboundMessageQuery,
          response: { 200: Type.Array(OutboundMessageSummary) },
        },
      },
      async (req) =>
        engine<Static<typeof OutboundMessageSummary>[]>('GET', `/internal/v1/messages${engineQuery(req.query)}`),
    );
    app.get(
      '/v1/instances/:instanceId/messages/:id',
      {
        config: { permission: 'deliveries.read' },
        schema: {
          tags,
          summary: "One message an instance sent and its timeline, with Meta's code and text where it failed",
          params: InstanceMessageParams,
          response: { 200: MessageStatus },
        },
      },
      async (req) =>
        engine<Static<typeof MessageStatus>>(
          'GET',
          `/internal/v1/instances/${encodeURIComponent(req.params.instanceId)}/messages/${req.params.id}`,
        ),
    );
  },
  { name: 'deliveries', dependencies: ['auth', 'audit', 'engine'] },
);
