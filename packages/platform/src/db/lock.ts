import { closeSync, mkdirSync, openSync, readFileSync, rmSync, writeSync } from 'node:fs';
import { join } from 'node:path';

export const LOCK_FILE = 'mic.lock';

export class DataDirLockedError extends Error {
  readonly holderPid: number;
  constructor(dir: string, holderPid: number) {
    super(
      `the data folder ${dir} is in use by process ${holderPid}; stop it first, or ask it through its admin endpoint`,
    );
    this.name = 'DataDirLockedError';
    this.holderPid = holderPid;
  }
}

function isAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (error) {
    return (error as NodeJS.ErrnoException).code === 'EPERM';
  }
}

/** Returns the pid holding `dir`, or null when it is free (no lock, or its holder has died). */
export function lockHolder(dir: string): number | null {
  try {
    const pid = Number.parseInt(readFileSync(join(dir, LOCK_FILE), 'utf8'), 10);
    return Number.isInteger(pid) && isAlive(pid) ? pid : null;
  } catch {
    return null;
  }
}

/**
 * PGlite does not lock its data folder, and two processes on one folder corrupt it. The lock is a
 * pid file rather than an mtime lease (proper-lockfile and the like) so that a plane restarted after
 * kill -9 takes its folder back at once instead of waiting for the lease to go stale.
 */
export function lockDataDir(dir: string): () => void {
  mkdirSync(dir, { recursive: true });
  const path = join(dir, LOCK_FILE);
  for (let attempt = 0; attempt < 2; attempt++) {
    try {
      const fd = openSync(path, 'wx', 0o600);
      writeSync(fd, String(process.pid));
      closeSync(fd);
      return () => rmSync(path, { force: true });
    } catch (error) {
      if ((error as NodeJS.ErrnoException).code !== 'EEXIST') throw error;
      const holder = lockHolder(dir);
      if (holder !== null) throw new DataDirLockedError(dir, holder);
      rmSync(path, { force: true }); // left by a process that died without releasing it
    }
  }
  throw new Error(`could not lock the data folder ${dir}`);
}
