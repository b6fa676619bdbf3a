import { Type, type Static, type TSchema } from 'typebox';
import { TenantLimits, TenantModules } from './config-snapshot.ts';

/**
 * Billing (control's ERP half): plans, subscriptions, usage, invoices, payments, dunning and
 * reports. Money is always an integer count of the currency's minor unit (`12345` MXN is
 * 123.45 MXN) with an ISO 4217 code beside it; never a float.
 */

const Minor = (description = 'integer minor units of the currency (cents)') => Type.Integer({ description });
const Currency = Type.String({ pattern: '^[A-Z]{3}$', description: 'ISO 4217 code, e.g. MXN' });
const DateTime = Type.String({ format: 'date-time' });
const Nullable = <T extends TSchema>(t: T) => Type.Union([t, Type.Null()]);

export const BillingInterval = Type.Union([Type.Literal('month'), Type.Literal('year')]);
export type BillingInterval = Static<typeof BillingInterval>;

export const BillingLocale = Type.Union([Type.Literal('es'), Type.Literal('en')]);
export type BillingLocale = Static<typeof BillingLocale>;

// Plans

export const CreatePlan = Type.Object(
  {
    code: Type.String({ pattern: '^[a-z0-9][a-z0-9-]{0,63}$', description: 'a short unique name, e.g. basic-monthly' }),
    name: Type.String({ minLength: 1, maxLength: 200 }),
    currency: Currency,
    priceMinor: Type.Integer({ minimum: 0, description: 'price per interval, minor units, before tax' }),
    interval: BillingInterval,
    includedMessages: Type.Integer({ minimum: 0, description: 'messages sent per period included in the price' }),
    overagePer1000Minor: Type.Integer({ minimum: 0, description: 'price of 1,000 messages over the included ones' }),
    modules: Type.Optional(Type.Partial(TenantModules, { description: 'module flags the plan grants the tenant' })),
    limits: Type.Optional(Type.Partial(TenantLimits, { description: 'limits the plan sets on the tenant' })),
  },
  { additionalProperties: false },
);
export type CreatePlan = Static<typeof CreatePlan>;

export const UpdatePlan = Type.Partial(
  Type.Object({
    name: Type.String({ minLength: 1, maxLength: 200 }),
    isActive: Type.Boolean({ description: 'inactive plans keep their subscribers but take no new ones' }),
  }),
  { additionalProperties: false },
);
export type UpdatePlan = Static<typeof UpdatePlan>;

export const Plan = Type.Object({
  id: Type.String(),
  code: Type.String(),
  name: Type.String(),
  currency: Type.String(),
  priceMinor: Minor(),
  interval: BillingInterval,
  includedMessages: Type.Integer(),
  overagePer1000Minor: Minor(),
  modules: Type.Partial(TenantModules),
  limits: Type.Partial(TenantLimits),
  isActive: Type.Boolean(),
  createdAt: DateTime,
});
export type Plan = Static<typeof Plan>;

export const PlanParams = Type.Object({ planId: Type.String({ pattern: '^pln_[0-9a-f]{32}$' }) });

// Billing profile (per tenant)

export const BillingProfileInput = Type.Object(
  {
    email: Type.String({
      format: 'email',
      maxLength: 320,
      description: 'the billing contact: invoices and reminders go here',
    }),
    legalName: Type.Optional(Type.String({ maxLength: 300 })),
    taxId: Type.Optional(Type.String({ maxLength: 40, description: 'RFC, VAT number…' })),
    address: Type.Optional(Type.String({ maxLength: 1000 })),
    locale: Type.Optional(BillingLocale),
    taxName: Type.Optional(Type.String({ minLength: 1, maxLength: 20, description: 'IVA, VAT…' })),
    taxRateBp: Type.Optional(
      Type.Integer({ minimum: 0, maximum: 10_000, description: 'tax rate in basis points: 1600 is 16 %' }),
    ),
    taxInclusive: Type.Optional(Type.Boolean({ description: 'prices already include the tax' })),
    paymentTermsDays: Type.Optional(Type.Integer({ minimum: 0, maximum: 365 })),
  },
  { additionalProperties: false },
);
export type BillingProfileInput = Static<typeof BillingProfileInput>;

export const BillingProfile = Type.Object({
  tenantId: Type.String(),
  email: Type.String(),
  legalName: Nullable(Type.String()),
  taxId: Nullable(Type.String()),
  address: Nullable(Type.String()),
  locale: BillingLocale,
  taxName: Type.String(),
  taxRateBp: Type.Integer(),
  taxInclusive: Type.Boolean(),
  paymentTermsDays: Type.Integer(),
  pausedForDunningAt: Nullable(DateTime),
});
export type BillingProfile = Static<typeof BillingProfile>;

// Subscriptions

export const SubscriptionStatus = Type.Union([
  Type.Literal('trialing'),
  Type.Literal('active'),
  Type.Literal('past_due'),
  Type.Literal('paused'),
  Type.Literal('canceled'),
]);
export type SubscriptionStatus = Static<typeof SubscriptionStatus>;

export const CreateSubscription = Type.Object(
  {
    planId: Type.String(),
    startAt: Type.Optional(Type.String({ format: 'date-time', description: 'default now; the period anchor' })),
    trialDays: Type.Optional(Type.Integer({ minimum: 0, maximum: 365 })),
  },
  { additionalProperties: false },
);
export type CreateSubscription = Static<typeof CreateSubscription>;

export const ChangePlan = Type.Object(
  {
    planId: Type.String(),
    prorate: Type.Optional(Type.Boolean({ default: true, description: 'credit and charge the rest of the period' })),
  },
  { additionalProperties: false },
);
export type ChangePlan = Static<typeof ChangePlan>;

export const CancelSubscription = Type.Object(
  {
    atPeriodEnd: Type.Optional(Type.Boolean({ default: true, description: 'false: cancel now (no refund)' })),
  },
  { additionalProperties: false },
);

export const Subscription = Type.Object({
  id: Type.String(),
  tenantId: Type.String(),
  planId: Type.String(),
  status: SubscriptionStatus,
  currentPeriodStart: DateTime,
  currentPeriodEnd: DateTime,
  trialEnd: Nullable(DateTime),
  cancelAtPeriodEnd: Type.Boolean(),
  canceledAt: Nullable(DateTime),
  createdAt: DateTime,
});
export type Subscription = Static<typeof Subscription>;

/** Where dunning stands for one tenant with overdue invoices or instances dunning paused. */
export const DunningState = Type.Object(
  {
    tenantId: Type.String(),
    overdueInvoices: Type.Integer({ description: 'Issued invoices with a balance past their due date.' }),
    owed: Type.Array(Type.Object({ currency: Type.String(), amountMinor: Minor('owed past due, tax included') }), {
      description: 'The overdue balance, one entry per currency.',
    }),
    oldestDueAt: Nullable(DateTime),
    daysOverdue: Type.Integer({ description: 'Days since the oldest overdue invoice was due (0 when none is).' }),
    pausedAt: Type.Union([DateTime, Type.Null()], {
      description: 'When dunning paused the tenant’s instances; null if it has not.',
    }),
    nextStep: Type.Union(
      [
        Type.Object({
          kind: Type.Union([Type.Literal('reminder'), Type.Literal('pause')]),
          day: Type.Integer({ description: 'Days after the oldest due date.' }),
          at: DateTime,
        }),
        Type.Null(),
      ],
      { description: 'The next step dunning takes if nothing is paid; null when none is left.' },
    ),
  },
  { description: 'One row of `GET /v1/billing/dunning`.' },
);
export type DunningState = Static<typeof DunningState>;

export const SubscriptionParams = Type.Object({ subscriptionId: Type.String({ pattern: '^sub_[0-9a-f]{32}$' }) });
export const BillingTenantParams = Type.Object({ tenantId: Type.String({ pattern: '^ten_[0-9a-z_]+$' }) });

// Usage

export const PeriodUsage = Type.Object({
  tenantId: Type.String(),
  subscriptionId: Nullable(Type.String()),
  periodStart: DateTime,
  periodEnd: DateTime,
  messagesSent: Type.Integer(),
  includedMessages: Type.Integer(),
  overageMessages: Type.Integer(),
  overageMinor: Minor('overage so far, before tax'),
  currency: Type.String(),
});
export type PeriodUsage = Static<typeof PeriodUsage>;

// Invoices

export const InvoiceStatus = Type.Union([
  Type.Literal('draft'),
  Type.Literal('issued'),
  Type.Literal('partially_paid'),
  Type.Literal('paid'),
  Type.Literal('void'),
]);
export type InvoiceStatus = Static<typeof InvoiceStatus>;

export const InvoiceLineKind = Type.Union([
  Type.Literal('subscription'),
  Type.Literal('overage'),
  Type.Literal('proration'),
  Type.Literal('one_off'),
  Type.Literal('credit'),
]);
export type InvoiceLineKind = Static<typeof InvoiceLineKind>;

export const InvoiceLine = Type.Object({
  kind: InvoiceLineKind,
  description: Type.String(),
  quantityMilli: Type.Integer({ description: 'quantity in thousandths: 1000 is one unit' }),
  unitPriceMinor: Minor(),
  netMinor: Minor('the line before tax'),
  taxMinor: Minor(),
  totalMinor: Minor(),
});
export type InvoiceLine = Static<typeof InvoiceLine>;

export const Invoice = Type.Object({
  id: Type.String(),
  tenantId: Type.String(),
  kind: Type.Union([Type.Literal('invoice'), Type.Literal('credit_note')]),
  number: Nullable(Type.String({ description: 'F-2026-000123; assigned when issued' })),
  status: InvoiceStatus,
  currency: Type.String(),
  locale: BillingLocale,
  taxName: Type.String(),
  taxRateBp: Type.Integer(),
  taxInclusive: Type.Boolean(),
  periodStart: Nullable(DateTime),
  periodEnd: Nullable(DateTime),
  subtotalMinor: Minor(),
  taxMinor: Minor(),
  totalMinor: Minor(),
  paidMinor: Minor(),
  creditedMinor: Minor(),
  balanceMinor: Minor('what is still owed: total - paid - credited'),
  correctsInvoiceId: Nullable(Type.String()),
  issuedAt: Nullable(DateTime),
  dueAt: Nullable(DateTime),
  lines: Type.Array(InvoiceLine),
  createdAt: DateTime,
});
export type Invoice = Static<typeof Invoice>;

export const InvoiceParams = Type.Object({ invoiceId: Type.String({ pattern: '^inv_[0-9a-f]{32}$' }) });
export const InvoiceQuery = Type.Object({
  tenantId: Type.Optional(Type.String()),
  status: Type.Optional(InvoiceStatus),
  limit: Type.Optional(Type.Integer({ minimum: 1, maximum: 1000, default: 200 })),
});
export const InvoicePdfQuery = Type.Object({ locale: Type.Optional(BillingLocale) });

export const LineInput = Type.Object(
  {
    description: Type.String({ minLength: 1, maxLength: 500 }),
    quantityMilli: Type.Optional(Type.Integer({ minimum: 1, default: 1000 })),
    unitPriceMinor: Type.Integer(),
  },
  { additionalProperties: false },
);
export type LineInput = Static<typeof LineInput>;

export const AddCharge = Type.Object(
  { ...LineInput.properties, currency: Currency },
  { additionalProperties: false, description: 'a one-off line, billed on the next invoice' },
);
export type AddCharge = Static<typeof AddCharge>;

export const CreateInvoice = Type.Object(
  { currency: Currency, lines: Type.Array(LineInput, { minItems: 1, maxItems: 200 }) },
  { additionalProperties: false, description: 'a draft invoice of one-off lines' },
);
export type CreateInvoice = Static<typeof CreateInvoice>;

export const CreateCreditNote = Type.Object(
  {
    reason: Type.String({ minLength: 1, maxLength: 500 }),
    lines: Type.Optional(
      Type.Array(LineInput, { minItems: 1, maxItems: 200, description: 'positive amounts to credit; unset: all' }),
    ),
  },
  { additionalProperties: false },
);
export type CreateCreditNote = Static<typeof CreateCreditNote>;

// Payments

export const PaymentMethod = Type.Union([
  Type.Literal('transfer'),
  Type.Literal('card'),
  Type.Literal('cash'),
  Type.Literal('provider'),
]);
export type PaymentMethod = Static<typeof PaymentMethod>;

export const RecordPayment = Type.Object(
  {
    tenantId: Type.String(),
    method: PaymentMethod,
    reference: Type.String({ minLength: 1, maxLength: 200 }),
    amountMinor: Type.Integer({ minimum: 1 }),
    currency: Currency,
    receivedAt: Type.Optional(DateTime),
    invoiceIds: Type.Optional(
      Type.Array(Type.String(), { maxItems: 100, description: 'paid first, in this order; then oldest due first' }),
    ),
  },
  { additionalProperties: false },
);
export type RecordPayment = Static<typeof RecordPayment>;

export const Payment = Type.Object({
  id: Type.String(),
  tenantId: Type.String(),
  method: PaymentMethod,
  reference: Type.String(),
  amountMinor: Minor(),
  currency: Type.String(),
  receivedAt: DateTime,
  unallocatedMinor: Minor('credit left for future invoices'),
  allocations: Type.Array(Type.Object({ invoiceId: Type.String(), amountMinor: Minor() })),
});
export type Payment = Static<typeof Payment>;

export const StatementLine = Type.Object({
  at: DateTime,
  kind: Type.Union([Type.Literal('invoice'), Type.Literal('credit_note'), Type.Literal('payment')]),
  id: Type.String(),
  reference: Type.String({ description: 'invoice number or payment reference' }),
  debitMinor: Minor(),
  creditMinor: Minor(),
  balanceMinor: Minor('running balance: positive is owed by the tenant'),
});
export const Statement = Type.Object({
  tenantId: Type.String(),
  currency: Type.String(),
  lines: Type.Array(StatementLine),
  balanceMinor: Minor(),
});
export type Statement = Static<typeof Statement>;
export const StatementQuery = Type.Object({ currency: Type.Optional(Currency) });

/**
 * The payment provider's webhook (`POST /webhooks/billing/payments`): Stripe-like, the header
 * `billing-signature: t=<unix seconds>,v1=<hex HMAC-SHA256 of "<t>.<raw body>">` under
 * BILLING_WEBHOOK_SECRET; older than BILLING_WEBHOOK_TOLERANCE is refused. `id` makes it idempotent.
 */
export const BILLING_WEBHOOK_PATH = '/webhooks/billing/payments';
export const BILLING_SIGNATURE_HEADER = 'billing-signature';
export const ProviderEvent = Type.Object({
  id: Type.String({ minLength: 1, maxLength: 200 }),
  type: Type.String({ description: 'payment.succeeded is acted on; others are acknowledged and ignored' }),
  data: Type.Object({
    invoiceNumber: Type.Optional(Type.String()),
    tenantId: Type.Optional(Type.String()),
    amountMinor: Type.Integer({ minimum: 1 }),
    currency: Currency,
    reference: Type.Optional(Type.String({ maxLength: 200 })),
  }),
});
export type ProviderEvent = Static<typeof ProviderEvent>;

// Timeline

export const BillingEvent = Type.Object({
  id: Type.String(),
  tenantId: Type.String(),
  at: DateTime,
  type: Type.String({ description: 'invoice.issued, payment.recorded, dunning.reminder, dunning.paused…' }),
  invoiceId: Nullable(Type.String()),
  paymentId: Nullable(Type.String()),
  data: Type.Unknown(),
});
export type BillingEvent = Static<typeof BillingEvent>;

// Reports

const ByCurrency = Type.Record(Type.String(), Minor());
export const RevenueReport = Type.Object({
  asOf: DateTime,
  mrr: ByCurrency,
  arr: ByCurrency,
  activeTenants: Type.Integer(),
  churn: Type.Object({
    month: Type.String(),
    startingSubscriptions: Type.Integer(),
    canceled: Type.Integer(),
    rateBp: Type.Integer({ description: 'basis points, half-up' }),
  }),
  revenueByMonth: Type.Array(
    Type.Object({ month: Type.String(), currency: Type.String(), netMinor: Minor(), collectedMinor: Minor() }),
  ),
});
export type RevenueReport = Static<typeof RevenueReport>;
export const RevenueQuery = Type.Object({
  month: Type.Optional(Type.String({ pattern: '^\\d{4}-\\d{2}$', description: 'the churn month; default this one' })),
});

export const AGING_BUCKETS = ['current', '1-30', '31-60', '61-90', '90+'] as const;
export const ReceivablesReport = Type.Object({
  asOf: DateTime,
  currencies: Type.Record(
    Type.String(),
    Type.Object({
      buckets: Type.Record(Type.String(), Minor()),
      totalMinor: Minor(),
      unappliedCreditMinor: Minor('payments not yet allocated to an invoice'),
    }),
  ),
});
export type ReceivablesReport = Static<typeof ReceivablesReport>;
