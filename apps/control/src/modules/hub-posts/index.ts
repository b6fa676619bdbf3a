import fp from 'fastify-plugin';
import { Type } from 'typebox';
import { CreatePostRequest, HubPost, HubPostDetail, PostParams } from '@mic/contracts';
import type { HttpServer } from '@mic/platform';
import { EngineHandover } from '../outbox/index.ts';
import { HUB_POSTS_QUEUE, HubPosts } from './service.ts';

export { HubPosts, HUB_POSTS_QUEUE } from './service.ts';

declare module 'fastify' {
  interface FastifyInstance {
    /** Posts on the hub's own page and account (tenant zero), through the engine. */
    hubPosts: HubPosts;
  }
}

/** `POST|GET /v1/hub/posts`, `GET|DELETE /v1/hub/posts/:id`, and the outbox job that hands posts to the engine. */
export default fp(
  async (app: HttpServer) => {
    const handover = new EngineHandover(app.queue, HUB_POSTS_QUEUE);
    const posts = new HubPosts({
      db: app.db.orm,
      clock: app.clock,
      handover,
      engine: (method, path, body) => app.engine.request(method, path, body),
    });
    app.decorate('hubPosts', posts);
    app.hub.onEvent((tx, event) => posts.applyHubEvent(tx, event));
    await handover.work((id) => posts.send(id));

    const tags = ['hub'];
    app.post(
      '/v1/hub/posts',
      {
        config: { permission: 'publishing.write' },
        schema: {
          tags,
          summary: "Publish a post on the hub's own Facebook Page or Instagram account, now or later (202)",
          description:
            `The body is a CreatePostRequest (${Object.keys(CreatePostRequest.properties).join(', ')}) naming one of ` +
            "the hub's channels. It waits in control until the engine takes it.",
          response: { 202: HubPost },
        },
      },
      async (req, reply) => {
        const post = await posts.create(req.body, req.operator?.id ?? null);
        void reply.status(202);
        return post;
      },
    );
    app.get(
      '/v1/hub/posts',
      {
        config: { permission: 'publishing.read' },
        schema: {
          tags,
          summary: "The hub's posts, newest first",
          querystring: Type.Object({ limit: Type.Optional(Type.Integer({ minimum: 1, maximum: 500, default: 100 })) }),
          response: { 200: Type.Array(HubPost) },
        },
      },
      async (req) => posts.list(req.query.limit ?? 100),
    );
    app.get(
      '/v1/hub/posts/:id',
      {
        config: { permission: 'publishing.read' },
        schema: {
          tags,
          summary: "A post of the hub, with the engine's timeline",
          params: PostParams,
          response: { 200: HubPostDetail },
        },
      },
      async (req) => posts.get(req.params.id),
    );
    app.delete(
      '/v1/hub/posts/:id',
      {
        config: { permission: 'publishing.write' },
        schema: {
          tags,
          summary: 'Cancel a post of the hub that has not reached Meta yet (409 once publishing started)',
          params: PostParams,
          response: { 200: HubPost },
        },
      },
      async (req) => posts.cancel(req.params.id),
    );
  },
  { name: 'hub-posts', dependencies: ['auth', 'engine', 'hub'] },
);
