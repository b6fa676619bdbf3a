import { and, eq, gt, inArray, isNotNull, lt, sql } from 'drizzle-orm';
import { BILLING_ACTOR, DAY_MS, MAIL_QUEUE, recordEvent, type BillingContext, type MailJob } from './context.ts';
import type { DunningState } from '@mic/contracts';
import { balanceOf } from './ledger.ts';
import type { Subscriptions } from './subscriptions.ts';
import { billingInvoices, billingProfiles } from './schema.ts';

/** Whole days from `since` to `now`: an invoice's days past its due date. */
const daysSince = (since: Date | number, now: Date) => Math.floor((now.getTime() - new Date(since).getTime()) / DAY_MS);

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

  /**
   * Where dunning stands for each tenant with overdue invoices or paused by it: what is owed, since
   * when, and its next step (counted, as `run` does, from each invoice's due date; the next one of
   * any of the tenant's invoices).
   */
  async states(now = this.#ctx.clock.now()): Promise<DunningState[]> {
    const { reminderDays, pauseDay } = this.#ctx.options;
    const overdue = await this.#overdue(now);
    const paused = await this.#ctx.db
      .select({ tenantId: billingProfiles.tenantId, at: billingProfiles.pausedForDunningAt })
      .from(billingProfiles)
      .where(isNotNull(billingProfiles.pausedForDunningAt));
    const byTenant = Map.groupBy(overdue, (invoice) => invoice.tenantId);
    const pausedAt = new Map(paused.map((p) => [p.tenantId, p.at!]));
    const tenants = [...new Set([...byTenant.keys(), ...pausedAt.keys()])];
    return tenants
      .map((tenantId) => {
        const invoices = byTenant.get(tenantId) ?? [];
        const owed = new Map<string, bigint>();
        for (const i of invoices) owed.set(i.currency, (owed.get(i.currency) ?? 0n) + balanceOf(i));
        const oldest = invoices.length > 0 ? Math.min(...invoices.map((i) => i.dueAt!.getTime())) : null;
        const isPaused = pausedAt.has(tenantId);
        const steps = invoices.flatMap((i) => {
          const days = daysSince(i.dueAt!, now);
          const reminder = reminderDays.filter((d) => d > days && d < pauseDay).sort((a, b) => a - b)[0];
          const step =
            reminder !== undefined
              ? { kind: 'reminder' as const, day: reminder }
              : !isPaused && days < pauseDay
                ? { kind: 'pause' as const, day: pauseDay }
                : undefined;
          return step ? [{ ...step, at: new Date(i.dueAt!.getTime() + step.day * DAY_MS) }] : [];
        });
        const next = steps.sort((a, b) => a.at.getTime() - b.at.getTime())[0];
        return {
          tenantId,
          overdueInvoices: invoices.length,
          owed: [...owed].map(([currency, amountMinor]) => ({ currency, amountMinor: Number(amountMinor) })),
          oldestDueAt: oldest === null ? null : new Date(oldest).toISOString(),
          daysOverdue: oldest === null ? 0 : daysSince(oldest, now),
          pausedAt: pausedAt.get(tenantId)?.toISOString() ?? null,
          nextStep: next ? { kind: next.kind, day: next.day, at: next.at.toISOString() } : null,
        };
      })
      .sort((a, b) => b.daysOverdue - a.daysOverdue || a.tenantId.localeCompare(b.tenantId));
  }

  async run(now: Date): Promise<void> {
    const { reminderDays, pauseDay } = this.#ctx.options;
    const overdue = await this.#overdue(now);
    const toPause = new Map<string, (typeof overdue)[number]>();
    for (const invoice of overdue) {
      const days = daysSince(invoice.dueAt!, now);
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
