import { setTimeout as sleep } from 'node:timers/promises';
import { sql } from 'drizzle-orm';
import { uuidv7 } from 'uuidv7';
import {
  validateCreatePost,
  type ChannelPlatform,
  type ConfigSnapshot,
  type FacebookPostContent,
  type InstagramPostContent,
  type PostContent,
  type PostError,
  type PostEventData,
  type PostList,
  type PostListQuery,
  type PostPlatform,
  type PostState,
  type PostStatus,
  type PostStep,
  type PostSummary,
} from '@mic/contracts';
import { GraphError } from '@mic/meta';
import {
  Problem,
  childTraceParent,
  isUuid,
  persistently,
  problems,
  requestHash,
  type Clock,
  type Db,
  type JobQueue,
  type Logger,
} from '@mic/platform';
import type { RoutedEvent } from '../delivery/index.ts';
import { laneOf } from '../outbound/index.ts';
import type { NewAlert } from '../reports/index.ts';
import {
  containerParams,
  itemContainerParams,
  postErrorKind,
  postErrorOf,
  type ContainerStatus,
  type PublishingGraph,
  type PublishingLimit,
} from './graph.ts';
import { postQueries as q, type PostPatch, type PostRow, type TimelineEntry } from './store.ts';

export const PUBLISH_QUEUE = 'post-publish';

/** One run of a post's publishing: a job whose run id is no longer the post's is stale and stops. */
export interface PublishJob {
  postId: string;
  runId: string;
}

export interface PostsOptions {
  /** Wait before a step Meta failed transiently is tried again; doubled each time, with jitter. */
  retryBaseMs: number;
  retryMaxMs: number;
  /** Tries of a step (transient failures included) before the post fails. */
  maxAttempts: number;
  /** First wait before a container's status is asked again; doubled each poll up to `pollMaxMs`. */
  pollInitialMs: number;
  pollMaxMs: number;
  /** A post whose containers are not FINISHED this long after they were made fails. */
  pollTimeoutMs: number;
  /** How often a post held by the account's publishing limit checks it again. */
  limitRecheckMs: number;
  /** How often a post of a paused instance (or with its module off) checks again. */
  holdRecheckMs: number;
  /**
   * A run's claim on its post, renewed before each Graph call: a second copy of the job (pg-boss
   * retrying one it thinks dead) waits for it instead of working on the same post at once.
   */
  leaseMs: number;
}

export interface PostsDeps {
  db: Db;
  queue: JobQueue;
  clock: Clock;
  graph: PublishingGraph;
  logger: Pick<Logger, 'info' | 'warn' | 'error'>;
  snapshot: () => ConfigSnapshot | undefined;
  accessToken: (platform: ChannelPlatform, channelId: string) => Promise<string | null>;
  /** Why the instance's sends are held now (paused, module off, engine disabled), or null. */
  holdReason: (instanceId: string, platform: ChannelPlatform) => Promise<string | null>;
  isPublishingEnabled: (tenantId: string) => Promise<boolean>;
  /** Delivers events to their instances, inside the caller's transaction. */
  deliver: (tx: Db, events: readonly RoutedEvent[]) => Promise<void>;
  /** Raises an alert to the operators (through the reports outbox). */
  alert: (alert: NewAlert) => Promise<unknown>;
  /** Metrics: each state a post reaches, each error Meta answers a step with. */
  observe?: {
    state(platform: PostPlatform, state: PostState): void;
    graphError(platform: PostPlatform, step: PostStep, code: number | null): void;
  };
  options: PostsOptions;
}

const TERMINAL: ReadonlySet<string> = new Set<PostState>(['published', 'failed', 'cancelled']);
const CANCELLABLE: readonly PostState[] = ['scheduled', 'queued'];
/**
 * Waits up to this long happen inside the running job (it keeps its run id, so a crash resumes
 * from pg-boss's retry of that job); longer ones hand over to a delayed job, which workers find by
 * polling about once a second.
 */
const INLINE_WAIT_MAX_MS = 2_000;

/** The channel a post goes out on: a Facebook Page is the page of a `messenger` channel. */
export const channelPlatformOf = (platform: PostPlatform): ChannelPlatform =>
  platform === 'facebook' ? 'messenger' : 'instagram';

/** A Graph call of one step failed: the step and the post as it was then. */
class StepFailed extends Error {
  readonly row: PostRow;
  readonly step: PostStep;
  readonly error: GraphError;

  constructor(row: PostRow, step: PostStep, error: GraphError) {
    super(error.message);
    this.row = row;
    this.step = step;
    this.error = error;
  }
}

/** A container Meta could not process: its `status` carries the error subcode and text. */
function containerError(status: ContainerStatus): PostError {
  const text = status.status ?? 'the container could not be processed';
  const subcode = /\b(\d{7})\b/.exec(text)?.[1];
  return {
    code: null,
    subcode: subcode ? Number(subcode) : null,
    title: 'Media container failed',
    message: text,
  };
}

/**
 * Publishing: accepts an instance's post (stored with its job in one transaction), publishes it
 * at its time through Meta's calls, step by step, recording each of Meta's ids as it comes, and
 * answers its status. Each state change goes to the instance as a `<platform>.post.<state>` event.
 */
export class Posts {
  readonly #deps: PostsDeps;
  /** The lease holder of each post this process is working on. */
  readonly #holders = new Map<string, string>();

  constructor(deps: PostsDeps) {
    this.#deps = deps;
  }

  /**
   * Checks and stores a post and its job. `assertMaySend` is the config's verdict on the
   * instance (paused, module off, engine disabled). With an idempotency key, a repeat of the same
   * request answers the first post; the same key with another request is refused (422).
   */
  async accept(
    instanceId: string,
    body: unknown,
    idempotencyKey: string | undefined,
    assertMaySend: (platform: ChannelPlatform) => Promise<void>,
  ): Promise<PostStatus> {
    const { db, clock, queue } = this.#deps;
    const now = clock.now();
    const validation = validateCreatePost(body, now);
    if (!validation.ok) throw problems.validation(validation.errors);
    const request = validation.value;
    const platform = channelPlatformOf(request.channel.kind);
    const snapshot = this.#deps.snapshot();
    const owner = snapshot?.channels.find((c) => c.platform === platform && c.channelId === request.channel.id);
    if (!owner || owner.instanceId !== instanceId) {
      throw new Problem({
        status: 403,
        type: 'channel-not-yours',
        title: 'The channel is not connected to this instance',
        detail: `${request.channel.kind} ${request.channel.id} is not routed to this instance`,
        channel: request.channel,
      });
    }
    await assertMaySend(platform);
    const instance = snapshot?.instances.find((i) => i.id === instanceId);
    if (!instance) {
      throw new Problem({
        status: 423,
        type: 'instance-unknown',
        title: 'The instance is not configured',
        detail: 'the engine has no configuration for this instance yet',
      });
    }
    if (!(await this.#deps.isPublishingEnabled(instance.tenantId))) {
      throw new Problem({
        status: 403,
        type: 'module-disabled',
        title: 'The module is off',
        detail: 'the publishing module is off for this tenant',
        module: 'publishing',
      });
    }
    const hash = requestHash(request);
    const publishAt = request.publishAt === undefined ? null : new Date(request.publishAt);
    const isScheduled = publishAt !== null && publishAt > now;
    const stored = await db.transaction(async (tx) => {
      if (idempotencyKey !== undefined) {
        await tx.execute(sql`select pg_advisory_xact_lock(hashtext(${`post-key:${instanceId}:${idempotencyKey}`}))`);
        const first = await q.byKey(tx, instanceId, idempotencyKey);
        if (first) {
          if (first.requestHash !== hash) {
            throw new Problem({
              status: 422,
              type: 'idempotency-key-reused',
              title: 'The Idempotency-Key was used for another request',
              detail: 'a key names one request: send this one with a new key',
            });
          }
          return { id: first.id, isNew: false };
        }
      }
      const row: PostRow = {
        id: uuidv7(),
        instanceId,
        tenantId: instance.tenantId,
        platform: request.channel.kind,
        channelId: request.channel.id,
        content: request.post,
        state: isScheduled ? 'scheduled' : 'queued',
        publishAt,
        waitingReason: null,
        nextAttemptAt: isScheduled ? publishAt : null,
        runId: uuidv7(),
        leaseHolder: null,
        leaseUntil: null,
        attempts: 0,
        polls: 0,
        childContainerIds: [],
        containerId: null,
        containersCreatedAt: null,
        publishStartedAt: null,
        publishedId: null,
        publishAnswer: null,
        error: null,
        idempotencyKey: idempotencyKey ?? null,
        requestHash: hash,
        createdAt: now,
        updatedAt: now,
        publishedAt: null,
      };
      await q.insert(tx, row);
      await q.appendTimeline(tx, row.id, now, { state: row.state as PostState });
      const job: PublishJob = { postId: row.id, runId: row.runId! };
      await queue.send(PUBLISH_QUEUE, job, isScheduled ? { startAfter: publishAt } : {}, tx);
      await this.#deps.deliver(tx, [this.#event(row, now, {})]);
      return { id: row.id, isNew: true };
    });
    if (stored.isNew) this.#deps.observe?.state(request.channel.kind, isScheduled ? 'scheduled' : 'queued');
    return this.status(instanceId, stored.id);
  }

  /** The post with its timeline, if it is the instance's. */
  async status(instanceId: string, id: string): Promise<PostStatus> {
    const row = isUuid(id) ? await q.ofInstance(this.#deps.db, instanceId, id) : undefined;
    if (!row) throw problems.notFound(`no post ${id} of this instance`);
    const timeline = await q.timeline(this.#deps.db, id);
    return {
      ...this.#summary(row),
      timeline: timeline.map((e) => ({
        state: e.state as PostState,
        at: e.at.toISOString(),
        ...(e.step ? { step: e.step as PostStep } : {}),
        ...(e.attempt === null ? {} : { attempt: e.attempt }),
        ...(e.detail === null ? {} : { detail: e.detail }),
        ...(e.error ? { error: e.error as PostError } : {}),
        ...(e.isOutcomeUnknown ? { isOutcomeUnknown: true } : {}),
      })),
    };
  }

  /** The instance's posts, newest first, a page at a time. */
  async list(instanceId: string, query: PostListQuery): Promise<PostList> {
    const limit = query.limit ?? 50;
    if (query.cursor !== undefined && !isUuid(query.cursor)) {
      throw problems.validation([{ field: 'querystring.cursor', message: 'is not a cursor this API gave' }]);
    }
    const rows = await q.list(this.#deps.db, instanceId, {
      state: query.state,
      platform: query.platform,
      channelId: query.channelId,
      before: query.cursor,
      limit: limit + 1,
    });
    const page = rows.slice(0, limit);
    return {
      posts: page.map((row) => this.#summary(row)),
      nextCursor: rows.length > limit ? page.at(-1)!.id : null,
    };
  }

  /** Cancels a post that has not started publishing (scheduled, or queued before any call to Meta). */
  async cancel(instanceId: string, id: string): Promise<PostStatus> {
    const row = isUuid(id) ? await q.ofInstance(this.#deps.db, instanceId, id) : undefined;
    if (!row) throw problems.notFound(`no post ${id} of this instance`);
    const refuse = () =>
      new Problem({
        status: 409,
        type: 'post-not-cancellable',
        title: 'The post can no longer be cancelled',
        detail: `post ${id} is ${row.state}: only a scheduled or queued post that has not reached Meta can be cancelled`,
        state: row.state,
      });
    if (!CANCELLABLE.includes(row.state as PostState) || row.containerId !== null || row.childContainerIds.length > 0) {
      throw refuse();
    }
    const cancelled = await this.#transition(
      row,
      'cancelled',
      { runId: null, waitingReason: null, nextAttemptAt: null },
      {},
      { from: CANCELLABLE },
    );
    if (!cancelled) throw refuse();
    return this.status(instanceId, id);
  }

  /**
   * The queue's handler: advances the post until it is done or waits for a later job. Throws while
   * another live run holds the post, so that pg-boss tries this job again later.
   */
  readonly run = async (job: PublishJob): Promise<void> => {
    const { db } = this.#deps;
    const holder = uuidv7();
    try {
      for (;;) {
        const row = await this.#claim(job.postId, job.runId, holder);
        if (!row) {
          const current = await q.get(db, job.postId);
          if (!current || current.runId !== job.runId || TERMINAL.has(current.state)) return;
          throw new Error(`post ${job.postId} is being published by another run`);
        }
        this.#holders.set(row.id, holder);
        let next: number | undefined;
        try {
          next = await this.#advance(row);
        } catch (error) {
          if (!(error instanceof StepFailed)) throw error;
          next = await this.#stepFailed(error.row, error.step, error.error);
        }
        if (next === undefined) return;
        await sleep(next);
      }
    } finally {
      if (this.#holders.get(job.postId) === holder) {
        this.#holders.delete(job.postId);
        await q.release(db, job.postId, holder).catch(() => {});
      }
    }
  };

  /**
   * The queue's last try of a run failed on something other than Meta (the database, a bug): the
   * post fails, saying why, rather than stay `queued` or `processing` with no run left to move it.
   */
  async giveUp(job: PublishJob, tries: number, error: unknown): Promise<void> {
    const row = await q.get(this.#deps.db, job.postId);
    if (!row || row.runId !== job.runId || TERMINAL.has(row.state)) return;
    const reason = error instanceof Error ? error.message : String(error);
    this.#deps.logger.error({ err: error, postId: row.id, tries }, 'publishing a post gave up');
    await this.#fail(
      row,
      {
        code: null,
        subcode: null,
        title: 'Publishing gave up',
        message: `the engine could not move the post on after ${tries} tries: ${reason}`,
      },
      undefined,
      undefined,
      // Set while a call to Meta was out: Meta may have published it.
      row.publishStartedAt !== null,
    );
  }

  /** Lease times are wall-clock times, shared by every replica. */
  #claim(postId: string, runId: string, holder: string): Promise<PostRow | undefined> {
    const now = Date.now();
    return q.claim(this.#deps.db, postId, runId, holder, new Date(now + this.#deps.options.leaseMs), new Date(now));
  }

  /** One pass over the post; answers a delay to go on after (in this job), or undefined when done here. */
  async #advance(row: PostRow): Promise<number | undefined> {
    const now = this.#deps.clock.now();
    if (row.state === 'scheduled' && row.publishAt && row.publishAt > now) {
      return this.#later(row, row.publishAt.getTime() - now.getTime(), {});
    }
    let current: PostRow | undefined = row;
    if (current.state === 'scheduled') {
      current = await this.#transition(current, 'queued', { waitingReason: null, nextAttemptAt: null });
      if (!current) return undefined;
    }
    const platform = channelPlatformOf(current.platform as PostPlatform);
    const hold =
      (await this.#deps.holdReason(current.instanceId, platform)) ??
      ((await this.#deps.isPublishingEnabled(current.tenantId))
        ? null
        : 'the publishing module is off for this tenant');
    if (hold) {
      const reason = `held: ${hold}`;
      const entry = current.waitingReason === reason ? undefined : { step: 'hold' as const, detail: hold };
      return this.#later(current, this.#deps.options.holdRecheckMs, { waitingReason: reason }, entry);
    }
    const token = await this.#deps.accessToken(platform, current.channelId);
    if (!token) {
      return this.#fail(current, {
        code: null,
        subcode: null,
        title: 'No access token',
        message: `the ${platform} channel ${current.channelId} has no stored access token: connect it again`,
      });
    }
    return current.platform === 'facebook' ? this.#publishPage(current, token) : this.#publishInstagram(current, token);
  }

  async #publishPage(row: PostRow, token: string): Promise<number | undefined> {
    const { graph, clock } = this.#deps;
    const content = row.content as FacebookPostContent;
    let current: PostRow | undefined = row;
    if (current.state !== 'processing') {
      current = await this.#transition(current, 'processing', { waitingReason: null, nextAttemptAt: null });
      if (!current) return undefined;
    }
    // Set while the call is out: a worker that finds it set after a crash knows Meta may have posted.
    const wasInFlight = current.publishStartedAt !== null;
    current = await this.#save(current, { publishStartedAt: clock.now() });
    if (!current) return undefined;
    const pageId = current.channelId;
    const answer = await this.#step(current, 'publish', () =>
      content.type === 'photo'
        ? graph.pagePhoto(pageId, token, {
            url: content.url,
            ...(content.caption === undefined ? {} : { caption: content.caption }),
          })
        : graph.pageFeed(pageId, token, {
            ...(content.type === 'link' ? { link: content.link } : {}),
            ...(content.message === undefined ? {} : { message: content.message }),
          }),
    );
    await this.#published(current, answer.id, answer.body, wasInFlight ? { isOutcomeUnknown: true } : {});
    return undefined;
  }

  async #publishInstagram(row: PostRow, token: string): Promise<number | undefined> {
    const { graph, clock } = this.#deps;
    const content = row.content as InstagramPostContent;
    const account = row.channelId;
    let current: PostRow | undefined = row;
    if (current.containerId === null) {
      if (current.state === 'queued') {
        // Checked before any container is made: containers expire 24 h after they are made.
        const limit = await this.#readLimit(current, account, token);
        if (limit && limit.usage >= limit.total) {
          return this.#waitForLimit(
            current,
            `the account has published ${limit.usage} of the ${limit.total} posts Meta allows in ${Math.round(limit.durationSeconds / 3600)} h`,
          );
        }
        current = await this.#transition(
          current,
          'processing',
          { waitingReason: null, nextAttemptAt: null, attempts: 0 },
          {
            step: 'limit',
            detail: limit
              ? `${limit.usage} of ${limit.total} posts published in the moving window`
              : 'the publishing limit could not be read: Meta’s own check at publishing applies',
          },
        );
        if (!current) return undefined;
      }
      let containerId: string;
      if (content.type === 'carousel') {
        const children = [...current.childContainerIds];
        for (const [i, item] of content.items.entries()) {
          if (children[i]) continue;
          const made = current;
          children[i] = await this.#step(made, 'container', () =>
            graph.createContainer(account, token, itemContainerParams(item)),
          );
          current = await this.#save(made, {
            childContainerIds: [...children],
            containersCreatedAt: made.containersCreatedAt ?? clock.now(),
            attempts: 0,
          });
          if (!current) return undefined;
        }
        // Meta builds a carousel only from items it has finished processing.
        const items = await this.#awaitContainers(current, token, children);
        if (!items.isReady) return items.next;
        const parent = current;
        containerId = await this.#step(parent, 'container', () =>
          graph.createContainer(account, token, {
            media_type: 'CAROUSEL',
            children: children.join(','),
            ...(content.caption === undefined ? {} : { caption: content.caption }),
          }),
        );
      } else {
        const single = current;
        containerId = await this.#step(single, 'container', () =>
          graph.createContainer(account, token, containerParams(content)),
        );
      }
      current = await this.#save(
        current,
        {
          containerId,
          containersCreatedAt: current.containersCreatedAt ?? clock.now(),
          polls: 0,
          attempts: 0,
        },
        { step: 'container', detail: `container ${containerId} made` },
      );
      if (!current) return undefined;
    }
    const containerId = current.containerId!;
    const readiness = await this.#awaitContainers(current, token, [containerId]);
    if (!readiness.isReady) return readiness.next;
    if (readiness.isPublished) {
      // A publishing call whose answer was lost (a crash, a timeout) went through: never publish again.
      await this.#published(current, null, null, {
        isOutcomeUnknown: true,
        detail: `Meta had already published container ${containerId}; the media id was in the answer that was lost`,
      });
      return undefined;
    }
    const wasInFlight = current.publishStartedAt !== null;
    current = await this.#save(current, { publishStartedAt: clock.now(), waitingReason: null });
    if (!current) return undefined;
    const answer = await this.#step(current, 'publish', () => graph.publishContainer(account, token, containerId));
    await this.#published(current, answer.id, answer.body, wasInFlight ? { isOutcomeUnknown: true } : {});
    return undefined;
  }

  /**
   * The account's publishing limit, or null when Meta will not tell (a permission the token lacks,
   * say): the check is a courtesy, since Meta refuses a post over the limit itself (9, 2207042),
   * which makes the post wait just the same. A refused token and transient failures still count.
   */
  async #readLimit(row: PostRow, account: string, token: string): Promise<PublishingLimit | null> {
    try {
      return await this.#step(row, 'limit', () => this.#deps.graph.publishingLimit(account, token));
    } catch (error) {
      if (!(error instanceof StepFailed) || postErrorKind(error.error) !== 'permanent') throw error;
      if (error.error.classification === 'auth') throw error;
      this.#deps.logger.warn(
        { postId: row.id, code: error.error.code, subcode: error.error.subcode },
        'the publishing limit could not be read: publishing without the check',
      );
      return null;
    }
  }

  /**
   * Asks each container's status. Ready: all FINISHED (or the one container PUBLISHED already).
   * Otherwise the post fails (ERROR, or still not FINISHED after the poll timeout), starts over
   * with new containers (EXPIRED) or polls again later, and `next` is what the run does next.
   */
  async #awaitContainers(
    row: PostRow,
    token: string,
    ids: readonly string[],
  ): Promise<{ isReady: true; isPublished: boolean } | { isReady: false; next: number | undefined }> {
    const { graph, clock, options } = this.#deps;
    const statuses: ContainerStatus[] = [];
    for (const id of ids) statuses.push(await this.#step(row, 'status', () => graph.containerStatus(id, token)));
    const failed = statuses.find((s) => s.code === 'ERROR');
    if (failed) return { isReady: false, next: await this.#fail(row, containerError(failed), 'status') };
    if (statuses.some((s) => s.code === 'EXPIRED')) {
      const attempt = row.attempts + 1;
      const error: PostError = {
        code: null,
        subcode: null,
        title: 'Media container expired',
        message: 'Meta expires containers not published within 24 h',
      };
      if (attempt >= options.maxAttempts)
        return { isReady: false, next: await this.#fail(row, error, 'status', attempt) };
      const next = await this.#later(
        row,
        0,
        {
          attempts: attempt,
          containerId: null,
          childContainerIds: [],
          containersCreatedAt: null,
          polls: 0,
          publishStartedAt: null,
        },
        { step: 'status', attempt, error, detail: 'new containers are made' },
      );
      return { isReady: false, next };
    }
    if (ids.length === 1 && statuses[0]!.code === 'PUBLISHED') return { isReady: true, isPublished: true };
    if (statuses.every((s) => s.code === 'FINISHED')) return { isReady: true, isPublished: false };
    const now = clock.now();
    const since = row.containersCreatedAt ?? now;
    if (now.getTime() - since.getTime() > options.pollTimeoutMs) {
      const error: PostError = {
        code: null,
        subcode: null,
        title: 'Media container not ready',
        message: `Meta had not finished processing the media ${Math.round(options.pollTimeoutMs / 1000)} s after the container was made`,
      };
      return { isReady: false, next: await this.#fail(row, error, 'status') };
    }
    const entry = row.polls === 0 ? { step: 'status' as const, detail: 'Meta is processing the media' } : undefined;
    const next = await this.#later(
      row,
      this.#pollDelay(row.polls),
      { polls: row.polls + 1, waitingReason: 'Meta is processing the media' },
      entry,
    );
    return { isReady: false, next };
  }

  /** What a failed step leads to: a wait, a retry with backoff, or the post failing with Meta's error. */
  async #stepFailed(row: PostRow, step: PostStep, error: GraphError): Promise<number | undefined> {
    const { options, logger } = this.#deps;
    const details = postErrorOf(error);
    const attempt = row.attempts + 1;
    const where = { postId: row.id, step, code: error.code, subcode: error.subcode, attempt };
    this.#deps.observe?.graphError(row.platform as PostPlatform, step, error.code);
    switch (postErrorKind(error)) {
      case 'limit':
        return this.#waitForLimit(row, `Meta refused: ${details.message}`, { publishStartedAt: null });
      case 'not-ready':
        return this.#later(row, this.#pollDelay(row.polls), { polls: row.polls + 1, publishStartedAt: null });
      case 'transient': {
        if (attempt >= options.maxAttempts) {
          logger.warn(where, 'Meta failed a publishing step transiently too many times: the post fails');
          return this.#fail(row, details, step, attempt, error.isOutcomeUnknown);
        }
        const delay = this.#backoff(attempt);
        logger.warn({ ...where, retryInMs: delay }, 'Meta failed a publishing step transiently: retrying');
        // Only an unanswered publishing call leaves the outcome open; a refused one did not post.
        const keepsInFlight = step === 'publish' && error.isOutcomeUnknown;
        return this.#later(
          row,
          delay,
          {
            attempts: attempt,
            waitingReason: `Meta failed transiently (${error.code ?? error.status}); retrying`,
            ...(keepsInFlight ? {} : { publishStartedAt: null }),
          },
          {
            step,
            attempt,
            error: details,
            detail: `retrying in ${Math.ceil(delay / 1000)} s`,
            isOutcomeUnknown: keepsInFlight,
          },
        );
      }
      default:
        logger.warn(where, 'Meta refused a publishing step: the post fails');
        if (error.classification === 'auth') await this.#alertReauthorize(row, details);
        return this.#fail(row, details, step, attempt);
    }
  }

  /**
   * Meta refused the channel's token (190, …): the post fails, and the operator hears of it, since
   * every post and send on the channel fails the same way until it is reauthorized.
   */
  async #alertReauthorize(row: PostRow, error: PostError): Promise<void> {
    const channel = laneOf(channelPlatformOf(row.platform as PostPlatform), row.channelId);
    await this.#deps.alert({
      // The channels and messages modules raise the same condition for the same channel.
      key: `channel:${channel}`,
      state: 'raised',
      type: 'reauthorize-channel',
      severity: 'critical',
      tenantId: row.tenantId,
      instanceId: row.instanceId,
      channel,
      message: `Meta refused the token of ${channel}: its posts fail until the channel is reauthorized`,
      details: { code: error.code, subcode: error.subcode, postId: row.id },
    });
  }

  /** The account is at its publishing limit: the post waits (and says so) and checks again later. */
  #waitForLimit(row: PostRow, reason: string, patch: PostPatch = {}): Promise<number | undefined> {
    const waitingReason = `publishing limit reached: ${reason}`;
    const entry = row.waitingReason === waitingReason ? undefined : { step: 'limit' as const, detail: reason };
    return this.#later(row, this.#deps.options.limitRecheckMs, { ...patch, waitingReason }, entry);
  }

  /** Calls Meta for one step; its GraphError becomes a StepFailed carrying the step. */
  async #step<T>(row: PostRow, step: PostStep, call: () => Promise<T>): Promise<T> {
    const holder = this.#holders.get(row.id);
    // Renewed before each call, so a run making many calls (a carousel) keeps its post.
    if (holder && row.runId && !(await this.#claim(row.id, row.runId, holder))) {
      throw new Error(`post ${row.id} was taken over by another run`);
    }
    try {
      return await call();
    } catch (error) {
      if (error instanceof GraphError) throw new StepFailed(row, step, error);
      throw error;
    }
  }

  /**
   * Goes on after `delayMs`: within this job for a short wait (answers the delay), or through a new
   * delayed job with a new run id (answers undefined). Undefined too when the post is no longer
   * this run's.
   */
  async #later(
    row: PostRow,
    delayMs: number,
    patch: PostPatch,
    entry?: Omit<TimelineEntry, 'state'>,
  ): Promise<number | undefined> {
    const { db, clock, queue } = this.#deps;
    const now = clock.now();
    const nextAttemptAt = new Date(now.getTime() + delayMs);
    const isInline = delayMs <= INLINE_WAIT_MAX_MS;
    const runId = isInline ? row.runId : uuidv7();
    const moved = await db.transaction(async (tx) => {
      const updated = await q.update(
        tx,
        row.id,
        { ...patch, nextAttemptAt, runId, updatedAt: now },
        { runId: row.runId },
      );
      if (!updated) return false;
      if (entry) await q.appendTimeline(tx, row.id, now, { ...entry, state: row.state as PostState });
      if (!isInline) {
        const job: PublishJob = { postId: row.id, runId: runId! };
        await queue.send(PUBLISH_QUEUE, job, { startAfter: nextAttemptAt }, tx);
      }
      return true;
    });
    return moved && isInline ? delayMs : undefined;
  }

  /** Updates the post while it is this run's; with `entry`, also adds it to the timeline. */
  async #save(row: PostRow, patch: PostPatch, entry?: Omit<TimelineEntry, 'state'>): Promise<PostRow | undefined> {
    const { db, clock } = this.#deps;
    const now = clock.now();
    return db.transaction(async (tx) => {
      const updated = await q.update(tx, row.id, { ...patch, updatedAt: now }, { runId: row.runId });
      if (updated && entry) await q.appendTimeline(tx, row.id, now, { ...entry, state: row.state as PostState });
      return updated;
    });
  }

  /**
   * Moves the post to `state` (only from its current state, and only while it is this run's, or
   * from `guard.from` for a cancel), adds the change to the timeline and delivers the event.
   */
  async #transition(
    row: PostRow,
    state: PostState,
    patch: PostPatch,
    entry: Omit<TimelineEntry, 'state'> = {},
    guard: { from?: readonly PostState[] } = {},
    raw: unknown = {},
  ): Promise<PostRow | undefined> {
    const { db, clock } = this.#deps;
    const now = clock.now();
    const moved = await db.transaction(async (tx) => {
      const updated = await q.update(
        tx,
        row.id,
        { ...patch, state, updatedAt: now },
        guard.from ? { from: guard.from } : { runId: row.runId, from: [row.state as PostState] },
      );
      if (!updated) return undefined;
      await q.appendTimeline(tx, row.id, now, { ...entry, state });
      await this.#deps.deliver(tx, [this.#event(updated, now, raw)]);
      return updated;
    });
    if (moved) this.#deps.observe?.state(moved.platform as PostPlatform, state);
    return moved;
  }

  async #fail(
    row: PostRow,
    error: PostError,
    step?: PostStep,
    attempt?: number,
    isOutcomeUnknown = false,
  ): Promise<undefined> {
    await persistently(
      () =>
        this.#transition(
          row,
          'failed',
          { error, runId: null, waitingReason: null, nextAttemptAt: null, publishStartedAt: null },
          { step, attempt, error, isOutcomeUnknown },
        ),
      { logger: this.#deps.logger, what: "recording Meta's answer" },
    );
    return undefined;
  }

  async #published(
    row: PostRow,
    publishedId: string | null,
    answer: unknown,
    entry: { isOutcomeUnknown?: boolean; detail?: string },
  ): Promise<void> {
    const now = this.#deps.clock.now();
    // A post Meta published must not go back to be published again: the database gets ~7 s to take it.
    await persistently(
      () =>
        this.#transition(
          row,
          'published',
          {
            publishedId,
            publishAnswer: answer ?? null,
            publishedAt: now,
            publishStartedAt: null,
            runId: null,
            waitingReason: null,
            nextAttemptAt: null,
            error: null,
          },
          { step: 'publish', attempt: row.attempts + 1, ...entry },
          {},
          answer && typeof answer === 'object' ? answer : {},
        ),
      { logger: this.#deps.logger, what: "recording Meta's answer" },
    );
    this.#deps.logger.info({ postId: row.id, platform: row.platform, publishedId }, 'post published');
  }

  #pollDelay(polls: number): number {
    const { pollInitialMs, pollMaxMs } = this.#deps.options;
    return Math.min(pollMaxMs, pollInitialMs * 2 ** Math.min(polls, 30));
  }

  /** Exponential backoff with jitter (half of it random). */
  #backoff(attempt: number): number {
    const { retryBaseMs, retryMaxMs } = this.#deps.options;
    const ceiling = Math.min(retryMaxMs, retryBaseMs * 2 ** Math.max(0, attempt - 1));
    return Math.round(ceiling / 2 + Math.random() * (ceiling / 2));
  }

  #summary(row: PostRow): PostSummary {
    return {
      id: row.id,
      channel: { kind: row.platform as PostPlatform, id: row.channelId },
      post: row.content as PostContent,
      state: row.state as PostState,
      publishAt: row.publishAt?.toISOString() ?? null,
      waitingReason: row.waitingReason,
      nextAttemptAt: TERMINAL.has(row.state) ? null : (row.nextAttemptAt?.toISOString() ?? null),
      containerId: row.containerId,
      publishedId: row.publishedId,
      error: (row.error as PostError | null) ?? null,
      createdAt: row.createdAt.toISOString(),
      publishedAt: row.publishedAt?.toISOString() ?? null,
    };
  }

  #event(row: PostRow, at: Date, raw: unknown): RoutedEvent {
    const platform = row.platform as PostPlatform;
    const data: PostEventData = {
      postId: row.id,
      channel: { kind: platform, id: row.channelId },
      state: row.state as PostState,
      at: at.toISOString(),
      publishAt: row.publishAt?.toISOString() ?? null,
      publishedId: row.publishedId,
      containerId: row.containerId,
      ...(row.error ? { error: row.error as PostError } : {}),
    };
    return {
      id: uuidv7(),
      instanceId: row.instanceId,
      tenantId: row.tenantId,
      type: `${platform}.post.${row.state}`,
      platform: channelPlatformOf(platform),
      channelId: row.channelId,
      // One sequence per post: its events reach the instance in order.
      conversationKey: `post:${row.id}`,
      occurredAt: at,
      receivedAt: this.#deps.clock.now(),
      data,
      raw,
      traceParent: childTraceParent(),
    };
  }
}
