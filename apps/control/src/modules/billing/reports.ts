import { and, eq, gt, inArray, ne } from 'drizzle-orm';
import type { ReceivablesReport, RevenueReport } from '@mic/contracts';
import type { BillingContext } from './context.ts';
import { balanceOf } from './ledger.ts';
import { ageReceivables, divRound, minorDigits, monthlyAmount } from './money.ts';
import { billingAllocations, billingInvoices, billingPayments, billingPlans, billingSubscriptions } from './schema.ts';

const monthOf = (d: Date) => d.toISOString().slice(0, 7);
const add = (map: Record<string, bigint>, key: string, n: bigint) => (map[key] = (map[key] ?? 0n) + n);
const numbers = (map: Record<string, bigint>) =>
  Object.fromEntries(Object.entries(map).map(([k, v]) => [k, Number(v)]));

/** CSV field: quoted when it holds a comma, quote or line break; a leading =+-@ is defused for spreadsheets. */
export function csvField(value: string | number | null): string {
  if (value === null) return '';
  let text = String(value);
  if (typeof value === 'string' && /^[=+\-@\t\r]/.test(text)) text = `'${text}`;
  return /[",\r\n]/.test(text) ? `"${text.replaceAll('"', '""')}"` : text;
}

const csv = (rows: (string | number | null)[][]) => rows.map((r) => r.map(csvField).join(',')).join('\r\n') + '\r\n';

/** Minor units as a plain decimal (12345 MXN -> 123.45) for spreadsheets, exact. */
function decimal(minor: bigint, currency: string): string {
  const digits = minorDigits(currency);
  if (digits === 0) return minor.toString();
  const sign = minor < 0n ? '-' : '';
  const text = (minor < 0n ? -minor : minor).toString().padStart(digits + 1, '0');
  return `${sign}${text.slice(0, -digits)}.${text.slice(-digits)}`;
}

/** Revenue figures, receivables by age and CSV exports, from the billing tables as they are now. */
export class Reports {
  readonly #ctx: BillingContext;

  constructor(ctx: BillingContext) {
    this.#ctx = ctx;
  }

  /**
   * MRR: the monthly price of every subscription that is active, past due or paused (not trialing,
   * not canceled), a yearly price divided by 12 half-up; ARR is 12 x MRR. Churn of a month: the
   * subscriptions canceled in it over those live at its start. Revenue by month: net (before tax)
   * of the invoices issued in it less its credit notes, and the payments received in it.
   */
  async revenue(month?: string): Promise<RevenueReport> {
    const now = this.#ctx.clock.now();
    const db = this.#ctx.db;
    const subs = await db
      .select({ sub: billingSubscriptions, plan: billingPlans })
      .from(billingSubscriptions)
      .innerJoin(billingPlans, eq(billingPlans.id, billingSubscriptions.planId));
    const mrr: Record<string, bigint> = {};
    const tenants = new Set<string>();
    for (const { sub, plan } of subs) {
      if (!['active', 'past_due', 'paused'].includes(sub.status)) continue;
      add(mrr, plan.currency, monthlyAmount(plan.priceMinor, plan.interval as 'month' | 'year'));
      if (sub.status !== 'paused') tenants.add(sub.tenantId);
    }
    const arr = Object.fromEntries(Object.entries(mrr).map(([c, v]) => [c, v * 12n]));
    const churnMonth = month ?? monthOf(now);
    const monthStart = new Date(`${churnMonth}-01T00:00:00.000Z`);
    const monthEnd = new Date(Date.UTC(monthStart.getUTCFullYear(), monthStart.getUTCMonth() + 1, 1));
    const starting = subs.filter(
      ({ sub }) =>
        (sub.trialEnd ?? sub.createdAt) < monthStart && (sub.canceledAt === null || sub.canceledAt >= monthStart),
    ).length;
    const canceled = subs.filter(
      ({ sub }) => sub.canceledAt !== null && sub.canceledAt >= monthStart && sub.canceledAt < monthEnd,
    ).length;
    const [invoices, payments] = await Promise.all([
      db.select().from(billingInvoices).where(ne(billingInvoices.status, 'draft')),
      db.select().from(billingPayments),
    ]);
    const revenue = new Map<string, { month: string; currency: string; net: bigint; collected: bigint }>();
    const entry = (m: string, currency: string) => {
      const key = `${m} ${currency}`;
      let e = revenue.get(key);
      if (!e) revenue.set(key, (e = { month: m, currency, net: 0n, collected: 0n }));
      return e;
    };
    for (const i of invoices) entry(monthOf(i.issuedAt!), i.currency).net += i.subtotalMinor;
    for (const p of payments) entry(monthOf(p.receivedAt), p.currency).collected += p.amountMinor;
    return {
      asOf: now.toISOString(),
      mrr: numbers(mrr),
      arr: numbers(arr),
      activeTenants: tenants.size,
      churn: {
        month: churnMonth,
        startingSubscriptions: starting,
        canceled,
        rateBp: starting === 0 ? 0 : Number(divRound(BigInt(canceled) * 10_000n, BigInt(starting))),
      },
      revenueByMonth: [...revenue.values()]
        .sort((a, b) => a.month.localeCompare(b.month) || a.currency.localeCompare(b.currency))
        .map((e) => ({
          month: e.month,
          currency: e.currency,
          netMinor: Number(e.net),
          collectedMinor: Number(e.collected),
        })),
    };
  }

  /** What issued invoices still owe, by currency and days past due; unapplied payments beside it. */
  async receivables(): Promise<ReceivablesReport> {
    const now = this.#ctx.clock.now();
    const [open, credits] = await Promise.all([
      this.#ctx.db
        .select()
        .from(billingInvoices)
        .where(and(eq(billingInvoices.kind, 'invoice'), inArray(billingInvoices.status, ['issued', 'partially_paid']))),
      this.#ctx.db.select().from(billingPayments).where(gt(billingPayments.unallocatedMinor, 0n)),
    ]);
    const aged = ageReceivables(
      open.map((i) => ({ currency: i.currency, dueAt: i.dueAt!, balanceMinor: balanceOf(i) })),
      now,
    );
    const currencies: ReceivablesReport['currencies'] = {};
    for (const [currency, { buckets, totalMinor }] of aged) {
      currencies[currency] = { buckets: numbers(buckets), totalMinor: Number(totalMinor), unappliedCreditMinor: 0 };
    }
    for (const p of credits) {
      currencies[p.currency] ??= { buckets: {}, totalMinor: 0, unappliedCreditMinor: 0 };
      currencies[p.currency]!.unappliedCreditMinor += Number(p.unallocatedMinor);
    }
    return { asOf: now.toISOString(), currencies };
  }

  async invoicesCsv(): Promise<string> {
    const rows = await this.#ctx.db.select().from(billingInvoices).where(ne(billingInvoices.status, 'draft'));
    rows.sort((a, b) => a.issuedAt!.getTime() - b.issuedAt!.getTime() || (a.number ?? 0) - (b.number ?? 0));
    return csv([
      [
        'number',
        'kind',
        'tenant_id',
        'status',
        'issued_at',
        'due_at',
        'currency',
        'subtotal',
        'tax',
        'total',
        'paid',
        'credited',
        'balance',
        'corrects',
      ],
      ...rows.map((i) => [
        i.numberText,
        i.kind,
        i.tenantId,
        i.status,
        i.issuedAt!.toISOString(),
        i.dueAt?.toISOString() ?? null,
        i.currency,
        decimal(i.subtotalMinor, i.currency),
        decimal(i.taxMinor, i.currency),
        decimal(i.totalMinor, i.currency),
        decimal(i.paidMinor, i.currency),
        decimal(i.creditedMinor, i.currency),
        decimal(i.kind === 'invoice' ? balanceOf(i) : 0n, i.currency),
        i.correctsInvoiceId,
      ]),
    ]);
  }

  async paymentsCsv(): Promise<string> {
    const [payments, allocations, invoices] = await Promise.all([
      this.#ctx.db.select().from(billingPayments),
      this.#ctx.db.select().from(billingAllocations),
      this.#ctx.db.select({ id: billingInvoices.id, number: billingInvoices.numberText }).from(billingInvoices),
    ]);
    const numberOf = new Map(invoices.map((i) => [i.id, i.number]));
    payments.sort((a, b) => a.receivedAt.getTime() - b.receivedAt.getTime());
    return csv([
      [
        'payment_id',
        'tenant_id',
        'received_at',
        'method',
        'reference',
        'currency',
        'amount',
        'unallocated',
        'invoices',
      ],
      ...payments.map((p) => [
        p.id,
        p.tenantId,
        p.receivedAt.toISOString(),
        p.method,
        p.reference,
        p.currency,
        decimal(p.amountMinor, p.currency),
        decimal(p.unallocatedMinor, p.currency),
        allocations
          .filter((a) => a.paymentId === p.id && a.amountMinor > 0n)
          .map((a) => `${numberOf.get(a.invoiceId) ?? a.invoiceId}:${decimal(a.amountMinor, p.currency)}`)
          .join(' '),
      ]),
    ]);
  }
}
