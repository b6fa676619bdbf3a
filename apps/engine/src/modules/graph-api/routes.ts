import type { FastifyReply } from 'fastify';
import { Type } from 'typebox';
import type { ChannelPlatform, MessageError } from '@mic/contracts';
import { fromGraphRequest, graphErrorBody } from '@mic/meta';
import type { HttpServer } from '@mic/platform';
import type { GraphAnswer } from '../messages/index.ts';
import { graphFailureOf, invalidParameter, permissionDenied, type GraphFailure } from './errors.ts';

const tags = ['Graph-compatible API'];
const SendParams = Type.Object({
  version: Type.String({ pattern: '^v[0-9]+\\.[0-9]+$', description: 'The Graph API version, e.g. v21.0' }),
  objectId: Type.String({
    pattern: '^(me|[0-9]{1,64})$',
    description: 'The WhatsApp phone_number_id, the Facebook Page id, the Instagram account id, or `me`',
  }),
});

export interface GraphApiOptions {
  waitMs: number;
}

type Channel = { kind: ChannelPlatform; id: string };

const answer = (reply: FastifyReply, outcome: GraphAnswer | GraphFailure) =>
  reply.status(outcome.status).send(outcome.body);

/**
 * `POST /{version}/{object-id}/messages` as Meta serves it: Meta's body in, Meta's answer out,
 * authenticated by the instance's own engine token. The send takes the same lane as
 * `POST /v1/messages`; the call waits for Meta's answer (at most `waitMs`) and returns it as Meta
 * gave it, message id included.
 */
export function registerGraphRoutes(app: HttpServer, options: GraphApiOptions): void {
  app.setErrorHandler((error, _req, reply) => answer(reply, graphFailureOf(error)));

  /** The instance's channel the Graph path names: its number, page or Instagram account (or its linked page). */
  async function channelOf(instanceId: string, objectId: string): Promise<Channel | 'ambiguous' | undefined> {
    const mine = (app.configSync.snapshot?.channels ?? []).filter((c) => c.instanceId === instanceId);
    if (objectId === 'me') {
      const pages = mine.filter((c) => c.platform !== 'whatsapp');
      if (pages.length !== 1) return pages.length === 0 ? undefined : 'ambiguous';
      return { kind: pages[0]!.platform, id: pages[0]!.channelId };
    }
    const direct = mine.filter((c) => c.channelId === objectId);
    // A page with Messenger and a linked Instagram account: Meta tells them apart by the recipient.
    const messenger = direct.find((c) => c.platform === 'messenger');
    const exact = messenger ?? direct[0];
    if (exact) return { kind: exact.platform, id: exact.channelId };
    for (const channel of mine.filter((c) => c.platform === 'instagram')) {
      const connection = await app.channelConnections.get('instagram', channel.channelId);
      if (connection?.objectId === objectId) return { kind: 'instagram', id: channel.channelId };
    }
    return undefined;
  }

  app.post(
    '/:version/:objectId/messages',
    {
      preHandler: app.authenticateInstance,
      schema: {
        tags,
        summary: "Send a message with Meta's own request body (WhatsApp Cloud API, Messenger and Instagram Send API)",
        description:
          "Answers as Meta does: the message id on success, Meta's error body otherwise. The engine's own " +
          'refusals are Graph errors too (#10 paused or module off, #80007 quota, #130429 not sent in time).',
        security: [{ bearer: [] }],
        params: SendParams,
      },
    },
    async (req, reply) => {
      const instanceId = req.instanceId!;
      const { objectId } = req.params;
      const channel = await channelOf(instanceId, objectId);
      if (channel === 'ambiguous') {
        return answer(reply, invalidParameter('the instance has several pages: name the page id instead of me'));
      }
      if (!channel) return answer(reply, permissionDenied(objectId));
      const read = fromGraphRequest(channel, req.body);
      if (!read.ok) {
        return answer(reply, invalidParameter(read.errors.map((e) => `${e.field || 'body'}: ${e.message}`).join('; ')));
      }
      const path = `${objectId === 'me' ? channel.id : objectId}/messages`;
      const expiresAt = new Date(app.clock.now().getTime() + options.waitMs);
      const { id } = await app.messages.queue(instanceId, read.request, {
        assertMaySend: (platform) => app.assertInstanceMaySend(instanceId, platform),
        graphRequest: { path, body: req.body as Record<string, unknown> },
        expiresAt,
      });
      const settled = await app.messages.settled(id, expiresAt);
      const stored = settled.graphAnswer as GraphAnswer | null;
      if (stored) return answer(reply, stored);
      // Failed before any Graph call answered (no token stored, a body Meta could not take).
      const error = (await app.messages.lastError(id)) ?? null;
      return answer(reply, { status: 400, body: graphErrorBody(messageErrorFields(error)) });
    },
  );
}

function messageErrorFields(error: MessageError | null) {
  if (!error) return { code: 1, message: 'An unknown error occurred' };
  return {
    code: error.code ?? 1,
    subcode: error.subcode,
    message: error.code === null ? error.message : `(#${error.code}) ${error.title}`,
    details: error.message,
  };
}
