import { DEFAULT_GRAPH_URL, DEFAULT_GRAPH_VERSION } from './client.ts';
import { graphErrorBody, graphErrorFromNetwork } from './errors.ts';

/**
 * WhatsApp Cloud API media: the types and size limits Meta documents (Supported Media Types), and a
 * small client for its media endpoints: upload (`POST /{phone-number-id}/media`), lookup
 * (`GET /{media-id}`), delete, and the download of the short-lived URL a lookup answers, which
 * needs the same token. Sources: the Graph API section of src/webhooks/fixtures/SOURCES.md.
 */

export type WhatsAppMediaKind = 'audio' | 'document' | 'image' | 'sticker' | 'video';

const KB = 1024;
const MB = 1024 * 1024;

/** Meta's limit per kind; a sticker's depends on whether it is animated. */
const LIMITS: Record<WhatsAppMediaKind, number> = {
  audio: 16 * MB,
  document: 100 * MB,
  image: 5 * MB,
  sticker: 100 * KB,
  video: 16 * MB,
};
export const ANIMATED_STICKER_LIMIT = 500 * KB;
/** The largest file any kind takes: what an upload may be before its type is known. */
export const WHATSAPP_MEDIA_MAX_BYTES = LIMITS.document;

/** MIME type → kind, in the order Meta lists them in its own refusal. */
export const WHATSAPP_MEDIA_TYPES: Readonly<Record<string, WhatsAppMediaKind>> = {
  'audio/aac': 'audio',
  'audio/mp4': 'audio',
  'audio/mpeg': 'audio',
  'audio/amr': 'audio',
  // Opus only (Meta refuses plain Ogg Vorbis when it processes the file, not at the type check).
  'audio/ogg': 'audio',
  'application/vnd.ms-powerpoint': 'document',
  'application/msword': 'document',
  'application/vnd.openxmlformats-officedocument.wordprocessingml.document': 'document',
  'application/vnd.openxmlformats-officedocument.presentationml.presentation': 'document',
  'application/vnd.openxmlformats-officedocument.spreadsheetml.sheet': 'document',
  'application/pdf': 'document',
  'text/plain': 'document',
  'application/vnd.ms-excel': 'document',
  'image/jpeg': 'image',
  'image/png': 'image',
  'image/webp': 'sticker',
  'video/mp4': 'video',
  'video/3gpp': 'video',
  // Meta's table names both spellings of 3GPP.
  'video/3gp': 'video',
};

/** `Image/JPEG; charset=x` → `image/jpeg`. */
export function normalizeMimeType(type: string): string {
  return type.split(';')[0]!.trim().toLowerCase();
}

/**
 * Whether a WebP file is animated: a `VP8X` header with the animation flag. `head` is the file's
 * first bytes (21 are enough).
 */
export function isAnimatedWebp(head: Uint8Array): boolean {
  const ascii = (from: number, to: number) => String.fromCharCode(...head.subarray(from, to));
  if (head.length < 21 || ascii(0, 4) !== 'RIFF' || ascii(8, 12) !== 'WEBP' || ascii(12, 16) !== 'VP8X') return false;
  return (head[20]! & 0x02) !== 0;
}

export interface WhatsAppMediaLimit {
  kind: WhatsAppMediaKind;
  maxBytes: number;
}

/** The kind and size limit of a MIME type Meta takes, or undefined; `head` tells animated stickers apart. */
export function whatsappMediaLimit(mimeType: string, head?: Uint8Array): WhatsAppMediaLimit | undefined {
  const kind = WHATSAPP_MEDIA_TYPES[normalizeMimeType(mimeType)];
  if (kind === undefined) return undefined;
  if (kind === 'sticker' && head && isAnimatedWebp(head)) return { kind, maxBytes: ANIMATED_STICKER_LIMIT };
  return { kind, maxBytes: LIMITS[kind] };
}

const sizeText = (bytes: number) => (bytes >= MB ? `${bytes / MB}MB` : `${bytes / KB}KB`);

/** What an upload Meta would refuse gets: the Graph error body and status, as Meta answers it. */
export type MediaRefusal = { status: number; body: ReturnType<typeof graphErrorBody> };

/** A missing or empty required parameter (`messaging_product`, `file`, `type`). */
export function missingMediaParameter(name: string): MediaRefusal {
  return {
    status: 400,
    body: graphErrorBody({ code: 100, message: `(#100) The parameter ${name} is required.` }),
  };
}

/** A MIME type Meta does not take. */
export function unsupportedMediaType(received: string): MediaRefusal {
  const list = Object.keys(WHATSAPP_MEDIA_TYPES).join(', ');
  return {
    status: 400,
    body: graphErrorBody({
      code: 100,
      message: `(#100) Param file must be a file with one of the following types: ${list}. Received file of type '${received}'.`,
    }),
  };
}

/** A file over its kind's limit. */
export function mediaTooLarge(limit: WhatsAppMediaLimit): MediaRefusal {
  return {
    status: 400,
    body: graphErrorBody({
      code: 131053,
      message: '(#131053) Media upload error',
      details: `Media file size too big. Max file size we currently support: ${sizeText(limit.maxBytes)} for ${limit.kind}.`,
    }),
  };
}

/** What an upload carried, as a multipart parser read it. */
export interface MediaUploadParts {
  messagingProduct: string | undefined;
  /** The `type` parameter. */
  type: string | undefined;
  /** The file part's own content type, used when `type` is absent. */
  fileType: string | undefined;
  /** Undefined when no file part came. */
  size: number | undefined;
  /** The file's first bytes (animated stickers have a higher limit). */
  head?: Uint8Array;
}

/** Checks an upload as Meta does: the parameters, the type, then the size for that type. */
export function checkMediaUpload(
  parts: MediaUploadParts,
): { ok: true; mimeType: string; limit: WhatsAppMediaLimit } | { ok: false; refusal: MediaRefusal } {
  if (parts.messagingProduct !== 'whatsapp') return { ok: false, refusal: missingMediaParameter('messaging_product') };
  if (parts.size === undefined) return { ok: false, refusal: missingMediaParameter('file') };
  const declared = parts.type?.trim() || parts.fileType?.trim() || '';
  if (declared === '') return { ok: false, refusal: missingMediaParameter('type') };
  const mimeType = normalizeMimeType(declared);
  const limit = whatsappMediaLimit(mimeType, parts.head);
  if (!limit) return { ok: false, refusal: unsupportedMediaType(mimeType) };
  if (parts.size > limit.maxBytes) return { ok: false, refusal: mediaTooLarge(limit) };
  return { ok: true, mimeType, limit };
}

/** Meta's answer to a media call, passed on as it is: the status and the parsed body (null if not JSON). */
export interface MetaAnswer {
  status: number;
  body: unknown;
}

export interface GraphMediaOptions {
  baseUrl?: string;
  version?: string;
  /** Per lookup or delete. Default 10 s. */
  timeoutMs?: number;
  /** Per upload or download, body included: files are up to 100 MB. Default 5 min. */
  transferTimeoutMs?: number;
  fetch?: typeof globalThis.fetch;
  userAgent?: string;
}

const MEDIA_ID = /^[A-Za-z0-9_.-]{1,128}$/;
const OBJECT_ID = /^[A-Za-z0-9_-]{1,64}$/;
/** Where Meta serves media (lookaside.fbsbx.com and its CDNs): the only hosts its token is sent to. */
const META_MEDIA_HOSTS = ['.fbsbx.com', '.facebook.com', '.fbcdn.net', '.whatsapp.net'];

/**
 * WhatsApp's media endpoints. Answers are Meta's own (`MetaAnswer`) so a proxy passes them on
 * unchanged; only a call Meta never answered throws (a GraphError, `transient`). The token travels
 * in the `Authorization` header only, and a download goes only to Meta's media hosts (or to the
 * Graph URL's own origin, the sandbox's in tests), so a URL from elsewhere never receives it.
 */
export class GraphMediaClient {
  readonly baseUrl: string;
  readonly version: string;
  readonly #timeoutMs: number;
  readonly #transferTimeoutMs: number;
  readonly #fetch: typeof globalThis.fetch;
  readonly #userAgent: string | undefined;

  constructor(options: GraphMediaOptions = {}) {
    this.baseUrl = (options.baseUrl ?? DEFAULT_GRAPH_URL).replace(/\/+$/, '');
    this.version = options.version ?? DEFAULT_GRAPH_VERSION;
    this.#timeoutMs = options.timeoutMs ?? 10_000;
    this.#transferTimeoutMs = options.transferTimeoutMs ?? 300_000;
    this.#fetch = options.fetch ?? globalThis.fetch;
    this.#userAgent = options.userAgent;
  }

  /** `POST /{phone-number-id}/media`, multipart, the file streamed from its Blob (a file-backed one stays on disk). */
  async upload(
    phoneNumberId: string,
    file: { blob: Blob; type: string; filename?: string },
    token: string,
  ): Promise<MetaAnswer> {
    if (!OBJECT_ID.test(phoneNumberId)) throw new TypeError('not a Graph object id');
    const form = new FormData();
    form.set('messaging_product', 'whatsapp');
    form.set('type', file.type);
    form.set('file', file.blob, file.filename ?? 'file');
    return this.#call('POST', `${phoneNumberId}/media`, token, this.#transferTimeoutMs, { body: form });
  }

  /** `GET /{media-id}`: `{ messaging_product, url, mime_type, sha256, file_size, id }`, the url valid 5 minutes. */
  async retrieve(mediaId: string, token: string, phoneNumberId?: string): Promise<MetaAnswer> {
    return this.#call('GET', mediaPath(mediaId), token, this.#timeoutMs, { phoneNumberId });
  }

  /** `DELETE /{media-id}`: `{ success: true }`. */
  async remove(mediaId: string, token: string, phoneNumberId?: string): Promise<MetaAnswer> {
    return this.#call('DELETE', mediaPath(mediaId), token, this.#timeoutMs, { phoneNumberId });
  }

  /** Whether `url` is one this client sends a token to: Meta's media hosts over https, or the Graph URL's origin. */
  isMediaUrl(url: string): boolean {
    let parsed: URL;
    try {
      parsed = new URL(url);
    } catch {
      return false;
    }
    if (parsed.origin === new URL(this.baseUrl).origin) return true;
    return parsed.protocol === 'https:' && META_MEDIA_HOSTS.some((host) => parsed.hostname.endsWith(host));
  }

  /**
   * GETs a media URL from a lookup with the token; answers Meta's response with its body unread,
   * to be streamed on. `signal` aborts it (the caller went away).
   */
  async download(url: string, token: string, signal?: AbortSignal): Promise<Response> {
    if (!this.isMediaUrl(url)) throw new TypeError("not one of Meta's media URLs");
    const timeout = AbortSignal.timeout(this.#transferTimeoutMs);
    try {
      return await this.#fetch(url, {
        headers: this.#headers(token),
        signal: signal ? AbortSignal.any([signal, timeout]) : timeout,
      });
    } catch (error) {
      throw graphErrorFromNetwork(error, this.#transferTimeoutMs);
    }
  }

  #headers(token: string): Record<string, string> {
    if (token === '') throw new TypeError('the access token is empty');
    return { authorization: `Bearer ${token}`, ...(this.#userAgent ? { 'user-agent': this.#userAgent } : {}) };
  }

  async #call(
    method: 'GET' | 'POST' | 'DELETE',
    path: string,
    token: string,
    timeoutMs: number,
    options: { phoneNumberId?: string | undefined; body?: FormData } = {},
  ): Promise<MetaAnswer> {
    const url = new URL(`${this.baseUrl}/${this.version}/${path}`);
    if (options.phoneNumberId) url.searchParams.set('phone_number_id', options.phoneNumberId);
    let response: Response;
    let text: string;
    try {
      response = await this.#fetch(url, {
        method,
        headers: { ...this.#headers(token), accept: 'application/json' },
        ...(options.body ? { body: options.body } : {}),
        signal: AbortSignal.timeout(timeoutMs),
      });
      text = await response.text();
    } catch (error) {
      throw graphErrorFromNetwork(error, timeoutMs);
    }
    let body: unknown;
    try {
      body = text === '' ? null : JSON.parse(text);
    } catch {
      body = null;
    }
    return { status: response.status, body };
  }
}

function mediaPath(mediaId: string): string {
  if (!MEDIA_ID.test(mediaId)) throw new TypeError('not a media id');
  return mediaId;
}
