import { sql } from 'drizzle-orm';
import {
  bigint,
  boolean,
  index,
  integer,
  jsonb,
  pgTable,
  text,
  timestamp,
  uniqueIndex,
  uuid,
} from 'drizzle-orm/pg-core';

const at = (name: string) => timestamp(name, { withTimezone: true, mode: 'date' });

/**
 * Posts instances publish through `POST /v1/posts`: the post, where its publishing stands, and
 * what Meta gave back. The ids of Meta's objects are recorded as soon as Meta answers, so a
 * restarted worker resumes where the last one stopped and never publishes a container twice.
 */
export const posts = pgTable(
  'posts',
  {
    id: uuid('id').primaryKey(),
    instanceId: text('instance_id').notNull(),
    tenantId: text('tenant_id').notNull(),
    /** facebook or instagram. */
    platform: text('platform').notNull(),
    /** The page id or the Instagram account id. */
    channelId: text('channel_id').notNull(),
    /** The validated PostContent. */
    content: jsonb('content').notNull(),
    state: text('state').notNull(),
    publishAt: at('publish_at'),
    /** Why the post is not going ahead now (the publishing limit, a held instance, a retry). */
    waitingReason: text('waiting_reason'),
    nextAttemptAt: at('next_attempt_at'),
    /** The one job allowed to work on the post: a job carrying another run id is stale and stops. */
    runId: uuid('run_id'),
    /** The run working on the post now, until `leaseUntil`: a second copy of its job waits. */
    leaseHolder: uuid('lease_holder'),
    leaseUntil: at('lease_until'),
    /** Failed tries of the step under way (reset when a step succeeds). */
    attempts: integer('attempts').notNull().default(0),
    /** Status polls of the containers being processed. */
    polls: integer('polls').notNull().default(0),
    /** Instagram carousels: the item containers made so far, by item index. */
    childContainerIds: jsonb('child_container_ids').$type<string[]>().notNull().default([]),
    /** Instagram: the container to publish. */
    containerId: text('container_id'),
    containersCreatedAt: at('containers_created_at'),
    /** Set while a publishing call's outcome is not known (in flight, or it died without an answer). */
    publishStartedAt: at('publish_started_at'),
    publishedId: text('published_id'),
    /** Meta's answer to the publishing call. */
    publishAnswer: jsonb('publish_answer'),
    error: jsonb('error'),
    idempotencyKey: text('idempotency_key'),
    requestHash: text('request_hash').notNull(),
    createdAt: at('created_at').notNull(),
    updatedAt: at('updated_at').notNull(),
    publishedAt: at('published_at'),
  },
  (t) => [
    uniqueIndex('posts_idempotency_idx')
      .on(t.instanceId, t.idempotencyKey)
      .where(sql`idempotency_key is not null`),
    index('posts_instance_idx').on(t.instanceId, t.id),
    index('posts_account_published_idx')
      .on(t.platform, t.channelId, t.publishedAt)
      .where(sql`published_at is not null`),
  ],
);

/** Every state change and attempt of a post, oldest first (`seq`): its timeline. */
export const postEvents = pgTable(
  'post_events',
  {
    seq: bigint('seq', { mode: 'number' }).primaryKey().generatedAlwaysAsIdentity(),
    postId: uuid('post_id').notNull(),
    state: text('state').notNull(),
    at: at('at').notNull(),
    step: text('step'),
    attempt: integer('attempt'),
    detail: text('detail'),
    /** PostError: Meta's code, subcode, title and text. */
    error: jsonb('error'),
    isOutcomeUnknown: boolean('is_outcome_unknown').notNull().default(false),
  },
  (t) => [index('post_events_post_idx').on(t.postId, t.seq)],
);
