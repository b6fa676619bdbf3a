import { and, eq, lt } from 'drizzle-orm';
import { uuidv7 } from 'uuidv7';
import type { Db } from '@mic/platform';
import { graphMedia, graphMediaCalls } from './schema.ts';

export type MediaRow = typeof graphMedia.$inferSelect;
export type MediaCall = Omit<typeof graphMediaCalls.$inferInsert, 'id'>;

/** Adds media ids an instance may reach; an id it already has keeps its row. */
export async function addMedia(db: Db, rows: (typeof graphMedia.$inferInsert)[]): Promise<void> {
  if (rows.length === 0) return;
  await db.insert(graphMedia).values(rows).onConflictDoNothing();
}

export async function getMedia(db: Db, instanceId: string, mediaId: string): Promise<MediaRow | undefined> {
  const [row] = await db
    .select()
    .from(graphMedia)
    .where(and(eq(graphMedia.instanceId, instanceId), eq(graphMedia.mediaId, mediaId)));
  return row;
}

export async function setMetaUrl(db: Db, instanceId: string, mediaId: string, url: string, at: Date): Promise<void> {
  await db
    .update(graphMedia)
    .set({ metaUrl: url, metaUrlAt: at })
    .where(and(eq(graphMedia.instanceId, instanceId), eq(graphMedia.mediaId, mediaId)));
}

/** Forgets a media id for every instance (Meta deleted it). */
export async function deleteMedia(db: Db, mediaId: string): Promise<void> {
  await db.delete(graphMedia).where(eq(graphMedia.mediaId, mediaId));
}

export async function pruneMedia(db: Db, before: Date): Promise<void> {
  await db.delete(graphMedia).where(lt(graphMedia.expiresAt, before));
}

export async function recordCall(db: Db, call: MediaCall): Promise<void> {
  await db.insert(graphMediaCalls).values({ id: uuidv7(), ...call });
}

export async function callsOf(db: Db, instanceId: string) {
  return db.select().from(graphMediaCalls).where(eq(graphMediaCalls.instanceId, instanceId));
}
