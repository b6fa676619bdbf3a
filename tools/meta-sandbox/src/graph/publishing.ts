import { randomBytes } from 'node:crypto';
import type { IncomingMessage } from 'node:http';

/**
 * The publishing side of the Graph sandbox: Facebook Page posts (`POST /{page-id}/feed`,
 * `POST /{page-id}/photos`) and Instagram's container flow (`POST /{ig-user-id}/media`,
 * `GET /{container-id}?fields=status_code`, `POST /{ig-user-id}/media_publish`,
 * `GET /{ig-user-id}/content_publishing_limit`), answered as Meta does. Containers take a
 * configurable time to become FINISHED, or end in ERROR when their URL carries the error marker;
 * the publishing limit counts the posts published in the moving 24 h. Sources: Meta's Pages API
 * "Posts" and "Photos" references; Instagram Platform "Content Publishing", "IG Container",
 * "IG User Media Publish", "IG User Content Publishing Limit" and "Error Codes".
 */

export const PUBLISHING_EDGES = [
  'feed',
  'photos',
  'media',
  'media_publish',
  'content_publishing_limit',
  'container',
] as const;
/** `container`: `GET /{container-id}`, the one publishing call on an object that is not registered. */
export type PublishingEdge = (typeof PUBLISHING_EDGES)[number];

export const isPublishingEdge = (value: unknown): value is PublishingEdge =>
  (PUBLISHING_EDGES as readonly unknown[]).includes(value);

/** The publishing edge a path names (`[id, edge]`, or `[container-id]` of a known container), or null. */
export function publishingEdgeOf(
  parts: readonly string[],
  isContainer: (id: string) => boolean,
): PublishingEdge | null {
  if (parts.length === 1) return isContainer(parts[0]!) ? 'container' : null;
  if (parts.length === 2 && isPublishingEdge(parts[1]) && parts[1] !== 'container') return parts[1];
  return null;
}

/** Meta's default: 100 API-published posts per Instagram account in a moving 24 h. */
export const DEFAULT_PUBLISHING_LIMIT = 100;
const QUOTA_DURATION_S = 86_400;
/** Containers not published within 24 h expire. */
const CONTAINER_TTL_MS = 86_400_000;

export interface PublishingOptions {
  /** How long an image container stays IN_PROGRESS. Default 0. */
  containerDelayMs?: number;
  /** How long a video or reel container stays IN_PROGRESS. Default 1,000 ms. */
  videoContainerDelayMs?: number;
  /** Posts per Instagram account per moving 24 h. Default 100. */
  publishingLimit?: number;
  /** A media URL containing this makes its container end in ERROR (and a Page photo fail). Default `sandbox-error`. */
  errorUrlMarker?: string;
}

export type PublishingConfig = Required<PublishingOptions>;

export type ContainerStatus = 'IN_PROGRESS' | 'FINISHED' | 'ERROR' | 'EXPIRED' | 'PUBLISHED';

/** An Instagram media container as the sandbox keeps it. */
export interface SandboxContainer {
  id: string;
  objectId: string;
  mediaType: 'IMAGE' | 'VIDEO' | 'REELS' | 'CAROUSEL';
  isCarouselItem: boolean;
  children: string[];
  url: string | null;
  caption: string | null;
  createdAtMs: number;
  readyAtMs: number;
  isError: boolean;
  mediaId: string | null;
}

/** A post the sandbox published. Never the token. */
export interface SandboxPost {
  /** Meta's id: `{page-id}_{post-id}` (Page), the media id (Instagram). */
  id: string;
  objectId: string;
  platform: 'facebook' | 'instagram';
  /** feed (a text or link post), photo, or the container's media type (IMAGE, REELS, CAROUSEL). */
  kind: string;
  /** The request's parameters (Page posts) or the published container's fields (Instagram). */
  params: Record<string, string>;
  containerId: string | null;
  at: string;
  atMs: number;
}

/** What the publishing side needs of the object a call names. */
export interface PublishingObject {
  id: string;
  kind: string;
}

export interface PublishingAnswer {
  status: number;
  body: unknown;
}

const fbtraceId = () => randomBytes(8).toString('base64url');
const numericId = (digits = 17) => {
  let id = String(1 + Math.floor(Math.random() * 9));
  while (id.length < digits) id += String(Math.floor(Math.random() * 10));
  return id;
};

function error(
  status: number,
  code: number,
  message: string,
  extra: { subcode?: number; type?: string; isTransient?: boolean; userTitle?: string; userMessage?: string } = {},
): PublishingAnswer {
  return {
    status,
    body: {
      error: {
        message,
        type: extra.type ?? 'OAuthException',
        ...(extra.isTransient === undefined ? {} : { is_transient: extra.isTransient }),
        code,
        ...(extra.subcode === undefined ? {} : { error_subcode: extra.subcode }),
        ...(extra.userTitle === undefined ? {} : { error_user_title: extra.userTitle }),
        ...(extra.userMessage === undefined ? {} : { error_user_msg: extra.userMessage }),
        fbtrace_id: fbtraceId(),
      },
    },
  };
}

const unsupported = (method: string, objectId: string) =>
  error(
    400,
    100,
    `Unsupported ${method.toLowerCase()} request. Object with ID '${objectId}' does not exist, cannot be loaded due to missing permissions, or does not support this operation. Please read the Graph API documentation at https://developers.facebook.com/docs/graph-api`,
    { subcode: 33, type: 'GraphMethodException' },
  );
const missing = (name: string) => error(400, 100, `(#100) The parameter ${name} is required`);

/** Meta takes a call's parameters in the query string, a form body or a JSON body. */
export async function readParams(req: IncomingMessage, url: URL): Promise<Record<string, string>> {
  const params: Record<string, string> = {};
  for (const [key, value] of url.searchParams) params[key] = value;
  const chunks: Buffer[] = [];
  for await (const chunk of req) chunks.push(chunk as Buffer);
  const text = Buffer.concat(chunks).toString('utf8');
  if (text === '') return params;
  if ((req.headers['content-type'] ?? '').includes('application/json')) {
    const body = JSON.parse(text) as unknown;
    if (body && typeof body === 'object' && !Array.isArray(body)) {
      for (const [key, value] of Object.entries(body)) {
        params[key] = typeof value === 'string' ? value : JSON.stringify(value);
      }
    }
    return params;
  }
  for (const [key, value] of new URLSearchParams(text)) params[key] = value;
  return params;
}

/** The sandbox's pages and Instagram accounts publishing, with their containers and limits. */
export class GraphPublishing {
  readonly #config: PublishingConfig;
  readonly #now: () => number;
  readonly #containers = new Map<string, SandboxContainer>();
  readonly #posts: SandboxPost[] = [];
  /** Per Instagram account: when each of its API-published posts went out (ms), for the moving 24 h. */
  readonly #published = new Map<string, number[]>();
  readonly #limits = new Map<string, number>();

  constructor(options: PublishingOptions = {}, now: () => number = Date.now) {
    this.#config = {
      containerDelayMs: options.containerDelayMs ?? 0,
      videoContainerDelayMs: options.videoContainerDelayMs ?? 1_000,
      publishingLimit: options.publishingLimit ?? DEFAULT_PUBLISHING_LIMIT,
      errorUrlMarker: options.errorUrlMarker ?? 'sandbox-error',
    };
    this.#now = now;
  }

  get config(): PublishingConfig {
    return { ...this.#config };
  }

  /** Changes the container delays, the default limit or the error marker from now on. */
  configure(options: PublishingOptions): void {
    for (const [key, value] of Object.entries(options) as [keyof PublishingOptions, unknown][]) {
      if (value === undefined) continue;
      if (key === 'errorUrlMarker') {
        if (typeof value !== 'string' || value === '') throw new TypeError('errorUrlMarker must be a non-empty string');
        this.#config.errorUrlMarker = value;
      } else {
        if (typeof value !== 'number' || !Number.isFinite(value) || value < 0) {
          throw new RangeError(`${key} must be a number of 0 or more`);
        }
        this.#config[key] = value;
      }
    }
  }

  /** The account's own limit (posts per moving 24 h) instead of the default. */
  setLimit(objectId: string, limit: number): void {
    if (!Number.isInteger(limit) || limit < 0) throw new RangeError('limit must be a whole number of 0 or more');
    this.#limits.set(objectId, limit);
  }

  /** Counts `count` posts as published by the account at `atMs` (default now): its quota in use. */
  usePublishingQuota(objectId: string, count: number, atMs = this.#now()): void {
    const times = this.#published.get(objectId) ?? [];
    for (let i = 0; i < count; i += 1) times.push(atMs);
    this.#published.set(objectId, times);
  }

  /** Posts published in the account's moving 24 h. */
  quotaUsage(objectId: string): number {
    const since = this.#now() - QUOTA_DURATION_S * 1000;
    return (this.#published.get(objectId) ?? []).filter((at) => at > since).length;
  }

  /** Everything published so far (oldest first), optionally only one page's or account's. */
  posts(filter: { objectId?: string } = {}): SandboxPost[] {
    return this.#posts.filter((p) => filter.objectId === undefined || p.objectId === filter.objectId);
  }

  containers(filter: { objectId?: string } = {}): SandboxContainer[] {
    return [...this.#containers.values()].filter(
      (c) => filter.objectId === undefined || c.objectId === filter.objectId,
    );
  }

  clear(): void {
    this.#posts.length = 0;
    this.#containers.clear();
    this.#published.clear();
  }

  isContainer(id: string): boolean {
    return this.#containers.has(id);
  }

  /** A container's status now. */
  statusOf(container: SandboxContainer): ContainerStatus {
    if (container.mediaId !== null) return 'PUBLISHED';
    const now = this.#now();
    if (now - container.createdAtMs > CONTAINER_TTL_MS) return 'EXPIRED';
    const children = container.children.map((id) => this.#containers.get(id));
    if (container.isError || children.some((c) => c !== undefined && this.statusOf(c) === 'ERROR')) return 'ERROR';
    if (now < container.readyAtMs) return 'IN_PROGRESS';
    if (children.some((c) => c !== undefined && this.statusOf(c) === 'IN_PROGRESS')) return 'IN_PROGRESS';
    return 'FINISHED';
  }

  /**
   * One publishing call. `object` is the registered object the path names (null for a container);
   * `owners` the objects the call's token belongs to. A call that fails with an injected failure
   * that still acts (`isSent`) is done here first; the server answers the failure instead.
   */
  handle(call: {
    method: string;
    edge: PublishingEdge;
    objectId: string;
    object: PublishingObject | null;
    owners: readonly PublishingObject[];
    params: Record<string, string>;
  }): PublishingAnswer {
    const { method, edge, objectId, object, params } = call;
    if (edge === 'container') {
      const container = this.#containers.get(objectId);
      if (method !== 'GET' || !container || !call.owners.some((o) => o.id === container.objectId)) {
        return unsupported(method, objectId);
      }
      return { status: 200, body: this.#containerFields(container, params.fields) };
    }
    if (!object) return unsupported(method, objectId);
    if (object.kind === 'page' && method === 'POST' && edge === 'feed') return this.#feed(object, params);
    if (object.kind === 'page' && method === 'POST' && edge === 'photos') return this.#photo(object, params);
    if (object.kind !== 'instagram-account') return unsupported(method, objectId);
    if (method === 'POST' && edge === 'media') return this.#createContainer(object, params);
    if (method === 'POST' && edge === 'media_publish') return this.#publish(object, params);
    if (method === 'GET' && edge === 'content_publishing_limit') return this.#limit(object, params);
    return unsupported(method, objectId);
  }

  #feed(page: PublishingObject, params: Record<string, string>): PublishingAnswer {
    if (!params.message && !params.link) return error(400, 100, '(#100) Missing message or attachment');
    if (params.link !== undefined && !/^https?:\/\//.test(params.link)) {
      return error(400, 100, '(#100) The parameter link is not a valid URL');
    }
    const id = `${page.id}_${numericId(16)}`;
    this.#record({ id, objectId: page.id, platform: 'facebook', kind: 'feed', params, containerId: null });
    return { status: 200, body: { id } };
  }

  #photo(page: PublishingObject, params: Record<string, string>): PublishingAnswer {
    if (!params.url) return missing('url');
    if (params.url.includes(this.#config.errorUrlMarker)) {
      return error(400, 324, '(#324) Missing or invalid image file');
    }
    const photoId = numericId(16);
    const postId = `${page.id}_${photoId}`;
    this.#record({ id: postId, objectId: page.id, platform: 'facebook', kind: 'photo', params, containerId: null });
    return { status: 200, body: { id: photoId, post_id: postId } };
  }

  #createContainer(account: PublishingObject, params: Record<string, string>): PublishingAnswer {
    const mediaType = (params.media_type ?? 'IMAGE').toUpperCase();
    const isCarouselItem = params.is_carousel_item === 'true';
    const now = this.#now();
    const base = { objectId: account.id, isCarouselItem, createdAtMs: now, mediaId: null };
    let container: SandboxContainer;
    if (mediaType === 'CAROUSEL') {
      const children = (params.children ?? '')
        .split(',')
        .map((c) => c.trim())
        .filter(Boolean);
      if (children.length < 2 || children.length > 10) {
        return error(400, 100, '(#100) The carousel must have between 2 and 10 children', { subcode: 2207028 });
      }
      const foreign = children.find((id) => {
        const child = this.#containers.get(id);
        return !child || child.objectId !== account.id || !child.isCarouselItem;
      });
      if (foreign !== undefined) {
        return error(400, 100, `(#100) Invalid children: ${foreign} is not a carousel item of this account`, {
          subcode: 2207008,
        });
      }
      container = {
        ...base,
        id: numericId(),
        mediaType: 'CAROUSEL',
        children,
        url: null,
        caption: params.caption ?? null,
        readyAtMs: now + this.#config.containerDelayMs,
        isError: false,
      };
    } else if (mediaType === 'IMAGE') {
      if (!params.image_url) return missing('image_url');
      container = this.#mediaContainer(base, 'IMAGE', params.image_url, params, this.#config.containerDelayMs);
    } else if (mediaType === 'REELS' || mediaType === 'VIDEO') {
      if (!params.video_url) return missing('video_url');
      if (mediaType === 'VIDEO' && !isCarouselItem) {
        return error(400, 100, '(#100) The VIDEO media type is only for carousel items: publish a video as REELS');
      }
      container = this.#mediaContainer(base, mediaType, params.video_url, params, this.#config.videoContainerDelayMs);
    } else {
      return error(400, 100, `(#100) Param media_type must be one of {IMAGE, VIDEO, REELS, CAROUSEL}`);
    }
    if (isCarouselItem && params.caption) return error(400, 100, '(#100) A carousel item cannot have a caption');
    this.#containers.set(container.id, container);
    return { status: 200, body: { id: container.id } };
  }

  #mediaContainer(
    base: Pick<SandboxContainer, 'objectId' | 'isCarouselItem' | 'createdAtMs' | 'mediaId'>,
    mediaType: SandboxContainer['mediaType'],
    url: string,
    params: Record<string, string>,
    delayMs: number,
  ): SandboxContainer {
    return {
      ...base,
      id: numericId(),
      mediaType,
      children: [],
      url,
      caption: params.caption ?? null,
      readyAtMs: base.createdAtMs + delayMs,
      isError: url.includes(this.#config.errorUrlMarker),
    };
  }

  #containerFields(container: SandboxContainer, fields: string | undefined): Record<string, unknown> {
    const status = this.statusOf(container);
    const wanted = new Set((fields ?? 'id,status_code').split(',').map((f) => f.trim()));
    return {
      ...(wanted.has('status_code') ? { status_code: status } : {}),
      // Meta's `status` carries the error subcode and its text when the container is in ERROR.
      ...(wanted.has('status')
        ? {
            status:
              status === 'ERROR'
                ? 'Error: 2207026: Media download has failed. The media URI doesn’t meet our requirements.'
                : status === 'IN_PROGRESS'
                  ? 'In Progress'
                  : status === 'FINISHED'
                    ? 'Finished: Media has been uploaded and it is ready to be published.'
                    : status,
          }
        : {}),
      id: container.id,
    };
  }

  #publish(account: PublishingObject, params: Record<string, string>): PublishingAnswer {
    if (!params.creation_id) return missing('creation_id');
    const container = this.#containers.get(params.creation_id);
    if (!container || container.objectId !== account.id || container.isCarouselItem) {
      return error(400, 100, '(#100) Media builder not found', { subcode: 2207008, isTransient: false });
    }
    const status = this.statusOf(container);
    if (status === 'PUBLISHED') {
      return error(400, 9007, 'The media has already been published', {
        subcode: 2207041,
        userTitle: 'Media already published',
        userMessage: 'This media container has already been published.',
      });
    }
    if (status === 'IN_PROGRESS') {
      return error(400, 9007, 'Media ID is not available', {
        subcode: 2207027,
        userTitle: 'Media not ready',
        userMessage: 'The media is not ready for publishing, please wait for a moment',
      });
    }
    if (status === 'EXPIRED') {
      return error(400, -2, 'The media you are trying to access has expired. Please try to upload again.', {
        subcode: 2207020,
        isTransient: false,
      });
    }
    if (status === 'ERROR') {
      return error(400, 9004, 'Media download has failed. The media URI doesn’t meet our requirements.', {
        subcode: 2207052,
        isTransient: false,
      });
    }
    if (this.quotaUsage(account.id) >= this.#limitOf(account.id)) {
      return error(400, 9, 'Application request limit reached', {
        subcode: 2207042,
        isTransient: false,
        userTitle: 'Max posts reached',
        userMessage: 'You reached maximum number of posts that is allowed to be published by Content Publishing API.',
      });
    }
    const mediaId = numericId();
    container.mediaId = mediaId;
    this.usePublishingQuota(account.id, 1);
    this.#record({
      id: mediaId,
      objectId: account.id,
      platform: 'instagram',
      kind: container.mediaType,
      params: {
        ...(container.url === null ? {} : { url: container.url }),
        ...(container.caption === null ? {} : { caption: container.caption }),
        ...(container.children.length > 0 ? { children: container.children.join(',') } : {}),
      },
      containerId: container.id,
    });
    return { status: 200, body: { id: mediaId } };
  }

  #limit(account: PublishingObject, params: Record<string, string>): PublishingAnswer {
    const fields = new Set((params.fields ?? 'quota_usage').split(',').map((f) => f.trim()));
    return {
      status: 200,
      body: {
        data: [
          {
            quota_usage: this.quotaUsage(account.id),
            ...(fields.has('config')
              ? { config: { quota_total: this.#limitOf(account.id), quota_duration: QUOTA_DURATION_S } }
              : {}),
          },
        ],
      },
    };
  }

  #limitOf(objectId: string): number {
    return this.#limits.get(objectId) ?? this.#config.publishingLimit;
  }

  #record(post: Omit<SandboxPost, 'at' | 'atMs'>): void {
    const atMs = this.#now();
    this.#posts.push({ ...post, at: new Date(atMs).toISOString(), atMs });
  }

  /**
   * `GET /_sandbox/publishing/posts[?objectId=]`, `GET /_sandbox/publishing/containers[?objectId=]`,
   * `PUT /_sandbox/publishing` `{ containerDelayMs?, videoContainerDelayMs?, publishingLimit?, errorUrlMarker? }`,
   * `PUT /_sandbox/publishing/limits/{id}` `{ limit?, used? }`, `DELETE /_sandbox/publishing`.
   */
  inspect(method: string, parts: readonly string[], url: URL, body: unknown): PublishingAnswer {
    const [resource, id] = parts;
    const objectId = url.searchParams.get('objectId');
    const filter = objectId ? { objectId } : {};
    if (resource === undefined && method === 'PUT') {
      this.configure(body ?? {});
      return { status: 200, body: this.config };
    }
    if (resource === undefined && method === 'DELETE') {
      this.clear();
      return { status: 200, body: { cleared: true } };
    }
    if (resource === 'posts' && method === 'GET') return { status: 200, body: this.posts(filter) };
    if (resource === 'containers' && method === 'GET') {
      return {
        status: 200,
        body: this.containers(filter).map((c) => ({ ...c, statusCode: this.statusOf(c) })),
      };
    }
    if (resource === 'limits' && id && method === 'PUT') {
      const { limit, used } = (body ?? {}) as { limit?: number; used?: number };
      if (limit !== undefined) this.setLimit(id, limit);
      if (used !== undefined) this.usePublishingQuota(id, used);
      return { status: 200, body: { objectId: id, limit: this.#limitOf(id), used: this.quotaUsage(id) } };
    }
    return { status: 404, body: { error: `no sandbox route ${method} ${url.pathname}` } };
  }
}
