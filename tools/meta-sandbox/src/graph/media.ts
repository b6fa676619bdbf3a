import { createHash, createHmac, randomBytes, randomInt, timingSafeEqual } from 'node:crypto';
import type { IncomingMessage, ServerResponse } from 'node:http';
import { Readable } from 'node:stream';
import { checkMediaUpload, graphErrorBody, missingMediaParameter, type MetaAnswer } from '@mic/meta';

/**
 * WhatsApp media on the sandbox, kept in memory: upload (`POST /{phone-number-id}/media`, multipart),
 * lookup (`GET /{media-id}`), delete, and the download of the lookup's URL, which, as Meta's, lives
 * 5 minutes and needs the Bearer token of the number the media belongs to.
 */

/** How long a lookup's URL can be downloaded (Meta: 5 minutes). */
export const MEDIA_URL_TTL_MS = 5 * 60 * 1000;
/** The path of the download URLs, as Meta's lookaside host names them. */
export const MEDIA_DOWNLOAD_PATH = '/whatsapp_business/attachments/';

/** A media file the sandbox holds (`bytes` left out when listed). */
export interface SandboxMediaInfo {
  id: string;
  /** The phone number id it was uploaded to, or received on. */
  objectId: string;
  mimeType: string;
  sha256: string;
  size: number;
  filename: string | null;
  /** `upload`: through the API; `added`: by the test or operator (media in an inbound message). */
  origin: 'upload' | 'added';
  createdAt: string;
}

interface Stored extends SandboxMediaInfo {
  bytes: Buffer;
}

/** Meta's answer for an id that is not there or not the token's to see. */
export function unsupportedRequest(method: string, objectId: string): MetaAnswer {
  return {
    status: 400,
    body: graphErrorBody({
      code: 100,
      subcode: 33,
      type: 'GraphMethodException',
      message: `Unsupported ${method.toLowerCase()} request. Object with ID '${objectId}' does not exist, cannot be loaded due to missing permissions, or does not support this operation. Please read the Graph API documentation at https://developers.facebook.com/docs/graph-api`,
    }),
  };
}

/** Media ids are numeric, like Meta's. */
const mediaId = () => `${randomInt(1, 10)}${Array.from({ length: 15 }, () => randomInt(0, 10)).join('')}`;

export class SandboxMedia {
  readonly #items = new Map<string, Stored>();
  readonly #secret = randomBytes(32);
  readonly #now: () => number;

  constructor(now: () => number) {
    this.#now = now;
  }

  /** Adds a file as if a customer had sent it to `objectId` (a phone number id); answers its id. */
  add(objectId: string, bytes: Uint8Array, mimeType: string, filename?: string): SandboxMediaInfo {
    return this.#store(objectId, Buffer.from(bytes), mimeType, filename ?? null, 'added');
  }

  get(id: string): SandboxMediaInfo | undefined {
    const item = this.#items.get(id);
    if (!item) return undefined;
    const { bytes: _bytes, ...info } = item;
    return info;
  }

  content(id: string): Buffer | undefined {
    return this.#items.get(id)?.bytes;
  }

  list(filter: { objectId?: string } = {}): SandboxMediaInfo[] {
    return [...this.#items.keys()]
      .map((id) => this.get(id)!)
      .filter((m) => filter.objectId === undefined || m.objectId === filter.objectId);
  }

  #store(
    objectId: string,
    bytes: Buffer,
    mimeType: string,
    filename: string | null,
    origin: SandboxMediaInfo['origin'],
  ): SandboxMediaInfo {
    const item: Stored = {
      id: mediaId(),
      objectId,
      mimeType,
      sha256: createHash('sha256').update(bytes).digest('hex'),
      size: bytes.length,
      filename,
      origin,
      createdAt: new Date(this.#now()).toISOString(),
      bytes,
    };
    this.#items.set(item.id, item);
    return this.get(item.id)!;
  }

  /** `POST /{phone-number-id}/media`: Meta's checks (parameters, type, size per type), then `{ id }`. */
  async upload(req: IncomingMessage, objectId: string): Promise<MetaAnswer> {
    let form: FormData;
    try {
      const headers = new Headers();
      for (const [name, value] of Object.entries(req.headers)) {
        if (typeof value === 'string') headers.set(name, value);
      }
      form = await new Request('http://sandbox/upload', {
        method: 'POST',
        headers,
        body: Readable.toWeb(req) as ReadableStream<Uint8Array>,
        duplex: 'half',
      } as RequestInit).formData();
    } catch {
      return missingMediaParameter('file');
    }
    const file = form.get('file');
    const blob = file instanceof Blob ? file : null;
    const bytes = blob ? Buffer.from(await blob.arrayBuffer()) : undefined;
    const field = (name: string) => {
      const value = form.get(name);
      return typeof value === 'string' ? value : undefined;
    };
    const checked = checkMediaUpload({
      messagingProduct: field('messaging_product'),
      type: field('type'),
      fileType: blob?.type,
      size: bytes?.length,
      ...(bytes ? { head: bytes.subarray(0, 32) } : {}),
    });
    if (!checked.ok) return checked.refusal;
    const filename = file instanceof File && file.name ? file.name : null;
    const stored = this.#store(objectId, bytes!, checked.mimeType, filename, 'upload');
    return { status: 200, body: { id: stored.id } };
  }

  /**
   * `GET /{media-id}`: the media's details and a download URL on `baseUrl` that lives 5 minutes;
   * `phoneNumberId`, when given, must be the number the media belongs to.
   */
  lookup(id: string, baseUrl: string, phoneNumberId: string | null): MetaAnswer {
    const item = this.#items.get(id);
    if (!item || (phoneNumberId !== null && phoneNumberId !== item.objectId)) return unsupportedRequest('GET', id);
    const ext = String(Math.floor((this.#now() + MEDIA_URL_TTL_MS) / 1000));
    const url = new URL(MEDIA_DOWNLOAD_PATH, baseUrl);
    url.searchParams.set('mid', id);
    url.searchParams.set('ext', ext);
    url.searchParams.set('hash', this.#hash(id, ext));
    return {
      status: 200,
      body: {
        messaging_product: 'whatsapp',
        url: url.toString(),
        mime_type: item.mimeType,
        sha256: item.sha256,
        // A string in Meta's reference.
        file_size: String(item.size),
        id,
      },
    };
  }

  /** `DELETE /{media-id}`. */
  remove(id: string, phoneNumberId: string | null): MetaAnswer {
    const item = this.#items.get(id);
    if (!item || (phoneNumberId !== null && phoneNumberId !== item.objectId)) return unsupportedRequest('DELETE', id);
    this.#items.delete(id);
    return { status: 200, body: { success: true } };
  }

  /** The phone number id a media id belongs to, for the token check. */
  ownerOf(id: string): string | undefined {
    return this.#items.get(id)?.objectId;
  }

  /**
   * The download of a lookup's URL: a valid, unexpired signature and the Bearer token that
   * `isTokenOf(objectId, token)` accepts for the media's number; answers the bytes with their type.
   */
  download(
    url: URL,
    token: string | null,
    isTokenOf: (objectId: string, token: string) => boolean,
    res: ServerResponse,
  ): MetaAnswer | null {
    const id = url.searchParams.get('mid') ?? '';
    const ext = url.searchParams.get('ext') ?? '';
    const hash = url.searchParams.get('hash') ?? '';
    const item = this.#items.get(id);
    const expected = Buffer.from(this.#hash(id, ext));
    const given = Buffer.from(hash);
    if (!item || given.length !== expected.length || !timingSafeEqual(given, expected)) {
      return { status: 404, body: graphErrorBody({ code: 100, message: 'The media URL is not valid' }) };
    }
    if (!token || !isTokenOf(item.objectId, token)) {
      return {
        status: 401,
        body: graphErrorBody({ code: 190, message: 'Invalid OAuth access token - Cannot parse access token' }),
      };
    }
    if (Number(ext) * 1000 < this.#now()) {
      return { status: 404, body: graphErrorBody({ code: 100, message: 'URL signature expired' }) };
    }
    res.writeHead(200, {
      'content-type': item.mimeType,
      'content-length': String(item.size),
      ...(item.filename
        ? { 'content-disposition': `attachment; filename="${item.filename.replace(/[^\x20-\x7e]|"/g, '_')}"` }
        : {}),
    });
    res.end(item.bytes);
    return null;
  }

  #hash(id: string, ext: string): string {
    return createHmac('sha256', this.#secret).update(`${id}.${ext}`).digest('base64url');
  }
}
