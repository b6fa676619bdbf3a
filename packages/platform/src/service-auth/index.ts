import type { FastifyRequest } from 'fastify';
import { IssueServiceToken, IssuedServiceToken, ServiceTokenInfo, ServiceTokenParams } from '@mic/contracts';
import { Type } from 'typebox';
import type { HttpServer } from '../http/index.ts';
import { Problem, problems } from '../http/index.ts';
import type { ServiceTokenInfo as TokenInfo } from './store.ts';
import { type ServiceTokens } from './store.ts';
import { bearerToken } from './tokens.ts';

export { serviceTokens } from './schema.ts';
export { ServiceTokens, SERVICE_TOKEN_PREFIX, type ServiceTokenInfo } from './store.ts';
export { bearerToken, generateToken, hashToken, lastFour } from './tokens.ts';
export {
  assertOwnerOnly,
  peerTokenReader,
  readOrCreatePeerTokens,
  writePeerTokens,
  type PeerTokens,
} from './peer-file.ts';

/** Every route under this prefix needs a service token. */
export const INTERNAL_PREFIX = '/internal/';

declare module 'fastify' {
  interface FastifyRequest {
    /** Who called an `/internal` route, once its service token checked out. */
    serviceCaller?: { id: string; caller: string };
  }
}

export const unauthorized = () =>
  new Problem({
    status: 401,
    type: 'unauthorized',
    title: 'A valid service token is required',
    detail: 'send Authorization: Bearer <service token>',
  });

function serialize(t: TokenInfo) {
  return {
    id: t.id,
    caller: t.caller,
    last4: t.last4,
    createdAt: t.createdAt.toISOString(),
    expiresAt: t.expiresAt?.toISOString() ?? null,
    revokedAt: t.revokedAt?.toISOString() ?? null,
  };
}

/**
 * Guards every `/internal` route with a service token, before the body is read, and serves the
 * routes that issue, list and revoke them (rotation: issue a new one with `retireCurrent`, switch
 * the caller to it, and the old one expires after its grace period).
 */
export function registerServiceAuth(app: HttpServer, tokens: ServiceTokens): void {
  app.addHook('onRequest', async (req: FastifyRequest, reply) => {
    if (!req.url.startsWith(INTERNAL_PREFIX)) return;
    const token = bearerToken(req.headers.authorization);
    const caller = token ? await tokens.verify(token) : null;
    if (!caller) {
      void reply.header('www-authenticate', 'Bearer realm="mic-internal"');
      throw unauthorized();
    }
    req.serviceCaller = caller;
  });

  const tags = ['service tokens'];
  app.post(
    '/internal/v1/service-tokens',
    {
      schema: {
        tags,
        summary: 'Issue a service token (shown once)',
        body: IssueServiceToken,
        response: { 201: IssuedServiceToken },
      },
    },
    async (req, reply) => {
      const retire =
        req.body.retireCurrent && req.serviceCaller
          ? { id: req.serviceCaller.id, graceMs: (req.body.graceSeconds ?? 3_600) * 1000 }
          : undefined;
      const issued = await tokens.issue(req.body.caller, retire);
      void reply.status(201).header('cache-control', 'no-store');
      return { ...serialize(issued.info), token: issued.token };
    },
  );
  app.get(
    '/internal/v1/service-tokens',
    {
      schema: {
        tags,
        summary: 'Service tokens this plane accepts (never their values)',
        response: { 200: Type.Array(ServiceTokenInfo) },
      },
    },
    async () => (await tokens.list()).map(serialize),
  );
  app.delete(
    '/internal/v1/service-tokens/:id',
    { schema: { tags, summary: 'Revoke a service token', params: ServiceTokenParams } },
    async (req, reply) => {
      if (!(await tokens.revoke(req.params.id))) throw problems.notFound(`no active service token ${req.params.id}`);
      void reply.status(204);
    },
  );
}
