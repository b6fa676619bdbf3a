import { mkdir, readdir, readFile, rename, rm, writeFile } from 'node:fs/promises';
import { join } from 'node:path';

export type BackupTrigger = 'scheduled' | 'manual';

/** What verification found: the scratch restore's row counts against the dump's own. */
export interface BackupVerification {
  ok: boolean;
  /** Where the copy was restored: `scratch database mic_verify_…` or `scratch PGlite`. */
  target: string;
  tables: number;
  rows: number;
  /** Tables whose counts differ (`schema.table: expected → found`), or the restore's error. */
  problems: string[];
  durationMs: number;
}

/** The backup's copy in the S3-compatible bucket; the local copy counts whatever happens to it. */
export interface BackupCopy {
  state: 'uploaded' | 'failed';
  bucket: string;
  key: string;
  /** SHA-256 of the bytes uploaded, checked again when the copy is downloaded. */
  sha256: string | null;
  etag: string | null;
  uploadedAt: string | null;
  durationMs: number;
  error: string | null;
}

/**
 * The manifest beside each backup file (`<id>.json`): what is inside, its checksum and how its
 * verification went. A failed attempt leaves a manifest too (no file), so health can say so.
 */
export interface BackupManifest {
  format: 'mic-backup/1';
  id: string;
  plane: string;
  state: 'verified' | 'failed';
  trigger: BackupTrigger;
  label: string | null;
  createdAt: string;
  /** `postgres` (pg_dump custom format of `schemas`) or `pglite` (a tarball of the data folder). */
  kind: 'postgres' | 'pglite';
  schemas: string[];
  /** The backup file's name in the plane's backup folder; null for a failed attempt. */
  file: string | null;
  sizeBytes: number | null;
  dumpBytes: number | null;
  sha256: string | null;
  compression: 'gzip';
  encryption: 'aes-256-gcm';
  /** Names the backup key (not the key): a restore with another key is refused up front. */
  keyId: string;
  /** Rows per `schema.table`, counted in the snapshot the dump was taken from. */
  rowCounts: Record<string, number>;
  verification: BackupVerification | null;
  /** Null when no bucket is configured (or for a manifest written before buckets existed). */
  copy: BackupCopy | null;
  durationMs: number;
  error: string | null;
  version: string;
}

export class BackupNotFoundError extends Error {
  constructor(id: string, where: string) {
    super(`no backup ${id} in ${where}`);
    this.name = 'BackupNotFoundError';
  }
}

export const BACKUP_FILE_SUFFIX = '.mic-backup';

export function backupId(plane: string, at: Date, suffix: string): string {
  return `${plane}-${at
    .toISOString()
    .replace(/[-:]/g, '')
    .replace(/\.\d+Z$/, 'Z')}-${suffix}`;
}

export async function writeManifest(dir: string, manifest: BackupManifest): Promise<string> {
  await mkdir(dir, { recursive: true, mode: 0o700 });
  const path = join(dir, `${manifest.id}.json`);
  const tmp = `${path}.${process.pid}.tmp`;
  await writeFile(tmp, `${JSON.stringify(manifest, null, 2)}\n`, { mode: 0o600 });
  await rename(tmp, path);
  return path;
}

export async function readManifest(path: string): Promise<BackupManifest> {
  return parseManifest(await readFile(path, 'utf8'), path);
}

export function parseManifest(text: string, where: string): BackupManifest {
  const value = JSON.parse(text) as Partial<BackupManifest>;
  if (value.format !== 'mic-backup/1' || typeof value.id !== 'string') {
    throw new Error(`${where} is not a MIC backup manifest`);
  }
  return { ...value, copy: value.copy ?? null } as BackupManifest;
}

/** Every manifest in `dir`, newest first; an unreadable one is skipped. */
export async function listManifests(dir: string): Promise<BackupManifest[]> {
  let names: string[];
  try {
    names = await readdir(dir);
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === 'ENOENT') return [];
    throw error;
  }
  const manifests = await Promise.all(
    names.filter((n) => n.endsWith('.json')).map((n) => readManifest(join(dir, n)).catch(() => null)),
  );
  return manifests
    .filter((m): m is BackupManifest => m !== null)
    .sort((a, b) => b.createdAt.localeCompare(a.createdAt) || b.id.localeCompare(a.id));
}

export async function removeBackup(dir: string, manifest: BackupManifest): Promise<void> {
  if (manifest.file) await rm(join(dir, manifest.file), { force: true });
  await rm(join(dir, `${manifest.id}.json`), { force: true });
}
