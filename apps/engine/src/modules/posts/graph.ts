import { GraphError, type GraphClient } from '@mic/meta';
import type { InstagramCarouselItem, InstagramPostContent, PostError } from '@mic/contracts';

export type ContainerStatusCode = 'IN_PROGRESS' | 'FINISHED' | 'ERROR' | 'EXPIRED' | 'PUBLISHED';

export interface ContainerStatus {
  code: ContainerStatusCode;
  /** Meta's `status`: for ERROR, the error subcode and its text. */
  status: string | null;
}

export interface PublishingLimit {
  usage: number;
  total: number;
  durationSeconds: number;
}

const STATUS_CODES = new Set<string>(['IN_PROGRESS', 'FINISHED', 'ERROR', 'EXPIRED', 'PUBLISHED']);
/** Meta's default when an answer leaves the limit out. */
const DEFAULT_QUOTA_TOTAL = 100;

const idOf = (body: unknown, field = 'id'): string => {
  const value = (body as Record<string, unknown> | null)?.[field];
  if (typeof value === 'string' && value !== '') return value;
  if (typeof value === 'number') return String(value);
  throw new GraphError({ status: 200, message: `Graph API answered without ${field}` });
};

/**
 * The Graph API calls of publishing: Page posts and Instagram's container flow, through the
 * engine's Graph client (the token only in the `Authorization` header; every failure a GraphError,
 * a call Meta never answered `transient`, and it may have acted).
 */
export class PublishingGraph {
  readonly #graph: GraphClient;

  constructor(graph: GraphClient) {
    this.#graph = graph;
  }

  /** `POST /{page-id}/feed`: a text or link post. Answers Meta's body and the post id. */
  async pageFeed(pageId: string, token: string, params: { message?: string; link?: string }) {
    const body = await this.#graph.post(`${pageId}/feed`, token, params);
    return { id: idOf(body), body };
  }

  /** `POST /{page-id}/photos`: a photo post by URL. The post's id is `post_id` (`id` is the photo's). */
  async pagePhoto(pageId: string, token: string, params: { url: string; caption?: string }) {
    const body = await this.#graph.post(`${pageId}/photos`, token, params);
    const postId = (body as { post_id?: unknown } | null)?.post_id;
    return { id: typeof postId === 'string' && postId !== '' ? postId : idOf(body), body };
  }

  /** `POST /{ig-user-id}/media`: a media container; answers its id. */
  async createContainer(igUserId: string, token: string, params: Record<string, string | boolean>): Promise<string> {
    return idOf(await this.#graph.post(`${igUserId}/media`, token, params));
  }

  /** `GET /{container-id}?fields=status_code,status`. */
  async containerStatus(containerId: string, token: string): Promise<ContainerStatus> {
    const body = (await this.#graph.get(containerId, token, { fields: 'status_code,status' })) as Record<
      string,
      unknown
    > | null;
    const code = body?.status_code;
    if (typeof code !== 'string' || !STATUS_CODES.has(code)) {
      throw new GraphError({ status: 200, message: 'Graph API answered without a known status_code' });
    }
    return { code: code as ContainerStatusCode, status: typeof body?.status === 'string' ? body.status : null };
  }

  /** `POST /{ig-user-id}/media_publish`: publishes a FINISHED container; answers the media id. */
  async publishContainer(igUserId: string, token: string, containerId: string) {
    const body = await this.#graph.post(`${igUserId}/media_publish`, token, { creation_id: containerId });
    return { id: idOf(body), body };
  }

  /** `GET /{ig-user-id}/content_publishing_limit?fields=quota_usage,config`. */
  async publishingLimit(igUserId: string, token: string): Promise<PublishingLimit> {
    const body = await this.#graph.get(`${igUserId}/content_publishing_limit`, token, {
      fields: 'quota_usage,config',
    });
    const entry = ((body as { data?: unknown } | null)?.data as Record<string, unknown>[] | undefined)?.[0];
    const usage = entry?.quota_usage;
    if (typeof usage !== 'number') {
      throw new GraphError({ status: 200, message: 'Graph API answered without quota_usage' });
    }
    const config = (entry?.config ?? {}) as { quota_total?: unknown; quota_duration?: unknown };
    return {
      usage,
      total: typeof config.quota_total === 'number' ? config.quota_total : DEFAULT_QUOTA_TOTAL,
      durationSeconds: typeof config.quota_duration === 'number' ? config.quota_duration : 86_400,
    };
  }
}

/** The container parameters of a single-media post (an image or a reel). */
export function containerParams(
  content: Exclude<InstagramPostContent, { type: 'carousel' }>,
): Record<string, string | boolean> {
  const caption: Record<string, string> = content.caption === undefined ? {} : { caption: content.caption };
  if (content.type === 'image') return { image_url: content.imageUrl, ...caption };
  return {
    media_type: 'REELS',
    video_url: content.videoUrl,
    ...caption,
    ...(content.coverUrl === undefined ? {} : { cover_url: content.coverUrl }),
    ...(content.shareToFeed === undefined ? {} : { share_to_feed: content.shareToFeed }),
  };
}

/** The container parameters of one carousel item (validated: an image has imageUrl, a video videoUrl). */
export function itemContainerParams(item: InstagramCarouselItem): Record<string, string | boolean> {
  return item.type === 'image'
    ? { image_url: item.imageUrl ?? '', is_carousel_item: true }
    : { media_type: 'VIDEO', video_url: item.videoUrl ?? '', is_carousel_item: true };
}

/**
 * What publishing does about a Graph error:
 * - `limit`: the account's publishing limit (code 9, subcode 2207042): the post waits.
 * - `not-ready`: the container is still processing (9007, subcode 2207027): poll again.
 * - `transient`: Meta's side or throttling (network, 5xx, 1, 2, 4, 17, 32, 613, Instagram's -1
 *   and -2 download and server errors that Meta marks transient): retry with backoff.
 * - `permanent`: anything else: the post fails with Meta's code and text.
 */
export type PostErrorKind = 'limit' | 'not-ready' | 'transient' | 'permanent';

export function postErrorKind(error: GraphError): PostErrorKind {
  if (error.code === 9 && error.subcode === 2207042) return 'limit';
  if (error.code === 9007 && error.subcode === 2207027) return 'not-ready';
  if (error.classification === 'transient' || error.classification === 'rate-limited') return 'transient';
  // Instagram's server (-1) and download timeout (-2) errors, unless Meta says retrying will not help.
  if ((error.code === -1 || error.code === -2) && error.subcode !== 2207020) return 'transient';
  return 'permanent';
}

export function postErrorOf(error: GraphError): PostError {
  return {
    code: error.code,
    subcode: error.subcode,
    title: error.type ?? 'Graph API error',
    message: error.details ? `${error.message}: ${error.details}` : error.message,
  };
}
