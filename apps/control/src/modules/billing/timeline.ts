import { and, desc, eq, lt } from 'drizzle-orm';
import type { TimelineEntry } from '@mic/contracts';
import type { Db } from '@mic/platform';
import type { TimelineSource } from '../crm/index.ts';
import { billingEvents } from './schema.ts';

type EventData = {
  number?: string;
  reference?: string;
  plan?: string;
  to?: string;
  totalMinor?: number;
  amountMinor?: number;
  currency?: string;
  reason?: string;
  daysOverdue?: number;
};

/** The billing timeline as entries of the CRM's company timeline: invoices, payments, dunning steps. */
export function billingTimelineSource(db: Db): TimelineSource {
  return {
    name: 'billing',
    async entries(company, page) {
      if (!company.tenantId) return [];
      const rows = await db
        .select()
        .from(billingEvents)
        .where(
          and(
            eq(billingEvents.tenantId, company.tenantId),
            page.before ? lt(billingEvents.at, page.before) : undefined,
          ),
        )
        .orderBy(desc(billingEvents.at), desc(billingEvents.id))
        .limit(page.limit);
      return rows.map((row): TimelineEntry => {
        const data = row.data as EventData;
        const amount = data.totalMinor ?? data.amountMinor;
        const subject = data.number ?? data.reference ?? data.plan ?? data.to ?? '';
        return {
          at: row.at.toISOString(),
          source: 'billing',
          kind: row.type,
          title: `${row.type} ${subject}`.trim(),
          detail: data.daysOverdue !== undefined ? `${data.daysOverdue} days overdue` : (data.reason ?? null),
          ref: row.invoiceId
            ? { type: 'invoice', id: row.invoiceId }
            : row.paymentId
              ? { type: 'payment', id: row.paymentId }
              : { type: 'tenant', id: row.tenantId },
          ...(amount !== undefined && amount >= 0 && data.currency
            ? { amount: { amountMinor: amount, currency: data.currency } }
            : {}),
        };
      });
    },
  };
}
