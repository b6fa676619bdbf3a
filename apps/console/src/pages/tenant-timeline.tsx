import { useTranslation } from 'react-i18next';
import type { AuditEntry, BillingEvent, Instance, Tenant } from '@mic/contracts';
import { billing, settings } from '../api/admin.ts';
import { useResource } from '../api/resource.ts';
import { ResourceTable } from '../components/table.tsx';
import { Badge } from '../components/ui.tsx';
import { useFormat } from '../format.ts';
import { useSession } from '../session.tsx';

/** One thing that happened to a tenant: an audited action on it or its instances, or a billing event. */
interface TimelineItem {
  key: string;
  at: string;
  source: 'audit' | 'billing';
  action: string;
  by: string | null;
  about: string | null;
}

const fromAudit = (entry: AuditEntry): TimelineItem => ({
  key: `audit:${entry.id}`,
  at: entry.at,
  source: 'audit',
  action: entry.action,
  by: entry.actorLabel ?? entry.actorType,
  about: entry.targetType ? `${entry.targetType}:${entry.targetId ?? ''}` : null,
});

const fromBilling = (event: BillingEvent): TimelineItem => ({
  key: `billing:${event.id}`,
  at: event.at,
  source: 'billing',
  action: event.type,
  by: null,
  about: event.invoiceId ?? event.paymentId,
});

/** Newest first, each source's entries merged by time. */
function mergeTimeline(...sources: readonly (readonly TimelineItem[])[]): TimelineItem[] {
  return sources.flat().sort((a, b) => Date.parse(b.at) - Date.parse(a.at) || b.key.localeCompare(a.key));
}

/**
 * What happened to the tenant: the audit log of the tenant and of each of its instances, and its
 * billing timeline (invoices, payments, dunning), as far as the operator may read them.
 */
export function TenantTimeline({ tenant, instances }: { tenant: Tenant; instances: readonly Instance[] }) {
  const { t } = useTranslation();
  const format = useFormat();
  const { can } = useSession();
  const targets = [`tenant:${tenant.id}`, ...instances.map((i) => `instance:${i.id}`)];
  // Reloaded when the page's data changes: an action on the tenant or an instance adds an entry.
  const timeline = useResource(async () => {
    const [audits, events] = await Promise.all([
      can('audit.read')
        ? settings.audit({ target: targets.join(','), limit: 200 }).then((page) => page.items)
        : Promise.resolve([]),
      can('billing.read') ? billing.events(tenant.id) : Promise.resolve([]),
    ]);
    return mergeTimeline(audits.map(fromAudit), events.map(fromBilling));
  }, [targets.join(' '), tenant.updatedAt, instances.map((i) => i.state).join(' ')]);
  const instanceName = (about: string | null) =>
    about?.startsWith('instance:') ? (instances.find((i) => `instance:${i.id}` === about)?.name ?? about) : about;
  return (
    <ResourceTable
      resource={timeline}
      empty={t('tenant.timeline.empty')}
      caption={t('tenant.timeline.title')}
      rowKey={(item: TimelineItem) => item.key}
      columns={[
        { header: t('deliveries.when'), cell: (item) => format.dateTime(item.at) },
        {
          header: t('tenant.timeline.source'),
          cell: (item) => (
            <Badge tone={item.source === 'audit' ? 'info' : 'neutral'}>{t(`tenant.timeline.${item.source}`)}</Badge>
          ),
        },
        { header: t('tenant.timeline.action'), className: 'mono', cell: (item) => item.action },
        { header: t('tenant.timeline.by'), cell: (item) => item.by ?? '—' },
        { header: t('tenant.timeline.about'), className: 'mono', cell: (item) => instanceName(item.about) ?? '—' },
      ]}
    />
  );
}
