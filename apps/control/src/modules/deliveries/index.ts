import fp from 'fastify-plugin';
import { Type, type Static } from 'typebox';
import {
  DeliveryDetail,
  DeliveryParams,
  DeliveryQuery,
  DeliverySummary,
  ReplayFilter,
  ReplayResult,
} from '@mic/contracts';
import { peerProblem, type HttpServer } from '@mic/platform';
import { actorOf } from '../audit/index.ts';

const query = (q: Static<typeof DeliveryQuery>) => {
  const params = new URLSearchParams();
  for (const [key, value] of Object.entries(q)) if (value !== undefined) params.set(key, String(value));
  const text = params.toString();
  return text ? `?${text}` : '';
};

/**
 * Deliveries to instances as the operator inspects and replays them: the engine keeps them, control
 * asks it with its service token, and every replay is written to the audit log.
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
      async (req) => engine<Static<typeof DeliverySummary>[]>('GET', `/internal/v1/deliveries${query(req.query)}`),
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
  },
  { name: 'deliveries', dependencies: ['auth', 'audit', 'engine'] },
);
