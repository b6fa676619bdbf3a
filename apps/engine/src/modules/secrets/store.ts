import { and, asc, desc, eq, lte, ne, sql } from 'drizzle-orm';
import type { Db } from '@mic/platform';
import { secretVersions, secrets } from './schema.ts';

export type SecretRow = typeof secrets.$inferSelect;
export type VersionRow = typeof secretVersions.$inferSelect;

/** The secret store's queries; nothing else touches these tables. */
export const secretQueries = {
  async byRef(db: Db, ref: string): Promise<SecretRow | undefined> {
    const [row] = await db.select().from(secrets).where(eq(secrets.ref, ref));
    return row;
  },

  /** The current version of a secret, with the secret's id (one statement: it is read for every send). */
  async currentByRef(db: Db, ref: string): Promise<VersionRow | undefined> {
    const [row] = await db
      .select({ version: secretVersions })
      .from(secrets)
      .innerJoin(
        secretVersions,
        and(eq(secretVersions.secretId, secrets.id), eq(secretVersions.version, secrets.currentVersion)),
      )
      .where(eq(secrets.ref, ref));
    return row?.version;
  },

  async lockByRef(db: Db, ref: string): Promise<SecretRow | undefined> {
    const [row] = await db.select().from(secrets).where(eq(secrets.ref, ref)).for('update');
    return row;
  },

  async all(db: Db): Promise<SecretRow[]> {
    return db.select().from(secrets).orderBy(asc(secrets.ref));
  },

  /** Versions still readable at `now` (current and unexpired previous), newest first. */
  async liveVersions(db: Db, secretId: string, now: Date): Promise<VersionRow[]> {
    return db
      .select()
      .from(secretVersions)
      .where(
        and(
          eq(secretVersions.secretId, secretId),
          sql`(${secretVersions.expiresAt} is null or ${secretVersions.expiresAt} > ${now})`,
        ),
      )
      .orderBy(desc(secretVersions.version));
  },

  async deleteExpired(db: Db, secretId: string, now: Date): Promise<void> {
    await db
      .delete(secretVersions)
      .where(and(eq(secretVersions.secretId, secretId), lte(secretVersions.expiresAt, now)));
  },

  async expireVersion(db: Db, secretId: string, version: number, at: Date): Promise<void> {
    await db
      .update(secretVersions)
      .set({ expiresAt: at })
      .where(and(eq(secretVersions.secretId, secretId), eq(secretVersions.version, version)));
  },

  async notUnderKek(db: Db, kekVersion: number, limit: number): Promise<VersionRow[]> {
    return db.select().from(secretVersions).where(ne(secretVersions.kekVersion, kekVersion)).limit(limit);
  },

  /** Replaces a data key's wrapping, only if nobody re-wrapped it meanwhile. */
  async rewrapped(db: Db, row: VersionRow, wrappedKey: string, kekVersion: number): Promise<boolean> {
    const updated = await db
      .update(secretVersions)
      .set({ wrappedKey, kekVersion })
      .where(and(eq(secretVersions.id, row.id), eq(secretVersions.kekVersion, row.kekVersion)))
      .returning({ id: secretVersions.id });
    return updated.length > 0;
  },
};
