import fp from 'fastify-plugin';
import { Type } from 'typebox';
import { InstanceMessageParams, MessageStatus, OutboundMessageQuery, OutboundMessageSummary } from '@mic/contracts';
import type { HttpServer } from '@mic/platform';
import { listSentMessages } from './store.ts';

/**
 * What control's console shows of the messages instances sent: a filtered list and one message's
 * timeline (queued, sent, delivered, read or failed with Meta's code and text), for any instance.
 */
export default fp(
  async (app: HttpServer) => {
    const tags = ['messages'];
    app.get(
      '/internal/v1/messages',
      {
        schema: {
          tags,
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
          tags,
          summary: "One message an instance sent, with its timeline (as the instance's own API answers it)",
          params: InstanceMessageParams,
          response: { 200: MessageStatus },
        },
      },
      async (req) => app.messages.status(req.params.instanceId, req.params.id),
    );
  },
  { name: 'sent-messages', dependencies: ['messages'] },
);
