import { and, desc, eq, lt, type SQL } from 'drizzle-orm';
import { alias } from 'drizzle-orm/pg-core';
import type { TimelineEntry } from '@mic/contracts';
import type { Db } from '@mic/platform';
import type { AuditLog } from '../audit/index.ts';
import {
  crmActivities,
  crmContacts,
  crmConversations,
  crmDealMoves,
  crmDeals,
  crmMessages,
  crmStages,
} from './schema.ts';
import type { TimelineSource } from './timeline.ts';

const excerpt = (text: string, length = 80) => (text.length > length ? `${text.slice(0, length - 1)}…` : text);
const olderThan = (column: Parameters<typeof lt>[0], before: Date | null): SQL | undefined =>
  before ? lt(column, before) : undefined;

/** The CRM's own entries: notes, calls and tasks; deals and their stage moves; messages. */
export function crmTimelineSource(db: Db): TimelineSource {
  const fromStage = alias(crmStages, 'from_stage');
  return {
    name: 'crm',
    async entries(company, { before, limit }) {
      const [activities, moves, messages] = await Promise.all([
        db
          .select()
          .from(crmActivities)
          .where(and(eq(crmActivities.companyId, company.id), olderThan(crmActivities.occurredAt, before)))
          .orderBy(desc(crmActivities.occurredAt))
          .limit(limit),
        db
          .select({ move: crmDealMoves, deal: crmDeals, to: crmStages.name, from: fromStage.name })
          .from(crmDealMoves)
          .innerJoin(crmDeals, eq(crmDeals.id, crmDealMoves.dealId))
          .innerJoin(crmStages, eq(crmStages.id, crmDealMoves.toStage))
          .leftJoin(fromStage, eq(fromStage.id, crmDealMoves.fromStage))
          .where(and(eq(crmDeals.companyId, company.id), olderThan(crmDealMoves.at, before)))
          .orderBy(desc(crmDealMoves.at))
          .limit(limit),
        db
          .select({ message: crmMessages, contact: crmContacts.name, platform: crmConversations.platform })
          .from(crmMessages)
          .innerJoin(crmConversations, eq(crmConversations.id, crmMessages.conversationId))
          .innerJoin(crmContacts, eq(crmContacts.id, crmConversations.contactId))
          .where(and(eq(crmContacts.companyId, company.id), olderThan(crmMessages.occurredAt, before)))
          .orderBy(desc(crmMessages.occurredAt))
          .limit(limit),
      ]);
      const entries: TimelineEntry[] = [];
      for (const a of activities) {
        entries.push({
          at: a.occurredAt.toISOString(),
          source: 'crm',
          kind: a.kind,
          title: a.subject ?? excerpt(a.body),
          detail: a.body,
          ref: { type: 'activity', id: a.id },
        });
      }
      for (const { move, deal, to, from } of moves) {
        entries.push({
          at: move.at.toISOString(),
          source: 'crm',
          kind: move.fromStage === null ? 'deal.created' : 'deal.stage',
          title: move.fromStage === null ? `${deal.title} (${to})` : `${deal.title}: ${from ?? '?'} → ${to}`,
          detail: move.actor,
          ref: { type: 'deal', id: deal.id },
          amount: { amountMinor: deal.amountMinor, currency: deal.currency },
        });
      }
      for (const { message, contact, platform } of messages) {
        entries.push({
          at: message.occurredAt.toISOString(),
          source: 'crm',
          kind: message.direction === 'in' ? 'message.received' : 'message.sent',
          title: `${message.direction === 'in' ? contact : `→ ${contact}`} (${platform})`,
          detail: message.text,
          ref: { type: 'conversation', id: message.conversationId },
        });
      }
      return entries;
    },
  };
}

const PAUSE_ACTIONS = ['tenant.pause', 'tenant.resume', 'instance.pause', 'instance.resume'] as const;

/** Pauses and resumes of the company's tenant and of its instances, from the audit log. */
export function pauseTimelineSource(
  audit: Pick<AuditLog, 'list'>,
  instancesOf: (tenantId: string) => Promise<string[]>,
): TimelineSource {
  return {
    name: 'pauses',
    async entries(company, { before, limit }) {
      if (!company.tenantId) return [];
      const targets = [
        { type: 'tenant', id: company.tenantId },
        ...(await instancesOf(company.tenantId)).map((id) => ({ type: 'instance', id })),
      ];
      const pages = await Promise.all(
        targets.flatMap((target) =>
          PAUSE_ACTIONS.filter((action) => action.startsWith(`${target.type}.`)).map((action) =>
            audit.list({
              filters: { action, targetType: target.type, targetId: target.id, ...(before ? { until: before } : {}) },
              limit,
            }),
          ),
        ),
      );
      return pages.flatMap((page) =>
        page.items.map((row): TimelineEntry => {
          const after = row.after as { reason?: unknown; stateReason?: unknown } | null;
          const reason =
            typeof after?.reason === 'string'
              ? after.reason
              : typeof after?.stateReason === 'string'
                ? after.stateReason
                : null;
          return {
            at: row.at.toISOString(),
            source: 'audit',
            kind: row.action.endsWith('.pause') ? 'pause' : 'resume',
            title: `${row.action} ${row.targetId ?? ''}`.trim(),
            detail: reason,
            ref: { type: row.targetType ?? 'tenant', id: row.targetId ?? company.tenantId! },
          };
        }),
      );
    },
  };
}
