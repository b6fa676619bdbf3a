import { useTranslation } from 'react-i18next';
import type { TFunction } from 'i18next';
import type { DunningState, Subscription, SubscriptionStatus } from '@mic/contracts';
import { billing, tenants } from '../api/admin.ts';
import { useResource } from '../api/resource.ts';
import { Options } from '../components/forms.tsx';
import { ResourceTable } from '../components/table.tsx';
import { Badge, Field, type Tone } from '../components/ui.tsx';
import { useFormat, type Formatters } from '../format.ts';
import { useQueryParams } from '../search-params.ts';

const STATUSES: readonly SubscriptionStatus[] = ['trialing', 'active', 'past_due', 'paused', 'canceled'];

const statusTone = (status: SubscriptionStatus): Tone =>
  status === 'active' || status === 'trialing'
    ? 'pass'
    : status === 'past_due'
      ? 'warn'
      : status === 'paused'
        ? 'fail'
        : 'neutral';

/**
 * The collections cell of a subscription: what its tenant owes past due, and dunning's next step
 * (or since when it paused the tenant); up to date when dunning has nothing on it.
 */
export function describeDunning(
  state: DunningState | undefined,
  status: SubscriptionStatus,
  t: TFunction,
  format: Pick<Formatters, 'money' | 'number' | 'date'>,
): string {
  if (!state) return status === 'past_due' || status === 'paused' ? '—' : t('billing.dunning.clear');
  const parts: string[] = [];
  if (state.overdueInvoices > 0) {
    parts.push(
      t('billing.dunning.overdue', {
        count: state.overdueInvoices,
        owed: state.owed.map((o) => format.money(o.amountMinor, o.currency)).join(' + '),
        days: format.number(state.daysOverdue),
      }),
    );
  }
  if (state.pausedAt) parts.push(t('billing.dunning.pausedSince', { date: format.date(state.pausedAt) }));
  else if (state.nextStep)
    parts.push(t(`billing.dunning.next.${state.nextStep.kind}`, { date: format.date(state.nextStep.at) }));
  return parts.join(' · ');
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
  const standing = useResource(() => billing.dunning(), []);
  const tenantName = (id: string) => tenantList.data?.find((x) => x.id === id)?.name ?? id;
  const planName = (id: string) => plans.data?.find((p) => p.id === id)?.name ?? id;
  const dunning = (s: Subscription) =>
    standing.data
      ? describeDunning(
          standing.data.find((d) => d.tenantId === s.tenantId),
          s.status,
          t,
          format,
        )
      : '…';
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
