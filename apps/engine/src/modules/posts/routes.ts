import { Type } from 'typebox';
import { CreatePostRequest, PostList, PostListQuery, PostParams, PostStatus } from '@mic/contracts';
import { idempotencyKeyOf, type HttpServer } from '@mic/platform';
import type { Posts } from './service.ts';

const tags = ['instance API'];

export function registerPostRoutes(app: HttpServer, posts: Posts): void {
  app.post(
    '/v1/posts',
    {
      preHandler: app.authenticateInstance,
      schema: {
        tags,
        summary: 'Publish a post on one of the instance’s Facebook Pages or Instagram accounts, now or later (202)',
        description:
          `The body is a CreatePostRequest (${Object.keys(CreatePostRequest.properties).join(', ')}), checked ` +
          'against Meta’s limits (400 names each field). An Idempotency-Key header makes a repeat of the same ' +
          'request answer the first post. The post is published by the engine’s workers; follow it with ' +
          '`GET /v1/posts/{id}` or the `<platform>.post.<state>` events.',
        security: [{ bearer: [] }],
        response: { 202: PostStatus },
      },
    },
    async (req, reply) => {
      const instanceId = req.instanceId!;
      const accepted = await posts.accept(
        instanceId,
        req.body,
        idempotencyKeyOf(req.headers['idempotency-key']),
        (platform) => app.assertInstanceMaySend(instanceId, platform),
      );
      void reply.status(202);
      return accepted;
    },
  );
  app.get(
    '/v1/posts',
    {
      preHandler: app.authenticateInstance,
      schema: {
        tags,
        summary: 'The instance’s posts, newest first, filtered by state, platform or channel',
        security: [{ bearer: [] }],
        querystring: PostListQuery,
        response: { 200: PostList },
      },
    },
    async (req) => posts.list(req.instanceId!, req.query),
  );
  app.get(
    '/v1/posts/:id',
    {
      preHandler: app.authenticateInstance,
      schema: {
        tags,
        summary: 'A post the instance made: its state, Meta’s ids and its timeline',
        security: [{ bearer: [] }],
        params: PostParams,
        response: { 200: PostStatus },
      },
    },
    async (req) => posts.status(req.instanceId!, req.params.id),
  );
  app.delete(
    '/v1/posts/:id',
    {
      preHandler: app.authenticateInstance,
      schema: {
        tags,
        summary: 'Cancel a post that has not started publishing (scheduled, or queued before reaching Meta)',
        description: 'Answers the cancelled post; 409 once publishing has started.',
        security: [{ bearer: [] }],
        params: PostParams,
        response: { 200: PostStatus },
      },
    },
    async (req) => posts.cancel(req.instanceId!, req.params.id),
  );

  registerHubPostRoutes(app, posts);
}

/**
 * The hub's own posts (tenant zero: the operator's page and account): control holds no instance
 * token, so it calls with its service token (every /internal route requires one) and names each
 * post by its own key, which makes a retry from control's outbox answer the first post.
 */
function registerHubPostRoutes(app: HttpServer, posts: Posts): void {
  const hubTags = ['hub'];
  app.put(
    '/internal/v1/hub/posts/:key',
    {
      schema: {
        tags: hubTags,
        summary: 'Publish a post as the hub instance, idempotent by key (202)',
        description: 'The body is a CreatePostRequest; a repeat with the same key answers the first post.',
        params: Type.Object({ key: Type.String({ minLength: 1, maxLength: 255 }) }),
        response: { 202: PostStatus },
      },
    },
    async (req, reply) => {
      const instanceId = app.hubInstanceId();
      const accepted = await posts.accept(instanceId, req.body, req.params.key, (platform) =>
        app.assertInstanceMaySend(instanceId, platform),
      );
      void reply.status(202);
      return accepted;
    },
  );
  app.get(
    '/internal/v1/hub/posts',
    {
      schema: {
        tags: hubTags,
        summary: 'The hub’s posts, newest first',
        querystring: PostListQuery,
        response: { 200: PostList },
      },
    },
    async (req) => posts.list(app.hubInstanceId(), req.query),
  );
  app.get(
    '/internal/v1/hub/posts/:id',
    { schema: { tags: hubTags, summary: 'A post of the hub', params: PostParams, response: { 200: PostStatus } } },
    async (req) => posts.status(app.hubInstanceId(), req.params.id),
  );
  app.delete(
    '/internal/v1/hub/posts/:id',
    {
      schema: {
        tags: hubTags,
        summary: 'Cancel a post of the hub that has not reached Meta yet',
        params: PostParams,
        response: { 200: PostStatus },
      },
    },
    async (req) => posts.cancel(app.hubInstanceId(), req.params.id),
  );
}
