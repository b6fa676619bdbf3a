import { describe, expect, it } from 'vitest';
import type { Invoice } from '@mic/contracts';
import { overdueOf } from './subscriptions.tsx';

const NOW = Date.parse('2026-11-26T12:00:00Z');
const invoice = (patch: Partial<Invoice>): Invoice =>
  ({
    id: 'inv',
    tenantId: 'ten_a',
    kind: 'invoice',
    status: 'issued',
    currency: 'MXN',
    balanceMinor: 10_000,
    dueAt: '2026-11-16T12:00:00Z',
    ...patch,
  }) as Invoice;

describe("a tenant's overdue invoices, as dunning sees them", () => {
  it('counts issued and partly paid invoices past due with a balance, from the oldest', () => {
    const invoices = [
      invoice({ id: 'a' }),
      invoice({ id: 'b', status: 'partially_paid', balanceMinor: 2_500, dueAt: '2026-11-06T12:00:00Z' }),
      invoice({ id: 'not-due-yet', dueAt: '2026-12-01T00:00:00Z' }),
      invoice({ id: 'paid', status: 'paid', balanceMinor: 0 }),
      invoice({ id: 'draft', status: 'draft', dueAt: null }),
      invoice({ id: 'credit', kind: 'credit_note' }),
      invoice({ id: 'other tenant', tenantId: 'ten_b' }),
    ];
    expect(overdueOf(invoices, 'ten_a', NOW)).toEqual({ invoices: 2, owedMinor: 12_500, currency: 'MXN', days: 20 });
  });

  it('is nothing for a tenant that owes nothing past due', () => {
    expect(overdueOf([invoice({ dueAt: '2026-11-27T00:00:00Z' })], 'ten_a', NOW)).toBeNull();
  });
});
