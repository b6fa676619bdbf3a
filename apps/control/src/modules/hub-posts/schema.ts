import { index, jsonb, pgTable, text, timestamp, uuid } from 'drizzle-orm/pg-core';

const at = (name: string) => timestamp(name, { withTimezone: true, mode: 'date' });

/**
 * Posts on the hub's own page and account: the request waits here (with its outbox job) until the
 * engine takes it; then the engine's state, kept current by its `<platform>.post.<state>` events.
 */
export const hubPosts = pgTable(
  'hub_posts',
  {
    id: uuid('id').primaryKey(),
    /** The validated CreatePostRequest. */
    request: jsonb('request').notNull(),
    state: text('state').notNull(),
    enginePostId: text('engine_post_id'),
    publishedId: text('published_id'),
    error: jsonb('error'),
    createdBy: text('created_by'),
    createdAt: at('created_at').notNull(),
    updatedAt: at('updated_at').notNull(),
  },
  (t) => [index('hub_posts_engine_post_idx').on(t.enginePostId), index('hub_posts_created_idx').on(t.createdAt)],
);
