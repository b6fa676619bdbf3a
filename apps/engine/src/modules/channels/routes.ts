import { ChannelConnection, ChannelParams, PutChannelConnection } from '@mic/contracts';
import { problems, type HttpServer } from '@mic/platform';

const tags = ['channel connections'];
const path = '/internal/v1/channels/:platform/:channelId/connection';

/** Control connects and disconnects channels here; answers describe the token, never carry it. */
export function registerConnectionRoutes(app: HttpServer): void {
  app.put(
    path,
    {
      schema: {
        tags,
        summary: "Store a channel's access token and subscribe the Meta app to its webhooks",
        description:
          'Answers 200 with the outcome, subscribed or failed: a failed subscription keeps the token, is retried in the background when Meta failed transiently, and can be retried with resubscribe.',
        params: ChannelParams,
        body: PutChannelConnection,
        response: { 200: ChannelConnection },
      },
    },
    async (req) => app.channelConnections.connect(req.params.platform, req.params.channelId, req.body),
  );
  app.get(
    path,
    {
      schema: {
        tags,
        summary: "A channel's connection to Meta (never its token)",
        params: ChannelParams,
        response: { 200: ChannelConnection },
      },
    },
    async (req) => {
      const connection = await app.channelConnections.get(req.params.platform, req.params.channelId);
      if (!connection)
        throw problems.notFound(`no connection for ${req.params.platform} channel ${req.params.channelId}`);
      return connection;
    },
  );
  app.delete(
    path,
    {
      schema: {
        tags,
        summary: 'Unsubscribe the Meta app from the channel (best effort) and delete its token',
        description:
          "Meta's refusal (an expired token, say) does not stop the token's deletion: the answer's error says what Meta answered. While Meta is unreachable and the channel is subscribed, answers 503 and keeps the token.",
        params: ChannelParams,
        response: { 200: ChannelConnection },
      },
    },
    async (req) => app.channelConnections.disconnect(req.params.platform, req.params.channelId),
  );
  app.post(
    `${path}/resubscribe`,
    {
      schema: {
        tags,
        summary: 'Try the webhook subscription again now, with the stored token',
        params: ChannelParams,
        response: { 200: ChannelConnection },
      },
    },
    async (req) => app.channelConnections.resubscribe(req.params.platform, req.params.channelId),
  );
}
