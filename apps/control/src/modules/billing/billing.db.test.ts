import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { sql } from 'drizzle-orm';
import { extractText, getDocumentProxy } from 'unpdf';
import { uuidv7 } from 'uuidv7';
import type {
  BillingEvent,
  DunningState,
  EngineReport,
  Instance,
  Invoice,
  PeriodUsage,
  Plan,
  ReceivablesReport,
  RevenueReport,
  Statement,
  Subscription,
  Tenant,
} from '@mic/contracts';
import { BILLING_SIGNATURE_HEADER, BILLING_WEBHOOK_PATH } from '@mic/contracts';
import { ManualClock } from '@mic/platform';
import { TEST_DATABASE_URL, eventually, startTestMailbox, type TestMailbox } from '@mic/platform/testing';
import { startTestControl, type TestControl } from '../../testing.ts';
import { signProviderEvent } from './payments.ts';

let control: TestControl;
let mailbox: TestMailbox;
const clock = new ManualClock('2026-03-01T00:00:00.000Z');
const WEBHOOK_SECRET = 'whsec_test_0123456789';

beforeAll(async () => {
  mailbox = await startTestMailbox();
  control = await startTestControl(
    {
      INSTANCE_URL_ALLOW_PRIVATE: 'true',
      ALERT_SMTP_URL: mailbox.url,
      QUEUE_POLLING_INTERVAL: '500ms',
      BILLING_WEBHOOK_SECRET: WEBHOOK_SECRET,
      // The simulated months would otherwise end the operator's session.
      OPERATOR_SESSION_IDLE: '365d',
      OPERATOR_SESSION_MAX: '365d',
    },
    clock,
  );
});
afterAll(async () => {
  await control?.stop();
  await mailbox?.stop();
});

type Method = 'GET' | 'POST' | 'PUT' | 'PATCH';
const api = (method: Method, url: string, payload?: object, headers: Record<string, string> = control.operator) =>
  control.app.inject({ method, url, headers, ...(payload ? { payload } : {}) });

const sent = (tenantId: string, instanceId: string, day: string, value: number): EngineReport => ({
  id: uuidv7(),
  occurredAt: `${day}T23:59:00.000Z`,
  kind: 'usage',
  period: day,
  tenantId,
  instanceId,
  channel: 'whatsapp:5215550001',
  metric: 'messages.sent',
  value,
});

const report = async (...reports: EngineReport[]) => {
  const res = await control.app.inject({
    method: 'POST',
    url: '/internal/v1/reports',
    headers: control.auth,
    payload: { reports },
  });
  expect(res.statusCode).toBe(200);
};

async function pdfText(invoiceId: string, locale: 'es' | 'en'): Promise<string> {
  const res = await api('GET', `/v1/billing/invoices/${invoiceId}/pdf?locale=${locale}`);
  expect(res.statusCode).toBe(200);
  expect(res.headers['content-type']).toBe('application/pdf');
  const pdf = await getDocumentProxy(new Uint8Array(res.rawPayload));
  return (await extractText(pdf, { mergePages: true })).text;
}

const mailsAbout = (text: string, to: string) => mailbox.mails.filter((m) => m.to.includes(to) && m.raw.includes(text));

async function tenantWithInstance(name: string) {
  const tenant = (await api('POST', '/v1/tenants', { name })).json<Tenant>();
  const created = await api('POST', `/v1/tenants/${tenant.id}/instances`, {
    name: `${name} main`,
    webhookUrl: 'http://127.0.0.1:9/hooks',
  });
  expect(created.statusCode).toBe(201);
  return { tenant, instance: created.json<{ instance: Instance }>().instance };
}

let plan: Plan;

describe('billing', () => {
  let tenantId: string;
  let instanceId: string;
  let first: Invoice;
  const contact = 'cobranza@ferreteria.test';

  it('a plan applies its modules and limits to the tenant it is subscribed to', async () => {
    ({
      tenant: { id: tenantId },
      instance: { id: instanceId },
    } = await tenantWithInstance('Ferretería Díaz'));
    const created = await api('POST', '/v1/billing/plans', {
      code: 'basic-monthly',
      name: 'Básico',
      currency: 'MXN',
      priceMinor: 99_900,
      interval: 'month',
      includedMessages: 1_000,
      overagePer1000Minor: 5_000,
      modules: { marketing: true },
      limits: { messagesPerMonth: 5_000 },
    });
    expect(created.statusCode).toBe(201);
    plan = created.json<Plan>();

    const noProfile = await api('POST', `/v1/billing/tenants/${tenantId}/subscription`, { planId: plan.id });
    expect(noProfile.statusCode).toBe(409);
    const profile = await api('PUT', `/v1/billing/tenants/${tenantId}/profile`, {
      email: contact,
      taxId: 'FDI010101AB1',
      taxRateBp: 1600,
    });
    expect(profile.json()).toMatchObject({
      locale: 'es',
      taxName: 'IVA',
      taxInclusive: false,
      legalName: 'Ferretería Díaz',
    });
    const sub = await api('POST', `/v1/billing/tenants/${tenantId}/subscription`, { planId: plan.id });
    expect(sub.statusCode).toBe(201);
    expect(sub.json<Subscription>()).toMatchObject({
      status: 'active',
      currentPeriodStart: '2026-03-01T00:00:00.000Z',
      currentPeriodEnd: '2026-04-01T00:00:00.000Z',
    });
    const tenant = (await api('GET', `/v1/tenants/${tenantId}`)).json<Tenant>();
    expect(tenant.modules.marketing).toBe(true);
    expect(tenant.limits.messagesPerMonth).toBe(5_000);
  });

  it('counts the messages of the period from the engine reports, once each', async () => {
    const march5 = sent(tenantId, instanceId, '2026-03-05', 900);
    await report(
      march5,
      march5,
      sent(tenantId, instanceId, '2026-03-20', 600),
      sent(tenantId, instanceId, '2026-04-01', 100),
    );
    clock.set('2026-03-25T12:00:00.000Z');
    const usage = (await api('GET', `/v1/billing/tenants/${tenantId}/usage`)).json<PeriodUsage>();
    expect(usage).toMatchObject({
      messagesSent: 1_500,
      includedMessages: 1_000,
      overageMessages: 500,
      overageMinor: 2_500,
      currency: 'MXN',
    });
  });

  it('invoices the month at its end: plan, overage, 16 % IVA, the first number of the series, e-mailed', async () => {
    clock.set('2026-04-01T00:00:00.000Z');
    await control.app.billing.tick();
    const [invoice] = (await api('GET', `/v1/billing/invoices?tenantId=${tenantId}`)).json<Invoice[]>();
    first = invoice!;
    expect(first).toMatchObject({
      number: 'F-2026-000001',
      status: 'issued',
      currency: 'MXN',
      subtotalMinor: 102_400,
      taxMinor: 16_384,
      totalMinor: 118_784,
      balanceMinor: 118_784,
      issuedAt: '2026-04-01T00:00:00.000Z',
      dueAt: '2026-04-16T00:00:00.000Z',
    });
    expect(first.lines.map((l) => [l.kind, l.quantityMilli, l.unitPriceMinor, l.netMinor, l.taxMinor])).toEqual([
      ['subscription', 1000, 99_900, 99_900, 15_984],
      ['overage', 500, 5_000, 2_500, 400],
    ]);
    expect(first.lines[1]!.description).toContain('500 sobre 1,000');
    const subs = (await api('GET', `/v1/billing/subscriptions?tenantId=${tenantId}`)).json<Subscription[]>();
    expect(subs[0]).toMatchObject({
      currentPeriodStart: '2026-04-01T00:00:00.000Z',
      currentPeriodEnd: '2026-05-01T00:00:00.000Z',
    });

    // A second tick at the same time invoices nothing again.
    await control.app.billing.tick();
    expect((await api('GET', `/v1/billing/invoices?tenantId=${tenantId}`)).json<Invoice[]>()).toHaveLength(1);

    const mail = await eventually(async () => mailsAbout('F-2026-000001', contact)[0]);
    expect(mail.raw).toContain('Subject: Factura F-2026-000001');
    expect(mail.raw).toContain('application/pdf');
  });

  it('renders the PDF in Spanish and in English', async () => {
    const es = await pdfText(first.id, 'es');
    expect(es).toContain('Factura');
    expect(es).toContain('F-2026-000001');
    expect(es).toContain('Ferretería Díaz');
    expect(es).toContain('IVA 16 %');
    expect(es).toContain('$1,187.84 MXN');
    expect(es).toContain('Mensajes adicionales');
    const en = await pdfText(first.id, 'en');
    expect(en).toContain('Invoice');
    expect(en).toContain('Balance due');
    expect(en).toContain('$1,187.84 MXN');
  });

  it('refuses any change to an issued invoice in the database itself', async () => {
    const db = control.app.db.orm;
    // Drizzle wraps the database's error: its message is the cause's.
    const refusal = (query: Promise<unknown>) =>
      query.then(
        () => 'accepted',
        (error: Error) => (error.cause instanceof Error ? error.cause.message : error.message),
      );
    expect(await refusal(db.execute(sql`update billing_invoices set total_minor = 1 where id = ${first.id}`))).toMatch(
      /immutable/,
    );
    expect(
      await refusal(db.execute(sql`update billing_invoice_lines set net_minor = 1 where invoice_id = ${first.id}`)),
    ).toMatch(/immutable/);
    expect(await refusal(db.execute(sql`delete from billing_invoices where id = ${first.id}`))).toMatch(
      /cannot be deleted/,
    );
    expect((await api('GET', `/v1/billing/invoices/${first.id}`)).json<Invoice>().totalMinor).toBe(118_784);
  });

  it('dunning: reminders on their days, the instances paused on day 21, a provider payment resumes them', async () => {
    const tick = async (at: string) => {
      clock.set(at);
      await control.app.billing.tick();
    };
    await tick('2026-04-16T12:00:00.000Z'); // due today: nothing
    await tick('2026-04-17T01:00:00.000Z'); // day 1
    await tick('2026-04-20T01:00:00.000Z'); // day 4: nothing new
    const standing = async () =>
      (await api('GET', '/v1/billing/dunning')).json<DunningState[]>().find((d) => d.tenantId === tenantId);
    expect(await standing()).toMatchObject({
      overdueInvoices: 1,
      owed: [{ currency: 'MXN', amountMinor: 118_784 }],
      daysOverdue: 4,
      pausedAt: null,
      nextStep: { kind: 'reminder', day: 7 },
    });
    await tick('2026-04-23T01:00:00.000Z'); // day 7
    await tick('2026-04-30T01:00:00.000Z'); // day 14
    const events = async () => (await api('GET', `/v1/billing/tenants/${tenantId}/events`)).json<BillingEvent[]>();
    const reminders = (await events()).filter((e) => e.type === 'dunning.reminder');
    expect(reminders.map((e) => [e.at.slice(0, 10), (e.data as { daysOverdue: number }).daysOverdue])).toEqual([
      ['2026-04-17', 1],
      ['2026-04-23', 7],
      ['2026-04-30', 14],
    ]);
    expect((await standing())?.nextStep).toMatchObject({ kind: 'pause', day: 21 });
    await eventually(async () => (mailsAbout('F-2026-000001', contact).length === 4 ? true : undefined));
    expect((await api('GET', `/v1/billing/subscriptions?tenantId=${tenantId}`)).json<Subscription[]>()[0]!.status).toBe(
      'past_due',
    );
    expect((await control.app.tenants.instance(instanceId)).state).toBe('active');

    await tick('2026-05-07T01:00:00.000Z'); // day 21 (and April's period closes)
    expect((await control.app.tenants.instance(instanceId)).state).toBe('paused');
    expect((await control.app.tenants.tenant(tenantId)).status).toBe('paused');
    expect(await standing()).toMatchObject({ daysOverdue: 21, pausedAt: '2026-05-07T01:00:00.000Z', nextStep: null });
    expect((await api('GET', `/v1/billing/subscriptions?tenantId=${tenantId}`)).json<Subscription[]>()[0]!.status).toBe(
      'paused',
    );

    // The provider's webhook: a bad signature is refused, a good one pays, a repeat pays nothing more.
    const event = {
      id: 'evt_0001',
      type: 'payment.succeeded',
      data: { invoiceNumber: 'F-2026-000001', amountMinor: 118_784, currency: 'MXN', reference: 'ch_123' },
    };
    const body = JSON.stringify(event);
    const post = (signature: string) =>
      control.app.inject({
        method: 'POST',
        url: BILLING_WEBHOOK_PATH,
        headers: { 'content-type': 'application/json', [BILLING_SIGNATURE_HEADER]: signature },
        payload: body,
      });
    const now = Math.floor(clock.now().getTime() / 1000);
    expect((await post(signProviderEvent('wrong-secret', now, body))).statusCode).toBe(401);
    expect((await post(signProviderEvent(WEBHOOK_SECRET, now - 3_600, body))).statusCode).toBe(401);
    const paid = await post(signProviderEvent(WEBHOOK_SECRET, now, body));
    expect(paid.statusCode).toBe(200);
    expect((await post(signProviderEvent(WEBHOOK_SECRET, now, body))).json()).toEqual({ received: true });

    expect((await api('GET', `/v1/billing/invoices/${first.id}`)).json<Invoice>()).toMatchObject({
      status: 'paid',
      balanceMinor: 0,
    });
    expect((await control.app.tenants.instance(instanceId)).state).toBe('active');
    expect((await api('GET', `/v1/billing/subscriptions?tenantId=${tenantId}`)).json<Subscription[]>()[0]!.status).toBe(
      'active',
    );
    expect(await standing()).toBeUndefined();

    const types = (await events()).map((e) => e.type);
    for (const type of [
      'subscription.created',
      'invoice.generated',
      'invoice.issued',
      'dunning.reminder',
      'dunning.paused',
      'payment.recorded',
      'dunning.resumed',
    ]) {
      expect(types).toContain(type);
    }
    expect(types.indexOf('dunning.paused')).toBeLessThan(types.indexOf('payment.recorded'));
    expect(types.indexOf('payment.recorded')).toBeLessThan(types.indexOf('dunning.resumed'));
    const audit = await control.app.audit.list({ limit: 500 });
    const actions = audit.items.map((a) => a.action);
    for (const action of [
      'billing.dunning.reminder',
      'billing.dunning.paused',
      'tenant.pause',
      'instance.pause',
      'billing.payment.recorded',
      'billing.dunning.resumed',
      'instance.resume',
    ]) {
      expect(actions).toContain(action);
    }
    expect((await control.app.audit.verify()).ok).toBe(true);
    const company = { id: 'cmp_test', name: 'Ferretería Díaz', tenantId };
    const crm = await control.app.crmTimeline.of(company, { before: null, limit: 100 });
    expect(crm.entries.filter((e) => e.source === 'billing').map((e) => e.kind)).toEqual(
      expect.arrayContaining(['dunning.paused', 'dunning.resumed', 'payment.recorded', 'invoice.issued']),
    );
  });

  it('a credit note voids an invoice; the statement and the receivables add up to the cent', async () => {
    const invoices = (await api('GET', `/v1/billing/invoices?tenantId=${tenantId}`)).json<Invoice[]>();
    const april = invoices.find((i) => i.number === 'F-2026-000002')!;
    expect(april).toMatchObject({ subtotalMinor: 99_900, totalMinor: 115_884 });

    // A partial payment; the credit note below turns it into credit for the next invoice.
    const partial = await api('POST', '/v1/billing/payments', {
      tenantId,
      method: 'transfer',
      reference: 'SPEI 1',
      amountMinor: 50_000,
      currency: 'MXN',
    });
    expect(partial.statusCode).toBe(201);
    expect((await api('GET', `/v1/billing/invoices/${april.id}`)).json<Invoice>()).toMatchObject({
      status: 'partially_paid',
      balanceMinor: 65_884,
    });
    const receivables = (await api('GET', '/v1/billing/reports/receivables')).json<ReceivablesReport>();
    expect(receivables.currencies.MXN!.totalMinor).toBe(118_784 + 115_884 - 118_784 - 50_000);

    clock.set('2026-05-08T10:00:00.000Z');
    const note = await api('POST', `/v1/billing/invoices/${april.id}/credit-notes`, { reason: 'Cortesía' });
    expect(note.statusCode).toBe(201);
    expect(note.json<Invoice>()).toMatchObject({ kind: 'credit_note', number: 'NC-2026-000001', totalMinor: -115_884 });
    // Paid in part before the credit: that money goes back to the tenant as credit.
    expect((await api('GET', `/v1/billing/invoices/${april.id}`)).json<Invoice>()).toMatchObject({
      status: 'void',
      balanceMinor: 0,
      paidMinor: 0,
    });
    const statement = (await api('GET', `/v1/billing/tenants/${tenantId}/statement`)).json<Statement>();
    expect(statement.lines.map((l) => [l.kind, l.reference, l.debitMinor, l.creditMinor])).toEqual([
      ['invoice', 'F-2026-000001', 118_784, 0],
      ['invoice', 'F-2026-000002', 115_884, 0],
      ['payment', 'ch_123', 0, 118_784],
      ['payment', 'SPEI 1', 0, 50_000],
      ['credit_note', 'NC-2026-000001', 0, 115_884],
    ]);
    expect(statement.balanceMinor).toBe(-50_000);
    const after = (await api('GET', '/v1/billing/reports/receivables')).json<ReceivablesReport>();
    expect(after.currencies.MXN).toMatchObject({ totalMinor: 0, unappliedCreditMinor: 50_000 });

    const revenue = (await api('GET', '/v1/billing/reports/revenue?month=2026-05')).json<RevenueReport>();
    expect(revenue).toMatchObject({ mrr: { MXN: 99_900 }, arr: { MXN: 1_198_800 }, activeTenants: 1 });
    expect(revenue.revenueByMonth).toEqual([
      { month: '2026-04', currency: 'MXN', netMinor: 102_400, collectedMinor: 0 },
      { month: '2026-05', currency: 'MXN', netMinor: 99_900 - 99_900, collectedMinor: 168_784 },
    ]);
    const csv = await api('GET', '/v1/billing/exports/invoices.csv');
    expect(csv.headers['content-type']).toContain('text/csv');
    expect(csv.body.split('\r\n')[1]).toMatch(
      /^F-2026-000001,invoice,ten_[0-9a-f]+,paid,2026-04-01T00:00:00.000Z,.*,MXN,1024.00,163.84,1187.84,/,
    );
    expect((await api('GET', '/v1/billing/exports/payments.csv')).body).toContain('F-2026-000001:1187.84');
  });

  it('a trial, a prorated plan change with tax-inclusive prices, and a cancellation at period end', async () => {
    clock.set('2026-06-01T00:00:00.000Z');
    await control.app.billing.tick();
    // Ferretería's May invoice is issued now and paid at once from its 500.00 of unapplied credit.
    const may = (await api('GET', `/v1/billing/invoices?tenantId=${tenantId}`)).json<Invoice[]>()[0]!;
    expect(may).toMatchObject({ number: 'F-2026-000003', status: 'partially_paid', paidMinor: 50_000 });
    expect(
      (await api('GET', '/v1/billing/reports/receivables')).json<ReceivablesReport>().currencies.MXN,
    ).toMatchObject({
      totalMinor: may.totalMinor - 50_000,
      unappliedCreditMinor: 0,
    });
    const planOf = async (code: string, priceMinor: number, messagesPerMonth: number) =>
      (
        await api('POST', '/v1/billing/plans', {
          code,
          name: code,
          currency: 'MXN',
          priceMinor,
          interval: 'month',
          includedMessages: 500,
          overagePer1000Minor: 6_000,
          limits: { messagesPerMonth },
        })
      ).json<Plan>();
    const small = await planOf('small', 60_000, 1_000);
    const large = await planOf('large', 120_000, 20_000);
    const { tenant } = await tenantWithInstance('Acme Imports');
    await api('PUT', `/v1/billing/tenants/${tenant.id}/profile`, {
      email: 'ap@acme.test',
      locale: 'en',
      taxInclusive: true,
    });
    const trial = (
      await api('POST', `/v1/billing/tenants/${tenant.id}/subscription`, { planId: small.id, trialDays: 10 })
    ).json<Subscription>();
    expect(trial).toMatchObject({ status: 'trialing', currentPeriodEnd: '2026-06-11T00:00:00.000Z' });

    clock.set('2026-06-11T00:00:00.000Z');
    await control.app.billing.tick();
    const invoicesOf = async () => (await api('GET', `/v1/billing/invoices?tenantId=${tenant.id}`)).json<Invoice[]>();
    expect(await invoicesOf()).toEqual([]);
    const subscription = async () =>
      (await api('GET', `/v1/billing/subscriptions?tenantId=${tenant.id}`)).json<Subscription[]>()[0]!;
    expect(await subscription()).toMatchObject({
      status: 'active',
      currentPeriodStart: '2026-06-11T00:00:00.000Z',
      currentPeriodEnd: '2026-07-11T00:00:00.000Z',
    });

    clock.set('2026-06-26T00:00:00.000Z'); // half of the 30-day period
    const changed = await api('POST', `/v1/billing/subscriptions/${trial.id}/plan`, { planId: large.id });
    expect(changed.statusCode).toBe(200);
    expect((await api('GET', `/v1/tenants/${tenant.id}`)).json<Tenant>().limits.messagesPerMonth).toBe(20_000);
    const cancel = await api('POST', `/v1/billing/subscriptions/${trial.id}/cancel`, {});
    expect(cancel.json<Subscription>()).toMatchObject({ status: 'active', cancelAtPeriodEnd: true });

    clock.set('2026-07-11T00:00:00.000Z');
    await control.app.billing.tick();
    const [invoice] = await invoicesOf();
    // Inclusive prices: each line's net is its price / 1.16, half-up; the tax is the rest.
    expect(invoice!.lines.map((l) => [l.kind, l.unitPriceMinor, l.netMinor, l.taxMinor, l.totalMinor])).toEqual([
      ['subscription', 120_000, 103_448, 16_552, 120_000],
      ['proration', 30_000, 25_862, 4_138, 30_000],
      ['proration', -60_000, -51_724, -8_276, -60_000],
    ]);
    expect(invoice).toMatchObject({ subtotalMinor: 77_586, taxMinor: 12_414, totalMinor: 90_000, locale: 'en' });
    expect(invoice!.lines[0]!.description).toBe('large subscription (Jun 11, 2026 to Jul 10, 2026)');
    expect(await subscription()).toMatchObject({ status: 'canceled', canceledAt: '2026-07-11T00:00:00.000Z' });
    const revenue = (await api('GET', '/v1/billing/reports/revenue?month=2026-07')).json<RevenueReport>();
    expect(revenue.churn).toEqual({ month: '2026-07', startingSubscriptions: 2, canceled: 1, rateBp: 5_000 });

    // Canceled now: the period ends at once and is billed for the part used (15 of 31 days).
    const other = (await tenantWithInstance('Beta Foods')).tenant;
    await api('PUT', `/v1/billing/tenants/${other.id}/profile`, { email: 'pagos@beta.test' });
    const sub = (
      await api('POST', `/v1/billing/tenants/${other.id}/subscription`, { planId: small.id })
    ).json<Subscription>();
    clock.set('2026-07-26T00:00:00.000Z');
    const ended = await api('POST', `/v1/billing/subscriptions/${sub.id}/cancel`, { atPeriodEnd: false });
    expect(ended.json<Subscription>()).toMatchObject({ status: 'canceled', canceledAt: '2026-07-26T00:00:00.000Z' });
    const [last] = (await api('GET', `/v1/billing/invoices?tenantId=${other.id}`)).json<Invoice[]>();
    expect(last).toMatchObject({
      subtotalMinor: 29_032,
      taxMinor: 4_645,
      totalMinor: 33_677,
      periodEnd: '2026-07-26T00:00:00.000Z',
    });
  });

  it('the billing role changes billing, the read-only role only reads it', async () => {
    const billingRole = await control.loginAs('billing');
    const readOnly = await control.loginAs('read-only');
    const body = {
      code: 'pro-monthly',
      name: 'Pro',
      currency: 'MXN',
      priceMinor: 199_900,
      interval: 'month',
      includedMessages: 5_000,
      overagePer1000Minor: 4_000,
    };
    expect((await api('POST', '/v1/billing/plans', body, readOnly)).statusCode).toBe(403);
    expect((await api('GET', '/v1/billing/plans', undefined, readOnly)).statusCode).toBe(200);
    expect((await api('POST', '/v1/billing/plans', body, billingRole)).statusCode).toBe(201);
  });
});

describe.skipIf(!TEST_DATABASE_URL)('invoice numbering on Postgres', () => {
  it('stays gapless when invoices are issued at once and one issue rolls back', async () => {
    const issuedNumbers = async () =>
      (await api('GET', '/v1/billing/invoices?limit=1000'))
        .json<Invoice[]>()
        .filter((i) => i.kind === 'invoice' && i.number)
        .map((i) => Number(i.number!.split('-')[2]))
        .sort((a, b) => a - b);
    const before = (await issuedNumbers()).length;
    const { tenant } = await tenantWithInstance('Numeración SA');
    await api('PUT', `/v1/billing/tenants/${tenant.id}/profile`, { email: 'n@numeracion.test' });
    const drafts: Invoice[] = [];
    for (let i = 0; i < 24; i++) {
      const res = await api('POST', `/v1/billing/tenants/${tenant.id}/invoices`, {
        currency: 'MXN',
        lines: [{ description: `Servicio ${i}`, unitPriceMinor: 10_000 + i }],
      });
      drafts.push(res.json<Invoice>());
    }
    const billing = control.app.billing;
    const rollback = control.app.db.orm
      .transaction(async (tx) => {
        await billing.invoices.issueIn(tx, drafts[0]!.id, { type: 'system', id: null, label: 'test' });
        throw new Error('rolled back on purpose');
      })
      .catch(() => 'rolled back');
    const results = await Promise.all([
      rollback,
      ...drafts.slice(1).map((d) => api('POST', `/v1/billing/invoices/${d.id}/issue`)),
    ]);
    expect(results[0]).toBe('rolled back');
    expect(results.slice(1).map((r) => (typeof r === 'string' ? r : r.statusCode))).toEqual(
      drafts.slice(1).map(() => 200),
    );
    // The 23 issued at once follow the ones before them; the rolled back issue took no number.
    expect(await issuedNumbers()).toEqual(Array.from({ length: before + 23 }, (_, n) => n + 1));
  });
});
