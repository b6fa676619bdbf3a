import { Type } from 'typebox';
import {
  InstanceMessageParams,
  MessageParams,
  MessageStatus,
  OutboundMessageQuery,
  OutboundMessageSummary,
  SendAccepted,
} from '@mic/contracts';
import { idempotencyKeyOf, type HttpServer } from '@mic/platform';
import type { Messages } from './service.ts';
import { listSentMessages } from './sent-list.ts';

const tags = ['instance API'];

export function registerMessageRoutes(app: HttpServer, messages: Messages): void {
  app.post(
    '/v1/messages',
    {
      preHandler: app.authenticateInstance,
      schema: {
        tags,
        summary: 'Send a message on one of the instance’s channels (queued: 202)',
        description:
          'The body is a SendMessageRequest, checked against Meta’s limits (400 names each field). ' +
          'An Idempotency-Key header makes a repeat of the same request answer the first message.',
        security: [{ bearer: [] }],
        response: { 202: SendAccepted },
      },
    },
    async (req, reply) => {
      const instanceId = req.instanceId!;
      const accepted = await messages.accept(
        instanceId,
        req.body,
        idempotencyKeyOf(req.headers['idempotency-key']),
        (platform) => app.assertInstanceMaySend(instanceId, platform),
      );
      void reply.status(202);
      return accepted;
    },
  );
  // The hub's own sends (CRM replies): control holds no instance token, so it calls with its
  // service token (every /internal route requires one) and names the send by its own id.
  app.put(
    '/internal/v1/hub/messages/:key',
    {
      schema: {
        tags: ['hub'],
        summary: 'Send a message as the hub instance, idempotent by key (queued: 202)',
        description: 'The body is a SendMessageRequest; a repeat with the same key answers the first message.',
        params: Type.Object({ key: Type.String({ minLength: 1, maxLength: 255 }) }),
        response: { 202: SendAccepted },
      },
    },
    async (req, reply) => {
      const hubId = app.hubInstanceId();
      const accepted = await messages.accept(hubId, req.body, req.params.key, (platform) =>
        app.assertInstanceMaySend(hubId, platform),
      );
      void reply.status(202);
      return accepted;
    },
  );
  app.get(
    '/v1/messages/:id',
    {
      preHandler: app.authenticateInstance,
      schema: {
        tags,
        summary: 'A message the instance sent: its state and timeline',
        security: [{ bearer: [] }],
        params: MessageParams,
        response: { 200: MessageStatus },
      },
    },
    async (req) => messages.status(req.instanceId!, req.params.id),
  );

  // For control's console: what the instances sent, for any instance (service token).
  app.get(
    '/internal/v1/messages',
    {
      schema: {
        tags: ['messages'],
        summary: 'Messages instances sent, newest first',
        querystring: OutboundMessageQuery,
        response: { 200: Type.Array(OutboundMessageSummary) },
      },
    },
    async (req) => listSentMessages(app.db.orm, req.query),
  );
  app.get(
    '/internal/v1/instances/:instanceId/messages/:id',
    {
      schema: {
        tags: ['messages'],
        summary: "One message an instance sent, with its timeline (as the instance's own API answers it)",
        params: InstanceMessageParams,
        response: { 200: MessageStatus },
      },
    },
    async (req) => messages.status(req.params.instanceId, req.params.id),
  );
}
