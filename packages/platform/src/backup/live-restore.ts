import { randomUUID } from 'node:crypto';
import { existsSync } from 'node:fs';
import { readFile, rename, rm, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import type { DatabaseOptions } from '../db/index.ts';
import { BackupKey } from './key.ts';
import { readManifest, type BackupManifest } from './manifest.ts';
import { planeSessions } from './postgres.ts';
import { planeBackupDir, restoreBackup, verifyChecksum, type BackupSettings } from './service.ts';

/** Who asked for a restore, as control's audit log names them. */
export interface RestoreActor {
  type: string;
  id: string | null;
  label: string | null;
}

/**
 * A restore into the live plane. Asked for while the plane runs (`pending`), applied by the plane
 * itself as it starts again, before it opens its database (`restored` or `failed`).
 */
export interface LiveRestore {
  requestId: string;
  plane: string;
  backupId: string;
  backupCreatedAt: string;
  requestedBy: string;
  requestedAt: string;
  state: 'pending' | 'restored' | 'failed';
  completedAt: string | null;
  keptAs: string[];
  error: string | null;
  actor: RestoreActor | null;
  /** Starts that tried it: a restore that kills the process is not tried forever. */
  attempts: number;
  /** Whether control's audit log has the outcome (control audits its own restore once it is back). */
  isAudited: boolean;
}

const PENDING_FILE = 'restore-pending.json';
const LAST_FILE = 'restore-last.json';
const MAX_ATTEMPTS = 2;

export class RestorePendingError extends Error {
  constructor(pending: LiveRestore) {
    super(`a restore of backup ${pending.backupId} is already pending (asked by ${pending.requestedBy})`);
    this.name = 'RestorePendingError';
  }
}

async function readRestore(path: string): Promise<LiveRestore | null> {
  try {
    return JSON.parse(await readFile(path, 'utf8')) as LiveRestore;
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === 'ENOENT') return null;
    throw error;
  }
}

async function writeRestore(path: string, restore: LiveRestore): Promise<void> {
  const tmp = `${path}.${process.pid}.tmp`;
  await writeFile(tmp, `${JSON.stringify(restore, null, 2)}\n`, { mode: 0o600 });
  await rename(tmp, path);
}

/** The pending restore, else the latest one applied, in a plane's backup folder. */
export async function latestLiveRestore(folder: string): Promise<LiveRestore | null> {
  return (await readRestore(join(folder, PENDING_FILE))) ?? readRestore(join(folder, LAST_FILE));
}

/** Records the restore to apply at the plane's next start; the backup's checksum is checked first. */
export async function scheduleLiveRestore(options: {
  folder: string;
  manifest: BackupManifest;
  requestedBy: string;
  actor: RestoreActor | null;
  now: Date;
}): Promise<LiveRestore> {
  const { folder, manifest } = options;
  const pending = await readRestore(join(folder, PENDING_FILE));
  if (pending) throw new RestorePendingError(pending);
  if (manifest.state !== 'verified') throw new Error(`backup ${manifest.id} failed; it cannot be restored`);
  await verifyChecksum(folder, manifest);
  const restore: LiveRestore = {
    requestId: randomUUID(),
    plane: manifest.plane,
    backupId: manifest.id,
    backupCreatedAt: manifest.createdAt,
    requestedBy: options.requestedBy,
    requestedAt: options.now.toISOString(),
    state: 'pending',
    completedAt: null,
    keptAs: [],
    error: null,
    actor: options.actor,
    attempts: 0,
    isAudited: false,
  };
  await writeRestore(join(folder, PENDING_FILE), restore);
  return restore;
}

/** Marks the latest restore as written to control's audit log. */
export async function markLiveRestoreAudited(folder: string): Promise<void> {
  const last = await readRestore(join(folder, LAST_FILE));
  if (last && !last.isAudited) await writeRestore(join(folder, LAST_FILE), { ...last, isAudited: true });
}

/** Waits until no other process of the plane (another replica) has a session on its database. */
async function waitForOtherSessions(url: string, schema: string, waitMs: number): Promise<number> {
  const deadline = Date.now() + waitMs;
  for (;;) {
    const sessions = await planeSessions(url, schema);
    if (sessions === 0 || Date.now() >= deadline) return sessions;
    await sleep(500);
  }
}

/**
 * Applies the pending restore, if any, before the plane opens its database: the plane's previous
 * process has stopped (HTTP, then its workers, which finished or released their jobs), so nothing
 * of this plane writes meanwhile. On Postgres it waits up to `sessionWaitMs` for every other
 * replica's sessions to end, and gives up (data untouched) if some remain. Never throws: the
 * outcome is written beside the backups and returned, and the plane starts either way.
 */
export async function applyPendingRestore(options: {
  plane: string;
  settings: BackupSettings | undefined;
  database: DatabaseOptions;
  now?: () => Date;
  log?: (line: string) => void;
  sessionWaitMs?: number;
}): Promise<LiveRestore | null> {
  if (!options.settings) return null;
  const folder = planeBackupDir(options.settings.dir, options.plane);
  const pendingPath = join(folder, PENDING_FILE);
  if (!existsSync(pendingPath)) return null;
  const pending = await readRestore(pendingPath);
  if (!pending) return null;
  const now = options.now ?? (() => new Date());
  const log = options.log ?? (() => {});
  const { settings, database } = options;
  const attempt = { ...pending, attempts: pending.attempts + 1 };
  await writeRestore(pendingPath, attempt);
  const outcome: LiveRestore = { ...attempt };
  try {
    if (pending.attempts >= MAX_ATTEMPTS) {
      throw new Error(`given up after ${pending.attempts} interrupted attempts`);
    }
    log(
      `${options.plane}: restoring backup ${pending.backupId} into the live database, as asked by ${pending.requestedBy}`,
    );
    const manifest = await readManifest(join(folder, `${pending.backupId}.json`));
    if (database.url) {
      const others = await waitForOtherSessions(database.url, database.schema, options.sessionWaitMs ?? 30_000);
      if (others > 0) {
        throw new Error(
          `${others} database session(s) of other ${options.plane} processes (mic-${database.schema}) are still open: stop every replica, then ask again`,
        );
      }
    } else if (database.dataDir.startsWith('memory://')) {
      throw new Error('the database is in memory: there is nothing to restore into');
    }
    const { keptAs } = await restoreBackup({
      folder,
      manifest,
      key: BackupKey.load(settings.keyFile),
      target: database.url
        ? { kind: 'postgres', url: database.url, replace: true }
        : { kind: 'pglite', dir: database.dataDir, replace: true },
      pgTools: settings.pgTools,
      now: now(),
      onStep: log,
    });
    Object.assign(outcome, { state: 'restored', keptAs });
    log(`${options.plane}: restored backup ${pending.backupId}; what was live is kept as ${keptAs.join(', ')}`);
  } catch (error) {
    Object.assign(outcome, { state: 'failed', error: (error as Error).message });
    log(`${options.plane}: the restore of ${pending.backupId} FAILED, the live data is unchanged: ${outcome.error}`);
  }
  outcome.completedAt = now().toISOString();
  await writeRestore(join(folder, LAST_FILE), outcome);
  await rm(pendingPath, { force: true });
  return outcome;
}
