import { and, asc, desc, eq, inArray, isNull, lt, notInArray, or, type SQL } from 'drizzle-orm';
import type { PostState, PostStep } from '@mic/contracts';
import type { Db } from '@mic/platform';
import { postEvents, posts } from './schema.ts';

export type PostRow = typeof posts.$inferSelect;
export type NewPostRow = typeof posts.$inferInsert;
export type PostEventRow = typeof postEvents.$inferSelect;
export type PostPatch = Partial<Omit<NewPostRow, 'id' | 'instanceId' | 'tenantId' | 'createdAt'>>;

export interface TimelineEntry {
  state: PostState;
  step?: PostStep | undefined;
  attempt?: number | undefined;
  detail?: string | undefined;
  error?: unknown;
  isOutcomeUnknown?: boolean | undefined;
}

export interface PostFilter {
  state?: PostState | undefined;
  platform?: string | undefined;
  channelId?: string | undefined;
  /** Only posts with a smaller id (older: ids are UUIDv7). */
  before?: string | undefined;
  limit: number;
}

/** This module's queries: nothing else touches its tables. */
export const postQueries = {
  async get(db: Db, id: string): Promise<PostRow | undefined> {
    const [row] = await db.select().from(posts).where(eq(posts.id, id));
    return row;
  },

  async ofInstance(db: Db, instanceId: string, id: string): Promise<PostRow | undefined> {
    const [row] = await db
      .select()
      .from(posts)
      .where(and(eq(posts.id, id), eq(posts.instanceId, instanceId)));
    return row;
  },

  async byKey(db: Db, instanceId: string, key: string): Promise<PostRow | undefined> {
    const [row] = await db
      .select()
      .from(posts)
      .where(and(eq(posts.instanceId, instanceId), eq(posts.idempotencyKey, key)));
    return row;
  },

  async insert(db: Db, row: NewPostRow): Promise<void> {
    await db.insert(posts).values(row);
  },

  /**
   * Applies `patch` only while the post is still the run's (and, with `from`, in one of those
   * states); answers the updated row, or undefined when another run or a cancel took over.
   */
  async update(
    db: Db,
    id: string,
    patch: PostPatch,
    guard: { runId?: string | null; from?: readonly PostState[] } = {},
  ): Promise<PostRow | undefined> {
    const conditions: SQL[] = [eq(posts.id, id)];
    if (guard.runId !== undefined && guard.runId !== null) conditions.push(eq(posts.runId, guard.runId));
    if (guard.from) conditions.push(inArray(posts.state, [...guard.from]));
    const [row] = await db
      .update(posts)
      .set(patch)
      .where(and(...conditions))
      .returning();
    return row;
  },

  /**
   * Takes (or renews) the post's lease for `holder` while it is the run's and not settled; answers
   * the post, or undefined when another live holder has it or the run is over.
   */
  async claim(db: Db, id: string, runId: string, holder: string, until: Date, now: Date): Promise<PostRow | undefined> {
    const [row] = await db
      .update(posts)
      .set({ leaseHolder: holder, leaseUntil: until })
      .where(
        and(
          eq(posts.id, id),
          eq(posts.runId, runId),
          notInArray(posts.state, ['published', 'failed', 'cancelled']),
          or(isNull(posts.leaseUntil), lt(posts.leaseUntil, now), eq(posts.leaseHolder, holder)),
        ),
      )
      .returning();
    return row;
  },

  async release(db: Db, id: string, holder: string): Promise<void> {
    await db
      .update(posts)
      .set({ leaseHolder: null, leaseUntil: null })
      .where(and(eq(posts.id, id), eq(posts.leaseHolder, holder)));
  },

  async appendTimeline(db: Db, postId: string, at: Date, entry: TimelineEntry): Promise<void> {
    await db.insert(postEvents).values({
      postId,
      state: entry.state,
      at,
      step: entry.step ?? null,
      attempt: entry.attempt ?? null,
      detail: entry.detail ?? null,
      error: entry.error ?? null,
      isOutcomeUnknown: entry.isOutcomeUnknown ?? false,
    });
  },

  async timeline(db: Db, postId: string): Promise<PostEventRow[]> {
    return db.select().from(postEvents).where(eq(postEvents.postId, postId)).orderBy(asc(postEvents.seq));
  },

  async list(db: Db, instanceId: string, filter: PostFilter): Promise<PostRow[]> {
    const conditions: SQL[] = [eq(posts.instanceId, instanceId)];
    if (filter.state) conditions.push(eq(posts.state, filter.state));
    if (filter.platform) conditions.push(eq(posts.platform, filter.platform));
    if (filter.channelId) conditions.push(eq(posts.channelId, filter.channelId));
    if (filter.before) conditions.push(lt(posts.id, filter.before));
    return db
      .select()
      .from(posts)
      .where(and(...conditions))
      .orderBy(desc(posts.id))
      .limit(filter.limit);
  },
};
