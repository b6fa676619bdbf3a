import { and, eq, gt, inArray, isNotNull, lt, sql } from 'drizzle-orm';
import { BILLING_ACTOR, DAY_MS, MAIL_QUEUE, recordEvent, type BillingContext, type MailJob } from './context.ts';
import type { Subscriptions } from './subscriptions.ts';
import { billingInvoices, billingProfiles } from './schema.ts';

/**
 * Dunning, run by the tick: for each overdue invoice a reminder on each configured day after the
 * due date (once per step: a tick that comes late sends only the latest step reached), then on the
 * pause day all the tenant's instances are paused through the tenants module; once nothing is
 * overdue any more (a payment, a credit note) they are resumed. Each step goes to the tenant's
 * billing timeline and the audit log.
 */
export class Dunning {
  readonly #ctx: BillingContext;
  readonly #subscriptions: Subscriptions;

  constructor(ctx: BillingContext, subscriptions: Subscriptions) {
    this.#ctx = ctx;
    this.#subscriptions = subscriptions;
  }

  async #overdue(now: Date, tenantId?: string) {
    return this.#ctx.db
      .select()
      .from(billingInvoices)
      .where(
        and(
          eq(billingInvoices.kind, 'invoice'),
          inArray(billingInvoices.status, ['issued', 'partially_paid']),
          lt(billingInvoices.dueAt, now),
          gt(sql`${billingInvoices.totalMinor} - ${billingInvoices.paidMinor} - ${billingInvoices.creditedMinor}`, 0),
          tenantId ? eq(billingInvoices.tenantId, tenantId) : undefined,
        ),
      );
  }

  async run(now: Date): Promise<void> {
    const { reminderDays, pauseDay } = this.#ctx.options;
    const overdue = await this.#overdue(now);
    const toPause = new Map<string, (typeof overdue)[number]>();
    for (const invoice of overdue) {
      const days = Math.floor((now.getTime() - invoice.dueAt!.getTime()) / DAY_MS);
      const step = Math.max(0, ...reminderDays.filter((d) => d <= days));
      await this.#ctx.db.transaction(async (tx) => {
        await this.#subscriptions.setStatusIn(tx, invoice.tenantId, ['active'], 'past_due');
        if (step === 0) return;
        const isNew = await recordEvent(this.#ctx, tx, BILLING_ACTOR, {
          tenantId: invoice.tenantId,
          type: 'dunning.reminder',
          invoiceId: invoice.id,
          step,
          data: { number: invoice.numberText, daysOverdue: days },
        });
        if (isNew) {
          await this.#ctx.queue.send(
            MAIL_QUEUE,
            { kind: 'reminder', invoiceId: invoice.id, step } satisfies MailJob,
            {},
            tx,
          );
        }
      });
      if (days >= pauseDay && !toPause.has(invoice.tenantId)) toPause.set(invoice.tenantId, invoice);
    }
    for (const [tenantId, invoice] of toPause) await this.#pause(tenantId, invoice.id, invoice.numberText!);
    const paused = await this.#ctx.db
      .select({ tenantId: billingProfiles.tenantId })
      .from(billingProfiles)
      .where(isNotNull(billingProfiles.pausedForDunningAt));
    for (const { tenantId } of paused) if (!toPause.has(tenantId)) await this.reconcile(tenantId, now);
  }

  async #pause(tenantId: string, invoiceId: string, number: string): Promise<void> {
    const [profile] = await this.#ctx.db.select().from(billingProfiles).where(eq(billingProfiles.tenantId, tenantId));
    if (!profile || profile.pausedForDunningAt) return;
    const reason = `unpaid invoice ${number}`;
    // The tenants module pauses every instance in its own audited transaction; should this process
    // die before the mark below, the next tick pauses again, which changes nothing.
    const { instances } = await this.#ctx.tenants.setTenantPaused(tenantId, true, reason, BILLING_ACTOR);
    await this.#ctx.db.transaction(async (tx) => {
      const now = this.#ctx.clock.now();
      await tx.update(billingProfiles).set({ pausedForDunningAt: now }).where(eq(billingProfiles.tenantId, tenantId));
      await this.#subscriptions.setStatusIn(tx, tenantId, ['active', 'past_due'], 'paused');
      await recordEvent(this.#ctx, tx, BILLING_ACTOR, {
        tenantId,
        type: 'dunning.paused',
        invoiceId,
        data: { number, reason, instances: instances.map((i) => i.id) },
      });
    });
  }

  /** Resumes a tenant that dunning paused once nothing of it is overdue; a past-due subscription turns active. */
  async reconcile(tenantId: string, now = this.#ctx.clock.now()): Promise<void> {
    if ((await this.#overdue(now, tenantId)).length > 0) return;
    const [profile] = await this.#ctx.db.select().from(billingProfiles).where(eq(billingProfiles.tenantId, tenantId));
    if (profile?.pausedForDunningAt) {
      const { instances } = await this.#ctx.tenants.setTenantPaused(tenantId, false, 'invoices paid', BILLING_ACTOR);
      await this.#ctx.db.transaction(async (tx) => {
        await tx
          .update(billingProfiles)
          .set({ pausedForDunningAt: null })
          .where(eq(billingProfiles.tenantId, tenantId));
        await this.#subscriptions.setStatusIn(tx, tenantId, ['paused', 'past_due'], 'active');
        await recordEvent(this.#ctx, tx, BILLING_ACTOR, {
          tenantId,
          type: 'dunning.resumed',
          data: { reason: 'invoices paid', instances: instances.map((i) => i.id) },
        });
      });
      return;
    }
    await this.#ctx.db.transaction((tx) => this.#subscriptions.setStatusIn(tx, tenantId, ['past_due'], 'active'));
  }
}
