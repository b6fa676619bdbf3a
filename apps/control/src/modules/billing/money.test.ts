import { describe, expect, it } from 'vitest';
import {
  addMonths,
  ageReceivables,
  AGE_BUCKETS,
  divRound,
  formatMoney,
  invoiceAmounts,
  lineAmounts,
  prorate,
  type LineInput,
  type TaxRule,
} from './money.ts';

/** A seeded generator, so a failing case can be reproduced. */
function random(seed: number) {
  let a = seed;
  const next = () => {
    a = (a + 0x6d2b79f5) | 0;
    let t = Math.imul(a ^ (a >>> 15), 1 | a);
    t = (t + Math.imul(t ^ (t >>> 7), 61 | t)) ^ t;
    return ((t ^ (t >>> 14)) >>> 0) / 4_294_967_296;
  };
  return { next, int: (min: number, max: number) => min + Math.floor(next() * (max - min + 1)) };
}

/** Half away from zero, computed another way than money.ts: floor((2|n| + d) / 2d), sign restored. */
function roundHalfUp(n: bigint, d: bigint): bigint {
  const magnitude = ((n < 0n ? -n : n) * 2n + d) / (2n * d);
  return n < 0n ? -magnitude : magnitude;
}

function expectedLine(line: LineInput, tax: TaxRule) {
  const amount = roundHalfUp(line.quantityMilli * line.unitPriceMinor, 1000n);
  const rate = BigInt(tax.rateBp);
  if (tax.isInclusive) {
    const net = roundHalfUp(amount * 10_000n, 10_000n + rate);
    return { net, tax: amount - net, total: amount };
  }
  const t = roundHalfUp(amount * rate, 10_000n);
  return { net: amount, tax: t, total: amount + t };
}

describe('money', () => {
  it('rounds half away from zero, for positive and negative amounts', () => {
    expect([divRound(5n, 2n), divRound(-5n, 2n), divRound(4n, 3n), divRound(-4n, 3n), divRound(2n, 3n)]).toEqual([
      3n,
      -3n,
      1n,
      -1n,
      1n,
    ]);
    // 0.125 of a cent at 16 %: 1.5 cents of tax rounds to 2, not to the even 2 or down to 1.
    expect(lineAmounts({ quantityMilli: 1000n, unitPriceMinor: 10n }, { rateBp: 1500, isInclusive: false })).toEqual({
      netMinor: 10n,
      taxMinor: 2n,
      totalMinor: 12n,
    });
  });

  it('bills 500 messages over the included ones at a price per 1,000, with 16 % IVA', () => {
    const amounts = invoiceAmounts(
      [
        { quantityMilli: 1000n, unitPriceMinor: 99_900n },
        { quantityMilli: 500n, unitPriceMinor: 4_990n },
      ],
      { rateBp: 1600, isInclusive: false },
    );
    expect(amounts).toMatchObject({ subtotalMinor: 102_395n, taxMinor: 16_383n, totalMinor: 118_778n });
  });

  it('every total of 10,000 random invoices equals its lines plus taxes under the rounding rule', () => {
    const rng = random(20_261_126);
    for (let i = 0; i < 10_000; i++) {
      const tax: TaxRule = {
        rateBp: [0, 800, 1600, 1900, 2100, rng.int(0, 10_000)][rng.int(0, 5)]!,
        isInclusive: rng.next() < 0.5,
      };
      const lines: LineInput[] = Array.from({ length: rng.int(1, 12) }, () => ({
        quantityMilli: BigInt(rng.int(1, 5_000_000)),
        unitPriceMinor: BigInt(rng.int(-200_000, 5_000_000)),
      }));
      const amounts = invoiceAmounts(lines, tax);
      let subtotal = 0n;
      let taxSum = 0n;
      lines.forEach((line, n) => {
        const expected = expectedLine(line, tax);
        expect(amounts.lines[n]).toEqual({
          netMinor: expected.net,
          taxMinor: expected.tax,
          totalMinor: expected.total,
        });
        // The tax is within half a minor unit of the exact rate of the net (exclusive) or of the price (inclusive).
        const exactError = tax.isInclusive
          ? expected.net * BigInt(10_000 + tax.rateBp) - expected.total * 10_000n
          : expected.tax * 10_000n - expected.net * BigInt(tax.rateBp);
        const bound = tax.isInclusive ? BigInt(10_000 + tax.rateBp) : 10_000n;
        expect(2n * (exactError < 0n ? -exactError : exactError) <= bound).toBe(true);
        subtotal += expected.net;
        taxSum += expected.tax;
      });
      expect(amounts.subtotalMinor).toBe(subtotal);
      expect(amounts.taxMinor).toBe(taxSum);
      expect(amounts.totalMinor).toBe(subtotal + taxSum);
    }
  });

  it('ages receivables so that they equal invoices minus payments to the cent', () => {
    const rng = random(42);
    const asOf = new Date('2026-06-30T00:00:00Z');
    const invoices = Array.from({ length: 10_000 }, () => {
      const total = invoiceAmounts(
        [{ quantityMilli: BigInt(rng.int(1, 9_000)), unitPriceMinor: BigInt(rng.int(1, 900_000)) }],
        {
          rateBp: 1600,
          isInclusive: rng.next() < 0.3,
        },
      ).totalMinor;
      const paid = rng.next() < 0.3 ? total : rng.next() < 0.5 ? 0n : BigInt(rng.int(0, Number(total)));
      return {
        currency: rng.next() < 0.8 ? 'MXN' : 'USD',
        dueAt: new Date(asOf.getTime() - rng.int(-30, 200) * 86_400_000),
        total,
        paid,
      };
    });
    const report = ageReceivables(
      invoices.map((i) => ({ currency: i.currency, dueAt: i.dueAt, balanceMinor: i.total - i.paid })),
      asOf,
    );
    for (const currency of ['MXN', 'USD']) {
      const mine = invoices.filter((i) => i.currency === currency);
      const expected = mine.reduce((s, i) => s + i.total, 0n) - mine.reduce((s, i) => s + i.paid, 0n);
      const entry = report.get(currency)!;
      expect(entry.totalMinor).toBe(expected);
      expect(AGE_BUCKETS.reduce((s, b) => s + entry.buckets[b], 0n)).toBe(expected);
    }
  });

  it('prorates, adds calendar months and formats exactly', () => {
    expect(prorate(100_000n, 15, 30)).toBe(50_000n);
    expect(prorate(99_999n, 1, 2)).toBe(50_000n);
    expect(addMonths(new Date('2026-01-31T00:00:00Z'), 1).toISOString()).toBe('2026-02-28T00:00:00.000Z');
    expect(addMonths(new Date('2026-01-31T00:00:00Z'), 2).toISOString()).toBe('2026-03-31T00:00:00.000Z');
    expect(formatMoney(123_456_789_012_345_678n, 'MXN', 'en')).toBe('$1,234,567,890,123,456.78');
    expect(formatMoney(-5n, 'MXN', 'es')).toBe('-$0.05');
    expect(formatMoney(1500n, 'JPY', 'en')).toBe('¥1,500');
  });
});
