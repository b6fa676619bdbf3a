import { openAsBlob } from 'node:fs';
import { GraphError, type GraphMediaClient, type MetaAnswer } from '@mic/meta';
import type { Clock, Db, Logger } from '@mic/platform';
import type { RoutedEvent } from '../delivery/index.ts';
import {
  channelNotConnected,
  mediaDownloadFailed,
  metaUnreachable,
  unexpectedAnswer,
  unknownObject,
} from './errors.ts';
import * as store from './store.ts';

const DAY_MS = 24 * 60 * 60 * 1000;
/** Meta keeps an uploaded media id 30 days, one from a webhook 7. */
const UPLOADED_TTL_MS = 30 * DAY_MS;
const RECEIVED_TTL_MS = 7 * DAY_MS;
/** Meta's media URL lives 5 minutes; one older than this is looked up again before a download. */
const META_URL_FRESH_MS = 4 * 60 * 1000;

/** Who calls: the instance the engine token names, and its tenant. */
export interface MediaCaller {
  instanceId: string;
  tenantId: string;
}

/** A file an instance uploaded, spooled to disk by the route. */
export interface SpooledFile {
  path: string;
  size: number;
  mimeType: string;
  filename: string | undefined;
}

/** A download: Meta's response, its body still to be streamed; or an answer in Meta's terms. */
export type MediaDownload = { kind: 'stream'; response: Response } | { kind: 'answer'; answer: MetaAnswer };

export interface GraphMediaDeps {
  db: Db;
  clock: Clock;
  client: GraphMediaClient;
  logger: Logger;
  /** The Meta token of a WhatsApp number, from the secret store. */
  accessToken: (phoneNumberId: string) => Promise<string | null>;
  /** Whether the WhatsApp number is one of the instance's channels now. */
  isChannelOf: (instanceId: string, phoneNumberId: string) => boolean;
}

const errorCode = (answer: MetaAnswer): number | null => {
  const code = (answer.body as { error?: { code?: unknown } } | null)?.error?.code;
  return typeof code === 'number' ? code : null;
};

/**
 * WhatsApp media through the Graph-compatible API: uploads, lookups, deletes and downloads with the
 * channel's Meta token, for the media ids the instance may reach (its uploads and the media of the
 * inbound messages routed to it). Meta's answers are passed on unchanged, except the lookup's `url`,
 * which points at the engine's download proxy since Meta's needs Meta's token. Every call is
 * recorded in `graph_media_calls` and logged.
 */
export class GraphMediaService {
  readonly #deps: GraphMediaDeps;

  constructor(deps: GraphMediaDeps) {
    this.#deps = deps;
  }

  /**
   * Records the media ids of newly routed inbound WhatsApp messages for their instance, inside the
   * transaction that stores them; adds no event.
   */
  async recordReceived(tx: Db, events: readonly RoutedEvent[]): Promise<RoutedEvent[]> {
    const now = this.#deps.clock.now();
    const rows = [];
    for (const event of events) {
      if (event.type !== 'whatsapp.message.received' || !event.channelId) continue;
      const mediaId = (event.data as { media?: { id?: unknown } } | null)?.media?.id;
      if (typeof mediaId !== 'string' || mediaId === '') continue;
      rows.push({
        instanceId: event.instanceId,
        tenantId: event.tenantId,
        mediaId,
        channelId: event.channelId,
        origin: 'received',
        createdAt: now,
        expiresAt: new Date(now.getTime() + RECEIVED_TTL_MS),
      });
    }
    await store.addMedia(tx, rows);
    return [];
  }

  /** `POST /{phone-number-id}/media` with the spooled file, streamed from disk to Meta. */
  async upload(caller: MediaCaller, phoneNumberId: string, file: SpooledFile): Promise<MetaAnswer> {
    const audit = { action: 'upload', channelId: phoneNumberId, bytes: file.size };
    const token = await this.#deps.accessToken(phoneNumberId);
    if (!token) return this.audited(caller, { ...audit, mediaId: null }, channelNotConnected(phoneNumberId));
    const blob = await openAsBlob(file.path, { type: file.mimeType });
    const answer = await this.#meta(() =>
      this.#deps.client.upload(
        phoneNumberId,
        { blob, type: file.mimeType, ...(file.filename ? { filename: file.filename } : {}) },
        token,
      ),
    );
    const mediaId = (answer.body as { id?: unknown } | null)?.id;
    if (answer.status === 200 && typeof mediaId === 'string') {
      const now = this.#deps.clock.now();
      await store.addMedia(this.#deps.db, [
        {
          ...caller,
          mediaId,
          channelId: phoneNumberId,
          origin: 'uploaded',
          createdAt: now,
          expiresAt: new Date(now.getTime() + UPLOADED_TTL_MS),
        },
      ]);
      await store.pruneMedia(this.#deps.db, new Date(now.getTime() - DAY_MS));
      return this.audited(caller, { ...audit, mediaId }, answer);
    }
    return this.audited(caller, { ...audit, mediaId: null }, answer);
  }

  /**
   * `GET /{media-id}`: Meta's answer with its `url` replaced by `downloadUrl`, the engine's proxy.
   * `phoneNumberId`, when the caller gives it, must be the number the media belongs to.
   */
  async lookup(
    caller: MediaCaller,
    mediaId: string,
    phoneNumberId: string | undefined,
    downloadUrl: string,
  ): Promise<MetaAnswer> {
    const reachable = await this.#reachable(caller, mediaId, phoneNumberId);
    const audit = { action: 'lookup', mediaId, channelId: reachable.row?.channelId ?? null };
    if (!reachable.token) return this.audited(caller, audit, reachable.refusal ?? unknownObject('GET', mediaId));
    const answer = await this.#retrieve(caller, reachable.row!, reachable.token);
    if (answer.status !== 200) return this.audited(caller, audit, answer);
    const body = answer.body as Record<string, unknown>;
    return this.audited(caller, audit, { status: 200, body: { ...body, url: downloadUrl } });
  }

  /** `DELETE /{media-id}`: deleted at Meta, then forgotten here. */
  async remove(caller: MediaCaller, mediaId: string, phoneNumberId: string | undefined): Promise<MetaAnswer> {
    const reachable = await this.#reachable(caller, mediaId, phoneNumberId);
    const audit = { action: 'delete', mediaId, channelId: reachable.row?.channelId ?? null };
    if (!reachable.token) return this.audited(caller, audit, reachable.refusal ?? unknownObject('DELETE', mediaId));
    const row = reachable.row!;
    const answer = await this.#meta(() => this.#deps.client.remove(mediaId, reachable.token!, row.channelId));
    if (answer.status === 200) await store.deleteMedia(this.#deps.db, mediaId);
    return this.audited(caller, audit, answer);
  }

  /**
   * The download proxy: Meta's media URL (the last lookup's while fresh, else a new lookup) fetched
   * with the channel's token. A cached URL Meta refuses is looked up once more.
   */
  async download(caller: MediaCaller, mediaId: string, signal?: AbortSignal): Promise<MediaDownload> {
    const reachable = await this.#reachable(caller, mediaId, undefined);
    const row = reachable.row;
    const audit = { action: 'download', mediaId, channelId: row?.channelId ?? null };
    const answered = (answer: MetaAnswer): MediaDownload => ({ kind: 'answer', answer });
    if (!reachable.token || !row) {
      return answered(await this.audited(caller, audit, reachable.refusal ?? unknownObject('GET', mediaId)));
    }
    const token = reachable.token;
    const isCachedFresh =
      row.metaUrl !== null &&
      row.metaUrlAt !== null &&
      this.#deps.clock.now().getTime() - row.metaUrlAt.getTime() < META_URL_FRESH_MS;
    let url = isCachedFresh ? row.metaUrl! : null;
    for (let attempt = 0; attempt < 2; attempt += 1) {
      if (url === null) {
        const answer = await this.#retrieve(caller, row, token);
        if (answer.status !== 200) return answered(await this.audited(caller, audit, answer));
        url = (answer.body as { url: string }).url;
      }
      let response: Response;
      try {
        response = await this.#deps.client.download(url, token, signal);
      } catch (error) {
        if (error instanceof GraphError) return answered(await this.audited(caller, audit, metaUnreachable()));
        this.#deps.logger.warn({ mediaId, err: error }, "media URL refused: not one of Meta's hosts");
        return answered(await this.audited(caller, audit, mediaDownloadFailed('Meta answered an unexpected URL')));
      }
      if (response.ok && response.body) {
        const length = response.headers.get('content-length');
        await this.audited(
          caller,
          { ...audit, bytes: length === null || !/^\d+$/.test(length) ? null : Number(length) },
          { status: 200, body: null },
        );
        return { kind: 'stream', response };
      }
      const text = await response.text().catch(() => '');
      if (isCachedFresh && attempt === 0) {
        url = null;
        continue;
      }
      let body: unknown;
      try {
        body = JSON.parse(text);
      } catch {
        body = null;
      }
      const isGraphError = !!(body && typeof body === 'object' && 'error' in body);
      return answered(
        await this.audited(
          caller,
          audit,
          isGraphError
            ? { status: response.status, body }
            : mediaDownloadFailed(`Meta answered HTTP ${response.status} for the media`),
        ),
      );
    }
    return answered(await this.audited(caller, audit, mediaDownloadFailed('Meta refused the media URL')));
  }

  /** The row and token of a media id the caller may reach, or why not (an answer for the caller). */
  async #reachable(
    caller: MediaCaller,
    mediaId: string,
    phoneNumberId: string | undefined,
  ): Promise<{ row?: store.MediaRow; token?: string; refusal?: MetaAnswer }> {
    const row = await store.getMedia(this.#deps.db, caller.instanceId, mediaId);
    if (!row || (phoneNumberId !== undefined && phoneNumberId !== row.channelId)) return {};
    // Once its number moves to another instance, the media is no longer this one's to reach.
    if (!this.#deps.isChannelOf(caller.instanceId, row.channelId)) return {};
    const token = await this.#deps.accessToken(row.channelId);
    if (!token) return { row, refusal: channelNotConnected(row.channelId) };
    return { row, token };
  }

  async #retrieve(caller: MediaCaller, row: store.MediaRow, token: string): Promise<MetaAnswer> {
    const answer = await this.#meta(() => this.#deps.client.retrieve(row.mediaId, token, row.channelId));
    const url = (answer.body as { url?: unknown } | null)?.url;
    if (answer.status === 200 && typeof url === 'string') {
      await store.setMetaUrl(this.#deps.db, caller.instanceId, row.mediaId, url, this.#deps.clock.now());
      return answer;
    }
    if (answer.status === 200) return mediaDownloadFailed('Meta answered the lookup without a URL');
    return answer;
  }

  /** A Meta call; one Meta never answered becomes the temporary error a client retries. */
  async #meta(call: () => Promise<MetaAnswer>): Promise<MetaAnswer> {
    try {
      const answer = await call();
      const isGraphError = !!(answer.body && typeof answer.body === 'object' && 'error' in answer.body);
      if (answer.status < 400 || isGraphError) return answer;
      // A proxy's page or an empty body: the client still gets a Graph error to handle.
      return answer.status >= 500 ? metaUnreachable() : unexpectedAnswer(answer.status);
    } catch (error) {
      if (!(error instanceof GraphError)) throw error;
      this.#deps.logger.warn({ err: error }, 'Meta did not answer a media call');
      return metaUnreachable();
    }
  }

  /** Records a media call and what the instance was answered; answers it. */
  async audited(
    caller: MediaCaller,
    call: { action: string; mediaId: string | null; channelId: string | null; bytes?: number | null },
    answer: MetaAnswer,
  ): Promise<MetaAnswer> {
    const code = errorCode(answer);
    const entry = { ...caller, ...call, bytes: call.bytes ?? null, status: answer.status, code };
    this.#deps.logger.info(entry, `graph media ${call.action}`);
    await store.recordCall(this.#deps.db, { ...entry, at: this.#deps.clock.now() });
    return answer;
  }
}
