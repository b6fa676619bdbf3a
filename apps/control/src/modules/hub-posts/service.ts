import { and, desc, eq } from 'drizzle-orm';
import { uuidv7 } from 'uuidv7';
import {
  validateCreatePost,
  type CreatePostRequest,
  type DeliveredEvent,
  type HubPost,
  type HubPostDetail,
  type HubPostState,
  type PostError,
  type PostEventData,
  type PostStatus,
} from '@mic/contracts';
import { Problem, isUuid, peerProblem, problems, type Clock, type Db } from '@mic/platform';
import { engineCopy, handOver, type EngineHandover } from '../outbox/index.ts';
import { hubPosts } from './schema.ts';

export const HUB_POSTS_QUEUE = 'hub-posts';

type HubPostRow = typeof hubPosts.$inferSelect;

export interface HubPostsDeps {
  db: Db;
  clock: Clock;
  /** The queue that hands each new post to the engine (`HUB_POSTS_QUEUE`). */
  handover: EngineHandover;
  /** The engine's internal API, with control's service token. */
  engine: <T>(method: 'GET' | 'PUT' | 'DELETE', path: string, body?: unknown) => Promise<T>;
}

const POST_EVENT = /^(facebook|instagram)\.post\.[a-z]+$/;

/**
 * Posts on the hub's own page and account. A new post waits in control's database with its
 * outbox job until the engine takes it (idempotent by control's id, so a retry after a lost answer
 * names the same post); then it follows the engine's events.
 */
export class HubPosts {
  readonly #deps: HubPostsDeps;

  constructor(deps: HubPostsDeps) {
    this.#deps = deps;
  }

  async create(body: unknown, createdBy: string | null): Promise<HubPost> {
    const { db, clock, handover } = this.#deps;
    const now = clock.now();
    const validation = validateCreatePost(body, now);
    if (!validation.ok) throw problems.validation(validation.errors);
    const row: HubPostRow = {
      id: uuidv7(),
      request: validation.value,
      state: 'pending',
      enginePostId: null,
      publishedId: null,
      error: null,
      createdBy,
      createdAt: now,
      updatedAt: now,
    };
    await db.transaction(async (tx) => {
      await tx.insert(hubPosts).values(row);
      await handover.enqueue(tx, row.id);
    });
    return describe(row);
  }

  async list(limit: number): Promise<HubPost[]> {
    const rows = await this.#deps.db.select().from(hubPosts).orderBy(desc(hubPosts.createdAt)).limit(limit);
    return rows.map(describe);
  }

  /** The post, with the engine's view (and its timeline) when the engine can be reached. */
  async get(id: string): Promise<HubPostDetail> {
    let row = await this.#require(id);
    let enginePost: PostStatus | null = null;
    if (row.enginePostId !== null) {
      const enginePostId = row.enginePostId;
      enginePost = await engineCopy(() =>
        this.#deps.engine<PostStatus>('GET', `/internal/v1/hub/posts/${enginePostId}`),
      );
      if (enginePost) row = (await this.#mirror(this.#deps.db, enginePostId, enginePost)) ?? row;
    }
    return { ...describe(row), enginePost };
  }

  /** Cancels a post: at once while it waits in control, through the engine once there (409 once started). */
  async cancel(id: string): Promise<HubPost> {
    const { db, clock } = this.#deps;
    const row = await this.#require(id);
    if (row.state === 'pending') {
      const [cancelled] = await db
        .update(hubPosts)
        .set({ state: 'cancelled', updatedAt: clock.now() })
        .where(and(eq(hubPosts.id, id), eq(hubPosts.state, 'pending')))
        .returning();
      // A PUT already under way is cancelled at the engine when its answer comes (`send`).
      if (cancelled) return describe(cancelled);
    }
    const current = await this.#require(id);
    if (current.enginePostId === null) {
      throw new Problem({
        status: 409,
        type: 'post-not-cancellable',
        title: 'The post can no longer be cancelled',
        detail: `post ${id} is ${current.state}`,
        state: current.state,
      });
    }
    let answer: PostStatus;
    try {
      answer = await this.#deps.engine<PostStatus>('DELETE', `/internal/v1/hub/posts/${current.enginePostId}`);
    } catch (error) {
      throw peerProblem(error, 'engine');
    }
    return describe((await this.#mirror(db, current.enginePostId, answer)) ?? current);
  }

  /** The outbox job: hands a pending post to the engine. */
  async send(id: string): Promise<void> {
    const { db, clock } = this.#deps;
    const [row] = await db.select().from(hubPosts).where(eq(hubPosts.id, id));
    if (!row || row.state !== 'pending') return;
    const { accepted, refusal } = await handOver(
      () => this.#deps.engine<PostStatus>('PUT', `/internal/v1/hub/posts/${id}`, row.request),
      'post',
    );
    if (refusal) {
      const error: PostError = { code: null, subcode: null, ...refusal };
      await db.update(hubPosts).set({ state: 'refused', error, updatedAt: clock.now() }).where(eq(hubPosts.id, id));
      return;
    }
    const [stored] = await db
      .update(hubPosts)
      .set({ enginePostId: accepted.id, updatedAt: clock.now() })
      .where(eq(hubPosts.id, id))
      .returning();
    if (stored?.state === 'cancelled') {
      // The operator cancelled while the engine was taking it: cancel it there too, if still possible.
      const answer = await engineCopy(() =>
        this.#deps.engine<PostStatus>('DELETE', `/internal/v1/hub/posts/${accepted.id}`),
      );
      await this.#mirror(db, accepted.id, answer ?? accepted);
      return;
    }
    await this.#mirror(db, accepted.id, accepted);
  }

  /** A hub event: a `<platform>.post.<state>` moves the post it names (the engine sends them in order). */
  async applyHubEvent(tx: Db, event: DeliveredEvent): Promise<void> {
    if (!POST_EVENT.test(event.type)) return;
    const data = event.data as Partial<PostEventData>;
    if (typeof data.postId !== 'string' || typeof data.state !== 'string') return;
    await tx
      .update(hubPosts)
      .set({
        state: data.state,
        publishedId: data.publishedId ?? null,
        error: data.error ?? null,
        updatedAt: this.#deps.clock.now(),
      })
      .where(eq(hubPosts.enginePostId, data.postId));
  }

  async #mirror(db: Db, enginePostId: string, post: PostStatus): Promise<HubPostRow | undefined> {
    const [row] = await db
      .update(hubPosts)
      .set({ state: post.state, publishedId: post.publishedId, error: post.error, updatedAt: this.#deps.clock.now() })
      .where(eq(hubPosts.enginePostId, enginePostId))
      .returning();
    return row;
  }

  async #require(id: string): Promise<HubPostRow> {
    const [row] = isUuid(id) ? await this.#deps.db.select().from(hubPosts).where(eq(hubPosts.id, id)) : [];
    if (!row) throw problems.notFound(`no hub post ${id}`);
    return row;
  }
}

function describe(row: HubPostRow): HubPost {
  const request = row.request as CreatePostRequest;
  return {
    id: row.id,
    state: row.state as HubPostState,
    channel: request.channel,
    post: request.post,
    publishAt: request.publishAt ?? null,
    enginePostId: row.enginePostId,
    publishedId: row.publishedId,
    error: (row.error as PostError | null) ?? null,
    createdAt: row.createdAt.toISOString(),
    updatedAt: row.updatedAt.toISOString(),
  };
}
