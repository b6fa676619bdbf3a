import { Type } from 'typebox';
import type { FastifyRequest } from 'fastify';
import {
  CredentialsInfo,
  InstanceParams,
  IssuedCredentials,
  PutSecret,
  RotateCredential,
  RotatedApiToken,
  RotatedSigningSecret,
  SECRET_REF_PATTERN,
  SecretKind,
  secretRefFromPath,
} from '@mic/contracts';
import { problems, type HttpServer } from '@mic/platform';
import { actorOf } from '../audit/index.ts';
import type { SecretRef } from './service.ts';

const SecretRefInfo = Type.Object({
  ref: Type.String(),
  kind: SecretKind,
  version: Type.Integer(),
  fingerprint: Type.String(),
  last4: Type.String(),
  updatedAt: Type.String({ format: 'date-time' }),
});

const serialize = (r: SecretRef) => ({ ...r, kind: r.kind as SecretKind, updatedAt: r.updatedAt.toISOString() });

function refOf(req: FastifyRequest): string {
  const ref = secretRefFromPath(req.params);
  if (!ref) throw problems.validation([{ field: 'params.ref', message: `must match ${SECRET_REF_PATTERN}` }]);
  return ref;
}

/**
 * The operator's secret routes: values go to the engine and are never shown again; instance
 * credentials are shown once, in the answer that creates or rotates them.
 */
export function registerSecretRoutes(app: HttpServer): void {
  const tags = ['secrets'];
  const noStore = { 'cache-control': 'no-store' };
  app.get(
    '/v1/secrets',
    {
      config: { permission: 'secrets.read' },
      schema: {
        tags,
        summary: 'Secrets kept by the engine: name, fingerprint, last 4',
        response: { 200: Type.Array(SecretRefInfo) },
      },
    },
    async () => (await app.secretRefs.list()).map(serialize),
  );
  app.put(
    '/v1/secrets/*',
    {
      config: { permission: 'secrets.write' },
      schema: {
        tags,
        summary: 'Set or rotate a secret in the engine (write-only)',
        body: PutSecret,
        response: { 200: SecretRefInfo },
      },
    },
    async (req) => {
      const ref = refOf(req);
      const info = serialize(await app.secretRefs.put(ref, req.body));
      await app.audit.record({
        actor: actorOf(req),
        action: 'secret.set',
        target: { type: 'secret', id: ref },
        after: info,
      });
      return info;
    },
  );
  app.delete(
    '/v1/secrets/*',
    { config: { permission: 'secrets.write' }, schema: { tags, summary: 'Delete a secret from the engine' } },
    async (req, reply) => {
      await app.secretRefs.remove(refOf(req));
      void reply.status(204);
    },
  );

  const credentialTags = ['instance credentials'];
  const auditRotation = (
    req: FastifyRequest<{ Params: { instanceId: string } }>,
    which: string,
    info: CredentialsInfo,
  ) =>
    app.audit.record({
      actor: actorOf(req),
      action: `credentials.rotate-${which}`,
      target: { type: 'instance', id: req.params.instanceId },
      after: info,
    });
  app.post(
    '/v1/instances/:instanceId/credentials',
    {
      config: { permission: 'credentials.issue' },
      schema: {
        tags: credentialTags,
        summary: "Create an instance's engine credentials (shown once)",
        params: InstanceParams,
        response: { 201: IssuedCredentials },
      },
    },
    async (req, reply) => {
      void reply.status(201).headers(noStore);
      const issued = await app.secretRefs.issueCredentials(req.params.instanceId);
      const target = { type: 'instance', id: req.params.instanceId };
      await app.audit.record({ actor: actorOf(req), action: 'credentials.issue', target, after: issued.info });
      return issued;
    },
  );
  app.get(
    '/v1/instances/:instanceId/credentials',
    {
      config: { permission: 'instances.read' },
      schema: {
        tags: credentialTags,
        summary: "An instance's credentials, described",
        params: InstanceParams,
        response: { 200: CredentialsInfo },
      },
    },
    async (req) => app.secretRefs.describeCredentials(req.params.instanceId),
  );
  app.post(
    '/v1/instances/:instanceId/credentials/api-token/rotate',
    {
      config: { permission: 'credentials.issue' },
      schema: {
        tags: credentialTags,
        summary: 'Rotate the API token (shown once)',
        params: InstanceParams,
        body: RotateCredential,
        response: { 200: RotatedApiToken },
      },
    },
    async (req, reply) => {
      void reply.headers(noStore);
      const rotated = await app.secretRefs.rotateCredential(req.params.instanceId, 'api-token', req.body?.graceSeconds);
      await auditRotation(req, 'api-token', rotated.info);
      return rotated as { apiToken: string; info: CredentialsInfo };
    },
  );
  app.post(
    '/v1/instances/:instanceId/credentials/signing-secret/rotate',
    {
      config: { permission: 'credentials.issue' },
      schema: {
        tags: credentialTags,
        summary: 'Rotate the signing secret (shown once)',
        params: InstanceParams,
        body: RotateCredential,
        response: { 200: RotatedSigningSecret },
      },
    },
    async (req, reply) => {
      void reply.headers(noStore);
      const rotated = await app.secretRefs.rotateCredential(
        req.params.instanceId,
        'signing-secret',
        req.body?.graceSeconds,
      );
      await auditRotation(req, 'signing-secret', rotated.info);
      return rotated as { signingSecret: string; info: CredentialsInfo };
    },
  );
}
