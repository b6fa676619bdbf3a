import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { PGlite } from '@electric-sql/pglite';
import { LOCK_FILE } from '../db/lock.ts';
import { countRows } from './row-counts.ts';

/**
 * Writes a PGlite data-folder dump into `dir` (which must not hold a database). The dump carries
 * the lock file of the plane it was taken from; it is dropped, the folder is free.
 */
export async function restorePglite(dump: Blob, dir: string): Promise<void> {
  const client = await PGlite.create({ dataDir: dir, loadDataDir: dump });
  await client.close();
  await rm(join(dir, LOCK_FILE), { force: true });
}

/** Restores `dump` into a scratch PGlite in a temporary folder and counts the rows of `schemas` there. */
export async function countRowsInScratchPglite(dump: Blob, schemas: string[]): Promise<Record<string, number>> {
  const dir = await mkdtemp(join(tmpdir(), 'mic-verify-'));
  try {
    const client = await PGlite.create({ dataDir: dir, loadDataDir: dump });
    try {
      return await countRows(async (text) => (await client.query<Record<string, unknown>>(text)).rows, schemas);
    } finally {
      await client.close();
    }
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
}
