import { createHash } from 'node:crypto';
import { createReadStream, createWriteStream } from 'node:fs';
import { mkdir, rename, rm } from 'node:fs/promises';
import { join } from 'node:path';
import { Transform, type Readable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import {
  DeleteObjectsCommand,
  GetObjectCommand,
  ListObjectsV2Command,
  PutObjectCommand,
  S3Client,
} from '@aws-sdk/client-s3';
import { Upload } from '@aws-sdk/lib-storage';
import {
  BACKUP_FILE_SUFFIX,
  BackupNotFoundError,
  parseManifest,
  writeManifest,
  type BackupCopy,
  type BackupManifest,
} from './manifest.ts';
import { BackupChecksumError } from './sealed-file.ts';

/** An S3-compatible bucket that verified backups are copied to (BACKUP_S3_*). */
export interface BucketSettings {
  bucket: string;
  /** The server's URL; undefined for Amazon S3. */
  endpoint: string | undefined;
  region: string;
  /** Keys are `<prefix><plane>/<backup id>.mic-backup` and `….json`. */
  prefix: string;
  /** Undefined: the AWS SDK's default chain (AWS_* variables, an instance role). */
  credentials: { accessKeyId: string; secretAccessKey: string } | undefined;
  /** `<endpoint>/<bucket>/<key>` rather than `<bucket>.<endpoint>/<key>` (MinIO and most self-hosted servers). */
  forcePathStyle: boolean;
  /** Bytes per part of a multipart upload (S3's minimum is 5 MiB). */
  partSize: number;
}

/** The bucket did not answer as it should (unreachable, refused, …); the message holds no credential. */
export class BackupBucketError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'BackupBucketError';
  }
}

/** Hashes what flows through it. */
function hashing(hash: ReturnType<typeof createHash>, count: { bytes: number }): Transform {
  return new Transform({
    transform(chunk: Buffer, _encoding, done) {
      hash.update(chunk);
      count.bytes += chunk.length;
      done(null, chunk);
    },
  });
}

/**
 * The bucket adapter: uploads a backup file (multipart, streamed from disk) and then its manifest,
 * lists and deletes copies, and downloads one with its checksum checked. Credentials never leave
 * the client: every error this returns has them removed.
 */
export class BackupBucket {
  readonly settings: BucketSettings;
  readonly #client: S3Client;

  constructor(settings: BucketSettings) {
    this.settings = settings;
    this.#client = new S3Client({
      region: settings.region,
      forcePathStyle: settings.forcePathStyle,
      ...(settings.endpoint ? { endpoint: settings.endpoint } : {}),
      ...(settings.credentials ? { credentials: settings.credentials } : {}),
      // The backup file carries its own SHA-256; the SDK's default CRC trailers (aws-chunked
      // bodies) are not understood by every S3-compatible server.
      requestChecksumCalculation: 'WHEN_REQUIRED',
      responseChecksumValidation: 'WHEN_REQUIRED',
      requestHandler: { connectionTimeout: 10_000, requestTimeout: 600_000 },
      maxAttempts: 3,
    });
  }

  /** `s3://bucket/prefix` (and the server when it is not Amazon's), for people; never a credential. */
  get location(): string {
    const where = this.settings.endpoint ? ` at ${new URL(this.settings.endpoint).host}` : '';
    return `s3://${this.settings.bucket}/${this.settings.prefix}${where}`;
  }

  key(plane: string, name: string): string {
    return `${this.settings.prefix}${plane}/${name}`;
  }

  /** Removes anything credential-like from an SDK error, and names the failure plainly. */
  describe(error: unknown): string {
    const e = error as { name?: string; message?: string; code?: string; $metadata?: { httpStatusCode?: number } };
    const status = e.$metadata?.httpStatusCode;
    let text = [e.name && e.name !== 'Error' ? e.name : e.code, e.message].filter(Boolean).join(': ') || String(error);
    if (status) text += ` (HTTP ${status})`;
    for (const secret of [this.settings.credentials?.secretAccessKey, this.settings.credentials?.accessKeyId]) {
      if (secret) text = text.replaceAll(secret, '***');
    }
    return text;
  }

  /**
   * Uploads the backup file (multipart, `partSize` parts), hashing the bytes sent, then the manifest
   * with the copy recorded. Never throws: a failure comes back as a `failed` copy with its reason.
   */
  async upload(
    folder: string,
    manifest: BackupManifest,
    onProgress?: (sentBytes: number) => void,
  ): Promise<BackupCopy> {
    const startedAt = performance.now();
    const key = this.key(manifest.plane, manifest.file!);
    const copy: BackupCopy = {
      state: 'failed',
      bucket: this.settings.bucket,
      key,
      sha256: null,
      etag: null,
      uploadedAt: null,
      durationMs: 0,
      error: null,
    };
    try {
      const hash = createHash('sha256');
      const sent = { bytes: 0 };
      const body = createReadStream(join(folder, manifest.file!)).pipe(hashing(hash, sent));
      const upload = new Upload({
        client: this.#client,
        partSize: this.settings.partSize,
        queueSize: 2,
        leavePartsOnError: false,
        params: {
          Bucket: this.settings.bucket,
          Key: key,
          Body: body,
          ContentType: 'application/octet-stream',
          Metadata: { 'backup-id': manifest.id, sha256: manifest.sha256 ?? '' },
        },
      });
      if (onProgress) upload.on('httpUploadProgress', (p) => onProgress(p.loaded ?? 0));
      const done = await upload.done();
      copy.sha256 = hash.digest('hex');
      if (copy.sha256 !== manifest.sha256) {
        throw new Error(`the file changed while it was uploaded (sha256 ${copy.sha256}, manifest ${manifest.sha256})`);
      }
      copy.etag = done.ETag ?? null;
      copy.uploadedAt = new Date().toISOString();
      copy.state = 'uploaded';
      copy.durationMs = Math.round(performance.now() - startedAt);
      // The manifest goes last: a copy whose manifest is in the bucket is complete.
      await this.putManifest({ ...manifest, copy });
    } catch (error) {
      copy.state = 'failed';
      copy.error = this.describe(error);
      copy.durationMs = Math.round(performance.now() - startedAt);
    }
    return copy;
  }

  async putManifest(manifest: BackupManifest): Promise<void> {
    await this.#client.send(
      new PutObjectCommand({
        Bucket: this.settings.bucket,
        Key: this.key(manifest.plane, `${manifest.id}.json`),
        Body: `${JSON.stringify(manifest, null, 2)}\n`,
        ContentType: 'application/json',
      }),
    );
  }

  /** The plane's copies in the bucket (those whose manifest is there), newest first. */
  async list(plane: string): Promise<BackupManifest[]> {
    const keys: string[] = [];
    let token: string | undefined;
    do {
      const page = await this.#client.send(
        new ListObjectsV2Command({
          Bucket: this.settings.bucket,
          Prefix: this.key(plane, ''),
          ...(token ? { ContinuationToken: token } : {}),
        }),
      );
      for (const object of page.Contents ?? []) if (object.Key?.endsWith('.json')) keys.push(object.Key);
      token = page.IsTruncated ? page.NextContinuationToken : undefined;
    } while (token);
    const manifests = await Promise.all(
      keys.map(async (key) => {
        try {
          return parseManifest(await this.#text(key), `s3://${this.settings.bucket}/${key}`);
        } catch {
          return null;
        }
      }),
    );
    return manifests
      .filter((m): m is BackupManifest => m !== null)
      .sort((a, b) => b.createdAt.localeCompare(a.createdAt) || b.id.localeCompare(a.id));
  }

  async #text(key: string): Promise<string> {
    const res = await this.#client.send(new GetObjectCommand({ Bucket: this.settings.bucket, Key: key }));
    return res.Body!.transformToString('utf8');
  }

  /** Deletes a copy: the manifest first, so a half-deleted copy is never listed. */
  async remove(manifest: BackupManifest): Promise<void> {
    const objects = [`${manifest.id}.json`, `${manifest.id}${BACKUP_FILE_SUFFIX}`].map((name) => ({
      Key: this.key(manifest.plane, name),
    }));
    const res = await this.#client.send(
      new DeleteObjectsCommand({ Bucket: this.settings.bucket, Delete: { Objects: objects, Quiet: true } }),
    );
    if (res.Errors?.length) {
      throw new Error(res.Errors.map((e) => `${e.Key}: ${e.Code ?? ''} ${e.Message ?? ''}`.trim()).join('; '));
    }
  }

  /**
   * Downloads backup `id` of `plane` into `folder` (file, then manifest), checking the file's SHA-256
   * against its manifest as it is written; a mismatch leaves nothing behind.
   */
  async download(plane: string, id: string, folder: string): Promise<BackupManifest> {
    const manifestKey = this.key(plane, `${id}.json`);
    let manifest: BackupManifest;
    try {
      manifest = parseManifest(await this.#text(manifestKey), `s3://${this.settings.bucket}/${manifestKey}`);
    } catch (error) {
      if ((error as { name?: string }).name === 'NoSuchKey') throw new BackupNotFoundError(id, this.location);
      throw new BackupBucketError(`cannot read ${manifestKey} from ${this.location}: ${this.describe(error)}`);
    }
    if (manifest.state !== 'verified' || !manifest.file || !manifest.sha256) {
      throw new Error(`backup ${id} in the bucket is not a verified backup`);
    }
    await mkdir(folder, { recursive: true, mode: 0o700 });
    const path = join(folder, manifest.file);
    const partial = `${path}.${process.pid}.download`;
    const hash = createHash('sha256');
    try {
      const res = await this.#client.send(
        new GetObjectCommand({ Bucket: this.settings.bucket, Key: this.key(plane, manifest.file) }),
      );
      await pipeline(res.Body as Readable, hashing(hash, { bytes: 0 }), createWriteStream(partial, { mode: 0o600 }));
      const found = hash.digest('hex');
      if (found !== manifest.sha256)
        throw new BackupChecksumError(
          `s3://${this.settings.bucket}/${this.key(plane, manifest.file)}`,
          manifest.sha256,
          found,
        );
      await rename(partial, path);
    } catch (error) {
      await rm(partial, { force: true });
      if (error instanceof BackupChecksumError) throw error;
      throw new BackupBucketError(`cannot download ${manifest.file} from ${this.location}: ${this.describe(error)}`);
    }
    await writeManifest(folder, manifest);
    return manifest;
  }

  close(): void {
    this.#client.destroy();
  }
}
