import {
  Broadcast,
  BroadcastFigures,
  BroadcastFiguresQuery,
  BroadcastList,
  BroadcastListQuery,
  BroadcastParams,
  BroadcastRecipientPage,
  BroadcastRecipientsQuery,
  CreateBroadcastRequest,
  OptOut,
  OptOutPage,
  OptOutParams,
  OptOutQuery,
} from '@mic/contracts';
import { Type } from 'typebox';
import { idempotencyKeyOf, type HttpServer } from '@mic/platform';
import type { Broadcasts } from './service.ts';
import { tenantBroadcastFigures } from './figures.ts';

const tags = ['instance API'];
const security = [{ bearer: [] }];

export function registerBroadcastRoutes(app: HttpServer, broadcasts: Broadcasts, options: { bodyLimit: number }): void {
  // The hub's own broadcasts (control's admin API, through its outbox): control holds no instance
  // token, so it calls with its service token (every /internal route requires one), keyed by its own id.
  app.put(
    '/internal/v1/hub/broadcasts/:key',
    {
      bodyLimit: options.bodyLimit,
      schema: {
        tags: ['hub'],
        summary: 'Broadcast as the hub instance, idempotent by key (201)',
        params: Type.Object({ key: Type.String({ minLength: 1, maxLength: 255 }) }),
        body: CreateBroadcastRequest,
        response: { 201: Broadcast },
      },
    },
    async (req, reply) => {
      const created = await broadcasts.create(app.hubInstanceId(), req.body, req.params.key);
      void reply.status(201);
      return created;
    },
  );
  app.get(
    '/internal/v1/hub/broadcasts/:id',
    {
      schema: {
        tags: ['hub'],
        summary: 'A broadcast of the hub',
        params: BroadcastParams,
        response: { 200: Broadcast },
      },
    },
    async (req) => broadcasts.get(app.hubInstanceId(), req.params.id),
  );
  app.get(
    '/internal/v1/hub/broadcasts/:id/recipients',
    {
      schema: {
        tags: ['hub'],
        summary: 'Each recipient of a broadcast of the hub and where it stands (paged)',
        params: BroadcastParams,
        querystring: BroadcastRecipientsQuery,
        response: { 200: BroadcastRecipientPage },
      },
    },
    async (req) => broadcasts.recipients(app.hubInstanceId(), req.params.id, req.query),
  );
  for (const action of ['pause', 'resume', 'cancel'] as const) {
    app.post(
      `/internal/v1/hub/broadcasts/:id/${action}`,
      {
        schema: {
          tags: ['hub'],
          summary: `${action[0]!.toUpperCase()}${action.slice(1)} a broadcast of the hub`,
          params: BroadcastParams,
          response: { 200: Broadcast },
        },
      },
      async (req) => broadcasts[action](app.hubInstanceId(), req.params.id),
    );
  }

  // For control's console: every tenant's broadcasts, summed (service token).
  app.get(
    '/internal/v1/broadcasts/figures',
    {
      schema: {
        tags: ['broadcasts'],
        summary: "Each tenant's broadcasts of the last days and their recipients by state",
        querystring: BroadcastFiguresQuery,
        response: { 200: BroadcastFigures },
      },
    },
    async (req) => {
      const since = new Date(app.clock.now().getTime() - (req.query.days ?? 30) * 86_400_000);
      return { since: since.toISOString(), tenants: await tenantBroadcastFigures(app.db.orm, since) };
    },
  );
  app.post(
    '/v1/broadcasts',
    {
      preHandler: app.authenticateInstance,
      bodyLimit: options.bodyLimit,
      schema: {
        tags,
        summary: 'Broadcast a WhatsApp message to a list of recipients (201)',
        description:
          'A template (checked against an approved template and its parameters, per recipient) or, to recipients ' +
          'inside the 24 h service window, any message; always at marketing priority. Duplicates and opted-out ' +
          'recipients are removed. `scheduledAt` delays the start. An Idempotency-Key header makes a repeat answer ' +
          'the first broadcast.',
        security,
        body: CreateBroadcastRequest,
        response: { 201: Broadcast },
      },
    },
    async (req, reply) => {
      const created = await broadcasts.create(
        req.instanceId!,
        req.body,
        idempotencyKeyOf(req.headers['idempotency-key']),
      );
      void reply.status(201);
      return created;
    },
  );
  app.get(
    '/v1/broadcasts',
    {
      preHandler: app.authenticateInstance,
      schema: {
        tags,
        summary: 'The instance’s broadcasts, newest first, with their progress (paged)',
        security,
        querystring: BroadcastListQuery,
        response: { 200: BroadcastList },
      },
    },
    async (req) => broadcasts.list(req.instanceId!, req.query),
  );
  app.get(
    '/v1/broadcasts/:id',
    {
      preHandler: app.authenticateInstance,
      schema: {
        tags,
        summary: 'A broadcast: state, progress and totals',
        security,
        params: BroadcastParams,
        response: { 200: Broadcast },
      },
    },
    async (req) => broadcasts.get(req.instanceId!, req.params.id),
  );
  app.get(
    '/v1/broadcasts/:id/recipients',
    {
      preHandler: app.authenticateInstance,
      schema: {
        tags,
        summary: 'Each recipient of a broadcast and where it stands (paged)',
        security,
        params: BroadcastParams,
        querystring: BroadcastRecipientsQuery,
        response: { 200: BroadcastRecipientPage },
      },
    },
    async (req) => broadcasts.recipients(req.instanceId!, req.params.id, req.query),
  );
  for (const action of ['pause', 'resume', 'cancel'] as const) {
    app.post(
      `/v1/broadcasts/:id/${action}`,
      {
        preHandler: app.authenticateInstance,
        schema: {
          tags,
          summary: `${action[0]!.toUpperCase()}${action.slice(1)} a broadcast`,
          description: 'Sends already under way finish; 409 when the broadcast’s state does not allow it.',
          security,
          params: BroadcastParams,
          response: { 200: Broadcast },
        },
      },
      async (req) => broadcasts[action](req.instanceId!, req.params.id),
    );
  }
  app.get(
    '/v1/opt-outs',
    {
      preHandler: app.authenticateInstance,
      schema: {
        tags,
        summary: 'The tenant’s opted-out recipients: no broadcast reaches them',
        security,
        querystring: OptOutQuery,
        response: { 200: OptOutPage },
      },
    },
    async (req) => broadcasts.listOptOuts(req.instanceId!, req.query),
  );
  app.put(
    '/v1/opt-outs/:recipient',
    {
      preHandler: app.authenticateInstance,
      schema: {
        tags,
        summary: 'Opt a recipient out of broadcasts',
        security,
        params: OptOutParams,
        response: { 200: OptOut },
      },
    },
    async (req) => broadcasts.addOptOut(req.instanceId!, req.params.recipient),
  );
  app.delete(
    '/v1/opt-outs/:recipient',
    {
      preHandler: app.authenticateInstance,
      schema: { tags, summary: 'Let broadcasts reach a recipient again', security, params: OptOutParams },
    },
    async (req, reply) => {
      await broadcasts.removeOptOut(req.instanceId!, req.params.recipient);
      void reply.status(204);
    },
  );
}
