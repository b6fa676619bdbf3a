import { createCipheriv, createDecipheriv, createHash, randomBytes } from 'node:crypto';
import { createReadStream, createWriteStream } from 'node:fs';
import { open, stat } from 'node:fs/promises';
import { Readable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { createGunzip, createGzip } from 'node:zlib';
import type { BackupKey } from './key.ts';

/**
 * A backup file: `MICBKP1\n`, a 12-byte IV, the gzip-compressed dump encrypted with AES-256-GCM
 * (the magic as associated data), then the 16-byte GCM tag.
 */
const MAGIC = Buffer.from('MICBKP1\n');
const IV_BYTES = 12;
const TAG_BYTES = 16;
const HEADER_BYTES = MAGIC.length + IV_BYTES;

export class BackupChecksumError extends Error {
  constructor(file: string, expected: string, found: string) {
    super(`${file} is damaged: its SHA-256 is ${found}, the manifest says ${expected}`);
    this.name = 'BackupChecksumError';
  }
}

export interface SealedFile {
  sizeBytes: number;
  /** SHA-256 of the whole file, hex. */
  sha256: string;
  /** Size of the dump before compression. */
  dumpBytes: number;
}

/** Compresses, encrypts and writes `source` to `path` (mode 0600), hashing what it writes. */
export async function sealToFile(source: Readable, path: string, key: BackupKey): Promise<SealedFile> {
  const iv = randomBytes(IV_BYTES);
  const cipher = createCipheriv('aes-256-gcm', key.bytes, iv).setAAD(MAGIC);
  const hash = createHash('sha256');
  let sizeBytes = 0;
  let dumpBytes = 0;
  const counted = async function* (input: AsyncIterable<Buffer>) {
    for await (const chunk of input) {
      dumpBytes += chunk.length;
      yield chunk;
    }
  };
  const framed = async function* (encrypted: AsyncIterable<Buffer>) {
    const emit = (chunk: Buffer) => {
      hash.update(chunk);
      sizeBytes += chunk.length;
      return chunk;
    };
    yield emit(Buffer.concat([MAGIC, iv]));
    for await (const chunk of encrypted) yield emit(chunk);
    yield emit(cipher.getAuthTag());
  };
  await pipeline(source, counted, createGzip({ level: 6 }), cipher, framed, createWriteStream(path, { mode: 0o600 }));
  return { sizeBytes, sha256: hash.digest('hex'), dumpBytes };
}

export async function sha256File(path: string): Promise<string> {
  const hash = createHash('sha256');
  await pipeline(createReadStream(path), hash);
  return hash.digest('hex');
}

/**
 * The dump inside a backup file, as a stream. The GCM tag is checked when the stream ends: a
 * tampered or truncated file, or the wrong key, makes the stream fail there.
 */
export async function openSealedFile(path: string, key: BackupKey): Promise<Readable> {
  const { size } = await stat(path);
  if (size < HEADER_BYTES + TAG_BYTES) throw new Error(`${path} is too short to be a backup`);
  const handle = await open(path, 'r');
  const header = Buffer.alloc(HEADER_BYTES);
  const tag = Buffer.alloc(TAG_BYTES);
  try {
    await handle.read(header, 0, HEADER_BYTES, 0);
    await handle.read(tag, 0, TAG_BYTES, size - TAG_BYTES);
  } finally {
    await handle.close();
  }
  if (!header.subarray(0, MAGIC.length).equals(MAGIC)) throw new Error(`${path} is not a MIC backup file`);
  const decipher = createDecipheriv('aes-256-gcm', key.bytes, header.subarray(MAGIC.length)).setAAD(MAGIC);
  decipher.setAuthTag(tag);
  const gunzip = createGunzip();
  const flowing = pipeline(
    createReadStream(path, { start: HEADER_BYTES, end: size - TAG_BYTES - 1 }),
    decipher,
    gunzip,
  );
  flowing.catch(() => {}); // awaited below; this only keeps an early failure from going unhandled
  const plain = async function* () {
    try {
      yield* gunzip;
      await flowing;
    } catch (error) {
      const isForged = /unable to authenticate/i.test((error as Error).message);
      throw isForged ? new Error(`${path} does not decrypt: it was altered, or encrypted with another key`) : error;
    }
  };
  return Readable.from(plain(), { objectMode: false });
}

/** The whole stream in memory, as PGlite's loadDataDir wants it. */
export async function readBlob(stream: Readable): Promise<Blob> {
  const chunks: Uint8Array<ArrayBuffer>[] = [];
  for await (const chunk of stream) chunks.push(chunk as Uint8Array<ArrayBuffer>);
  return new Blob(chunks);
}
