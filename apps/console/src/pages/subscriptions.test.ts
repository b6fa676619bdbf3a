import { describe, expect, it } from 'vitest';
import i18next from 'i18next';
import type { DunningState } from '@mic/contracts';
import { formatters } from '../format.ts';
import { es } from '../i18n/es.ts';
import { en } from '../i18n/en.ts';
import { describeDunning } from './subscriptions.tsx';

const i18n = i18next.createInstance();
await i18n.init({
  resources: { es: { translation: es }, en: { translation: en } },
  lng: 'es',
  interpolation: { escapeValue: false },
});
const format = formatters('es');

const state = (patch: Partial<DunningState>): DunningState => ({
  tenantId: 'ten_a',
  overdueInvoices: 2,
  owed: [{ currency: 'MXN', amountMinor: 12_500 }],
  oldestDueAt: '2026-11-06T12:00:00Z',
  daysOverdue: 20,
  pausedAt: null,
  nextStep: { kind: 'pause', day: 21, at: '2026-11-27T12:00:00Z' },
  ...patch,
});

describe("a subscription's collections cell", () => {
  it("says what the tenant owes past due and dunning's next step, in Spanish by default", () => {
    expect(describeDunning(state({}), 'past_due', i18n.t, format)).toBe(
      `2 facturas vencidas · $125.00 · 20 días desde la más antigua · se pausan las instancias el ${format.date('2026-11-27T12:00:00Z')}`,
    );
    expect(
      describeDunning(
        state({
          overdueInvoices: 1,
          daysOverdue: 4,
          nextStep: { kind: 'reminder', day: 7, at: '2026-11-10T12:00:00Z' },
        }),
        'past_due',
        i18n.getFixedT('en'),
        formatters('en'),
      ),
    ).toBe('1 overdue invoice · MX$125.00 · 4 days · next reminder Nov 10, 2026');
  });

  it('says since when dunning paused the tenant, and adds up what is owed per currency', () => {
    expect(
      describeDunning(
        state({
          owed: [
            { currency: 'MXN', amountMinor: 10_000 },
            { currency: 'USD', amountMinor: 500 },
          ],
          pausedAt: '2026-11-20T01:00:00Z',
          nextStep: null,
        }),
        'paused',
        i18n.t,
        format,
      ),
    ).toBe(
      `2 facturas vencidas · $100.00 + ${format.money(500, 'USD')} · 20 días desde la más antigua · instancias pausadas desde el ${format.date('2026-11-20T01:00:00Z')}`,
    );
  });

  it('is up to date when dunning has nothing on the tenant', () => {
    expect(describeDunning(undefined, 'active', i18n.t, format)).toBe('Al corriente');
    expect(describeDunning(undefined, 'past_due', i18n.t, format)).toBe('—');
  });
});
