import { randomBytes } from 'node:crypto';
import { mkdir, readFile, rename, rm, writeFile } from 'node:fs/promises';
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { Readable } from 'node:stream';
import type { ReadableStream as WebReadableStream } from 'node:stream/web';
import type { Clock } from '../clock/index.ts';
import type { Database } from '../db/index.ts';
import { lockDataDir, LOCK_FILE } from '../db/lock.ts';
import type { HealthCheck, Observation } from '../health/index.ts';
import { BackupKey } from './key.ts';
import {
  BACKUP_FILE_SUFFIX,
  backupId,
  BackupNotFoundError,
  listManifests,
  readManifest,
  removeBackup,
  writeManifest,
  type BackupManifest,
  type BackupTrigger,
  type BackupVerification,
} from './manifest.ts';
import { countRowsInScratchPglite, restorePglite } from './pglite.ts';
import {
  countRowsAt,
  dumpPostgres,
  restorePostgres,
  setSchemasAside,
  withScratchDatabase,
  type PgTools,
} from './postgres.ts';
import { retainedBackups, type RetentionPolicy } from './retention.ts';
import { countRows } from './row-counts.ts';
import { BackupChecksumError, openSealedFile, readBlob, sealToFile, sha256File } from './sealed-file.ts';
import { BackupBucket, type BucketSettings } from './bucket.ts';

export { BackupChecksumError, BackupNotFoundError };

export interface BackupSettings {
  /** BACKUP_DIR: each plane writes into a folder of its own under it. */
  dir: string;
  keyFile: string;
  retention: RetentionPolicy;
  /** Whether backups run on a schedule (health then warns when the latest is older than `overdueAfterMs`). */
  isScheduled: boolean;
  overdueAfterMs: number;
  pgTools: PgTools;
  /** Where the keys a restore needs are (the backup key, the engine's keyring), for the operator. */
  keyLocations: string[];
  /** The S3-compatible bucket every verified backup is copied to; undefined: local copies only. */
  bucket?: BucketSettings | undefined;
}

/** A progress line for the person waiting (`mic backup` prints one per step). */
export type StepReporter = (line: string) => void;

const KEYS_CONFIRMED_FILE = 'keys-confirmed.json';

/** That a person has copies of the keys outside the machine (`mic backup confirm-keys`). */
export interface KeysConfirmation {
  confirmedAt: string;
  confirmedBy: string;
  /** The backup key confirmed: a new key needs a new confirmation. */
  backupKeyId: string;
}

export function planeBackupDir(root: string, plane: string): string {
  return join(root, plane);
}

function backupSchemas(schema: string): string[] {
  return [schema, `${schema}_queue`];
}

export function formatBytes(bytes: number): string {
  if (bytes < 1024) return `${bytes} B`;
  const units = ['KiB', 'MiB', 'GiB', 'TiB'];
  let value = bytes / 1024;
  let unit = 0;
  while (value >= 1024 && unit < units.length - 1) {
    value /= 1024;
    unit++;
  }
  return `${value.toFixed(1)} ${units[unit]}`;
}

function blobStream(blob: Blob): Readable {
  return Readable.fromWeb(blob.stream() as unknown as WebReadableStream<Uint8Array>);
}

function compareCounts(expected: Record<string, number>, found: Record<string, number>): string[] {
  const tables = [...new Set([...Object.keys(expected), ...Object.keys(found)])].sort();
  return tables
    .filter((t) => expected[t] !== found[t])
    .map((t) => `${t}: ${expected[t] ?? 'absent'} in the dump, ${found[t] ?? 'absent'} restored`);
}

/** Checks a backup file against its manifest's SHA-256; throws BackupChecksumError when they differ. */
export async function verifyChecksum(folder: string, manifest: BackupManifest): Promise<void> {
  if (!manifest.file || !manifest.sha256) throw new Error(`backup ${manifest.id} has no file (it failed)`);
  const path = join(folder, manifest.file);
  const found = await sha256File(path);
  if (found !== manifest.sha256) throw new BackupChecksumError(path, manifest.sha256, found);
}

function openBackup(folder: string, manifest: BackupManifest, key: BackupKey) {
  if (manifest.keyId !== key.id) {
    throw new Error(
      `backup ${manifest.id} was encrypted with backup key ${manifest.keyId}, but ${key.path} holds key ${key.id}`,
    );
  }
  return openSealedFile(join(folder, manifest.file!), key);
}

/** Where a restore writes: a Postgres database, or a PGlite data folder. */
export type RestoreTarget =
  { kind: 'postgres'; url: string; replace: boolean } | { kind: 'pglite'; dir: string; replace: boolean };

/**
 * Restores a backup (checksum first). Into a live plane (`replace`), what is there is kept aside —
 * schemas renamed, or the folder moved — and put back if the restore fails; returns where it is.
 */
export async function restoreBackup(options: {
  folder: string;
  manifest: BackupManifest;
  key: BackupKey;
  target: RestoreTarget;
  pgTools: PgTools;
  now: Date;
  onStep?: StepReporter;
}): Promise<{ keptAs: string[] }> {
  const { folder, manifest, key, target } = options;
  const step = options.onStep ?? (() => {});
  if (manifest.state !== 'verified') throw new Error(`backup ${manifest.id} failed; it cannot be restored`);
  await verifyChecksum(folder, manifest);
  step(`${manifest.plane}: checksum OK (sha256 ${manifest.sha256!.slice(0, 16)}…)`);
  const stamp = options.now.toISOString().replace(/[-:.]/g, '').toLowerCase();
  if (manifest.kind === 'postgres') {
    if (target.kind !== 'postgres')
      throw new Error(`backup ${manifest.id} is a Postgres dump; restore it into Postgres`);
    const aside = target.replace
      ? await setSchemasAside(target.url, manifest.schemas, `before_restore_${stamp}`)
      : { keptAs: [], putBack: async () => {} };
    if (aside.keptAs.length) step(`${manifest.plane}: live schemas kept as ${aside.keptAs.join(', ')}`);
    step(`${manifest.plane}: restoring ${manifest.schemas.join(', ')} with pg_restore`);
    try {
      await restorePostgres({ url: target.url, dump: await openBackup(folder, manifest, key), tools: options.pgTools });
    } catch (error) {
      await aside.putBack();
      throw error;
    }
    return { keptAs: aside.keptAs };
  }
  if (target.kind !== 'pglite')
    throw new Error(`backup ${manifest.id} is a PGlite data folder; restore it into PGlite`);
  const dump = await readBlob(await openBackup(folder, manifest, key));
  if (!target.replace) {
    step(`${manifest.plane}: writing the data folder ${target.dir}`);
    await restorePglite(dump, target.dir);
    return { keptAs: [] };
  }
  // Holding the live folder's lock proves no plane runs on it, and keeps one from starting meanwhile.
  const unlock = lockDataDir(target.dir);
  const incoming = `${target.dir}.restoring-${stamp}`;
  const aside = `${target.dir}.before-restore-${stamp}`;
  try {
    step(`${manifest.plane}: writing the data folder into ${incoming}`);
    await restorePglite(dump, incoming);
  } catch (error) {
    await rm(incoming, { recursive: true, force: true });
    unlock();
    throw error;
  }
  await rename(target.dir, aside);
  try {
    await rename(incoming, target.dir);
  } catch (error) {
    // Something made a new folder in between (a plane starting): the old one goes back.
    await rm(incoming, { recursive: true, force: true });
    await rename(aside, target.dir).catch(() => {});
    unlock();
    throw error;
  }
  await rm(join(aside, LOCK_FILE), { force: true });
  step(`${manifest.plane}: the previous data folder is kept as ${aside}`);
  return { keptAs: [aside] };
}

async function readKeysConfirmation(root: string): Promise<KeysConfirmation | null> {
  try {
    return JSON.parse(await readFile(join(root, KEYS_CONFIRMED_FILE), 'utf8')) as KeysConfirmation;
  } catch {
    return null;
  }
}

/** Records that the keys have a copy outside the machine (for the current backup key). */
export async function confirmKeys(root: string, keyFile: string, by: string, now: Date): Promise<KeysConfirmation> {
  const confirmation: KeysConfirmation = {
    confirmedAt: now.toISOString(),
    confirmedBy: by,
    backupKeyId: BackupKey.load(keyFile).id,
  };
  await mkdir(root, { recursive: true, mode: 0o700 });
  const tmp = join(root, `${KEYS_CONFIRMED_FILE}.${process.pid}.tmp`);
  await writeFile(tmp, `${JSON.stringify(confirmation, null, 2)}\n`, { mode: 0o600 });
  await rename(tmp, join(root, KEYS_CONFIRMED_FILE));
  return confirmation;
}

/**
 * A plane's backups: taken from its own database (PGlite: the running plane owns its folder),
 * compressed, encrypted, checksummed, verified by a restore into a scratch database, pruned by the
 * retention policy, and reported by health.
 */
export class PlaneBackups {
  readonly plane: string;
  readonly folder: string;
  readonly settings: BackupSettings;
  readonly #database: Database;
  readonly #clock: Clock;
  readonly #version: string;
  readonly #since: Date;
  readonly bucket: BackupBucket | null;

  constructor(deps: { plane: string; database: Database; settings: BackupSettings; clock: Clock; version: string }) {
    this.plane = deps.plane;
    this.settings = deps.settings;
    this.folder = planeBackupDir(deps.settings.dir, deps.plane);
    this.#database = deps.database;
    this.#clock = deps.clock;
    this.#version = deps.version;
    this.#since = deps.clock.now();
    this.bucket = deps.settings.bucket ? new BackupBucket(deps.settings.bucket) : null;
  }

  get schemas(): string[] {
    return backupSchemas(this.#database.schema);
  }

  list(): Promise<BackupManifest[]> {
    return listManifests(this.folder);
  }

  /**
   * How the plane gets restarted to apply a restore into its live database: SIGTERM to itself, so
   * it stops as on any shutdown; `mic start` (or the process manager) starts it again.
   */
  restartForRestore: () => void = () => {
    process.kill(process.pid, 'SIGTERM');
  };

  /** Backup `id`'s manifest, downloaded with its file from the bucket when it is not here (any more). */
  async manifest(id: string, onStep: StepReporter = () => {}): Promise<BackupManifest> {
    if (!/^[a-z]+-[0-9TZ]+-[0-9a-f]+$/.test(id)) throw new BackupNotFoundError(id, this.folder);
    const path = join(this.folder, `${id}.json`);
    if (existsSync(path)) return readManifest(path);
    if (!this.bucket) throw new BackupNotFoundError(id, this.folder);
    onStep(`${this.plane}: fetching ${id} from ${this.bucket.location}`);
    const manifest = await this.bucket.download(this.plane, id, this.folder);
    onStep(`${this.plane}: fetched ${manifest.file} (${formatBytes(manifest.sizeBytes ?? 0)}), checksum OK`);
    return manifest;
  }

  async take(options: {
    trigger: BackupTrigger;
    label?: string | null;
    onStep?: StepReporter;
  }): Promise<BackupManifest> {
    const step = options.onStep ?? (() => {});
    const startedAt = performance.now();
    const createdAt = this.#clock.now();
    const id = backupId(this.plane, createdAt, randomBytes(3).toString('hex'));
    const file = `${id}${BACKUP_FILE_SUFFIX}`;
    const path = join(this.folder, file);
    const db = this.#database;
    const manifest: BackupManifest = {
      format: 'mic-backup/1',
      id,
      plane: this.plane,
      state: 'failed',
      trigger: options.trigger,
      label: options.label ?? null,
      createdAt: createdAt.toISOString(),
      kind: db.kind,
      schemas: this.schemas,
      file: null,
      sizeBytes: null,
      dumpBytes: null,
      sha256: null,
      compression: 'gzip',
      encryption: 'aes-256-gcm',
      keyId: '',
      rowCounts: {},
      verification: null,
      copy: null,
      durationMs: 0,
      error: null,
      version: this.#version,
    };
    try {
      const key = BackupKey.load(this.settings.keyFile);
      manifest.keyId = key.id;
      await mkdir(this.folder, { recursive: true, mode: 0o700 });
      step(
        db.kind === 'postgres'
          ? `${this.plane}: dumping schemas ${this.schemas.join(', ')} with pg_dump`
          : `${this.plane}: dumping the PGlite data folder`,
      );
      const dumped = await this.#dump(path, key);
      Object.assign(manifest, { file, ...dumped.sealed, rowCounts: dumped.rowCounts });
      const rows = Object.values(dumped.rowCounts).reduce((a, b) => a + b, 0);
      step(
        `${this.plane}: wrote ${file}: ${formatBytes(dumped.sealed.sizeBytes)} compressed and encrypted ` +
          `(${Object.keys(dumped.rowCounts).length} tables, ${rows} rows), sha256 ${dumped.sealed.sha256.slice(0, 16)}…`,
      );
      step(`${this.plane}: verifying: restoring it into a scratch ${db.kind === 'postgres' ? 'database' : 'PGlite'}`);
      manifest.verification = await this.verify(manifest, key);
      if (!manifest.verification.ok) {
        throw new Error(`verification failed: ${manifest.verification.problems.join('; ')}`);
      }
      manifest.state = 'verified';
      step(`${this.plane}: verified: every table has the rows the dump counted`);
      if (this.bucket) manifest.copy = await this.#copyToBucket(manifest, step);
      if (manifest.copy?.state === 'uploaded') await this.#retryFailedCopies(step);
    } catch (error) {
      manifest.error = (error as Error).message;
      manifest.file = null;
      await rm(path, { force: true });
      step(`${this.plane}: FAILED: ${manifest.error}`);
    }
    manifest.durationMs = Math.round(performance.now() - startedAt);
    await writeManifest(this.folder, manifest);
    if (manifest.state === 'verified') {
      const pruned = await this.prune();
      step(`${this.plane}: retention: ${pruned.kept} kept, ${pruned.removed.length} removed`);
      if (this.bucket) {
        try {
          const inBucket = await this.pruneBucket();
          step(`${this.plane}: retention in the bucket: ${inBucket.kept} kept, ${inBucket.removed.length} removed`);
        } catch (error) {
          step(`${this.plane}: WARNING: retention in the bucket failed: ${this.bucket.describe(error)}`);
        }
      }
    }
    return manifest;
  }

  async #copyToBucket(manifest: BackupManifest, step: StepReporter): Promise<BackupManifest['copy']> {
    const bucket = this.bucket!;
    step(`${this.plane}: copying it to ${bucket.location}`);
    const total = manifest.sizeBytes ?? 0;
    let reported = 0;
    const copy = await bucket.upload(this.folder, manifest, (sent) => {
      // A line per quarter: enough to see a large upload move, few enough for a log.
      const quarter = total ? Math.floor((sent / total) * 4) : 0;
      if (quarter > reported && quarter < 4) {
        reported = quarter;
        step(`${this.plane}: uploaded ${formatBytes(sent)} of ${formatBytes(total)}`);
      }
    });
    step(
      copy.state === 'uploaded'
        ? `${this.plane}: copied to ${bucket.location} as ${copy.key} (sha256 ${copy.sha256!.slice(0, 16)}…, ${copy.durationMs} ms)`
        : `${this.plane}: WARNING: the copy to ${bucket.location} failed: ${copy.error}; the local copy is verified and counts`,
    );
    return copy;
  }

  /** Uploads again the retained backups whose copy failed before, now that the bucket answers. */
  async #retryFailedCopies(step: StepReporter): Promise<void> {
    for (const earlier of await this.list()) {
      if (earlier.state !== 'verified' || earlier.copy?.state !== 'failed') continue;
      if (!existsSync(join(this.folder, earlier.file!))) continue;
      step(`${this.plane}: copying ${earlier.id} again, whose copy had failed`);
      const copy = await this.bucket!.upload(this.folder, earlier);
      await writeManifest(this.folder, { ...earlier, copy });
      if (copy.state === 'failed') step(`${this.plane}: WARNING: ${earlier.id} still not copied: ${copy.error}`);
    }
  }

  async #dump(path: string, key: BackupKey) {
    const db = this.#database;
    if (db.kind === 'pglite') {
      const { dump, read } = await db.snapshotDataDir!((query) => countRows(query, this.schemas));
      return { sealed: await sealToFile(blobStream(dump), path, key), rowCounts: read };
    }
    const url = this.#postgresUrl();
    const { sunk, rowCounts } = await dumpPostgres({
      url,
      schemas: this.schemas,
      tools: this.settings.pgTools,
      sink: (stream) => sealToFile(stream, path, key),
    });
    return { sealed: sunk, rowCounts };
  }

  #postgresUrl(): string {
    const connection = this.#database.queueConnection;
    if (connection.backend !== 'postgres') throw new Error('not a Postgres database');
    return connection.connectionString;
  }

  /** Restores the backup into a scratch database and compares its row counts with the manifest's. */
  async verify(manifest: BackupManifest, key = BackupKey.load(this.settings.keyFile)): Promise<BackupVerification> {
    const startedAt = performance.now();
    let target = manifest.kind === 'postgres' ? 'scratch database' : 'scratch PGlite';
    let found: Record<string, number> = {};
    const problems: string[] = [];
    try {
      await verifyChecksum(this.folder, manifest);
      if (manifest.kind === 'postgres') {
        found = await withScratchDatabase(this.#postgresUrl(), async (url, name) => {
          target = `scratch database ${name}`;
          await restorePostgres({
            url,
            dump: await openBackup(this.folder, manifest, key),
            tools: this.settings.pgTools,
          });
          return countRowsAt(url, manifest.schemas);
        });
      } else {
        const dump = await readBlob(await openBackup(this.folder, manifest, key));
        found = await countRowsInScratchPglite(dump, manifest.schemas);
      }
      problems.push(...compareCounts(manifest.rowCounts, found));
    } catch (error) {
      problems.push((error as Error).message);
    }
    return {
      ok: problems.length === 0,
      target,
      tables: Object.keys(found).length,
      rows: Object.values(found).reduce((a, b) => a + b, 0),
      problems,
      durationMs: Math.round(performance.now() - startedAt),
    };
  }

  /**
   * Deletes what the retention policy no longer keeps, and failed attempts older than the newest
   * backup. Manual backups are kept at least for the daily window.
   */
  async prune(): Promise<{ kept: number; removed: string[] }> {
    const all = await this.list();
    const removed = this.#beyondRetention(all);
    for (const m of removed) await removeBackup(this.folder, m);
    return { kept: all.length - removed.length, removed: removed.map((m) => m.id) };
  }

  /** The same retention for the copies in the bucket, judged from the bucket's own manifests. */
  async pruneBucket(): Promise<{ kept: number; removed: string[] }> {
    if (!this.bucket) return { kept: 0, removed: [] };
    const all = await this.bucket.list(this.plane);
    const removed = this.#beyondRetention(all);
    for (const m of removed) await this.bucket.remove(m);
    return { kept: all.length - removed.length, removed: removed.map((m) => m.id) };
  }

  #beyondRetention(all: BackupManifest[]): BackupManifest[] {
    const verified = all.filter((m) => m.state === 'verified');
    const keep = retainedBackups(
      verified.map((m) => ({ id: m.id, createdAt: new Date(m.createdAt) })),
      this.#clock.now(),
      this.settings.retention,
    );
    const newest = verified[0]?.createdAt ?? '';
    // A backup taken by hand ("before the upgrade") outlives the newer ones of its day for the daily window.
    const manualSince = this.#clock.now().getTime() - this.settings.retention.daily * 86_400_000;
    return all.filter((m) =>
      m.state === 'verified'
        ? !keep.has(m.id) && !(m.trigger === 'manual' && new Date(m.createdAt).getTime() > manualSince)
        : m.createdAt <= newest,
    );
  }

  /** `backups:latest` and `backups:keys`: warn (never fail) when a scheduled backup is overdue or failed, or the keys have no confirmed copy. */
  healthChecks(): HealthCheck[] {
    return [
      { name: 'backups:latest', run: () => this.#latestObservation() },
      { name: 'backups:keys', run: () => this.#keysObservation() },
      ...(this.bucket ? [{ name: 'backups:bucket', run: () => this.#bucketObservation() }] : []),
    ];
  }

  /** Warns while the newest verified backup has no good copy in the bucket; the local copy still counts. */
  async #bucketObservation(): Promise<Observation> {
    const base = { componentId: this.bucket!.location, componentType: 'datastore' } as const;
    const latest = (await this.list()).find((m) => m.state === 'verified');
    if (!latest?.copy) return { ...base, status: 'pass', ...(latest ? {} : { output: 'no backup yet' }) };
    if (latest.copy.state === 'failed') {
      return {
        ...base,
        status: 'warn',
        output: `the copy of ${latest.id} to the bucket failed: ${latest.copy.error} (the local copy is verified; the next backup tries again)`,
      };
    }
    return { ...base, status: 'pass', observedValue: latest.copy.uploadedAt, observedUnit: 'time' };
  }

  async #latestObservation(): Promise<Observation> {
    const all = await this.list();
    const latest = all.find((m) => m.state === 'verified');
    const now = this.#clock.now().getTime();
    const base = { componentId: this.plane, componentType: 'datastore', observedUnit: 's' } as const;
    const age = latest ? Math.round((now - new Date(latest.createdAt).getTime()) / 1000) : null;
    const lastScheduled = all.find((m) => m.trigger === 'scheduled');
    if (lastScheduled?.state === 'failed') {
      return {
        ...base,
        observedValue: age,
        status: 'warn',
        output: `the scheduled backup ${lastScheduled.id} failed: ${lastScheduled.error}`,
      };
    }
    const reference = latest ? new Date(latest.createdAt).getTime() : this.#since.getTime();
    if (this.settings.isScheduled && now - reference > this.settings.overdueAfterMs) {
      return {
        ...base,
        observedValue: age,
        status: 'warn',
        output: latest
          ? `the latest backup (${latest.id}) is overdue`
          : 'no backup has been taken yet, and one is overdue',
      };
    }
    return { ...base, observedValue: age, status: 'pass', ...(latest ? {} : { output: 'no backup yet' }) };
  }

  async #keysObservation(): Promise<Observation> {
    const base = { componentId: this.plane, componentType: 'system' } as const;
    const hasBackups = (await this.list()).some((m) => m.state === 'verified');
    if (!hasBackups || !existsSync(this.settings.keyFile)) return { ...base, status: 'pass' };
    const confirmation = await readKeysConfirmation(this.settings.dir);
    const keyId = BackupKey.load(this.settings.keyFile).id;
    if (confirmation?.backupKeyId === keyId) {
      return { ...base, status: 'pass', observedValue: confirmation.confirmedAt };
    }
    return {
      ...base,
      status: 'warn',
      output:
        `no copy of the keys a restore needs is confirmed outside this machine (${this.settings.keyLocations.join('; ')}); ` +
        'copy them somewhere safe, then run mic backup confirm-keys',
    };
  }
}
