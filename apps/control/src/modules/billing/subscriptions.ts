import { and, asc, eq, lte, ne, notInArray } from 'drizzle-orm';
import type { ChangePlan, CreateSubscription, SubscriptionStatus } from '@mic/contracts';
import { Problem, problems } from '@mic/platform';
import type { AuditActor, DbTransaction } from '../audit/index.ts';
import { BILLING_ACTOR, DAY_MS, newId, recordEvent, type BillingContext } from './context.ts';
import { formatCount, formatDate, textsFor } from './i18n.ts';
import type { DraftLine, Invoices } from './invoices.ts';
import { addMonths, overageMessages, prorate } from './money.ts';
import type { PlanRow, Plans } from './plans.ts';
import { billingPendingLines, billingPlans, billingProfiles, billingSubscriptions } from './schema.ts';

export type SubscriptionRow = typeof billingSubscriptions.$inferSelect;

const conflict = (detail: string) =>
  new Problem({ status: 409, type: 'conflict', title: 'Conflicts with the current state', detail });

const monthsOf = (interval: string) => (interval === 'year' ? 12 : 1);

/** The end of the full period `index` of a subscription: anchor + (index + 1) intervals. */
const fullPeriodEnd = (sub: SubscriptionRow, plan: PlanRow) =>
  addMonths(sub.anchorAt, (sub.periodIndex + 1) * monthsOf(plan.interval));

/**
 * Subscriptions: a tenant's plan over periods billed in arrears. At each period end the tick
 * invoices the period (plan price, overage, pending one-off lines) and starts the next one.
 */
export class Subscriptions {
  readonly #ctx: BillingContext;
  readonly #plans: Plans;
  readonly #invoices: Invoices;

  constructor(ctx: BillingContext, plans: Plans, invoices: Invoices) {
    this.#ctx = ctx;
    this.#plans = plans;
    this.#invoices = invoices;
  }

  async list(filter: { tenantId?: string | undefined } = {}): Promise<SubscriptionRow[]> {
    return this.#ctx.db
      .select()
      .from(billingSubscriptions)
      .where(filter.tenantId ? eq(billingSubscriptions.tenantId, filter.tenantId) : undefined)
      .orderBy(asc(billingSubscriptions.createdAt));
  }

  async subscription(id: string): Promise<SubscriptionRow> {
    const [row] = await this.#ctx.db.select().from(billingSubscriptions).where(eq(billingSubscriptions.id, id));
    if (!row) throw problems.notFound(`no subscription ${id}`);
    return row;
  }

  /** The tenant's subscription that is not canceled, if any. */
  async live(tenantId: string, tx: DbTransaction | BillingContext['db'] = this.#ctx.db) {
    const [row] = await tx
      .select()
      .from(billingSubscriptions)
      .where(and(eq(billingSubscriptions.tenantId, tenantId), ne(billingSubscriptions.status, 'canceled')));
    return row;
  }

  async create(tenantId: string, input: CreateSubscription, actor: AuditActor): Promise<SubscriptionRow> {
    await this.#ctx.tenants.tenant(tenantId);
    await this.#plans.profile(tenantId).catch(() => {
      throw conflict(`tenant ${tenantId} has no billing profile: set its billing contact first`);
    });
    const plan = await this.#plans.plan(input.planId);
    if (!plan.isActive) throw conflict(`plan ${plan.code} takes no new subscriptions`);
    const now = this.#ctx.clock.now();
    const start = input.startAt ? new Date(input.startAt) : now;
    const trialEnd = input.trialDays ? new Date(start.getTime() + input.trialDays * DAY_MS) : null;
    const row: SubscriptionRow = {
      id: newId('sub'),
      tenantId,
      planId: plan.id,
      status: trialEnd ? 'trialing' : 'active',
      anchorAt: trialEnd ?? start,
      periodIndex: trialEnd ? -1 : 0,
      currentPeriodStart: start,
      currentPeriodEnd: trialEnd ?? addMonths(start, monthsOf(plan.interval)),
      trialEnd,
      cancelAtPeriodEnd: false,
      canceledAt: null,
      createdAt: now,
      updatedAt: now,
    };
    await this.#ctx.db.transaction(async (tx) => {
      if (await this.live(tenantId, tx))
        throw conflict(`tenant ${tenantId} has a subscription already: change its plan`);
      await tx.insert(billingSubscriptions).values(row);
      await recordEvent(
        this.#ctx,
        tx,
        actor,
        {
          tenantId,
          type: 'subscription.created',
          data: { subscriptionId: row.id, plan: plan.code, status: row.status },
        },
        { after: row },
      );
    });
    await this.#grant(tenantId, plan, actor);
    await this.#ctx.planChanged(tenantId, plan.code);
    return row;
  }

  /** What the plan grants lands on the tenant through the tenants module (audited there). */
  async #grant(tenantId: string, plan: PlanRow, actor: AuditActor): Promise<void> {
    if (Object.keys(plan.modules).length === 0 && Object.keys(plan.limits).length === 0) return;
    await this.#ctx.tenants.updateTenant(tenantId, { modules: plan.modules, limits: plan.limits }, actor);
  }

  /**
   * Changes the plan now. Billed in arrears, the period-end invoice charges the new plan for the
   * whole period; with `prorate`, two pending lines correct the part already elapsed: the old
   * plan's price times elapsed/period, and minus the new plan's price times the same fraction,
   * each rounded half-up. A trial is free: no proration. Currency and interval must stay.
   */
  async changePlan(id: string, input: ChangePlan, actor: AuditActor): Promise<SubscriptionRow> {
    const plan = await this.#plans.plan(input.planId);
    if (!plan.isActive) throw conflict(`plan ${plan.code} takes no new subscriptions`);
    const now = this.#ctx.clock.now();
    const after = await this.#ctx.db.transaction(async (tx) => {
      const [sub] = await tx.select().from(billingSubscriptions).where(eq(billingSubscriptions.id, id)).for('update');
      if (!sub) throw problems.notFound(`no subscription ${id}`);
      if (sub.status === 'canceled') throw conflict(`subscription ${id} is canceled`);
      if (sub.planId === plan.id) return sub;
      const [old] = await tx.select().from(billingPlans).where(eq(billingPlans.id, sub.planId));
      if (old!.currency !== plan.currency || old!.interval !== plan.interval) {
        throw conflict('a plan change keeps the currency and the interval: cancel and subscribe to the other plan');
      }
      const lines: DraftLine[] = [];
      if ((input.prorate ?? true) && sub.status !== 'trialing') {
        const [profile] = await tx.select().from(billingProfiles).where(eq(billingProfiles.tenantId, sub.tenantId));
        const texts = textsFor(profile?.locale ?? 'es');
        const whole = fullPeriodEnd(sub, old!).getTime() - sub.currentPeriodStart.getTime();
        const elapsed = Math.min(Math.max(now.getTime() - sub.currentPeriodStart.getTime(), 0), whole);
        lines.push(
          {
            kind: 'proration',
            description: texts.prorationCharge(old!.name),
            quantityMilli: 1000n,
            unitPriceMinor: prorate(old!.priceMinor, elapsed, whole),
          },
          {
            kind: 'proration',
            description: texts.prorationCredit(plan.name),
            quantityMilli: 1000n,
            unitPriceMinor: -prorate(plan.priceMinor, elapsed, whole),
          },
        );
        await tx.insert(billingPendingLines).values(
          lines.map((l) => ({
            ...l,
            id: newId('chg'),
            tenantId: sub.tenantId,
            currency: plan.currency,
            invoiceId: null,
            createdAt: now,
          })),
        );
      }
      const changed = { ...sub, planId: plan.id, updatedAt: now };
      await tx.update(billingSubscriptions).set(changed).where(eq(billingSubscriptions.id, id));
      await recordEvent(
        this.#ctx,
        tx,
        actor,
        {
          tenantId: sub.tenantId,
          type: 'subscription.plan_changed',
          data: {
            subscriptionId: id,
            from: old!.code,
            to: plan.code,
            prorationMinor: lines.map((l) => Number(l.unitPriceMinor)),
          },
        },
        { before: sub, after: changed },
      );
      return changed;
    });
    await this.#grant(after.tenantId, plan, actor);
    await this.#ctx.planChanged(after.tenantId, plan.code);
    return after;
  }

  /** At period end (the default) the last period is still invoiced; now: the period closes at once, prorated. */
  async cancel(id: string, atPeriodEnd: boolean, actor: AuditActor): Promise<SubscriptionRow> {
    const now = this.#ctx.clock.now();
    const after = await this.#ctx.db.transaction(async (tx) => {
      const [sub] = await tx.select().from(billingSubscriptions).where(eq(billingSubscriptions.id, id)).for('update');
      if (!sub) throw problems.notFound(`no subscription ${id}`);
      if (sub.status === 'canceled') throw conflict(`subscription ${id} is canceled already`);
      const changed: SubscriptionRow = {
        ...sub,
        cancelAtPeriodEnd: true,
        ...(atPeriodEnd ? {} : { currentPeriodEnd: now < sub.currentPeriodEnd ? now : sub.currentPeriodEnd }),
        updatedAt: now,
      };
      await tx.update(billingSubscriptions).set(changed).where(eq(billingSubscriptions.id, id));
      await recordEvent(
        this.#ctx,
        tx,
        actor,
        {
          tenantId: sub.tenantId,
          type: 'subscription.cancel_requested',
          data: { subscriptionId: id, at: changed.currentPeriodEnd.toISOString() },
        },
        { before: sub, after: changed },
      );
      return changed;
    });
    if (!atPeriodEnd) await this.closeDue(now);
    return this.subscription(after.id);
  }

  /** Sets the status (past due, paused by dunning, back to active) of the tenant's live subscription. */
  async setStatusIn(tx: DbTransaction, tenantId: string, from: SubscriptionStatus[], to: SubscriptionStatus) {
    const sub = await this.live(tenantId, tx);
    if (!sub || !from.includes(sub.status as SubscriptionStatus)) return;
    await tx
      .update(billingSubscriptions)
      .set({ status: to, updatedAt: this.#ctx.clock.now() })
      .where(eq(billingSubscriptions.id, sub.id));
  }

  /** Closes every period that ended by `now` (catching up several per subscription if needed). */
  async closeDue(now: Date): Promise<number> {
    const failed: string[] = [];
    let closed = 0;
    for (;;) {
      const due = await this.#ctx.db
        .select()
        .from(billingSubscriptions)
        .where(
          and(
            ne(billingSubscriptions.status, 'canceled'),
            lte(billingSubscriptions.currentPeriodEnd, now),
            failed.length ? notInArray(billingSubscriptions.id, failed) : undefined,
          ),
        )
        .orderBy(asc(billingSubscriptions.currentPeriodEnd))
        .limit(50);
      if (due.length === 0) return closed;
      for (const sub of due) {
        try {
          await this.#close(sub, now);
          closed++;
        } catch (error) {
          failed.push(sub.id);
          this.#ctx.logger.error({ err: error, subscriptionId: sub.id }, 'billing period not closed');
        }
      }
    }
  }

  async #close(seen: SubscriptionRow, now: Date): Promise<void> {
    const plan = await this.#plans.plan(seen.planId);
    // Read before the transaction: the usage store is another module's, queried on its own.
    const used =
      seen.status === 'trialing'
        ? 0
        : await this.#ctx.usage(seen.tenantId, seen.currentPeriodStart, seen.currentPeriodEnd);
    const isCanceled = await this.#ctx.db.transaction(async (tx) => {
      const [sub] = await tx
        .select()
        .from(billingSubscriptions)
        .where(eq(billingSubscriptions.id, seen.id))
        .for('update');
      if (
        !sub ||
        sub.status === 'canceled' ||
        sub.currentPeriodEnd > now ||
        sub.currentPeriodStart.getTime() !== seen.currentPeriodStart.getTime() ||
        sub.currentPeriodEnd.getTime() !== seen.currentPeriodEnd.getTime() ||
        sub.planId !== seen.planId
      ) {
        return false;
      }
      const months = monthsOf(plan.interval);
      if (sub.status === 'trialing') {
        const next = {
          ...sub,
          status: 'active',
          periodIndex: 0,
          currentPeriodStart: sub.anchorAt,
          currentPeriodEnd: addMonths(sub.anchorAt, months),
          updatedAt: now,
        };
        if (sub.cancelAtPeriodEnd) Object.assign(next, { status: 'canceled', canceledAt: sub.currentPeriodEnd });
        await tx.update(billingSubscriptions).set(next).where(eq(billingSubscriptions.id, sub.id));
        await recordEvent(this.#ctx, tx, BILLING_ACTOR, {
          tenantId: sub.tenantId,
          type: next.status === 'canceled' ? 'subscription.canceled' : 'subscription.trial_ended',
          data: { subscriptionId: sub.id },
        });
        return next.status === 'canceled';
      }
      await this.#invoicePeriod(tx, sub, plan, used);
      const next: SubscriptionRow = sub.cancelAtPeriodEnd
        ? { ...sub, status: 'canceled', canceledAt: sub.currentPeriodEnd, updatedAt: now }
        : {
            ...sub,
            periodIndex: sub.periodIndex + 1,
            currentPeriodStart: sub.currentPeriodEnd,
            currentPeriodEnd: addMonths(sub.anchorAt, (sub.periodIndex + 2) * months),
            updatedAt: now,
          };
      await tx.update(billingSubscriptions).set(next).where(eq(billingSubscriptions.id, sub.id));
      if (next.status === 'canceled') {
        await recordEvent(
          this.#ctx,
          tx,
          BILLING_ACTOR,
          { tenantId: sub.tenantId, type: 'subscription.canceled', data: { subscriptionId: sub.id } },
          { before: sub, after: next },
        );
      }
      return next.status === 'canceled';
    });
    if (isCanceled) await this.#ctx.planChanged(seen.tenantId, null);
  }

  async #invoicePeriod(tx: DbTransaction, sub: SubscriptionRow, plan: PlanRow, used: number): Promise<void> {
    const [profile] = await tx.select().from(billingProfiles).where(eq(billingProfiles.tenantId, sub.tenantId));
    const locale = profile?.locale ?? 'es';
    const texts = textsFor(locale);
    const start = sub.currentPeriodStart;
    const end = sub.currentPeriodEnd;
    const fullEnd = fullPeriodEnd(sub, plan);
    const isFull = end.getTime() >= fullEnd.getTime();
    // The last day shown is the day before the (exclusive) end.
    const lastDay = formatDate(new Date(end.getTime() - 1), locale);
    const lines: DraftLine[] = [
      {
        kind: 'subscription',
        description: (isFull ? texts.subscriptionLine : texts.partialSubscriptionLine)(
          plan.name,
          formatDate(start, locale),
          lastDay,
        ),
        quantityMilli: 1000n,
        unitPriceMinor: isFull
          ? plan.priceMinor
          : prorate(plan.priceMinor, end.getTime() - start.getTime(), fullEnd.getTime() - start.getTime()),
      },
    ];
    const over = overageMessages(used, plan.includedMessages);
    if (over > 0) {
      lines.push({
        kind: 'overage',
        description: texts.overageLine(formatCount(over, locale), formatCount(plan.includedMessages, locale)),
        quantityMilli: BigInt(over),
        unitPriceMinor: plan.overagePer1000Minor,
      });
    }
    const pending = await this.#invoices.takePendingIn(tx, sub.tenantId, plan.currency);
    for (const line of pending) {
      lines.push({
        kind: line.kind as DraftLine['kind'],
        description: line.description,
        quantityMilli: line.quantityMilli,
        unitPriceMinor: line.unitPriceMinor,
      });
    }
    const draft = await this.#invoices.createDraftIn(tx, {
      tenantId: sub.tenantId,
      kind: 'invoice',
      currency: plan.currency,
      subscriptionId: sub.id,
      periodStart: start,
      periodEnd: end,
      lines,
      note: null,
    });
    await this.#invoices.markPendingIn(tx, pending, draft.id);
    await recordEvent(this.#ctx, tx, BILLING_ACTOR, {
      tenantId: sub.tenantId,
      type: 'invoice.generated',
      invoiceId: draft.id,
      data: {
        periodStart: start.toISOString(),
        periodEnd: end.toISOString(),
        messagesSent: used,
        included: plan.includedMessages,
      },
    });
    if (this.#ctx.options.autoIssue) await this.#invoices.issueIn(tx, draft.id, BILLING_ACTOR);
  }

  /** Usage of the live subscription's current period so far, with the overage it would bill. */
  async currentUsage(tenantId: string) {
    const sub = await this.live(tenantId);
    const now = this.#ctx.clock.now();
    if (!sub) {
      const used = await this.#ctx.usage(tenantId, new Date(Date.UTC(now.getUTCFullYear(), now.getUTCMonth(), 1)), now);
      return {
        sub: undefined,
        plan: undefined,
        used,
        from: new Date(Date.UTC(now.getUTCFullYear(), now.getUTCMonth(), 1)),
        to: now,
      };
    }
    const plan = await this.#plans.plan(sub.planId);
    const used = await this.#ctx.usage(tenantId, sub.currentPeriodStart, sub.currentPeriodEnd);
    return { sub, plan, used, from: sub.currentPeriodStart, to: sub.currentPeriodEnd };
  }
}
