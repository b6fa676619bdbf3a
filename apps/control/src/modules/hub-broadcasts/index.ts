import fp from 'fastify-plugin';
import { Type } from 'typebox';
import {
  BroadcastParams,
  BroadcastRecipientPage,
  BroadcastRecipientsQuery,
  CreateHubBroadcastRequest,
  HubBroadcast,
} from '@mic/contracts';
import type { HttpServer } from '@mic/platform';
import { EngineHandover } from '../outbox/index.ts';
import { HUB_BROADCASTS_QUEUE, HubBroadcasts } from './service.ts';

export { HubBroadcasts, HUB_BROADCASTS_QUEUE } from './service.ts';

declare module 'fastify' {
  interface FastifyInstance {
    /** Broadcasts on the hub's own WhatsApp numbers (tenant zero), through the engine. */
    hubBroadcasts: HubBroadcasts;
  }
}

export interface HubBroadcastsModuleOptions {
  /** Largest `POST /v1/hub/broadcasts` body, in bytes. */
  bodyLimit: number;
}

/**
 * `POST|GET /v1/hub/broadcasts`, `GET /v1/hub/broadcasts/:id` and its `/recipients`,
 * `POST /v1/hub/broadcasts/:id/pause|resume|cancel`, and the outbox job that hands broadcasts to the engine.
 */
export default fp(
  async (app: HttpServer, options: HubBroadcastsModuleOptions) => {
    const handover = new EngineHandover(app.queue, HUB_BROADCASTS_QUEUE);
    const broadcasts = new HubBroadcasts({
      db: app.db.orm,
      clock: app.clock,
      handover,
      resolveSegment: (id) => app.crm.resolveSegment(id),
      engine: (method, path, body) => app.engine.request(method, path, body),
    });
    app.decorate('hubBroadcasts', broadcasts);
    app.hub.onEvent((tx, event) => broadcasts.applyHubEvent(tx, event));
    await handover.work((id) => broadcasts.send(id));

    const tags = ['hub'];
    app.post(
      '/v1/hub/broadcasts',
      {
        config: { permission: 'marketing.write' },
        bodyLimit: options.bodyLimit,
        schema: {
          tags,
          summary: "Broadcast on one of the hub's WhatsApp numbers to a list or a CRM segment (202)",
          description:
            'A template (or, inside the 24 h window, a message) at marketing priority. It waits in control until the ' +
            'engine takes it; the engine removes duplicates and opt-outs and keeps the messaging limit.',
          body: CreateHubBroadcastRequest,
          response: { 202: HubBroadcast },
        },
      },
      async (req, reply) => {
        const created = await broadcasts.create(req.body, req.operator?.id ?? null);
        void reply.status(202);
        return created;
      },
    );
    app.get(
      '/v1/hub/broadcasts',
      {
        config: { permission: 'marketing.read' },
        schema: {
          tags,
          summary: "The hub's broadcasts, newest first",
          querystring: Type.Object({ limit: Type.Optional(Type.Integer({ minimum: 1, maximum: 500, default: 100 })) }),
          response: { 200: Type.Array(HubBroadcast) },
        },
      },
      async (req) => broadcasts.list(req.query.limit ?? 100),
    );
    app.get(
      '/v1/hub/broadcasts/:id',
      {
        config: { permission: 'marketing.read' },
        schema: {
          tags,
          summary: 'A broadcast of the hub, with its totals',
          params: BroadcastParams,
          response: { 200: HubBroadcast },
        },
      },
      async (req) => broadcasts.get(req.params.id),
    );
    app.get(
      '/v1/hub/broadcasts/:id/recipients',
      {
        config: { permission: 'marketing.read' },
        schema: {
          tags,
          summary: 'Each recipient of a broadcast of the hub and where it stands (paged; none until the engine has it)',
          params: BroadcastParams,
          querystring: BroadcastRecipientsQuery,
          response: { 200: BroadcastRecipientPage },
        },
      },
      async (req) => broadcasts.recipients(req.params.id, req.query),
    );
    for (const action of ['pause', 'resume', 'cancel'] as const) {
      app.post(
        `/v1/hub/broadcasts/:id/${action}`,
        {
          config: { permission: 'marketing.write' },
          schema: {
            tags,
            summary: `${action[0]!.toUpperCase()}${action.slice(1)} a broadcast of the hub`,
            params: BroadcastParams,
            response: { 200: HubBroadcast },
          },
        },
        async (req) => broadcasts.act(req.params.id, action),
      );
    }
  },
  { name: 'hub-broadcasts', dependencies: ['auth', 'engine', 'hub', 'crm'] },
);
