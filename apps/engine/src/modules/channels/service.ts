import { uuidv7 } from 'uuidv7';
import {
  GraphError,
  INSTAGRAM_PAGE_FIELDS,
  MESSENGER_PAGE_FIELDS,
  graphErrorFromNetwork,
  type GraphClient,
} from '@mic/meta';
import { Problem, problems, type Clock, type Db, type JobQueue, type Logger } from '@mic/platform';
import type {
  ChannelConnection,
  ChannelConnectionError,
  ChannelPlatform,
  MetaSubscriptionState,
  PutChannelConnection,
} from '@mic/contracts';
import type { SecretStore } from '../secrets/index.ts';
import { connectionQueries as q, type ConnectionRow } from './store.ts';

export const SUBSCRIBE_QUEUE = 'channel-subscribe';

/** A background retry of a failed subscription: the chain it belongs to, and its place in the schedule. */
export interface SubscribeJob {
  platform: ChannelPlatform;
  channelId: string;
  retryId: string;
  attempt: number;
}

export type ConnectionFailedListener = (connection: ChannelConnection) => Promise<void> | void;

export const DEFAULT_META_APP_NAME = 'default';

/** Where a channel's access token lives in the secret store. */
export const channelTokenRef = (platform: ChannelPlatform, channelId: string) =>
  `channel/${platform}/${channelId}/access-token`;

/** The page fields each platform subscribes to; a WhatsApp Business Account takes none. */
function fieldsFor(platform: ChannelPlatform): readonly string[] | undefined {
  if (platform === 'messenger') return MESSENGER_PAGE_FIELDS;
  if (platform === 'instagram') return INSTAGRAM_PAGE_FIELDS;
  return undefined;
}

function errorOf(error: GraphError, at: Date): ChannelConnectionError {
  return {
    code: error.code,
    subcode: error.subcode,
    message: error.message,
    classification: error.classification,
    fbtraceId: error.fbtraceId,
    at: at.toISOString(),
  };
}

function asGraphError(error: unknown, timeoutMs: number): GraphError {
  if (error instanceof GraphError) return error;
  // Anything else thrown by the client (a bad object id, a bug) is not Meta's answer: surface it.
  if (error instanceof TypeError) throw error;
  return graphErrorFromNetwork(error, timeoutMs);
}

export interface ChannelConnectionsDeps {
  db: Db;
  queue: JobQueue;
  clock: Clock;
  secrets: SecretStore;
  graph: GraphClient;
  logger: Pick<Logger, 'info' | 'warn' | 'error'>;
  /** Delay before each background retry of a subscription Meta failed transiently. */
  retrySchedule: readonly number[];
}

/**
 * Channels' connections to Meta. Connecting stores the token in the secret store first (so a
 * failed subscription keeps it, for a retry), then subscribes the Meta app to the channel's
 * webhooks; a transient failure is retried in the background on a schedule, an auth failure waits
 * for a new token (listeners of `onConnectionFailed` hear of it). No answer carries the token.
 */
export class ChannelConnections {
  readonly #deps: ChannelConnectionsDeps;
  readonly #listeners: ConnectionFailedListener[] = [];
  readonly #subscribedListeners: ((platform: ChannelPlatform, channelId: string) => Promise<void>)[] = [];

  constructor(deps: ChannelConnectionsDeps) {
    this.#deps = deps;
  }

  /**
   * Called when a connection ends up `failed` with nothing left to try by itself: Meta refused the
   * token (classification `auth`: reauthorize the channel), a permission or request error, or the
   * background retries ran out.
   */
  onConnectionFailed(listener: ConnectionFailedListener): void {
    this.#listeners.push(listener);
  }

  /** Called when Meta accepts a subscription (a new token for a channel that failed, say). */
  onSubscribed(listener: (platform: ChannelPlatform, channelId: string) => Promise<void>): void {
    this.#subscribedListeners.push(listener);
  }

  async get(platform: ChannelPlatform, channelId: string): Promise<ChannelConnection | null> {
    const row = await q.get(this.#deps.db, platform, channelId);
    return row ? this.#describe(row) : null;
  }

  async list(): Promise<ChannelConnection[]> {
    return Promise.all((await q.all(this.#deps.db)).map((row) => this.#describe(row)));
  }

  /** The channel's access token, for the engine's own calls to Meta; null when none is stored. */
  async accessToken(platform: ChannelPlatform, channelId: string): Promise<string | null> {
    return this.#deps.secrets.reveal(channelTokenRef(platform, channelId));
  }

  /** Stores (or replaces) the channel's token and subscribes the app to its webhooks. */
  async connect(platform: ChannelPlatform, channelId: string, body: PutChannelConnection): Promise<ChannelConnection> {
    const { db, secrets, clock, graph, logger } = this.#deps;
    const previous = await q.get(db, platform, channelId);
    if (previous && previous.objectId !== body.objectId && previous.state === 'subscribed') {
      // The channel moved to another business account or page: the old one stops sending us its webhooks.
      const oldToken = await this.accessToken(platform, channelId);
      if (oldToken) {
        await graph.unsubscribeApp(previous.objectId, oldToken).catch((error: unknown) => {
          logger.warn({ err: error, platform, channelId, objectId: previous.objectId }, 'old subscription not removed');
        });
      }
    }
    await secrets.put(channelTokenRef(platform, channelId), 'meta-access-token', body.accessToken);
    await q.upsert(db, {
      platform,
      channelId,
      objectId: body.objectId,
      metaApp: body.metaApp ?? DEFAULT_META_APP_NAME,
      // Until Meta answers, the stored state is the previous one's (or failed: not subscribed yet).
      state: previous?.objectId === body.objectId ? previous.state : 'failed',
      subscribedAt: previous?.objectId === body.objectId ? previous.subscribedAt : null,
      lastError: previous?.lastError ?? null,
      retryId: null,
      updatedAt: clock.now(),
    });
    return this.#subscribe(platform, channelId, body.accessToken);
  }

  /** Tries the subscription again now with the stored token. */
  async resubscribe(platform: ChannelPlatform, channelId: string): Promise<ChannelConnection> {
    await this.#require(platform, channelId);
    const token = await this.accessToken(platform, channelId);
    if (!token) {
      throw new Problem({
        status: 409,
        type: 'channel-token-missing',
        title: 'The channel has no stored access token',
        detail: `connect ${platform} channel ${channelId} again with an access token`,
        platform,
        channelId,
      });
    }
    return this.#subscribe(platform, channelId, token);
  }

  /**
   * Unsubscribes the app at Meta and deletes the token. Best effort: when Meta refuses (an expired
   * token, say) the token is deleted all the same and the answer carries Meta's error. Only while
   * Meta is unreachable or throttling, and the app is subscribed, does it refuse and keep the
   * token, so that the unsubscription can be tried again.
   */
  async disconnect(platform: ChannelPlatform, channelId: string): Promise<ChannelConnection> {
    const { db, secrets, graph, clock, logger } = this.#deps;
    const row = await this.#require(platform, channelId);
    const ref = channelTokenRef(platform, channelId);
    const token = await secrets.reveal(ref);
    let lastError: ChannelConnectionError | null = null;
    if (token) {
      try {
        await graph.unsubscribeApp(row.objectId, token);
      } catch (thrown) {
        const error = asGraphError(thrown, graph.timeoutMs);
        if (error.isRetryable && row.state === 'subscribed') {
          throw new Problem({
            status: 503,
            type: 'meta-unavailable',
            title: 'Meta did not unsubscribe the channel; try again later',
            detail: error.message,
            code: error.code,
            classification: error.classification,
          });
        }
        lastError = errorOf(error, clock.now());
      }
      await secrets.remove(ref);
    }
    const updated = await q.update(db, platform, channelId, {
      state: 'unsubscribed',
      subscribedAt: null,
      lastError,
      retryId: null,
      updatedAt: clock.now(),
    });
    logger.info(
      { platform, channelId, objectId: row.objectId, metaCode: lastError?.code ?? null },
      lastError ? 'channel token deleted; Meta refused the unsubscription' : 'channel unsubscribed and token deleted',
    );
    return this.#describe(updated!);
  }

  /** Runs one background retry (the `channel-subscribe` job). */
  async retry(job: SubscribeJob): Promise<void> {
    const row = await q.get(this.#deps.db, job.platform, job.channelId);
    // A newer connect, resubscribe or disconnect has taken over: this chain ends here.
    if (!row || row.retryId !== job.retryId) return;
    const token = await this.accessToken(job.platform, job.channelId);
    if (!token) {
      await q.update(this.#deps.db, job.platform, job.channelId, { retryId: null, updatedAt: this.#deps.clock.now() });
      return;
    }
    await this.#attempt(row, token, job.attempt);
  }

  async #subscribe(platform: ChannelPlatform, channelId: string, token: string): Promise<ChannelConnection> {
    const row = await this.#require(platform, channelId);
    return this.#describe(await this.#attempt(row, token, 0));
  }

  /** One subscription attempt; `attempt` is 0 for the caller's own, n for the n-th background retry. */
  async #attempt(row: ConnectionRow, token: string, attempt: number): Promise<ConnectionRow> {
    const { db, graph, clock, queue, logger, retrySchedule } = this.#deps;
    const { platform, channelId } = row;
    const where = { platform, channelId, objectId: row.objectId, attempt };
    try {
      await graph.subscribeApp(row.objectId, token, fieldsFor(platform as ChannelPlatform));
    } catch (thrown) {
      const error = asGraphError(thrown, graph.timeoutMs);
      const now = clock.now();
      const delay = error.isRetryable ? retrySchedule[attempt] : undefined;
      const retryId = delay === undefined ? null : uuidv7();
      const failed = await db.transaction(async (tx) => {
        const updated = await q.update(tx, platform, channelId, {
          state: 'failed',
          subscribedAt: null,
          lastError: errorOf(error, now),
          retryId,
          updatedAt: now,
        });
        if (retryId !== null) {
          const job: SubscribeJob = { platform: platform as ChannelPlatform, channelId, retryId, attempt: attempt + 1 };
          await queue.send(SUBSCRIBE_QUEUE, job, { startAfter: new Date(now.getTime() + delay!) }, tx);
        }
        return updated!;
      });
      const fields = {
        ...where,
        code: error.code,
        subcode: error.subcode,
        classification: error.classification,
        metaMessage: error.message,
      };
      if (retryId !== null) {
        logger.warn({ ...fields, retryInMs: delay }, 'Meta did not subscribe the channel; retrying in the background');
      } else {
        logger.warn(fields, 'Meta did not subscribe the channel');
        await this.#notifyFailed(failed);
      }
      return failed;
    }
    const now = clock.now();
    const subscribed = await q.update(db, platform, channelId, {
      state: 'subscribed' satisfies MetaSubscriptionState,
      subscribedAt: now,
      lastError: null,
      retryId: null,
      updatedAt: now,
    });
    logger.info(where, 'channel subscribed to Meta webhooks');
    for (const listener of this.#subscribedListeners) await listener(platform as ChannelPlatform, channelId);
    return subscribed!;
  }

  async #notifyFailed(row: ConnectionRow): Promise<void> {
    if (this.#listeners.length === 0) return;
    const connection = await this.#describe(row);
    for (const listener of this.#listeners) {
      try {
        await listener(connection);
      } catch (error) {
        this.#deps.logger.error({ err: error, platform: row.platform, channelId: row.channelId }, 'listener failed');
      }
    }
  }

  async #require(platform: ChannelPlatform, channelId: string): Promise<ConnectionRow> {
    const row = await q.get(this.#deps.db, platform, channelId);
    if (!row) throw problems.notFound(`no connection for ${platform} channel ${channelId}`);
    return row;
  }

  async #describe(row: ConnectionRow): Promise<ChannelConnection> {
    const ref = channelTokenRef(row.platform as ChannelPlatform, row.channelId);
    const info = await this.#deps.secrets.info(ref);
    return {
      platform: row.platform,
      channelId: row.channelId,
      objectId: row.objectId,
      metaApp: row.metaApp,
      state: row.state as MetaSubscriptionState,
      subscribedAt: row.subscribedAt?.toISOString() ?? null,
      retrying: row.retryId !== null,
      error: row.lastError,
      tokenRef: info ? ref : null,
      tokenFingerprint: info?.current.fingerprint ?? null,
      tokenLast4: info?.current.last4 ?? null,
      updatedAt: row.updatedAt.toISOString(),
    };
  }
}
