import { and, not, or, sql, type SQL } from 'drizzle-orm';
import type { SegmentCondition, SegmentFilter } from '@mic/contracts';
import { crmCompanies, crmContacts } from './schema.ts';

const DAY_MS = 86_400_000;
const anyOf = (values: readonly string[]) =>
  sql.join(
    values.map((v) => sql`${v}`),
    sql`, `,
  );
const hasTag = (column: typeof crmContacts.tags | typeof crmCompanies.tags, tag: string) =>
  sql`${column} @> array[${tag}]::text[]`;

/** A company's status: prospect without a tenant (or without a company), else its tenant's. */
export const companyStatus = sql<string>`case when ${crmCompanies.id} is null or ${crmCompanies.tenantId} is null then 'prospect' else coalesce(${crmCompanies.tenantStatus}, 'active') end`;

/** Is the record active since `cutoff`? Null (never active) counts as not. */
const activeSince = (column: typeof crmContacts.lastActivityAt | typeof crmCompanies.lastActivityAt, cutoff: Date) =>
  sql`${column} >= ${cutoff.toISOString()}::timestamptz`;

const someContact = (condition: SQL) =>
  sql`exists (select 1 from ${crmContacts} where ${crmContacts.companyId} = ${crmCompanies.id} and ${condition})`;

function condition(c: SegmentCondition, subject: SegmentFilter['subject'], now: Date): SQL {
  switch (c.field) {
    case 'tag': {
      const of = c.of ?? (subject === 'contacts' ? 'contact' : 'company');
      const has =
        of === 'company'
          ? sql`coalesce(${hasTag(crmCompanies.tags, c.value)}, false)`
          : subject === 'contacts'
            ? hasTag(crmContacts.tags, c.value)
            : someContact(hasTag(crmContacts.tags, c.value));
      return c.op === 'has' ? has : not(has);
    }
    case 'plan': {
      const isIn = sql`coalesce(${crmCompanies.plan} in (${anyOf(c.values)}), false)`;
      return c.op === 'in' ? isIn : not(isIn);
    }
    case 'status': {
      const isIn = sql`${companyStatus} in (${anyOf(c.values)})`;
      return c.op === 'in' ? isIn : not(isIn);
    }
    case 'lastActivity': {
      const cutoff = new Date(now.getTime() - c.days * DAY_MS);
      const of = c.of ?? (subject === 'contacts' ? 'contact' : 'company');
      const active =
        of === 'company'
          ? sql`coalesce(${activeSince(crmCompanies.lastActivityAt, cutoff)}, false)`
          : subject === 'contacts'
            ? sql`coalesce(${activeSince(crmContacts.lastActivityAt, cutoff)}, false)`
            : someContact(activeSince(crmContacts.lastActivityAt, cutoff));
      return c.op === 'within' ? active : not(active);
    }
  }
}

/**
 * The WHERE clause of a segment. A contacts segment runs over `crm_contacts left join
 * crm_companies`, a companies segment over `crm_companies`; `now` anchors the relative dates.
 */
export function segmentWhere(filter: SegmentFilter, now: Date): SQL {
  const parts = filter.conditions.map((c) => condition(c, filter.subject, now));
  return (filter.match === 'all' ? and(...parts) : or(...parts))!;
}
