import { createHmac, timingSafeEqual } from 'node:crypto';
import { and, asc, eq, inArray, ne } from 'drizzle-orm';
import Value from 'typebox/value';
import { ProviderEvent, type RecordPayment, type Statement } from '@mic/contracts';
import { Problem, problems } from '@mic/platform';
import type { AuditActor } from '../audit/index.ts';
import { newId, recordEvent, type BillingContext } from './context.ts';
import { allocate, balanceOf, type InvoiceRow, type PaymentRow } from './ledger.ts';
import { billingAllocations, billingInvoices, billingPayments } from './schema.ts';

export interface PaymentWithAllocations extends PaymentRow {
  allocations: { invoiceId: string; amountMinor: bigint }[];
}

const badSignature = (detail: string) =>
  new Problem({ status: 401, type: 'bad-signature', title: 'The signature does not match', detail });

/** `t=<unix seconds>,v1=<hex HMAC-SHA256 of "<t>.<raw body>">`, what the provider sends. */
export function signProviderEvent(secret: string, timestamp: number, body: string | Buffer): string {
  const mac = createHmac('sha256', secret).update(`${timestamp}.`).update(body).digest('hex');
  return `t=${timestamp},v1=${mac}`;
}

/**
 * Payments: recorded by an operator or by the payment provider's webhook, allocated to the
 * tenant's open invoices (the ones named first, then oldest due first). What is left over stays
 * on the payment as credit and pays the tenant's next invoices when they are issued.
 */
export class Payments {
  readonly #ctx: BillingContext;
  readonly #afterPayment: (tenantId: string) => Promise<void>;

  constructor(ctx: BillingContext, afterPayment: (tenantId: string) => Promise<void>) {
    this.#ctx = ctx;
    this.#afterPayment = afterPayment;
  }

  async record(
    input: RecordPayment,
    actor: AuditActor,
    providerEventId: string | null = null,
  ): Promise<PaymentWithAllocations | undefined> {
    await this.#ctx.tenants.tenant(input.tenantId);
    const now = this.#ctx.clock.now();
    const result = await this.#ctx.db.transaction(async (tx) => {
      const inserted = await tx
        .insert(billingPayments)
        .values({
          id: newId('pay'),
          tenantId: input.tenantId,
          method: input.method,
          reference: input.reference,
          amountMinor: BigInt(input.amountMinor),
          currency: input.currency,
          unallocatedMinor: BigInt(input.amountMinor),
          receivedAt: input.receivedAt ? new Date(input.receivedAt) : now,
          providerEventId,
          createdAt: now,
        })
        .onConflictDoNothing({ target: billingPayments.providerEventId })
        .returning();
      let payment = inserted[0];
      if (!payment) return undefined;
      const open = await tx
        .select()
        .from(billingInvoices)
        .where(
          and(
            eq(billingInvoices.tenantId, input.tenantId),
            eq(billingInvoices.kind, 'invoice'),
            eq(billingInvoices.currency, input.currency),
            inArray(billingInvoices.status, ['issued', 'partially_paid']),
          ),
        )
        .orderBy(asc(billingInvoices.dueAt), asc(billingInvoices.number))
        .for('update');
      const named = input.invoiceIds ?? [];
      for (const id of named) {
        if (!open.some((i) => i.id === id)) {
          throw problems.validation([
            { field: 'body.invoiceIds', message: `${id} is not an open ${input.currency} invoice of this tenant` },
          ]);
        }
      }
      const order: InvoiceRow[] = [
        ...named.map((id) => open.find((i) => i.id === id)!),
        ...open.filter((i) => !named.includes(i.id)),
      ];
      const allocations: { invoiceId: string; amountMinor: bigint }[] = [];
      for (const invoice of order) {
        const due = balanceOf(invoice);
        const amount: bigint = payment.unallocatedMinor < due ? payment.unallocatedMinor : due;
        if (amount <= 0n) continue;
        payment = (await allocate(tx, payment, invoice, amount, now)).payment;
        allocations.push({ invoiceId: invoice.id, amountMinor: amount });
      }
      await recordEvent(
        this.#ctx,
        tx,
        actor,
        {
          tenantId: input.tenantId,
          type: 'payment.recorded',
          paymentId: payment.id,
          data: {
            method: payment.method,
            reference: payment.reference,
            amountMinor: Number(payment.amountMinor),
            currency: payment.currency,
            allocations: allocations.map((a) => ({ invoiceId: a.invoiceId, amountMinor: Number(a.amountMinor) })),
            unallocatedMinor: Number(payment.unallocatedMinor),
          },
        },
        { after: payment },
      );
      return { ...payment, allocations };
    });
    if (result) await this.#afterPayment(input.tenantId);
    return result;
  }

  async list(filter: { tenantId?: string | undefined } = {}): Promise<PaymentWithAllocations[]> {
    const rows = await this.#ctx.db
      .select()
      .from(billingPayments)
      .where(filter.tenantId ? eq(billingPayments.tenantId, filter.tenantId) : undefined)
      .orderBy(asc(billingPayments.receivedAt), asc(billingPayments.id));
    const allocations = rows.length
      ? await this.#ctx.db
          .select()
          .from(billingAllocations)
          .where(
            inArray(
              billingAllocations.paymentId,
              rows.map((r) => r.id),
            ),
          )
      : [];
    return rows.map((r) => ({
      ...r,
      allocations: allocations
        .filter((a) => a.paymentId === r.id && a.amountMinor > 0n)
        .map((a) => ({ invoiceId: a.invoiceId, amountMinor: a.amountMinor })),
    }));
  }

  /** Every issued document and payment of a tenant in one currency, with the running balance. */
  async statement(tenantId: string, currency?: string): Promise<Statement> {
    const [invoices, payments] = await Promise.all([
      this.#ctx.db
        .select()
        .from(billingInvoices)
        .where(and(eq(billingInvoices.tenantId, tenantId), ne(billingInvoices.status, 'draft'))),
      this.#ctx.db.select().from(billingPayments).where(eq(billingPayments.tenantId, tenantId)),
    ]);
    const chosen = currency ?? invoices[0]?.currency ?? payments[0]?.currency ?? 'MXN';
    const entries = [
      ...invoices
        .filter((i) => i.currency === chosen)
        .map((i) => ({
          at: i.issuedAt!,
          kind: i.kind as 'invoice' | 'credit_note',
          id: i.id,
          reference: i.numberText ?? i.id,
          debit: i.totalMinor > 0n ? i.totalMinor : 0n,
          credit: i.totalMinor < 0n ? -i.totalMinor : 0n,
        })),
      ...payments
        .filter((p) => p.currency === chosen)
        .map((p) => ({
          at: p.receivedAt,
          kind: 'payment' as const,
          id: p.id,
          reference: p.reference,
          debit: 0n,
          credit: p.amountMinor,
        })),
    ].sort((a, b) => a.at.getTime() - b.at.getTime() || a.id.localeCompare(b.id));
    let balance = 0n;
    const lines = entries.map((e) => {
      balance += e.debit - e.credit;
      return {
        at: e.at.toISOString(),
        kind: e.kind,
        id: e.id,
        reference: e.reference,
        debitMinor: Number(e.debit),
        creditMinor: Number(e.credit),
        balanceMinor: Number(balance),
      };
    });
    return { tenantId, currency: chosen, lines, balanceMinor: Number(balance) };
  }

  /**
   * The provider's webhook: the signature over the raw body first (HMAC-SHA256 with the shared
   * secret, timestamped against replay), then the event; a repeated event id records nothing.
   */
  async acceptProviderEvent(
    rawBody: Buffer,
    header: string | undefined,
  ): Promise<{ received: true; paymentId?: string }> {
    const secret = this.#ctx.options.webhookSecret;
    if (!secret) throw problems.notFound('no payment provider is configured (BILLING_WEBHOOK_SECRET)');
    const parts = Object.fromEntries((header ?? '').split(',').map((p) => p.split('=', 2) as [string, string]));
    const timestamp = Number(parts.t);
    if (!Number.isInteger(timestamp) || !parts.v1)
      throw badSignature('the billing-signature header is missing or malformed');
    const age = Math.abs(this.#ctx.clock.now().getTime() - timestamp * 1000);
    if (age > this.#ctx.options.webhookToleranceMs)
      throw badSignature('the signature timestamp is outside the tolerance');
    const expected = Buffer.from(signProviderEvent(secret, timestamp, rawBody).split('v1=')[1]!, 'hex');
    const given = Buffer.from(parts.v1, 'hex');
    if (given.length !== expected.length || !timingSafeEqual(given, expected))
      throw badSignature('the signature does not match the body');
    let event: unknown;
    try {
      event = JSON.parse(rawBody.toString('utf8'));
    } catch {
      throw problems.validation([{ field: 'body', message: 'not JSON' }]);
    }
    if (!Value.Check(ProviderEvent, event)) {
      const [first] = Value.Errors(ProviderEvent, event);
      throw problems.validation([
        { field: `body${first?.instancePath ?? ''}`, message: first?.message ?? 'not a provider event' },
      ]);
    }
    if (event.type !== 'payment.succeeded') return { received: true };
    let tenantId = event.data.tenantId;
    const invoiceIds: string[] = [];
    if (event.data.invoiceNumber) {
      const [invoice] = await this.#ctx.db
        .select()
        .from(billingInvoices)
        .where(eq(billingInvoices.numberText, event.data.invoiceNumber));
      if (!invoice) throw problems.notFound(`no invoice ${event.data.invoiceNumber}`);
      tenantId = invoice.tenantId;
      if (invoice.status === 'issued' || invoice.status === 'partially_paid') invoiceIds.push(invoice.id);
    }
    if (!tenantId)
      throw problems.validation([{ field: 'body.data', message: 'name the invoiceNumber or the tenantId' }]);
    const payment = await this.record(
      {
        tenantId,
        method: 'provider',
        reference: event.data.reference ?? event.id,
        amountMinor: event.data.amountMinor,
        currency: event.data.currency,
        invoiceIds,
      },
      { type: 'system', id: null, label: 'payment provider' },
      event.id,
    );
    return payment ? { received: true, paymentId: payment.id } : { received: true };
  }
}
