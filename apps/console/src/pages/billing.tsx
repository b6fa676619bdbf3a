import { useState, type FormEvent } from 'react';
import { useTranslation } from 'react-i18next';
import type { Invoice, InvoiceStatus, Payment, Plan, RevenueReport, Tenant } from '@mic/contracts';
import { ApiError } from '../api/client.ts';
import { billing, tenants } from '../api/admin.ts';
import { useResource } from '../api/resource.ts';
import { LineChart } from '../components/chart.tsx';
import { ErrorNotice, NamedOptions, Options, SubmitButton, TextField, useSubmission } from '../components/forms.tsx';
import { DataTable, ResourceTable, type Column } from '../components/table.tsx';
import { TabbedPage } from '../components/tabs.tsx';
import {
  Badge,
  ClosablePanel,
  ConfirmDialog,
  errorText,
  Field,
  Figures,
  Loaded,
  Notice,
  OutcomeNotice,
  type Outcome,
  type Tone,
} from '../components/ui.tsx';
import { useFormat, type Formatters } from '../format.ts';
import { currentLanguage } from '../i18n/index.ts';
import { useQueryParams } from '../search-params.ts';
import { useSession } from '../session.tsx';
import { RecordPaymentForm } from './record-payment.tsx';
import { SubscriptionsPanel } from './subscriptions.tsx';

const TABS = ['invoices', 'subscriptions', 'payments', 'plans', 'reports'] as const;
const STATUSES: readonly InvoiceStatus[] = ['draft', 'issued', 'partially_paid', 'paid', 'void'];

const statusTone = (status: InvoiceStatus): Tone =>
  status === 'paid' ? 'pass' : status === 'draft' ? 'neutral' : status === 'void' ? 'neutral' : 'warn';

type RevenueMonth = RevenueReport['revenueByMonth'][number];

/** A right-aligned amount of a row that carries its own currency. */
const moneyColumn = <T extends { currency: string }>(
  format: Formatters,
  header: string,
  minor: (row: T) => number,
): Column<T> => ({ header, numeric: true, cell: (row) => format.money(minor(row), row.currency) });

interface LineDraft {
  description: string;
  quantity: string;
  unitPrice: string;
}

function NewInvoiceForm({ tenantList, onCreated }: { tenantList: Tenant[]; onCreated: (invoice: Invoice) => void }) {
  const { t } = useTranslation();
  const format = useFormat();
  const [tenantId, setTenantId] = useState(tenantList[0]?.id ?? '');
  const [currency, setCurrency] = useState('MXN');
  const [lines, setLines] = useState<LineDraft[]>([{ description: '', quantity: '1', unitPrice: '' }]);
  const [profileEmail, setProfileEmail] = useState('');
  const [taxRate, setTaxRate] = useState('16');
  const { pending, error, setError, run } = useSubmission();
  const profile = useResource(
    () =>
      tenantId
        ? billing.profile(tenantId).catch((e: unknown) => {
            if (e instanceof ApiError && e.status === 404) return null;
            throw e;
          })
        : Promise.resolve(null),
    [tenantId],
  );
  const needsProfile = profile.state === 'ready' && profile.data === null;

  const update = (n: number, patch: Partial<LineDraft>) =>
    setLines(lines.map((line, i) => (i === n ? { ...line, ...patch } : line)));

  const submit = (event: FormEvent) => {
    event.preventDefault();
    const parsed = lines.map((line) => ({
      description: line.description.trim(),
      quantityMilli: Math.round(Number(line.quantity.replace(',', '.')) * 1000),
      unitPriceMinor: format.parseMoney(line.unitPrice, currency),
    }));
    if (parsed.some((l) => l.unitPriceMinor === null || !(l.quantityMilli > 0))) {
      setError(t('billing.new.badAmount'));
      return;
    }
    void run(async () => {
      if (needsProfile) {
        await billing.putProfile(tenantId, {
          email: profileEmail.trim(),
          locale: currentLanguage(),
          taxRateBp: Math.round(Number(taxRate.replace(',', '.')) * 100),
        });
      }
      const invoice = await billing.createInvoice(tenantId, {
        currency,
        lines: parsed.map((l) => ({ ...l, unitPriceMinor: l.unitPriceMinor! })),
      });
      onCreated(invoice);
    });
  };

  return (
    <form className="panel stack" onSubmit={submit} aria-labelledby="new-invoice-title">
      <h2 id="new-invoice-title">{t('billing.new.title')}</h2>
      <ErrorNotice error={error} />
      <div className="row">
        <Field label={t('billing.tenant')}>
          <select name="invoiceTenant" value={tenantId} onChange={(e) => setTenantId(e.target.value)} required>
            <NamedOptions items={tenantList} />
          </select>
        </Field>
        <TextField
          label={t('billing.currency')}
          name="currency"
          value={currency}
          onChange={(value) => setCurrency(value.toUpperCase())}
          pattern="[A-Z]{3}"
          maxLength={3}
          required
        />
      </div>
      {needsProfile ? (
        <fieldset>
          <legend>{t('billing.new.profile')}</legend>
          <p className="muted">{t('billing.new.profileHelp')}</p>
          <div className="row">
            <TextField
              label={t('billing.new.profileEmail')}
              name="billingEmail"
              type="email"
              value={profileEmail}
              onChange={setProfileEmail}
              required
            />
            <TextField
              label={t('billing.new.taxRate')}
              name="taxRate"
              inputMode="decimal"
              value={taxRate}
              onChange={setTaxRate}
              required
            />
          </div>
        </fieldset>
      ) : null}
      <fieldset>
        <legend>{t('billing.new.lines')}</legend>
        {lines.map((line, n) => (
          <div className="row" key={n}>
            <TextField
              label={t('billing.new.description')}
              name={`line-${n}-description`}
              value={line.description}
              onChange={(value) => update(n, { description: value })}
              required
              maxLength={500}
            />
            <TextField
              label={t('billing.new.quantity')}
              name={`line-${n}-quantity`}
              inputMode="decimal"
              value={line.quantity}
              onChange={(value) => update(n, { quantity: value })}
              required
            />
            <TextField
              label={t('billing.new.unitPrice', { currency })}
              name={`line-${n}-price`}
              inputMode="decimal"
              value={line.unitPrice}
              onChange={(value) => update(n, { unitPrice: value })}
              placeholder={format.number(1234.5, { minimumFractionDigits: 2 })}
              required
            />
            {lines.length > 1 ? (
              <button
                type="button"
                className="link"
                onClick={() => setLines(lines.filter((_, i) => i !== n))}
                aria-label={t('billing.new.removeLine', { n: n + 1 })}
              >
                ×
              </button>
            ) : null}
          </div>
        ))}
        <button type="button" onClick={() => setLines([...lines, { description: '', quantity: '1', unitPrice: '' }])}>
          {t('billing.new.addLine')}
        </button>
      </fieldset>
      <div>
        <SubmitButton pending={pending} disabled={!tenantId}>
          {t('billing.new.create')}
        </SubmitButton>
      </div>
    </form>
  );
}

function Invoices() {
  const { t } = useTranslation();
  const format = useFormat();
  const { can } = useSession();
  const query = useQueryParams();
  const status = query.get('status');
  const tenantId = query.get('tenant');
  const tenantList = useResource(() => tenants.list(), []);
  const list = useResource(
    () => billing.invoices({ ...(status ? { status } : {}), ...(tenantId ? { tenantId } : {}) }),
    [status, tenantId],
  );
  const [creating, setCreating] = useState(false);
  const [issuing, setIssuing] = useState<Invoice | null>(null);
  const [pending, setPending] = useState(false);
  const [preview, setPreview] = useState<Invoice | null>(null);
  const [paying, setPaying] = useState<Invoice | null>(null);
  const [result, setResult] = useState<Outcome | null>(null);
  const tenantName = (id: string) => tenantList.data?.find((x) => x.id === id)?.name ?? id;
  const isPayable = (invoice: Invoice) =>
    invoice.kind === 'invoice' &&
    (invoice.status === 'issued' || invoice.status === 'partially_paid') &&
    invoice.balanceMinor > 0;
  const issue = async () => {
    if (!issuing) return;
    setPending(true);
    try {
      const issued = await billing.issue(issuing.id);
      setResult({
        tone: 'success',
        text: t('billing.issued', {
          number: issued.number ?? '',
          tenant: tenantName(issued.tenantId),
          total: format.money(issued.totalMinor, issued.currency),
        }),
      });
      list.reload();
    } catch (error) {
      setResult({ tone: 'error', text: errorText(error, t) });
    } finally {
      setPending(false);
      setIssuing(null);
    }
  };
  const pdf = (invoice: Invoice) => billing.pdfUrl(invoice.id, currentLanguage());
  const fileName = (invoice: Invoice) => `${invoice.number ?? invoice.id}.pdf`;

  return (
    <>
      {can('billing.write') && !creating ? (
        <div className="toolbar">
          <button type="button" className="primary" onClick={() => setCreating(true)}>
            {t('billing.new.title')}
          </button>
        </div>
      ) : null}
      {creating && tenantList.data ? (
        tenantList.data.length === 0 ? (
          <Notice tone="error">{t('billing.new.noTenants')}</Notice>
        ) : (
          <NewInvoiceForm
            tenantList={tenantList.data}
            onCreated={(invoice) => {
              setCreating(false);
              setResult({
                tone: 'success',
                text: t('billing.drafted', {
                  tenant: tenantName(invoice.tenantId),
                  total: format.money(invoice.totalMinor, invoice.currency),
                }),
              });
              list.reload();
            }}
          />
        )
      ) : null}
      <OutcomeNotice outcome={result} testId="billing-result" onDismiss={() => setResult(null)} />
      <div className="filters" role="search">
        <Field label={t('billing.status')}>
          <select value={status} onChange={(e) => query.set('status', e.target.value)}>
            <Options
              items={STATUSES}
              value={(s) => s}
              label={(s) => t(`invoiceStatus.${s}`)}
              allLabel={t('common.all')}
            />
          </select>
        </Field>
        <Field label={t('billing.tenant')}>
          <select value={tenantId} onChange={(e) => query.set('tenant', e.target.value)}>
            <NamedOptions items={tenantList.data ?? []} allLabel={t('common.all')} />
          </select>
        </Field>
      </div>
      <ConfirmDialog
        open={issuing !== null}
        title={t('billing.confirmIssue.title')}
        confirmLabel={t('billing.confirmIssue.action')}
        pending={pending}
        onCancel={() => setIssuing(null)}
        onConfirm={() => void issue()}
      >
        <p>
          {issuing
            ? t('billing.confirmIssue.body', {
                tenant: tenantName(issuing.tenantId),
                total: format.money(issuing.totalMinor, issuing.currency),
              })
            : null}
        </p>
      </ConfirmDialog>
      <ResourceTable
        resource={list}
        empty={t('billing.emptyInvoices')}
        rowKey={(invoice) => invoice.id}
        rowProps={(invoice) => ({ 'data-invoice': invoice.number ?? 'draft' })}
        columns={[
          {
            header: t('billing.number'),
            className: 'mono',
            cell: (invoice) => (
              <>
                {invoice.number ?? t('billing.draft')}
                {invoice.kind === 'credit_note' ? ` (${t('billing.creditNote')})` : ''}
              </>
            ),
          },
          { header: t('billing.tenant'), cell: (invoice) => tenantName(invoice.tenantId) },
          {
            header: t('billing.status'),
            cell: (invoice) => <Badge tone={statusTone(invoice.status)}>{t(`invoiceStatus.${invoice.status}`)}</Badge>,
          },
          moneyColumn<Invoice>(format, t('billing.total'), (invoice) => invoice.totalMinor),
          moneyColumn<Invoice>(format, t('billing.balance'), (invoice) => invoice.balanceMinor),
          { header: t('billing.issuedAt'), cell: (invoice) => format.date(invoice.issuedAt) },
          { header: t('billing.dueAt'), cell: (invoice) => format.date(invoice.dueAt) },
          {
            header: t('common.actions'),
            className: 'actions',
            cell: (invoice) => (
              <>
                {invoice.status === 'draft' && can('billing.write') ? (
                  <button type="button" className="primary" onClick={() => setIssuing(invoice)}>
                    {t('billing.issue')}
                  </button>
                ) : null}
                {isPayable(invoice) && can('billing.write') ? (
                  <button type="button" onClick={() => setPaying(invoice)}>
                    {t('billing.pay.open')}
                  </button>
                ) : null}
                <button type="button" onClick={() => setPreview(invoice)}>
                  {t('billing.preview')}
                </button>
                <a className="button" href={pdf(invoice)} download={fileName(invoice)}>
                  {t('billing.download')}
                </a>
              </>
            ),
          },
        ]}
      />
      {paying ? (
        <RecordPaymentForm
          key={paying.id}
          invoice={paying}
          tenantName={tenantName(paying.tenantId)}
          onClose={() => setPaying(null)}
          onRecorded={(payment) => {
            setPaying(null);
            setResult({
              tone: 'success',
              text: t('billing.pay.recorded', {
                amount: format.money(payment.amountMinor, payment.currency),
                number: paying.number ?? '',
              }),
            });
            list.reload();
          }}
        />
      ) : null}
      {preview ? (
        <ClosablePanel
          id="preview-title"
          title={t('billing.previewOf', { number: preview.number ?? t('billing.draft') })}
          onClose={() => setPreview(null)}
        >
          <iframe className="pdf" src={pdf(preview)} title={t('billing.previewOf', { number: preview.number ?? '' })} />
        </ClosablePanel>
      ) : null}
    </>
  );
}

function Payments() {
  const { t } = useTranslation();
  const format = useFormat();
  const list = useResource(() => billing.payments(), []);
  const tenantList = useResource(() => tenants.list(), []);
  const tenantName = (id: string) => tenantList.data?.find((x) => x.id === id)?.name ?? id;
  return (
    <ResourceTable
      resource={list}
      empty={t('billing.emptyPayments')}
      rowKey={(p) => p.id}
      columns={[
        { header: t('billing.receivedAt'), cell: (p) => format.date(p.receivedAt) },
        { header: t('billing.tenant'), cell: (p) => tenantName(p.tenantId) },
        { header: t('billing.method'), cell: (p) => t(`paymentMethod.${p.method}`) },
        { header: t('billing.reference'), className: 'mono', cell: (p) => p.reference },
        moneyColumn<Payment>(format, t('billing.amount'), (p) => p.amountMinor),
        moneyColumn<Payment>(format, t('billing.unallocated'), (p) => p.unallocatedMinor),
      ]}
    />
  );
}

function Plans() {
  const { t } = useTranslation();
  const format = useFormat();
  const list = useResource(() => billing.plans(), []);
  return (
    <ResourceTable
      resource={list}
      empty={t('billing.emptyPlans')}
      rowKey={(plan) => plan.id}
      columns={[
        {
          header: t('billing.plan'),
          cell: (plan) => (
            <>
              {plan.name} <span className="muted mono">{plan.code}</span>
            </>
          ),
        },
        {
          header: t('billing.price'),
          numeric: true,
          cell: (plan) => t(`billing.per.${plan.interval}`, { price: format.money(plan.priceMinor, plan.currency) }),
        },
        { header: t('billing.included'), numeric: true, cell: (plan) => format.number(plan.includedMessages) },
        moneyColumn<Plan>(format, t('billing.overage'), (plan) => plan.overagePer1000Minor),
        {
          header: t('billing.status'),
          cell: (plan) => (
            <Badge tone={plan.isActive ? 'pass' : 'neutral'}>
              {plan.isActive ? t('billing.active') : t('billing.retired')}
            </Badge>
          ),
        },
      ]}
    />
  );
}

function Reports() {
  const { t } = useTranslation();
  const format = useFormat();
  const report = useResource(() => billing.revenue(), []);
  const byCurrency = (amounts: Record<string, number>) =>
    Object.entries(amounts)
      .map(([currency, minor]) => format.money(minor, currency))
      .join(' · ') || format.number(0);
  return (
    <>
      <div className="toolbar">
        <a className="button" href={billing.exportUrl('invoices')} download="invoices.csv">
          {t('billing.reports.exportInvoices')}
        </a>
        <a className="button" href={billing.exportUrl('payments')} download="payments.csv">
          {t('billing.reports.exportPayments')}
        </a>
      </div>
      <Loaded resource={report}>
        {(r) => {
          const currencies = [...new Set(r.revenueByMonth.map((m) => m.currency))];
          return (
            <>
              <Figures
                items={[
                  { key: 'mrr', label: t('billing.reports.mrr'), value: byCurrency(r.mrr) },
                  { key: 'arr', label: t('billing.reports.arr'), value: byCurrency(r.arr) },
                  {
                    key: 'active',
                    label: t('billing.reports.activeTenants'),
                    value: format.number(r.activeTenants),
                  },
                  {
                    key: 'churn',
                    label: t('billing.reports.churn', { month: r.churn.month }),
                    value: format.number(r.churn.rateBp / 10_000, { style: 'percent', maximumFractionDigits: 2 }),
                  },
                ]}
              />
              {r.revenueByMonth.length === 0 ? (
                <p className="state state-empty">{t('billing.reports.noRevenue')}</p>
              ) : (
                <>
                  <div className="charts">
                    {currencies.map((currency) => {
                      const months = r.revenueByMonth.filter((m) => m.currency === currency);
                      const digits = 10 ** format.minorDigits(currency);
                      const at = (month: string) => `${month}-01T00:00:00Z`;
                      return (
                        <LineChart
                          key={currency}
                          title={t('billing.reports.revenueChart', { currency })}
                          lines={[
                            {
                              label: t('billing.reports.net'),
                              points: months.map((m) => [at(m.month), m.netMinor / digits] as const),
                            },
                            {
                              label: t('billing.reports.collected'),
                              points: months.map((m) => [at(m.month), m.collectedMinor / digits] as const),
                            },
                          ]}
                        />
                      );
                    })}
                  </div>
                  <DataTable
                    rows={r.revenueByMonth}
                    rowKey={(m) => `${m.month}-${m.currency}`}
                    columns={[
                      { header: t('billing.reports.month'), cell: (m) => m.month },
                      moneyColumn<RevenueMonth>(format, t('billing.reports.net'), (m) => m.netMinor),
                      moneyColumn<RevenueMonth>(format, t('billing.reports.collected'), (m) => m.collectedMinor),
                    ]}
                  />
                </>
              )}
            </>
          );
        }}
      </Loaded>
    </>
  );
}

const PANELS = {
  invoices: Invoices,
  subscriptions: SubscriptionsPanel,
  payments: Payments,
  plans: Plans,
  reports: Reports,
} as const;

export function BillingPage() {
  const { t } = useTranslation();
  return (
    <TabbedPage title={t('billing.title')} tabs={TABS} labelOf={(name) => t(`billing.tabs.${name}`)}>
      {(tab) => {
        const Panel = PANELS[tab];
        return <Panel />;
      }}
    </TabbedPage>
  );
}
