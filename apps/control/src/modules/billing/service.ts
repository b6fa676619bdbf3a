import { asc, eq } from 'drizzle-orm';
import type { BillingLocale, PeriodUsage } from '@mic/contracts';
import { problems } from '@mic/platform';
import { BILLING_ACTOR, recordEvent, type BillingContext, type MailJob } from './context.ts';
import { Dunning } from './dunning.ts';
import { formatDate, textsFor } from './i18n.ts';
import { Invoices } from './invoices.ts';
import { balanceOf } from './ledger.ts';
import type { Mail, Mailer } from '@mic/platform';
import { formatMoney, overageMessages, divRound } from './money.ts';
import { Payments } from './payments.ts';
import { renderInvoicePdf } from './pdf.ts';
import { Plans } from './plans.ts';
import { Reports } from './reports.ts';
import { billingEvents } from './schema.ts';
import { Subscriptions } from './subscriptions.ts';

export type BillingEventRow = typeof billingEvents.$inferSelect;

/** The ERP's billing: one object per area, and the tick that closes periods and runs dunning. */
export class Billing {
  readonly plans: Plans;
  readonly invoices: Invoices;
  readonly subscriptions: Subscriptions;
  readonly payments: Payments;
  readonly dunning: Dunning;
  readonly reports: Reports;
  readonly #ctx: BillingContext;
  readonly #mailer: Mailer;

  constructor(ctx: BillingContext, mailer: Mailer) {
    this.#ctx = ctx;
    this.#mailer = mailer;
    this.plans = new Plans(ctx);
    this.invoices = new Invoices(ctx);
    this.subscriptions = new Subscriptions(ctx, this.plans, this.invoices);
    this.dunning = new Dunning(ctx, this.subscriptions);
    this.payments = new Payments(ctx, (tenantId) => this.dunning.reconcile(tenantId));
    this.reports = new Reports(ctx);
  }
  /** True when sent; false when no SMTP server is configured (logged). Throws on a failure: the job retries. */
  async #send(mail: Mail): Promise<boolean> {
    if (!this.#mailer.isConfigured) {
      this.#ctx.logger.warn({ to: mail.to, subject: mail.subject }, 'billing mail not sent: no SMTP server configured');
      return false;
    }
    await this.#mailer.send(mail);
    return true;
  }

  /** Business time moves here: periods that ended are invoiced, then dunning takes its steps. */
  async tick(now = this.#ctx.clock.now()): Promise<void> {
    await this.subscriptions.closeDue(now);
    await this.dunning.run(now);
  }

  async pdf(invoiceId: string, locale?: BillingLocale): Promise<Buffer> {
    const invoice = await this.invoices.invoice(invoiceId);
    const lines = await this.invoices.lines(invoiceId);
    return renderInvoicePdf(invoice, lines, locale ?? (invoice.locale as BillingLocale), this.#ctx.options.issuer);
  }

  /** The tenant's billing timeline, oldest first (the CRM's company timeline reads it). */
  async timeline(tenantId: string): Promise<BillingEventRow[]> {
    return this.#ctx.db
      .select()
      .from(billingEvents)
      .where(eq(billingEvents.tenantId, tenantId))
      .orderBy(asc(billingEvents.at), asc(billingEvents.id));
  }

  async usage(tenantId: string): Promise<PeriodUsage> {
    const { sub, plan, used, from, to } = await this.subscriptions.currentUsage(tenantId);
    const included = plan?.includedMessages ?? 0;
    const over = plan ? overageMessages(used, included) : 0;
    return {
      tenantId,
      subscriptionId: sub?.id ?? null,
      periodStart: from.toISOString(),
      periodEnd: to.toISOString(),
      messagesSent: used,
      includedMessages: included,
      overageMessages: over,
      overageMinor: plan ? Number(divRound(BigInt(over) * plan.overagePer1000Minor, 1000n)) : 0,
      currency: plan?.currency ?? '',
    };
  }

  /** The mail worker: an issued invoice (PDF attached) or a dunning reminder, to the billing contact. */
  async sendMail(job: MailJob): Promise<void> {
    const invoice = await this.invoices.find(job.invoiceId);
    if (!invoice) return;
    const profile = await this.plans.findProfile(invoice.tenantId);
    const to = profile?.email ?? invoice.billTo.email;
    const locale = (profile?.locale ?? invoice.locale) as BillingLocale;
    const t = textsFor(locale);
    const money = (minor: bigint) => `${formatMoney(minor, invoice.currency, locale)} ${invoice.currency}`;
    const number = invoice.numberText ?? invoice.id;
    const name = invoice.billTo.name;
    if (job.kind === 'reminder') {
      if (balanceOf(invoice) <= 0n) return;
      const days = job.step;
      const sent = await this.#send({
        to,
        subject: t.reminderSubject(number, days),
        text: t.reminderBody(
          name,
          number,
          money(balanceOf(invoice)),
          formatDate(invoice.dueAt!, locale),
          Math.max(0, this.#ctx.options.pauseDay - days),
        ),
      });
      if (sent)
        await this.#ctx.db.transaction((tx) =>
          recordEvent(this.#ctx, tx, BILLING_ACTOR, {
            tenantId: invoice.tenantId,
            type: 'mail.sent',
            invoiceId: invoice.id,
            data: { kind: 'reminder', step: days, to },
          }),
        );
      return;
    }
    const pdf = await this.pdf(invoice.id, locale);
    const sent = await this.#send({
      to,
      subject: t.invoiceSubject(number),
      text:
        invoice.kind === 'credit_note'
          ? t.creditNoteBody(name, number, money(-invoice.totalMinor))
          : t.invoiceBody(name, number, money(invoice.totalMinor), formatDate(invoice.dueAt!, locale)),
      attachments: [{ filename: `${number}.pdf`, content: pdf, contentType: 'application/pdf' }],
    });
    if (sent) {
      await this.#ctx.db.transaction((tx) =>
        recordEvent(this.#ctx, tx, BILLING_ACTOR, {
          tenantId: invoice.tenantId,
          type: 'mail.sent',
          invoiceId: invoice.id,
          data: { kind: invoice.kind, to },
        }),
      );
    }
  }

  /** Re-sends an issued invoice to the billing contact (an operator's request). */
  async resend(invoiceId: string): Promise<void> {
    const invoice = await this.invoices.invoice(invoiceId);
    if (invoice.status === 'draft') throw problems.validation([{ field: 'invoiceId', message: 'a draft is not sent' }]);
    await this.sendMail({ kind: 'invoice', invoiceId });
  }
}
