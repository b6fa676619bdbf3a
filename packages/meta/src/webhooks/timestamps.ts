import { num } from './json.ts';

/**
 * Meta mixes units: WhatsApp sends Unix seconds as strings, Messenger and Instagram messaging send
 * milliseconds, Instagram `changes` and template updates send seconds. Below 1e11 a value can only
 * be seconds (1e11 ms is 1973; 1e11 s is the year 5138), so the unit is told by the size.
 */
export function toIsoTime(value: unknown): string | undefined {
  const n = num(value);
  if (n === undefined || n < 0) return undefined;
  const date = new Date(n < 1e11 ? n * 1000 : n);
  return Number.isNaN(date.getTime()) ? undefined : date.toISOString();
}
