import { eq, sql } from 'drizzle-orm';
import type { InvoiceStatus } from '@mic/contracts';
import type { DbTransaction } from '../audit/index.ts';
import { billingAllocations, billingInvoices, billingPayments } from './schema.ts';

export type InvoiceRow = typeof billingInvoices.$inferSelect;
export type PaymentRow = typeof billingPayments.$inferSelect;

/** What an issued invoice still owes. */
export const balanceOf = (i: Pick<InvoiceRow, 'totalMinor' | 'paidMinor' | 'creditedMinor'>) =>
  i.totalMinor - i.paidMinor - i.creditedMinor;

/** An issued invoice's state from what was paid and credited against it. */
export function statusOf(i: Pick<InvoiceRow, 'totalMinor' | 'paidMinor' | 'creditedMinor'>): InvoiceStatus {
  if (i.creditedMinor >= i.totalMinor) return 'void';
  if (i.paidMinor + i.creditedMinor >= i.totalMinor) return 'paid';
  if (i.paidMinor > 0n) return 'partially_paid';
  return 'issued';
}

/** Moves `amount` of a payment's unallocated money onto an invoice (both rows locked by the caller). */
export async function allocate(
  tx: DbTransaction,
  payment: PaymentRow,
  invoice: InvoiceRow,
  amount: bigint,
  at: Date,
): Promise<{ payment: PaymentRow; invoice: InvoiceRow }> {
  await tx
    .insert(billingAllocations)
    .values({ paymentId: payment.id, invoiceId: invoice.id, amountMinor: amount, createdAt: at })
    .onConflictDoUpdate({
      target: [billingAllocations.paymentId, billingAllocations.invoiceId],
      set: { amountMinor: sql`${billingAllocations.amountMinor} + ${amount}` },
    });
  const nextPayment = { ...payment, unallocatedMinor: payment.unallocatedMinor - amount };
  await tx
    .update(billingPayments)
    .set({ unallocatedMinor: nextPayment.unallocatedMinor })
    .where(eq(billingPayments.id, payment.id));
  const paid = { ...invoice, paidMinor: invoice.paidMinor + amount };
  const nextInvoice = { ...paid, status: statusOf(paid), updatedAt: at };
  await tx
    .update(billingInvoices)
    .set({ paidMinor: nextInvoice.paidMinor, status: nextInvoice.status, updatedAt: at })
    .where(eq(billingInvoices.id, invoice.id));
  return { payment: nextPayment, invoice: nextInvoice };
}
