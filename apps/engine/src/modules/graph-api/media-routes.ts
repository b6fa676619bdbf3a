import { createWriteStream } from 'node:fs';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Readable, Transform, Writable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import type { ReadableStream } from 'node:stream/web';
import type { FastifyReply, FastifyRequest } from 'fastify';
import { Type } from 'typebox';
import { WHATSAPP_MEDIA_MAX_BYTES, checkMediaUpload, type MetaAnswer } from '@mic/meta';
import type { HttpServer } from '@mic/platform';
import { permissionDenied } from './errors.ts';
import { isOwnPortRequest } from './listener.ts';
import type { GraphMediaService, MediaCaller } from './media.ts';

const tags = ['Graph-compatible API'];
const Version = Type.String({ pattern: '^v[0-9]+\\.[0-9]+$', description: 'The Graph API version, e.g. v21.0' });
const MediaId = Type.String({ pattern: '^[A-Za-z0-9_-]{1,128}$', description: "Meta's media id" });
const UploadParams = Type.Object({
  version: Version,
  objectId: Type.String({ pattern: '^[0-9]{1,64}$', description: 'The WhatsApp phone_number_id' }),
});
const MediaParams = Type.Object({ version: Version, mediaId: MediaId });
const MediaQuery = Type.Object({
  phone_number_id: Type.Optional(
    Type.String({ description: 'Only if the media belongs to this number (as Meta checks it)' }),
  ),
});

/** The first bytes of an upload kept: WebP's animation flag is in its 21st. */
const HEAD_BYTES = 32;

const answer = (reply: FastifyReply, outcome: MetaAnswer) => reply.status(outcome.status).send(outcome.body);

interface Spooled {
  fields: Record<string, string>;
  file?: { path: string; size: number; fileType: string; filename: string | undefined; head: Uint8Array };
}

/**
 * Reads a multipart upload, the file streamed to `dir` as it comes (its parts may come in any order,
 * the file before its `type`), keeping only its size and first bytes in memory. A file over the
 * largest limit stops there and counts as one byte over it.
 */
async function spool(req: FastifyRequest, dir: string): Promise<Spooled> {
  const spooled: Spooled = { fields: {} };
  for await (const part of req.parts()) {
    if (part.type === 'field') {
      if (typeof part.value === 'string') spooled.fields[part.fieldname] = part.value;
      continue;
    }
    if (part.fieldname !== 'file') {
      await pipeline(part.file, new Writable({ write: (_chunk, _encoding, done) => done() }));
      continue;
    }
    const path = join(dir, 'file');
    let size = 0;
    const head: Buffer[] = [];
    let headSize = 0;
    await pipeline(
      part.file,
      new Transform({
        transform(chunk: Buffer, _encoding, done) {
          size += chunk.length;
          if (headSize < HEAD_BYTES) {
            head.push(chunk.subarray(0, HEAD_BYTES - headSize));
            headSize += Math.min(chunk.length, HEAD_BYTES - headSize);
          }
          done(null, chunk);
        },
      }),
      createWriteStream(path),
    );
    spooled.file = {
      path,
      size: part.file.truncated ? WHATSAPP_MEDIA_MAX_BYTES + 1 : size,
      fileType: part.mimetype,
      filename: part.filename || undefined,
      head: Buffer.concat(head),
    };
  }
  return spooled;
}

export interface MediaRoutesOptions {
  /** The prefix of the Graph routes on the engine's port (none on their own port). */
  prefix: string;
}

/**
 * WhatsApp media as Meta serves it: `POST /{version}/{phone-number-id}/media` (multipart `file`,
 * `type`, `messaging_product`), `GET|DELETE /{version}/{media-id}`, and `GET /media/{media-id}/download`,
 * the download proxy a lookup's `url` points at (the instance's engine token, as Meta's URL needs
 * Meta's token).
 */
export function registerMediaRoutes(app: HttpServer, media: GraphMediaService, options: MediaRoutesOptions): void {
  /** The instance and tenant, once the instance may use WhatsApp (else a Graph #10, #2 …). */
  async function callerOf(req: FastifyRequest): Promise<MediaCaller> {
    const instanceId = req.instanceId!;
    await app.assertInstanceMaySend(instanceId, 'whatsapp');
    return { instanceId, tenantId: app.configSync.instance(instanceId)!.tenantId };
  }

  app.post(
    '/:version/:objectId/media',
    {
      preHandler: app.authenticateInstance,
      schema: {
        tags,
        summary: "Upload a WhatsApp media file with Meta's multipart body; answers Meta's `{ id }`",
        description:
          'Parts `file`, `type` (its MIME type) and `messaging_product=whatsapp`. Checked against Meta’s types and ' +
          'size limits per type (image 5 MB, audio and video 16 MB, document 100 MB, sticker 100 KB or 500 KB ' +
          'animated) before it goes to Meta with the channel’s token.',
        security: [{ bearer: [] }],
        params: UploadParams,
      },
    },
    async (req, reply) => {
      const caller = await callerOf(req);
      const { objectId } = req.params;
      const isMine = (app.configSync.snapshot?.channels ?? []).some(
        (c) => c.instanceId === caller.instanceId && c.platform === 'whatsapp' && c.channelId === objectId,
      );
      if (!isMine) {
        return answer(
          reply,
          await media.audited(
            caller,
            { action: 'upload', mediaId: null, channelId: objectId },
            permissionDenied(objectId),
          ),
        );
      }
      const dir = await mkdtemp(join(tmpdir(), 'mic-graph-media-'));
      try {
        const { fields, file } = await spool(req, dir);
        const checked = checkMediaUpload({
          messagingProduct: fields.messaging_product,
          type: fields.type,
          fileType: file?.fileType,
          size: file?.size,
          ...(file ? { head: file.head } : {}),
        });
        if (!checked.ok) {
          const call = { action: 'upload', mediaId: null, channelId: objectId, bytes: file?.size ?? null };
          return answer(reply, await media.audited(caller, call, checked.refusal));
        }
        const uploaded = await media.upload(caller, objectId, {
          path: file!.path,
          size: file!.size,
          mimeType: checked.mimeType,
          filename: file!.filename,
        });
        return answer(reply, uploaded);
      } finally {
        await rm(dir, { recursive: true, force: true });
      }
    },
  );

  app.get(
    '/:version/:mediaId',
    {
      preHandler: app.authenticateInstance,
      schema: {
        tags,
        summary: "Look up a WhatsApp media id: Meta's answer, its `url` the engine's download proxy",
        description:
          'Media the instance uploaded through the engine, or that arrived in a message routed to it; any other id ' +
          'is answered as Meta answers an id that does not exist (#100, subcode 33). Download the `url` with the ' +
          'same Authorization header.',
        security: [{ bearer: [] }],
        params: MediaParams,
        querystring: MediaQuery,
      },
    },
    async (req, reply) => {
      const caller = await callerOf(req);
      const { mediaId } = req.params;
      const base = isOwnPortRequest(req.raw) ? '' : options.prefix;
      const downloadUrl = `${req.protocol}://${req.host}${base}/media/${encodeURIComponent(mediaId)}/download`;
      return answer(reply, await media.lookup(caller, mediaId, req.query.phone_number_id, downloadUrl));
    },
  );

  app.delete(
    '/:version/:mediaId',
    {
      preHandler: app.authenticateInstance,
      schema: {
        tags,
        summary: 'Delete a WhatsApp media id at Meta',
        security: [{ bearer: [] }],
        params: MediaParams,
        querystring: MediaQuery,
      },
    },
    async (req, reply) => {
      const caller = await callerOf(req);
      return answer(reply, await media.remove(caller, req.params.mediaId, req.query.phone_number_id));
    },
  );

  app.get(
    '/media/:mediaId/download',
    {
      preHandler: app.authenticateInstance,
      schema: {
        tags,
        summary: "Download a WhatsApp media file (the lookup's `url`), streamed from Meta",
        security: [{ bearer: [] }],
        params: Type.Object({ mediaId: MediaId }),
      },
    },
    async (req, reply) => {
      const caller = await callerOf(req);
      const abort = new AbortController();
      // The caller went away: stop fetching from Meta.
      reply.raw.once('close', () => abort.abort());
      const outcome = await media.download(caller, req.params.mediaId, abort.signal);
      if (outcome.kind === 'answer') return answer(reply, outcome.answer);
      const { response } = outcome;
      reply.header('content-type', response.headers.get('content-type') ?? 'application/octet-stream');
      reply.header('cache-control', 'private, no-store');
      for (const name of ['content-length', 'content-disposition']) {
        const value = response.headers.get(name);
        if (value) reply.header(name, value);
      }
      return reply.send(Readable.fromWeb(response.body as ReadableStream<Uint8Array>));
    },
  );
}
