import { sql } from 'drizzle-orm';
import {
  bigint,
  boolean,
  index,
  integer,
  jsonb,
  pgTable,
  primaryKey,
  text,
  timestamp,
  uniqueIndex,
} from 'drizzle-orm/pg-core';
import type { TenantLimits, TenantModules } from '@mic/contracts';

const at = (name: string) => timestamp(name, { withTimezone: true, mode: 'date' });
const money = (name: string) => bigint(name, { mode: 'bigint' });

export const billingPlans = pgTable('billing_plans', {
  id: text('id').primaryKey(),
  code: text('code').notNull().unique(),
  name: text('name').notNull(),
  currency: text('currency').notNull(),
  priceMinor: money('price_minor').notNull(),
  interval: text('interval').notNull(),
  includedMessages: integer('included_messages').notNull(),
  overagePer1000Minor: money('overage_per_1000_minor').notNull(),
  modules: jsonb('modules').$type<Partial<TenantModules>>().notNull(),
  limits: jsonb('limits').$type<Partial<TenantLimits>>().notNull(),
  isActive: boolean('is_active').notNull(),
  createdAt: at('created_at').notNull(),
  updatedAt: at('updated_at').notNull(),
});

/** Who and how a tenant is billed: its billing contact, tax rule and language. */
export const billingProfiles = pgTable('billing_profiles', {
  tenantId: text('tenant_id').primaryKey(),
  email: text('email').notNull(),
  legalName: text('legal_name'),
  taxId: text('tax_id'),
  address: text('address'),
  locale: text('locale').notNull(),
  taxName: text('tax_name').notNull(),
  taxRateBp: integer('tax_rate_bp').notNull(),
  taxInclusive: boolean('tax_inclusive').notNull(),
  paymentTermsDays: integer('payment_terms_days').notNull(),
  /** Set when dunning paused the tenant: only such a pause is lifted by a payment. */
  pausedForDunningAt: at('paused_for_dunning_at'),
  updatedAt: at('updated_at').notNull(),
});

export const billingSubscriptions = pgTable(
  'billing_subscriptions',
  {
    id: text('id').primaryKey(),
    tenantId: text('tenant_id').notNull(),
    planId: text('plan_id')
      .notNull()
      .references(() => billingPlans.id),
    status: text('status').notNull(),
    /** Periods are anchor + n intervals (calendar months, clamped), so they never drift. */
    anchorAt: at('anchor_at').notNull(),
    periodIndex: integer('period_index').notNull(),
    currentPeriodStart: at('current_period_start').notNull(),
    currentPeriodEnd: at('current_period_end').notNull(),
    trialEnd: at('trial_end'),
    cancelAtPeriodEnd: boolean('cancel_at_period_end').notNull(),
    canceledAt: at('canceled_at'),
    createdAt: at('created_at').notNull(),
    updatedAt: at('updated_at').notNull(),
  },
  (t) => [
    uniqueIndex('billing_subscriptions_live_idx')
      .on(t.tenantId)
      .where(sql`status <> 'canceled'`),
    index('billing_subscriptions_end_idx').on(t.currentPeriodEnd),
  ],
);

/** One-off charges and prorations waiting for the tenant's next invoice. */
export const billingPendingLines = pgTable(
  'billing_pending_lines',
  {
    id: text('id').primaryKey(),
    tenantId: text('tenant_id').notNull(),
    kind: text('kind').notNull(),
    description: text('description').notNull(),
    quantityMilli: money('quantity_milli').notNull(),
    unitPriceMinor: money('unit_price_minor').notNull(),
    currency: text('currency').notNull(),
    invoiceId: text('invoice_id'),
    createdAt: at('created_at').notNull(),
  },
  (t) => [index('billing_pending_lines_tenant_idx').on(t.tenantId, t.invoiceId)],
);

/**
 * Invoices and credit notes. Once issued, only the state columns (status, paid, credited, void)
 * may change: a database trigger refuses anything else, and lines of a non-draft invoice.
 */
export const billingInvoices = pgTable(
  'billing_invoices',
  {
    id: text('id').primaryKey(),
    tenantId: text('tenant_id').notNull(),
    subscriptionId: text('subscription_id'),
    kind: text('kind').notNull(),
    series: text('series').notNull(),
    year: integer('year'),
    number: integer('number'),
    numberText: text('number_text'),
    status: text('status').notNull(),
    currency: text('currency').notNull(),
    locale: text('locale').notNull(),
    taxName: text('tax_name').notNull(),
    taxRateBp: integer('tax_rate_bp').notNull(),
    taxInclusive: boolean('tax_inclusive').notNull(),
    billTo: jsonb('bill_to').$type<BillTo>().notNull(),
    periodStart: at('period_start'),
    periodEnd: at('period_end'),
    subtotalMinor: money('subtotal_minor').notNull(),
    taxMinor: money('tax_minor').notNull(),
    totalMinor: money('total_minor').notNull(),
    paidMinor: money('paid_minor').notNull(),
    creditedMinor: money('credited_minor').notNull(),
    correctsInvoiceId: text('corrects_invoice_id'),
    note: text('note'),
    issuedAt: at('issued_at'),
    dueAt: at('due_at'),
    voidedAt: at('voided_at'),
    createdAt: at('created_at').notNull(),
    updatedAt: at('updated_at').notNull(),
  },
  (t) => [
    uniqueIndex('billing_invoices_number_idx').on(t.series, t.year, t.number),
    uniqueIndex('billing_invoices_period_idx')
      .on(t.subscriptionId, t.periodStart)
      .where(sql`kind = 'invoice' and subscription_id is not null`),
    index('billing_invoices_tenant_idx').on(t.tenantId, t.status),
  ],
);

export interface BillTo {
  name: string;
  email: string;
  taxId: string | null;
  address: string | null;
}

export const billingInvoiceLines = pgTable(
  'billing_invoice_lines',
  {
    invoiceId: text('invoice_id')
      .notNull()
      .references(() => billingInvoices.id),
    position: integer('position').notNull(),
    kind: text('kind').notNull(),
    description: text('description').notNull(),
    quantityMilli: money('quantity_milli').notNull(),
    unitPriceMinor: money('unit_price_minor').notNull(),
    netMinor: money('net_minor').notNull(),
    taxMinor: money('tax_minor').notNull(),
    totalMinor: money('total_minor').notNull(),
  },
  (t) => [primaryKey({ columns: [t.invoiceId, t.position] })],
);

/** The last number given per series and year; its row is locked while an invoice is issued. */
export const billingCounters = pgTable(
  'billing_counters',
  {
    series: text('series').notNull(),
    year: integer('year').notNull(),
    lastNumber: integer('last_number').notNull(),
  },
  (t) => [primaryKey({ columns: [t.series, t.year] })],
);

export const billingPayments = pgTable(
  'billing_payments',
  {
    id: text('id').primaryKey(),
    tenantId: text('tenant_id').notNull(),
    method: text('method').notNull(),
    reference: text('reference').notNull(),
    amountMinor: money('amount_minor').notNull(),
    currency: text('currency').notNull(),
    unallocatedMinor: money('unallocated_minor').notNull(),
    receivedAt: at('received_at').notNull(),
    /** The provider's event id: a repeated webhook records nothing twice. */
    providerEventId: text('provider_event_id').unique(),
    createdAt: at('created_at').notNull(),
  },
  (t) => [index('billing_payments_tenant_idx').on(t.tenantId, t.receivedAt)],
);

export const billingAllocations = pgTable(
  'billing_allocations',
  {
    paymentId: text('payment_id')
      .notNull()
      .references(() => billingPayments.id),
    invoiceId: text('invoice_id')
      .notNull()
      .references(() => billingInvoices.id),
    amountMinor: money('amount_minor').notNull(),
    createdAt: at('created_at').notNull(),
  },
  (t) => [
    primaryKey({ columns: [t.paymentId, t.invoiceId] }),
    index('billing_allocations_invoice_idx').on(t.invoiceId),
  ],
);

/** The tenant's billing timeline (the CRM's company timeline reads it). A dunning step is unique. */
export const billingEvents = pgTable(
  'billing_events',
  {
    id: text('id').primaryKey(),
    tenantId: text('tenant_id').notNull(),
    at: at('at').notNull(),
    type: text('type').notNull(),
    invoiceId: text('invoice_id'),
    paymentId: text('payment_id'),
    step: integer('step'),
    data: jsonb('data').notNull(),
  },
  (t) => [
    index('billing_events_tenant_idx').on(t.tenantId, t.at),
    uniqueIndex('billing_events_step_idx')
      .on(t.invoiceId, t.type, t.step)
      .where(sql`step is not null`),
  ],
);
