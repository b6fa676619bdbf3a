import { Type } from 'typebox';
import {
  AddCharge,
  BillingEvent,
  BillingProfile,
  BillingProfileInput,
  BillingTenantParams,
  BILLING_SIGNATURE_HEADER,
  BILLING_WEBHOOK_PATH,
  CancelSubscription,
  DunningState,
  ChangePlan,
  CreateCreditNote,
  CreateInvoice,
  CreatePlan,
  CreateSubscription,
  Invoice,
  InvoiceParams,
  InvoicePdfQuery,
  InvoiceQuery,
  Payment,
  PeriodUsage,
  Plan,
  PlanParams,
  ReceivablesReport,
  RecordPayment,
  RevenueQuery,
  RevenueReport,
  Statement,
  StatementQuery,
  Subscription,
  SubscriptionParams,
  UpdatePlan,
  type BillingLocale,
  type InvoiceLineKind,
  type InvoiceStatus,
  type PaymentMethod,
  type SubscriptionStatus,
} from '@mic/contracts';
import type { HttpServer } from '@mic/platform';
import { actorOf } from '../audit/index.ts';
import type { LineRow } from './invoices.ts';
import { balanceOf, type InvoiceRow } from './ledger.ts';
import type { PaymentWithAllocations } from './payments.ts';
import type { PlanRow, ProfileRow } from './plans.ts';
import type { BillingEventRow } from './service.ts';
import type { SubscriptionRow } from './subscriptions.ts';

const iso = (d: Date | null) => d?.toISOString() ?? null;

const serializePlan = (p: PlanRow) => ({
  id: p.id,
  code: p.code,
  name: p.name,
  currency: p.currency,
  priceMinor: Number(p.priceMinor),
  interval: p.interval as 'month' | 'year',
  includedMessages: p.includedMessages,
  overagePer1000Minor: Number(p.overagePer1000Minor),
  modules: p.modules,
  limits: p.limits,
  isActive: p.isActive,
  createdAt: p.createdAt.toISOString(),
});

const serializeProfile = ({ updatedAt: _updatedAt, ...p }: ProfileRow) => ({
  ...p,
  locale: p.locale as BillingLocale,
  pausedForDunningAt: iso(p.pausedForDunningAt),
});

const serializeSubscription = (s: SubscriptionRow) => ({
  id: s.id,
  tenantId: s.tenantId,
  planId: s.planId,
  status: s.status as SubscriptionStatus,
  currentPeriodStart: s.currentPeriodStart.toISOString(),
  currentPeriodEnd: s.currentPeriodEnd.toISOString(),
  trialEnd: iso(s.trialEnd),
  cancelAtPeriodEnd: s.cancelAtPeriodEnd,
  canceledAt: iso(s.canceledAt),
  createdAt: s.createdAt.toISOString(),
});

export const serializeInvoice = (i: InvoiceRow, lines: LineRow[]) => ({
  id: i.id,
  tenantId: i.tenantId,
  kind: i.kind as 'invoice' | 'credit_note',
  number: i.numberText,
  status: i.status as InvoiceStatus,
  currency: i.currency,
  locale: i.locale as BillingLocale,
  taxName: i.taxName,
  taxRateBp: i.taxRateBp,
  taxInclusive: i.taxInclusive,
  periodStart: iso(i.periodStart),
  periodEnd: iso(i.periodEnd),
  subtotalMinor: Number(i.subtotalMinor),
  taxMinor: Number(i.taxMinor),
  totalMinor: Number(i.totalMinor),
  paidMinor: Number(i.paidMinor),
  creditedMinor: Number(i.creditedMinor),
  balanceMinor: i.kind === 'invoice' && i.status !== 'draft' ? Number(balanceOf(i)) : 0,
  correctsInvoiceId: i.correctsInvoiceId,
  issuedAt: iso(i.issuedAt),
  dueAt: iso(i.dueAt),
  lines: lines.map((l) => ({
    kind: l.kind as InvoiceLineKind,
    description: l.description,
    quantityMilli: Number(l.quantityMilli),
    unitPriceMinor: Number(l.unitPriceMinor),
    netMinor: Number(l.netMinor),
    taxMinor: Number(l.taxMinor),
    totalMinor: Number(l.totalMinor),
  })),
  createdAt: i.createdAt.toISOString(),
});

const serializePayment = (p: PaymentWithAllocations) => ({
  id: p.id,
  tenantId: p.tenantId,
  method: p.method as PaymentMethod,
  reference: p.reference,
  amountMinor: Number(p.amountMinor),
  currency: p.currency,
  receivedAt: p.receivedAt.toISOString(),
  unallocatedMinor: Number(p.unallocatedMinor),
  allocations: p.allocations.map((a) => ({ invoiceId: a.invoiceId, amountMinor: Number(a.amountMinor) })),
});

const serializeEvent = (e: BillingEventRow) => ({
  id: e.id,
  tenantId: e.tenantId,
  at: e.at.toISOString(),
  type: e.type,
  invoiceId: e.invoiceId,
  paymentId: e.paymentId,
  data: e.data,
});

export function registerBillingRoutes(app: HttpServer): void {
  const tags = ['billing'];
  const read = { permission: 'billing.read' as const };
  const write = { permission: 'billing.write' as const };
  const billing = () => app.billing;
  const withLines = async (i: InvoiceRow) => serializeInvoice(i, await billing().invoices.lines(i.id));

  // Plans
  app.get(
    '/v1/billing/plans',
    { config: read, schema: { tags, summary: 'Plans', response: { 200: Type.Array(Plan) } } },
    async () => (await billing().plans.list()).map(serializePlan),
  );
  app.post(
    '/v1/billing/plans',
    { config: write, schema: { tags, summary: 'Create a plan', body: CreatePlan, response: { 201: Plan } } },
    async (req, reply) => {
      void reply.status(201);
      return serializePlan(await billing().plans.create(req.body, actorOf(req)));
    },
  );
  app.patch(
    '/v1/billing/plans/:planId',
    {
      config: write,
      schema: {
        tags,
        summary: 'Rename or retire a plan',
        params: PlanParams,
        body: UpdatePlan,
        response: { 200: Plan },
      },
    },
    async (req) => serializePlan(await billing().plans.update(req.params.planId, req.body, actorOf(req))),
  );

  // Profiles
  app.get(
    '/v1/billing/tenants/:tenantId/profile',
    {
      config: read,
      schema: {
        tags,
        summary: "A tenant's billing profile",
        params: BillingTenantParams,
        response: { 200: BillingProfile },
      },
    },
    async (req) => serializeProfile(await billing().plans.profile(req.params.tenantId)),
  );
  app.put(
    '/v1/billing/tenants/:tenantId/profile',
    {
      config: write,
      schema: {
        tags,
        summary: 'Set the billing contact, tax rule and language',
        params: BillingTenantParams,
        body: BillingProfileInput,
        response: { 200: BillingProfile },
      },
    },
    async (req) => serializeProfile(await billing().plans.setProfile(req.params.tenantId, req.body, actorOf(req))),
  );

  // Subscriptions
  app.get(
    '/v1/billing/subscriptions',
    {
      config: read,
      schema: {
        tags,
        summary: 'Subscriptions',
        querystring: Type.Object({ tenantId: Type.Optional(Type.String()) }),
        response: { 200: Type.Array(Subscription) },
      },
    },
    async (req) => (await billing().subscriptions.list({ tenantId: req.query.tenantId })).map(serializeSubscription),
  );
  app.get(
    '/v1/billing/dunning',
    {
      config: read,
      schema: {
        tags,
        summary: 'Where dunning stands: tenants with overdue invoices or paused by it, oldest debt first',
        response: { 200: Type.Array(DunningState) },
      },
    },
    async () => billing().dunning.states(),
  );
  app.post(
    '/v1/billing/tenants/:tenantId/subscription',
    {
      config: write,
      schema: {
        tags,
        summary: 'Subscribe a tenant to a plan',
        params: BillingTenantParams,
        body: CreateSubscription,
        response: { 201: Subscription },
      },
    },
    async (req, reply) => {
      void reply.status(201);
      return serializeSubscription(await billing().subscriptions.create(req.params.tenantId, req.body, actorOf(req)));
    },
  );
  app.post(
    '/v1/billing/subscriptions/:subscriptionId/plan',
    {
      config: write,
      schema: {
        tags,
        summary: 'Change the plan now (prorated)',
        params: SubscriptionParams,
        body: ChangePlan,
        response: { 200: Subscription },
      },
    },
    async (req) =>
      serializeSubscription(
        await billing().subscriptions.changePlan(req.params.subscriptionId, req.body, actorOf(req)),
      ),
  );
  app.post(
    '/v1/billing/subscriptions/:subscriptionId/cancel',
    {
      config: write,
      schema: {
        tags,
        summary: 'Cancel at period end (or now)',
        params: SubscriptionParams,
        body: CancelSubscription,
        response: { 200: Subscription },
      },
    },
    async (req) =>
      serializeSubscription(
        await billing().subscriptions.cancel(req.params.subscriptionId, req.body.atPeriodEnd ?? true, actorOf(req)),
      ),
  );

  // Usage, charges, timeline
  app.get(
    '/v1/billing/tenants/:tenantId/usage',
    {
      config: read,
      schema: {
        tags,
        summary: 'Messages sent in the current period and the overage so far',
        params: BillingTenantParams,
        response: { 200: PeriodUsage },
      },
    },
    async (req) => billing().usage(req.params.tenantId),
  );
  app.post(
    '/v1/billing/tenants/:tenantId/charges',
    {
      config: write,
      schema: {
        tags,
        summary: 'Add a one-off line to the next invoice',
        params: BillingTenantParams,
        body: AddCharge,
        response: { 201: Type.Object({ id: Type.String() }) },
      },
    },
    async (req, reply) => {
      void reply.status(201);
      return { id: (await billing().invoices.addCharge(req.params.tenantId, req.body, actorOf(req))).id };
    },
  );
  app.get(
    '/v1/billing/tenants/:tenantId/events',
    {
      config: read,
      schema: {
        tags,
        summary: "The tenant's billing timeline",
        params: BillingTenantParams,
        response: { 200: Type.Array(BillingEvent) },
      },
    },
    async (req) => (await billing().timeline(req.params.tenantId)).map(serializeEvent),
  );

  // Invoices
  app.get(
    '/v1/billing/invoices',
    {
      config: read,
      schema: {
        tags,
        summary: 'Invoices and credit notes, newest first',
        querystring: InvoiceQuery,
        response: { 200: Type.Array(Invoice) },
      },
    },
    async (req) => {
      const rows = await billing().invoices.list(req.query);
      const lines = await billing().invoices.linesOf(rows.map((r) => r.id));
      return rows.map((r) => serializeInvoice(r, lines.get(r.id) ?? []));
    },
  );
  app.get(
    '/v1/billing/invoices/:invoiceId',
    { config: read, schema: { tags, summary: 'An invoice', params: InvoiceParams, response: { 200: Invoice } } },
    async (req) => withLines(await billing().invoices.invoice(req.params.invoiceId)),
  );
  app.get(
    '/v1/billing/invoices/:invoiceId/pdf',
    {
      config: read,
      schema: { tags, summary: 'The invoice as a PDF', params: InvoiceParams, querystring: InvoicePdfQuery },
    },
    async (req, reply) => {
      const invoice = await billing().invoices.invoice(req.params.invoiceId);
      const pdf = await billing().pdf(invoice.id, req.query.locale);
      void reply
        .type('application/pdf')
        .header('content-disposition', `inline; filename="${invoice.numberText ?? invoice.id}.pdf"`);
      return pdf;
    },
  );
  app.post(
    '/v1/billing/tenants/:tenantId/invoices',
    {
      config: write,
      schema: {
        tags,
        summary: 'A draft invoice of one-off lines',
        params: BillingTenantParams,
        body: CreateInvoice,
        response: { 201: Invoice },
      },
    },
    async (req, reply) => {
      void reply.status(201);
      return withLines(await billing().invoices.createDraft(req.params.tenantId, req.body, actorOf(req)));
    },
  );
  app.post(
    '/v1/billing/invoices/:invoiceId/issue',
    {
      config: write,
      schema: { tags, summary: 'Issue a draft: number it, send it', params: InvoiceParams, response: { 200: Invoice } },
    },
    async (req) => withLines(await billing().invoices.issue(req.params.invoiceId, actorOf(req))),
  );
  app.post(
    '/v1/billing/invoices/:invoiceId/credit-notes',
    {
      config: write,
      schema: {
        tags,
        summary: 'Correct an issued invoice with a credit note (all of it: void)',
        params: InvoiceParams,
        body: CreateCreditNote,
        response: { 201: Invoice },
      },
    },
    async (req, reply) => {
      void reply.status(201);
      return withLines(await billing().invoices.creditNote(req.params.invoiceId, req.body, actorOf(req)));
    },
  );
  app.post(
    '/v1/billing/invoices/:invoiceId/send',
    {
      config: write,
      schema: {
        tags,
        summary: 'Send the invoice to the billing contact again',
        params: InvoiceParams,
        response: { 204: Type.Null() },
      },
    },
    async (req, reply) => {
      await billing().resend(req.params.invoiceId);
      void reply.status(204);
    },
  );

  // Payments
  app.post(
    '/v1/billing/payments',
    {
      config: write,
      schema: { tags, summary: 'Record a payment and allocate it', body: RecordPayment, response: { 201: Payment } },
    },
    async (req, reply) => {
      void reply.status(201);
      return serializePayment((await billing().payments.record(req.body, actorOf(req)))!);
    },
  );
  app.get(
    '/v1/billing/payments',
    {
      config: read,
      schema: {
        tags,
        summary: 'Payments',
        querystring: Type.Object({ tenantId: Type.Optional(Type.String()) }),
        response: { 200: Type.Array(Payment) },
      },
    },
    async (req) => (await billing().payments.list({ tenantId: req.query.tenantId })).map(serializePayment),
  );
  app.get(
    '/v1/billing/tenants/:tenantId/statement',
    {
      config: read,
      schema: {
        tags,
        summary: 'Statement of account',
        params: BillingTenantParams,
        querystring: StatementQuery,
        response: { 200: Statement },
      },
    },
    async (req) => billing().payments.statement(req.params.tenantId, req.query.currency),
  );

  // Reports and exports
  app.get(
    '/v1/billing/reports/revenue',
    {
      config: read,
      schema: {
        tags,
        summary: 'MRR, ARR, active tenants, churn, revenue by month',
        querystring: RevenueQuery,
        response: { 200: RevenueReport },
      },
    },
    async (req) => billing().reports.revenue(req.query.month),
  );
  app.get(
    '/v1/billing/reports/receivables',
    { config: read, schema: { tags, summary: 'Receivables by age', response: { 200: ReceivablesReport } } },
    async () => billing().reports.receivables(),
  );
  for (const [name, build] of [
    ['invoices', () => billing().reports.invoicesCsv()],
    ['payments', () => billing().reports.paymentsCsv()],
  ] as const) {
    app.get(
      `/v1/billing/exports/${name}.csv`,
      { config: read, schema: { tags, summary: `Issued ${name} as CSV` } },
      async (_req, reply) => {
        void reply.type('text/csv; charset=utf-8').header('content-disposition', `attachment; filename="${name}.csv"`);
        return build();
      },
    );
  }
  app.post(
    '/v1/billing/run',
    {
      config: write,
      schema: { tags, summary: 'Close ended periods and run dunning now', response: { 204: Type.Null() } },
    },
    async (_req, reply) => {
      await billing().tick();
      void reply.status(204);
    },
  );

  // The payment provider's webhook: signed, outside /v1 (no operator session).
  void app.register(async (raw) => {
    raw.addContentTypeParser('application/json', { parseAs: 'buffer', bodyLimit: 65_536 }, (_req, body, done) =>
      done(null, body),
    );
    raw.post(
      BILLING_WEBHOOK_PATH,
      { schema: { tags, summary: 'Payment provider webhook (billing-signature, HMAC-SHA256)' } },
      async (req) => {
        const body = Buffer.isBuffer(req.body) ? req.body : Buffer.alloc(0);
        const header = req.headers[BILLING_SIGNATURE_HEADER];
        return billing().payments.acceptProviderEvent(body, typeof header === 'string' ? header : undefined);
      },
    );
  });
}
