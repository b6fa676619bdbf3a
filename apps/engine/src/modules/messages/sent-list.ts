import { and, desc, eq, sql, type SQL } from 'drizzle-orm';
import type { Static } from 'typebox';
import type { OutboundMessageQuery, OutboundMessageSummary } from '@mic/contracts';
import type { Db } from '@mic/platform';
import { outboundMessages } from './schema.ts';

/** Messages instances sent, newest first, as the operator looks through them. */
export async function listSentMessages(
  db: Db,
  query: Static<typeof OutboundMessageQuery>,
): Promise<Static<typeof OutboundMessageSummary>[]> {
  const conditions: SQL[] = [];
  if (query.tenantId) conditions.push(eq(outboundMessages.tenantId, query.tenantId));
  if (query.instanceId) conditions.push(eq(outboundMessages.instanceId, query.instanceId));
  if (query.state) conditions.push(eq(outboundMessages.state, query.state));
  if (query.to) conditions.push(eq(outboundMessages.recipient, query.to));
  const rows = await db
    .select()
    .from(outboundMessages)
    .where(conditions.length ? and(...conditions) : sql`true`)
    .orderBy(desc(outboundMessages.createdAt), desc(outboundMessages.id))
    .limit(query.limit ?? 100);
  return rows.map((row) => ({
    id: row.id,
    instanceId: row.instanceId,
    tenantId: row.tenantId,
    channel: row.channel,
    to: row.recipient,
    priority: row.priority,
    state: row.state as Static<typeof OutboundMessageSummary>['state'],
    metaMessageId: row.metaMessageId,
    broadcastId: row.broadcastId,
    attempts: row.attempts,
    createdAt: row.createdAt.toISOString(),
    updatedAt: row.updatedAt.toISOString(),
  }));
}
