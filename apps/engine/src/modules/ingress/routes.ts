import { Type } from 'typebox';
import { InboundEventDetail, InboundEventParams, InboundEventQuery, InboundEventSummary } from '@mic/contracts';
import { SIGNATURE_HEADER, verifyMetaSignature } from '@mic/meta';
import { Problem, childTraceParent, type HttpServer } from '@mic/platform';
import type { FastifyRequest } from 'fastify';
import { DEFAULT_META_APP } from '../secrets/index.ts';
import type { MetaAppSecrets } from './app-secrets.ts';
import type { InboundEvent } from './service.ts';

const AppParams = Type.Object({ app: Type.String({ pattern: '^[a-z0-9][a-z0-9-]{0,62}$' }) });
const VerifyQuery = Type.Object({
  'hub.mode': Type.Optional(Type.String()),
  'hub.verify_token': Type.Optional(Type.String()),
  'hub.challenge': Type.Optional(Type.String({ maxLength: 512 })),
});

const forbidden = () => new Problem({ status: 403, type: 'verification-failed', title: 'Webhook verification failed' });
const badSignature = () =>
  new Problem({
    status: 401,
    type: 'invalid-signature',
    title: 'The X-Hub-Signature-256 header does not match the body',
    detail: 'sign the raw body with HMAC-SHA256 under the Meta app secret',
  });

/**
 * Meta's webhook endpoints: `/meta/webhook` for the default app, `/meta/webhook/{app}` for others,
 * each checked with its own app secret. The body is read raw so the signature is checked on the
 * exact bytes, before anything is parsed or stored.
 */
export function registerIngressRoutes(app: HttpServer, options: { secrets: MetaAppSecrets; bodyLimit: number }): void {
  const appOf = (req: FastifyRequest) => (req.params as { app?: string }).app ?? DEFAULT_META_APP;
  const tags = ['meta webhooks'];

  for (const url of ['/meta/webhook', '/meta/webhook/:app']) {
    const params = url.endsWith(':app') ? { params: AppParams } : {};
    app.get(
      url,
      { schema: { tags, summary: "Answer Meta's subscription challenge", querystring: VerifyQuery, ...params } },
      async (req, reply) => {
        const mode = req.query['hub.mode'];
        const token = req.query['hub.verify_token'];
        if (mode !== 'subscribe' || !token || !(await options.secrets.isVerifyToken(appOf(req), token)))
          throw forbidden();
        void reply.type('text/plain');
        return req.query['hub.challenge'] ?? '';
      },
    );
  }

  void app.register(async (raw) => {
    // Only here: the body stays bytes, for the signature.
    raw.addContentTypeParser(
      'application/json',
      { parseAs: 'buffer', bodyLimit: options.bodyLimit },
      (_req, body, done) => done(null, body),
    );
    for (const url of ['/meta/webhook', '/meta/webhook/:app']) {
      const params = url.endsWith(':app') ? { params: AppParams } : {};
      raw.post(
        url,
        { bodyLimit: options.bodyLimit, schema: { tags, summary: 'Receive a Meta webhook (signed)', ...params } },
        async (req, reply) => {
          const body = Buffer.isBuffer(req.body) ? req.body : Buffer.alloc(0);
          const secrets = await options.secrets.appSecrets(appOf(req));
          if (secrets.length === 0 || !verifyMetaSignature(body, req.headers[SIGNATURE_HEADER], secrets)) {
            req.log.warn({ app: appOf(req), bytes: body.length }, 'webhook refused: bad signature');
            throw badSignature();
          }
          const traceParent = childTraceParent(
            typeof req.headers.traceparent === 'string' ? req.headers.traceparent : undefined,
          );
          const receipt = await app.ingress.accept(appOf(req), body, traceParent);
          req.log.info({ app: appOf(req), ...receipt, traceparent: traceParent }, 'webhook stored');
          void reply.type('text/plain');
          return 'EVENT_RECEIVED';
        },
      );
    }
  });

  app.get(
    '/internal/v1/events',
    {
      schema: {
        tags: ['events'],
        summary: 'Stored events, newest first (unrouted ones wait for their channel to get an instance)',
        querystring: InboundEventQuery,
        response: { 200: Type.Array(InboundEventSummary) },
      },
    },
    async (req) => (await app.ingress.list(req.query)).map(summaryOf),
  );
  app.get(
    '/internal/v1/events/:id',
    {
      schema: {
        tags: ['events'],
        summary: 'One stored event with what the engine read from it and what Meta sent',
        params: InboundEventParams,
        response: { 200: InboundEventDetail },
      },
    },
    async (req) => {
      const event = await app.ingress.get(req.params.id);
      return { event: summaryOf(event), data: event.data, raw: event.raw };
    },
  );
}

function summaryOf(e: InboundEvent) {
  return {
    id: e.id,
    type: e.type,
    platform: e.platform,
    channelId: e.channelId,
    routeState: e.routeState as 'routed' | 'unrouted',
    instanceId: e.instanceId,
    occurredAt: e.occurredAt.toISOString(),
    receivedAt: e.receivedAt.toISOString(),
    dedupKey: e.dedupKey,
  };
}
