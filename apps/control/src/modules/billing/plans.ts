import { asc, eq } from 'drizzle-orm';
import type { BillingProfileInput, CreatePlan, UpdatePlan } from '@mic/contracts';
import { Problem, problems } from '@mic/platform';
import type { AuditActor } from '../audit/index.ts';
import { auditable, newId, type BillingContext } from './context.ts';
import { billingPlans, billingProfiles } from './schema.ts';

export type PlanRow = typeof billingPlans.$inferSelect;
export type ProfileRow = typeof billingProfiles.$inferSelect;

export const PROFILE_DEFAULTS = {
  locale: 'es',
  taxName: 'IVA',
  taxRateBp: 1600,
  taxInclusive: false,
  paymentTermsDays: 15,
} as const;

/** The plan catalogue and each tenant's billing profile (contact, tax rule, language). */
export class Plans {
  readonly #ctx: BillingContext;

  constructor(ctx: BillingContext) {
    this.#ctx = ctx;
  }

  async list(): Promise<PlanRow[]> {
    return this.#ctx.db.select().from(billingPlans).orderBy(asc(billingPlans.createdAt));
  }

  async plan(id: string): Promise<PlanRow> {
    const [row] = await this.#ctx.db.select().from(billingPlans).where(eq(billingPlans.id, id));
    if (!row) throw problems.notFound(`no plan ${id}`);
    return row;
  }

  async create(input: CreatePlan, actor: AuditActor): Promise<PlanRow> {
    const now = this.#ctx.clock.now();
    const row: PlanRow = {
      id: newId('pln'),
      code: input.code,
      name: input.name,
      currency: input.currency,
      priceMinor: BigInt(input.priceMinor),
      interval: input.interval,
      includedMessages: input.includedMessages,
      overagePer1000Minor: BigInt(input.overagePer1000Minor),
      modules: input.modules ?? {},
      limits: input.limits ?? {},
      isActive: true,
      createdAt: now,
      updatedAt: now,
    };
    return this.#ctx.db.transaction(async (tx) => {
      const [taken] = await tx
        .select({ id: billingPlans.id })
        .from(billingPlans)
        .where(eq(billingPlans.code, row.code));
      if (taken) {
        throw new Problem({
          status: 409,
          type: 'conflict',
          title: 'Conflicts with the current state',
          detail: `a plan with code ${row.code} exists`,
        });
      }
      await tx.insert(billingPlans).values(row);
      await this.#ctx.audit.record(
        { actor, action: 'billing.plan.create', target: { type: 'plan', id: row.id }, after: auditable(row) },
        tx,
      );
      return row;
    });
  }

  /** Price and grants of a plan never change (invoices and prorations rely on them): make a new plan. */
  async update(id: string, patch: UpdatePlan, actor: AuditActor): Promise<PlanRow> {
    return this.#ctx.db.transaction(async (tx) => {
      const [before] = await tx.select().from(billingPlans).where(eq(billingPlans.id, id)).for('update');
      if (!before) throw problems.notFound(`no plan ${id}`);
      const after = {
        ...before,
        name: patch.name ?? before.name,
        isActive: patch.isActive ?? before.isActive,
        updatedAt: this.#ctx.clock.now(),
      };
      await tx.update(billingPlans).set(after).where(eq(billingPlans.id, id));
      await this.#ctx.audit.record(
        {
          actor,
          action: 'billing.plan.update',
          target: { type: 'plan', id },
          before: auditable(before),
          after: auditable(after),
        },
        tx,
      );
      return after;
    });
  }

  async findProfile(tenantId: string): Promise<ProfileRow | undefined> {
    const [row] = await this.#ctx.db.select().from(billingProfiles).where(eq(billingProfiles.tenantId, tenantId));
    return row;
  }

  async profile(tenantId: string): Promise<ProfileRow> {
    const row = await this.findProfile(tenantId);
    if (!row) throw problems.notFound(`tenant ${tenantId} has no billing profile`);
    return row;
  }

  async setProfile(tenantId: string, input: BillingProfileInput, actor: AuditActor): Promise<ProfileRow> {
    const tenant = await this.#ctx.tenants.tenant(tenantId);
    return this.#ctx.db.transaction(async (tx) => {
      const [before] = await tx
        .select()
        .from(billingProfiles)
        .where(eq(billingProfiles.tenantId, tenantId))
        .for('update');
      const base = before ?? {
        ...PROFILE_DEFAULTS,
        legalName: null,
        taxId: null,
        address: null,
        pausedForDunningAt: null,
      };
      const after: ProfileRow = {
        tenantId,
        email: input.email,
        legalName: input.legalName ?? base.legalName ?? tenant.name,
        taxId: input.taxId ?? base.taxId,
        address: input.address ?? base.address,
        locale: input.locale ?? base.locale,
        taxName: input.taxName ?? base.taxName,
        taxRateBp: input.taxRateBp ?? base.taxRateBp,
        taxInclusive: input.taxInclusive ?? base.taxInclusive,
        paymentTermsDays: input.paymentTermsDays ?? base.paymentTermsDays,
        pausedForDunningAt: base.pausedForDunningAt,
        updatedAt: this.#ctx.clock.now(),
      };
      await tx
        .insert(billingProfiles)
        .values(after)
        .onConflictDoUpdate({ target: billingProfiles.tenantId, set: after });
      await this.#ctx.audit.record(
        {
          actor,
          action: 'billing.profile.update',
          target: { type: 'tenant', id: tenantId },
          before: before ?? null,
          after,
        },
        tx,
      );
      return after;
    });
  }
}
