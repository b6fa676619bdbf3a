import {
  CredentialsInfo,
  InstanceIdentity,
  InstanceParams,
  IssuedCredentials,
  RotateCredential,
  RotatedApiToken,
  RotatedSigningSecret,
} from '@mic/contracts';
import { Problem, bearerToken, type HttpServer } from '@mic/platform';
import type { FastifyRequest } from 'fastify';

const tags = ['instance credentials'];
const noStore = { 'cache-control': 'no-store' };

/** Control issues and rotates instance credentials here; each new value is in one answer only. */
export function registerCredentialRoutes(app: HttpServer, graceMs: number): void {
  const grace = (seconds: number | undefined) => (seconds === undefined ? graceMs : seconds * 1000);
  app.post(
    '/internal/v1/instances/:instanceId/credentials',
    {
      schema: {
        tags,
        summary: "Create an instance's API token and signing secret (shown once)",
        params: InstanceParams,
        response: { 201: IssuedCredentials },
      },
    },
    async (req, reply) => {
      const issued = await app.credentials.issue(req.params.instanceId);
      void reply.status(201).headers(noStore);
      return { instanceId: req.params.instanceId, ...issued };
    },
  );
  app.get(
    '/internal/v1/instances/:instanceId/credentials',
    {
      schema: {
        tags,
        summary: "An instance's credentials, described (never their values)",
        params: InstanceParams,
        response: { 200: CredentialsInfo },
      },
    },
    async (req) => app.credentials.describe(req.params.instanceId),
  );
  app.post(
    '/internal/v1/instances/:instanceId/credentials/api-token/rotate',
    {
      schema: {
        tags,
        summary: 'Issue a new API token (shown once); the old one works for the grace period',
        params: InstanceParams,
        body: RotateCredential,
        response: { 200: RotatedApiToken },
      },
    },
    async (req, reply) => {
      void reply.headers(noStore);
      return app.credentials.rotateApiToken(req.params.instanceId, grace(req.body?.graceSeconds));
    },
  );
  app.post(
    '/internal/v1/instances/:instanceId/credentials/signing-secret/rotate',
    {
      schema: {
        tags,
        summary: 'Issue a new signing secret (shown once); deliveries carry both signatures for the grace period',
        params: InstanceParams,
        body: RotateCredential,
        response: { 200: RotatedSigningSecret },
      },
    },
    async (req, reply) => {
      void reply.headers(noStore);
      return app.credentials.rotateSigningSecret(req.params.instanceId, grace(req.body?.graceSeconds));
    },
  );
  app.delete(
    '/internal/v1/instances/:instanceId/credentials',
    { schema: { tags, summary: 'Revoke every credential of an instance', params: InstanceParams } },
    async (req, reply) => {
      await app.credentials.describe(req.params.instanceId);
      await app.credentials.revokeAll(req.params.instanceId);
      void reply.status(204);
    },
  );

  app.get(
    '/v1/instance',
    {
      preHandler: app.authenticateInstance,
      schema: {
        tags: ['instance API'],
        summary: 'Which instance this API token belongs to',
        security: [{ bearer: [] }],
        response: { 200: InstanceIdentity },
      },
    },
    async (req) => ({ instanceId: req.instanceId! }),
  );
}

export function instanceAuthenticator(app: HttpServer) {
  return async (req: FastifyRequest) => {
    const token = bearerToken(req.headers.authorization);
    const instanceId = token ? await app.credentials.authenticate(token) : null;
    if (!instanceId) {
      throw new Problem({
        status: 401,
        type: 'invalid-instance-token',
        title: 'A valid instance API token is required',
        detail: 'send Authorization: Bearer <instance API token>',
      });
    }
    req.instanceId = instanceId;
  };
}
