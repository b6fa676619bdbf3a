import { and, asc, eq } from 'drizzle-orm';
import type { Db } from '@mic/platform';
import { channelConnections } from './schema.ts';

export type ConnectionRow = typeof channelConnections.$inferSelect;

const key = (platform: string, channelId: string) =>
  and(eq(channelConnections.platform, platform), eq(channelConnections.channelId, channelId));

/** The channels module's queries; nothing else touches its table. */
export const connectionQueries = {
  async get(db: Db, platform: string, channelId: string): Promise<ConnectionRow | undefined> {
    const [row] = await db.select().from(channelConnections).where(key(platform, channelId));
    return row;
  },

  async all(db: Db): Promise<ConnectionRow[]> {
    return db
      .select()
      .from(channelConnections)
      .orderBy(asc(channelConnections.platform), asc(channelConnections.channelId));
  },

  async upsert(db: Db, row: ConnectionRow): Promise<ConnectionRow> {
    const [saved] = await db
      .insert(channelConnections)
      .values(row)
      .onConflictDoUpdate({ target: [channelConnections.platform, channelConnections.channelId], set: row })
      .returning();
    return saved!;
  },

  async update(
    db: Db,
    platform: string,
    channelId: string,
    set: Partial<Omit<ConnectionRow, 'platform' | 'channelId'>>,
  ): Promise<ConnectionRow | undefined> {
    const [row] = await db.update(channelConnections).set(set).where(key(platform, channelId)).returning();
    return row;
  },
};
