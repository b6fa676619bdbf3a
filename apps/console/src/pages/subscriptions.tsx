import { useTranslation } from 'react-i18next';
import type { Invoice, Subscription, SubscriptionStatus } from '@mic/contracts';
import { billing, tenants } from '../api/admin.ts';
import { useResource } from '../api/resource.ts';
import { Options } from '../components/forms.tsx';
import { ResourceTable } from '../components/table.tsx';
import { Badge, Field, type Tone } from '../components/ui.tsx';
import { useFormat } from '../format.ts';
import { useQueryParams } from '../search-params.ts';

const STATUSES: readonly SubscriptionStatus[] = ['trialing', 'active', 'past_due', 'paused', 'canceled'];
const DAY_MS = 86_400_000;

const statusTone = (status: SubscriptionStatus): Tone =>
  status === 'active' || status === 'trialing'
    ? 'pass'
    : status === 'past_due'
      ? 'warn'
      : status === 'paused'
        ? 'fail'
        : 'neutral';

export interface Overdue {
  invoices: number;
  owedMinor: number;
  currency: string;
  /** Days past the due date of the oldest overdue invoice. */
  days: number;
}

/** What a tenant owes past its due dates, as dunning sees it: issued invoices with a balance, overdue. */
export function overdueOf(invoices: readonly Invoice[], tenantId: string, now: number): Overdue | null {
  const late = invoices.filter(
    (i) =>
      i.tenantId === tenantId &&
      i.kind === 'invoice' &&
      (i.status === 'issued' || i.status === 'partially_paid') &&
      i.balanceMinor > 0 &&
      i.dueAt !== null &&
      Date.parse(i.dueAt) < now,
  );
  if (late.length === 0) return null;
  const oldest = Math.min(...late.map((i) => Date.parse(i.dueAt!)));
  return {
    invoices: late.length,
    owedMinor: late.reduce((sum, i) => sum + i.balanceMinor, 0),
    currency: late[0]!.currency,
    days: Math.floor((now - oldest) / DAY_MS),
  };
}

/** Every subscription with its plan and period, and where dunning stands for its tenant. */
export function SubscriptionsPanel() {
  const { t } = useTranslation();
  const format = useFormat();
  const query = useQueryParams();
  const status = STATUSES.find((s) => s === query.get('status'));
  const list = useResource(
    async () => (await billing.subscriptions()).filter((s) => !status || s.status === status),
    [status],
  );
  const tenantList = useResource(() => tenants.list(), []);
  const plans = useResource(() => billing.plans(), []);
  const unpaid = useResource(() => billing.invoices(), []);
  const now = Date.now();
  const tenantName = (id: string) => tenantList.data?.find((x) => x.id === id)?.name ?? id;
  const planName = (id: string) => plans.data?.find((p) => p.id === id)?.name ?? id;
  const dunning = (s: Subscription) => {
    const overdue = unpaid.data ? overdueOf(unpaid.data, s.tenantId, now) : null;
    if (!overdue) return s.status === 'past_due' || s.status === 'paused' ? '—' : t('billing.dunning.clear');
    return t('billing.dunning.overdue', {
      count: overdue.invoices,
      owed: format.money(overdue.owedMinor, overdue.currency),
      days: format.number(overdue.days),
    });
  };
  return (
    <>
      <div className="filters" role="search">
        <Field label={t('billing.status')}>
          <select value={status ?? ''} onChange={(e) => query.set('status', e.target.value)}>
            <Options
              items={STATUSES}
              value={(s) => s}
              label={(s) => t(`subscriptionStatus.${s}`)}
              allLabel={t('common.all')}
            />
          </select>
        </Field>
      </div>
      <ResourceTable
        resource={list}
        empty={t('billing.emptySubscriptions')}
        caption={t('billing.tabs.subscriptions')}
        rowKey={(s: Subscription) => s.id}
        columns={[
          { header: t('billing.tenant'), cell: (s) => tenantName(s.tenantId) },
          { header: t('billing.plan'), cell: (s) => planName(s.planId) },
          {
            header: t('billing.status'),
            cell: (s) => (
              <>
                <Badge tone={statusTone(s.status)}>{t(`subscriptionStatus.${s.status}`)}</Badge>
                {s.cancelAtPeriodEnd ? <span className="muted"> {t('billing.cancelsAtEnd')}</span> : null}
              </>
            ),
          },
          {
            header: t('billing.period'),
            cell: (s) => `${format.date(s.currentPeriodStart)} – ${format.date(s.currentPeriodEnd)}`,
          },
          { header: t('billing.dunning.title'), cell: (s) => <span data-testid="dunning">{dunning(s)}</span> },
        ]}
      />
    </>
  );
}
