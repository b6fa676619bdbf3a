import { Type } from 'typebox';
import {
  KeyRotationResult,
  MetaAppInfo,
  MetaAppParams,
  PutMetaApp,
  PutSecret,
  SECRET_REF_PATTERN,
  SecretInfo,
  secretRefFromPath,
} from '@mic/contracts';
import type { FastifyRequest } from 'fastify';
import { problems, type HttpServer } from '@mic/platform';
import { metaAppRefs } from './meta-apps.ts';

const tags = ['secrets'];

/**
 * The secret's name is the rest of the path (it contains slashes). It is checked here rather than
 * by a params schema: the schema compiler cannot name a `*` property.
 */
function refOf(req: FastifyRequest): string {
  const ref = secretRefFromPath(req.params);
  if (!ref) throw problems.validation([{ field: 'params.ref', message: `must match ${SECRET_REF_PATTERN}` }]);
  return ref;
}

export function registerSecretRoutes(app: HttpServer): void {
  app.get(
    '/internal/v1/secrets',
    {
      schema: {
        tags,
        summary: 'Every stored secret, described (never its value)',
        response: { 200: Type.Array(SecretInfo) },
      },
    },
    async () => app.secrets.list(),
  );
  app.get(
    '/internal/v1/secrets/*',
    { schema: { tags, summary: 'One secret, described (never its value)', response: { 200: SecretInfo } } },
    async (req) => {
      const ref = refOf(req);
      const info = await app.secrets.info(ref);
      if (!info) throw problems.notFound(`no secret ${ref}`);
      return info;
    },
  );
  app.put(
    '/internal/v1/secrets/*',
    { schema: { tags, summary: 'Set or rotate a secret', body: PutSecret, response: { 200: SecretInfo } } },
    async (req) => app.secrets.put(refOf(req), req.body.kind, req.body.value, (req.body.graceSeconds ?? 0) * 1000),
  );
  app.delete(
    '/internal/v1/secrets/*',
    { schema: { tags, summary: 'Delete a secret and all its values' } },
    async (req, reply) => {
      await app.secrets.remove(refOf(req));
      void reply.status(204);
    },
  );
  app.post(
    '/internal/v1/secrets/rotate-key',
    {
      schema: {
        tags,
        summary: 'Activate a new key-encryption key and re-wrap every secret under it',
        response: { 200: KeyRotationResult },
      },
    },
    async (req) => {
      const result = await app.secrets.rotateKey();
      req.log.warn({ kekVersion: result.kekVersion, rewrapped: result.rewrapped }, 'key-encryption key rotated');
      return { ...result, keyring: app.secrets.keyring.describe() };
    },
  );
  app.put(
    '/internal/v1/meta-apps/:app',
    {
      schema: {
        tags,
        summary: "Set a Meta app's secret and webhook verify token",
        params: MetaAppParams,
        body: PutMetaApp,
        response: { 200: MetaAppInfo },
      },
    },
    async (req) => {
      const refs = metaAppRefs(req.params.app);
      return {
        app: req.params.app,
        appSecret: await app.secrets.put(refs.appSecret, 'meta-app-secret', req.body.appSecret),
        verifyToken: await app.secrets.put(refs.verifyToken, 'meta-verify-token', req.body.verifyToken),
      };
    },
  );
}
