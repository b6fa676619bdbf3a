import { and, asc, desc, eq, gt, inArray, isNull, sql } from 'drizzle-orm';
import type { AddCharge, CreateCreditNote, CreateInvoice, InvoiceLineKind, InvoiceStatus } from '@mic/contracts';
import { Problem, problems } from '@mic/platform';
import type { AuditActor, DbTransaction } from '../audit/index.ts';
import { DAY_MS, MAIL_QUEUE, newId, recordEvent, type BillingContext, type MailJob } from './context.ts';
import { allocate, balanceOf, statusOf, type InvoiceRow } from './ledger.ts';
import { invoiceAmounts } from './money.ts';
import type { ProfileRow } from './plans.ts';
import {
  billingAllocations,
  billingCounters,
  billingInvoiceLines,
  billingInvoices,
  billingPayments,
  billingPendingLines,
  billingProfiles,
} from './schema.ts';

export type LineRow = typeof billingInvoiceLines.$inferSelect;
export type PendingLineRow = typeof billingPendingLines.$inferSelect;

export interface DraftLine {
  kind: InvoiceLineKind;
  description: string;
  quantityMilli: bigint;
  unitPriceMinor: bigint;
}

export interface DraftInput {
  tenantId: string;
  kind: 'invoice' | 'credit_note';
  currency: string;
  lines: DraftLine[];
  subscriptionId?: string | null;
  periodStart?: Date | null;
  periodEnd?: Date | null;
  correctsInvoiceId?: string | null;
  note?: string | null;
}

const conflict = (detail: string) =>
  new Problem({ status: 409, type: 'conflict', title: 'Conflicts with the current state', detail });

/** `F-2026-000123`. */
export const formatNumber = (series: string, year: number, n: number) =>
  `${series}-${year}-${String(n).padStart(6, '0')}`;

/**
 * Invoices and credit notes: drafts, issue (numbering, due date, credit applied), corrections. An
 * issued document never changes; a credit note corrects it.
 */
export class Invoices {
  readonly #ctx: BillingContext;

  constructor(ctx: BillingContext) {
    this.#ctx = ctx;
  }

  async #profileIn(tx: DbTransaction, tenantId: string): Promise<ProfileRow> {
    const [profile] = await tx.select().from(billingProfiles).where(eq(billingProfiles.tenantId, tenantId));
    if (!profile) throw conflict(`tenant ${tenantId} has no billing profile: set its billing contact first`);
    return profile;
  }

  /** A draft with its lines, amounts computed under the tenant's tax rule (money.ts). */
  async createDraftIn(tx: DbTransaction, input: DraftInput): Promise<InvoiceRow> {
    const profile = await this.#profileIn(tx, input.tenantId);
    const tax = { rateBp: profile.taxRateBp, isInclusive: profile.taxInclusive };
    const amounts = invoiceAmounts(input.lines, tax);
    const now = this.#ctx.clock.now();
    const row: InvoiceRow = {
      id: newId('inv'),
      tenantId: input.tenantId,
      subscriptionId: input.subscriptionId ?? null,
      kind: input.kind,
      series: input.kind === 'invoice' ? this.#ctx.options.invoiceSeries : this.#ctx.options.creditNoteSeries,
      year: null,
      number: null,
      numberText: null,
      status: 'draft',
      currency: input.currency,
      locale: profile.locale,
      taxName: profile.taxName,
      taxRateBp: profile.taxRateBp,
      taxInclusive: profile.taxInclusive,
      billTo: {
        name: profile.legalName ?? input.tenantId,
        email: profile.email,
        taxId: profile.taxId,
        address: profile.address,
      },
      periodStart: input.periodStart ?? null,
      periodEnd: input.periodEnd ?? null,
      subtotalMinor: amounts.subtotalMinor,
      taxMinor: amounts.taxMinor,
      totalMinor: amounts.totalMinor,
      paidMinor: 0n,
      creditedMinor: 0n,
      correctsInvoiceId: input.correctsInvoiceId ?? null,
      note: input.note ?? null,
      issuedAt: null,
      dueAt: null,
      voidedAt: null,
      createdAt: now,
      updatedAt: now,
    };
    await tx.insert(billingInvoices).values(row);
    if (input.lines.length > 0) {
      await tx.insert(billingInvoiceLines).values(
        input.lines.map((line, position) => ({
          invoiceId: row.id,
          position,
          ...line,
          ...amounts.lines[position]!,
        })),
      );
    }
    return row;
  }

  /** An operator's draft of one-off lines, issued later with `issue`. */
  async createDraft(tenantId: string, input: CreateInvoice, actor: AuditActor): Promise<InvoiceRow> {
    return this.#ctx.db.transaction(async (tx) => {
      const row = await this.createDraftIn(tx, {
        tenantId,
        kind: 'invoice',
        currency: input.currency,
        lines: input.lines.map((l) => ({
          kind: 'one_off',
          description: l.description,
          quantityMilli: BigInt(l.quantityMilli ?? 1000),
          unitPriceMinor: BigInt(l.unitPriceMinor),
        })),
      });
      await recordEvent(this.#ctx, tx, actor, { tenantId, type: 'invoice.drafted', invoiceId: row.id }, { after: row });
      return row;
    });
  }

  /** A one-off charge (or credit) that the tenant's next invoice in that currency bills. */
  async addCharge(tenantId: string, input: AddCharge, actor: AuditActor): Promise<PendingLineRow> {
    await this.#ctx.tenants.tenant(tenantId);
    return this.#ctx.db.transaction(async (tx) => {
      const row: PendingLineRow = {
        id: newId('chg'),
        tenantId,
        kind: 'one_off',
        description: input.description,
        quantityMilli: BigInt(input.quantityMilli ?? 1000),
        unitPriceMinor: BigInt(input.unitPriceMinor),
        currency: input.currency,
        invoiceId: null,
        createdAt: this.#ctx.clock.now(),
      };
      await tx.insert(billingPendingLines).values(row);
      await recordEvent(this.#ctx, tx, actor, {
        tenantId,
        type: 'charge.added',
        data: { chargeId: row.id, description: row.description, unitPriceMinor: Number(row.unitPriceMinor) },
      });
      return row;
    });
  }

  /** Pending one-off lines of a tenant in `currency`, locked for the invoice that takes them. */
  async takePendingIn(tx: DbTransaction, tenantId: string, currency: string): Promise<PendingLineRow[]> {
    return tx
      .select()
      .from(billingPendingLines)
      .where(
        and(
          eq(billingPendingLines.tenantId, tenantId),
          eq(billingPendingLines.currency, currency),
          isNull(billingPendingLines.invoiceId),
        ),
      )
      .orderBy(asc(billingPendingLines.createdAt))
      .for('update');
  }

  async markPendingIn(tx: DbTransaction, lines: PendingLineRow[], invoiceId: string): Promise<void> {
    if (lines.length === 0) return;
    await tx
      .update(billingPendingLines)
      .set({ invoiceId })
      .where(
        inArray(
          billingPendingLines.id,
          lines.map((l) => l.id),
        ),
      );
  }

  async issue(id: string, actor: AuditActor): Promise<InvoiceRow> {
    return this.#ctx.db.transaction((tx) => this.issueIn(tx, id, actor));
  }

  /**
   * Issues a draft: the next number of its series and year, taken from the counter row locked FOR
   * UPDATE in this transaction, so numbers are gapless (a rolled back issue gives its number back)
   * and two concurrent issues wait for each other. Then the tenant's unapplied credit pays it.
   */
  async issueIn(tx: DbTransaction, id: string, actor: AuditActor): Promise<InvoiceRow> {
    const [draft] = await tx.select().from(billingInvoices).where(eq(billingInvoices.id, id)).for('update');
    if (!draft) throw problems.notFound(`no invoice ${id}`);
    if (draft.status !== 'draft') throw conflict(`invoice ${id} is ${draft.status}, not a draft`);
    const now = this.#ctx.clock.now();
    const year = now.getUTCFullYear();
    await tx.insert(billingCounters).values({ series: draft.series, year, lastNumber: 0 }).onConflictDoNothing();
    const [counter] = await tx
      .select()
      .from(billingCounters)
      .where(and(eq(billingCounters.series, draft.series), eq(billingCounters.year, year)))
      .for('update');
    const number = counter!.lastNumber + 1;
    await tx
      .update(billingCounters)
      .set({ lastNumber: number })
      .where(and(eq(billingCounters.series, draft.series), eq(billingCounters.year, year)));
    const profile = await this.#profileIn(tx, draft.tenantId);
    let issued: InvoiceRow = {
      ...draft,
      year,
      number,
      numberText: formatNumber(draft.series, year, number),
      status: 'issued',
      issuedAt: now,
      dueAt: draft.kind === 'invoice' ? new Date(now.getTime() + profile.paymentTermsDays * DAY_MS) : now,
      updatedAt: now,
    };
    await tx.update(billingInvoices).set(issued).where(eq(billingInvoices.id, id));
    if (issued.kind === 'credit_note') await this.#applyCreditNote(tx, issued);
    else if (issued.totalMinor <= 0n) {
      issued = { ...issued, status: 'paid' };
      await tx.update(billingInvoices).set({ status: 'paid' }).where(eq(billingInvoices.id, id));
    } else issued = await this.#applyCredit(tx, issued);
    await recordEvent(
      this.#ctx,
      tx,
      actor,
      {
        tenantId: issued.tenantId,
        type: issued.kind === 'invoice' ? 'invoice.issued' : 'credit_note.issued',
        invoiceId: id,
        data: { number: issued.numberText, totalMinor: Number(issued.totalMinor), currency: issued.currency },
      },
      { before: draft, after: issued },
    );
    await this.#ctx.queue.send(MAIL_QUEUE, { kind: 'invoice', invoiceId: id } satisfies MailJob, {}, tx);
    return issued;
  }

  /** Payments with money left over (over-payments, early payments) pay a new invoice, oldest first. */
  async #applyCredit(tx: DbTransaction, invoice: InvoiceRow): Promise<InvoiceRow> {
    const credits = await tx
      .select()
      .from(billingPayments)
      .where(
        and(
          eq(billingPayments.tenantId, invoice.tenantId),
          eq(billingPayments.currency, invoice.currency),
          gt(billingPayments.unallocatedMinor, 0n),
        ),
      )
      .orderBy(asc(billingPayments.receivedAt))
      .for('update');
    let current = invoice;
    for (const payment of credits) {
      const amount = payment.unallocatedMinor < balanceOf(current) ? payment.unallocatedMinor : balanceOf(current);
      if (amount <= 0n) break;
      current = (await allocate(tx, payment, current, amount, this.#ctx.clock.now())).invoice;
    }
    return current;
  }

  /**
   * A credit note lowers what its invoice owes. When the invoice was paid already, the money paid
   * beyond the new total goes back to its payments as unapplied credit (latest payment first).
   */
  async #applyCreditNote(tx: DbTransaction, note: InvoiceRow): Promise<void> {
    const [invoice] = await tx
      .select()
      .from(billingInvoices)
      .where(eq(billingInvoices.id, note.correctsInvoiceId!))
      .for('update');
    const credited = { ...invoice!, creditedMinor: invoice!.creditedMinor - note.totalMinor };
    let paid = credited.paidMinor;
    let excess = credited.paidMinor + credited.creditedMinor - credited.totalMinor;
    if (excess > 0n) {
      const allocations = await tx
        .select()
        .from(billingAllocations)
        .where(eq(billingAllocations.invoiceId, invoice!.id))
        .orderBy(desc(billingAllocations.createdAt))
        .for('update');
      for (const allocation of allocations) {
        if (excess <= 0n) break;
        const back = allocation.amountMinor < excess ? allocation.amountMinor : excess;
        await tx
          .update(billingAllocations)
          .set({ amountMinor: allocation.amountMinor - back })
          .where(
            and(eq(billingAllocations.paymentId, allocation.paymentId), eq(billingAllocations.invoiceId, invoice!.id)),
          );
        await tx
          .update(billingPayments)
          .set({ unallocatedMinor: sql`${billingPayments.unallocatedMinor} + ${back}` })
          .where(eq(billingPayments.id, allocation.paymentId));
        excess -= back;
        paid -= back;
      }
    }
    const after = { ...credited, paidMinor: paid };
    const status = statusOf(after);
    const now = this.#ctx.clock.now();
    await tx
      .update(billingInvoices)
      .set({
        creditedMinor: after.creditedMinor,
        paidMinor: after.paidMinor,
        status,
        updatedAt: now,
        ...(status === 'void' ? { voidedAt: now } : {}),
      })
      .where(eq(billingInvoices.id, invoice!.id));
  }

  /** Issues a credit note against an issued invoice: the given lines, or all of what it still carries. */
  async creditNote(invoiceId: string, input: CreateCreditNote, actor: AuditActor): Promise<InvoiceRow> {
    return this.#ctx.db.transaction(async (tx) => {
      const [invoice] = await tx.select().from(billingInvoices).where(eq(billingInvoices.id, invoiceId)).for('update');
      if (!invoice) throw problems.notFound(`no invoice ${invoiceId}`);
      if (invoice.kind !== 'invoice' || !['issued', 'partially_paid', 'paid'].includes(invoice.status)) {
        throw conflict(`invoice ${invoiceId} is a ${invoice.kind} in state ${invoice.status}: it cannot be credited`);
      }
      let lines: DraftLine[];
      if (input.lines) {
        lines = input.lines.map((l) => ({
          kind: 'credit',
          description: l.description,
          quantityMilli: BigInt(l.quantityMilli ?? 1000),
          unitPriceMinor: -BigInt(l.unitPriceMinor),
        }));
      } else if (invoice.creditedMinor === 0n) {
        const original = await this.lines(invoiceId, tx);
        lines = original.map((l) => ({
          kind: 'credit',
          description: l.description,
          quantityMilli: l.quantityMilli,
          unitPriceMinor: -l.unitPriceMinor,
        }));
      } else {
        throw conflict(`invoice ${invoiceId} was credited in part already: give the lines to credit`);
      }
      const draft = await this.createDraftIn(tx, {
        tenantId: invoice.tenantId,
        kind: 'credit_note',
        currency: invoice.currency,
        lines,
        correctsInvoiceId: invoiceId,
        note: input.reason,
      });
      if (-draft.totalMinor > invoice.totalMinor - invoice.creditedMinor) {
        throw conflict(`the credit (${-draft.totalMinor}) exceeds what invoice ${invoiceId} still carries`);
      }
      if (draft.totalMinor >= 0n) throw conflict('a credit note must credit a positive amount');
      return this.issueIn(tx, draft.id, actor);
    });
  }

  async find(id: string, tx: DbTransaction | BillingContext['db'] = this.#ctx.db): Promise<InvoiceRow | undefined> {
    const [row] = await tx.select().from(billingInvoices).where(eq(billingInvoices.id, id));
    return row;
  }

  async invoice(id: string): Promise<InvoiceRow> {
    const row = await this.find(id);
    if (!row) throw problems.notFound(`no invoice ${id}`);
    return row;
  }

  async lines(invoiceId: string, tx: DbTransaction | BillingContext['db'] = this.#ctx.db): Promise<LineRow[]> {
    return tx
      .select()
      .from(billingInvoiceLines)
      .where(eq(billingInvoiceLines.invoiceId, invoiceId))
      .orderBy(asc(billingInvoiceLines.position));
  }

  async linesOf(invoiceIds: string[]): Promise<Map<string, LineRow[]>> {
    const result = new Map<string, LineRow[]>();
    if (invoiceIds.length === 0) return result;
    const rows = await this.#ctx.db
      .select()
      .from(billingInvoiceLines)
      .where(inArray(billingInvoiceLines.invoiceId, invoiceIds))
      .orderBy(asc(billingInvoiceLines.invoiceId), asc(billingInvoiceLines.position));
    for (const row of rows) result.set(row.invoiceId, [...(result.get(row.invoiceId) ?? []), row]);
    return result;
  }

  async list(query: { tenantId?: string | undefined; status?: InvoiceStatus | undefined; limit?: number | undefined }) {
    return this.#ctx.db
      .select()
      .from(billingInvoices)
      .where(
        and(
          query.tenantId ? eq(billingInvoices.tenantId, query.tenantId) : undefined,
          query.status ? eq(billingInvoices.status, query.status) : undefined,
        ),
      )
      .orderBy(desc(billingInvoices.createdAt), desc(billingInvoices.id))
      .limit(query.limit ?? 200);
  }
}
