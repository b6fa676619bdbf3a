/**
 * Money arithmetic for billing, in integer minor units (BigInt): never a float. One rounding rule,
 * applied per line: half away from zero ("half-up" as accountants and the SAT use it), when a
 * quantity times a price, a tax, an inclusive price's net or a proration leaves a fraction of a
 * minor unit. Invoice totals are sums of already rounded lines, so a total always equals its lines.
 */

export interface TaxRule {
  /** Basis points: 1600 is 16 %. */
  rateBp: number;
  /** Prices include the tax: the line's amount is its total and the net is taken out of it. */
  isInclusive: boolean;
}

export interface LineInput {
  /** Thousandths of a unit: 1000 is one unit; 500 messages of a per-1,000 price is 500. */
  quantityMilli: bigint;
  unitPriceMinor: bigint;
}

export interface LineAmounts {
  netMinor: bigint;
  taxMinor: bigint;
  totalMinor: bigint;
}

export interface InvoiceAmounts {
  lines: LineAmounts[];
  subtotalMinor: bigint;
  taxMinor: bigint;
  totalMinor: bigint;
}

const abs = (n: bigint) => (n < 0n ? -n : n);

/** `n / d` rounded half away from zero; `d` must be positive. */
export function divRound(n: bigint, d: bigint): bigint {
  if (d <= 0n) throw new RangeError('the divisor must be positive');
  const q = n / d;
  const r = n % d;
  if (2n * abs(r) >= d) return n < 0n ? q - 1n : q + 1n;
  return q;
}

const BP = 10_000n;

/** A line's net, tax and total under `tax`, each rounded once. */
export function lineAmounts(line: LineInput, tax: TaxRule): LineAmounts {
  const amount = divRound(line.quantityMilli * line.unitPriceMinor, 1000n);
  const rate = BigInt(tax.rateBp);
  if (tax.isInclusive) {
    const net = divRound(amount * BP, BP + rate);
    return { netMinor: net, taxMinor: amount - net, totalMinor: amount };
  }
  const taxMinor = divRound(amount * rate, BP);
  return { netMinor: amount, taxMinor, totalMinor: amount + taxMinor };
}

/** An invoice's lines and totals: subtotal, tax and total are the sums of the rounded lines. */
export function invoiceAmounts(lines: readonly LineInput[], tax: TaxRule): InvoiceAmounts {
  const amounts = lines.map((l) => lineAmounts(l, tax));
  const sum = (pick: (l: LineAmounts) => bigint) => amounts.reduce((s, l) => s + pick(l), 0n);
  return {
    lines: amounts,
    subtotalMinor: sum((l) => l.netMinor),
    taxMinor: sum((l) => l.taxMinor),
    totalMinor: sum((l) => l.totalMinor),
  };
}

/** The part of `amount` that `part` of `whole` (milliseconds of a period) is worth, half-up. */
export function prorate(amountMinor: bigint, part: number, whole: number): bigint {
  if (whole <= 0) throw new RangeError('the whole must be positive');
  return divRound(amountMinor * BigInt(Math.round(part)), BigInt(Math.round(whole)));
}

/** Messages over the included ones; the overage line's quantity is this count of 1/1000 blocks. */
export function overageMessages(used: number, included: number): number {
  return Math.max(0, used - included);
}

/** A price per interval as a monthly amount (MRR): a yearly price divided by 12, half-up. */
export function monthlyAmount(priceMinor: bigint, interval: 'month' | 'year'): bigint {
  return interval === 'year' ? divRound(priceMinor, 12n) : priceMinor;
}

export const AGE_BUCKETS = ['current', '1-30', '31-60', '61-90', '90+'] as const;
export type AgeBucket = (typeof AGE_BUCKETS)[number];

const DAY_MS = 86_400_000;

/** Which bucket an amount due at `dueAt` falls in on `asOf`: whole days past due. */
export function ageBucket(dueAt: Date, asOf: Date): AgeBucket {
  const days = Math.floor((asOf.getTime() - dueAt.getTime()) / DAY_MS);
  if (days <= 0) return 'current';
  if (days <= 30) return '1-30';
  if (days <= 60) return '31-60';
  if (days <= 90) return '61-90';
  return '90+';
}

export interface Receivable {
  currency: string;
  dueAt: Date;
  balanceMinor: bigint;
}

/** Open balances by currency and age bucket, with each currency's total. */
export function ageReceivables(
  items: readonly Receivable[],
  asOf: Date,
): Map<string, { buckets: Record<AgeBucket, bigint>; totalMinor: bigint }> {
  const result = new Map<string, { buckets: Record<AgeBucket, bigint>; totalMinor: bigint }>();
  for (const item of items) {
    if (item.balanceMinor === 0n) continue;
    let entry = result.get(item.currency);
    if (!entry) {
      entry = {
        buckets: Object.fromEntries(AGE_BUCKETS.map((b) => [b, 0n])) as Record<AgeBucket, bigint>,
        totalMinor: 0n,
      };
      result.set(item.currency, entry);
    }
    entry.buckets[ageBucket(item.dueAt, asOf)] += item.balanceMinor;
    entry.totalMinor += item.balanceMinor;
  }
  return result;
}

/** The number of digits of a currency's minor unit (MXN 2, JPY 0), from the runtime's ICU data. */
export function minorDigits(currency: string): number {
  return new Intl.NumberFormat('en', { style: 'currency', currency }).resolvedOptions().maximumFractionDigits ?? 2;
}

/** `123456n` MXN as "$1,234.56" (en) or "$1,234.56" (es-MX), exact: the amount goes to ICU as a decimal string. */
export function formatMoney(minor: bigint, currency: string, locale: 'es' | 'en'): string {
  const digits = minorDigits(currency);
  const sign = minor < 0n ? '-' : '';
  const text = abs(minor)
    .toString()
    .padStart(digits + 1, '0');
  const decimal = digits === 0 ? text : `${text.slice(0, -digits)}.${text.slice(-digits)}`;
  const format = new Intl.NumberFormat(locale === 'es' ? 'es-MX' : 'en-US', {
    style: 'currency',
    currency,
    currencyDisplay: 'narrowSymbol',
  });
  // Intl accepts an exact decimal string (ES2023); the cast is for lib typings that predate it.
  return format.format(`${sign}${decimal}` as unknown as number);
}

/** Adds calendar months in UTC, clamping to the month's last day (Jan 31 + 1 month = Feb 28/29). */
export function addMonths(anchor: Date, months: number): Date {
  const y = anchor.getUTCFullYear();
  const m = anchor.getUTCMonth() + months;
  const target = new Date(
    Date.UTC(
      y,
      m,
      1,
      anchor.getUTCHours(),
      anchor.getUTCMinutes(),
      anchor.getUTCSeconds(),
      anchor.getUTCMilliseconds(),
    ),
  );
  const lastDay = new Date(Date.UTC(target.getUTCFullYear(), target.getUTCMonth() + 1, 0)).getUTCDate();
  target.setUTCDate(Math.min(anchor.getUTCDate(), lastDay));
  return target;
}
