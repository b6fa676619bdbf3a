import { gte, sql } from 'drizzle-orm';
import type { BroadcastTotals, TenantBroadcastFigures } from '@mic/contracts';
import type { Db } from '@mic/platform';
import { broadcastRecipients, broadcasts } from './schema.ts';

const ACTIVE = ['scheduled', 'running', 'waiting', 'paused'];

export const emptyTotals = (): BroadcastTotals => ({
  recipients: 0,
  duplicates: 0,
  pending: 0,
  suppressed: 0,
  skipped: 0,
  queued: 0,
  sent: 0,
  delivered: 0,
  read: 0,
  failed: 0,
  cancelled: 0,
});

/**
 * Each tenant's broadcasts made since `since`: how many, how many still going, and their recipients
 * by state, summed (two grouped reads, whatever the number of broadcasts).
 */
export async function tenantBroadcastFigures(db: Db, since: Date): Promise<TenantBroadcastFigures[]> {
  const made = await db
    .select({
      tenantId: broadcasts.tenantId,
      broadcasts: sql<number>`count(*)::int`,
      active: sql<number>`(count(*) filter (where ${broadcasts.state} in (${sql.join(
        ACTIVE.map((state) => sql`${state}`),
        sql`, `,
      )})))::int`,
      duplicates: sql<number>`coalesce(sum(${broadcasts.duplicates}), 0)::int`,
    })
    .from(broadcasts)
    .where(gte(broadcasts.createdAt, since))
    .groupBy(broadcasts.tenantId);
  const reached = await db
    .select({
      tenantId: broadcasts.tenantId,
      state: broadcastRecipients.state,
      n: sql<number>`count(*)::int`,
    })
    .from(broadcastRecipients)
    .innerJoin(broadcasts, sql`${broadcasts.id} = ${broadcastRecipients.broadcastId}`)
    .where(gte(broadcasts.createdAt, since))
    .groupBy(broadcasts.tenantId, broadcastRecipients.state);
  const figures = new Map<string, TenantBroadcastFigures>(
    made.map((row) => [
      row.tenantId,
      {
        tenantId: row.tenantId,
        broadcasts: row.broadcasts,
        active: row.active,
        totals: { ...emptyTotals(), duplicates: row.duplicates },
      },
    ]),
  );
  for (const { tenantId, state, n } of reached) {
    const totals = figures.get(tenantId)?.totals;
    if (!totals) continue;
    if (state in totals) totals[state as keyof BroadcastTotals] = n;
    totals.recipients += n;
  }
  return [...figures.values()].sort((a, b) => b.totals.recipients - a.totals.recipients);
}
