import { PGlite } from '@electric-sql/pglite';
import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { PGLITE_TEMPLATE_ENV, TEST_DATABASE_URL } from '@mic/platform/testing';

/**
 * A new PGlite runs initdb (about 2 s); a tarball of one made here is loaded by every test
 * database instead (about 0.2 s). Not needed when the tests run on Postgres.
 */
export default async function setup(): Promise<void> {
  if (TEST_DATABASE_URL) return;
  const dir = join(import.meta.dirname, '..', '.test-data');
  mkdirSync(dir, { recursive: true });
  const path = join(dir, 'pglite-template.tar');
  const db = await PGlite.create();
  const dump = await db.dumpDataDir('none');
  await db.close();
  writeFileSync(path, Buffer.from(await dump.arrayBuffer()));
  process.env[PGLITE_TEMPLATE_ENV] = path;
}
