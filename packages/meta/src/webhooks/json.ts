/**
 * Readers for untrusted JSON: a webhook body is `unknown` until each field is narrowed here.
 * None of them throws; a field of the wrong type reads as absent.
 */
export type JsonRecord = Record<string, unknown>;

export const isRecord = (value: unknown): value is JsonRecord =>
  typeof value === 'object' && value !== null && !Array.isArray(value);

export const record = (value: unknown): JsonRecord | undefined => (isRecord(value) ? value : undefined);

/** An array's items, whatever they are (callers turn the odd ones into unknown events, never drop them). */
export const items = (value: unknown): readonly unknown[] => (Array.isArray(value) ? value : []);

/** Strings as they are; finite numbers as their decimal text, since Meta sends some ids as numbers. */
export const text = (value: unknown): string | undefined => {
  if (typeof value === 'string') return value;
  if (typeof value === 'number' && Number.isFinite(value)) return String(value);
  return undefined;
};

/** A string that is not empty. */
export const nonEmpty = (value: unknown): string | undefined => {
  const s = text(value);
  return s === undefined || s === '' ? undefined : s;
};

/** Numbers, and numeric strings (WhatsApp sends timestamps as strings). */
export const num = (value: unknown): number | undefined => {
  if (typeof value === 'number') return Number.isFinite(value) ? value : undefined;
  if (typeof value === 'string' && value.trim() !== '') {
    const n = Number(value);
    return Number.isFinite(n) ? n : undefined;
  }
  return undefined;
};

export const bool = (value: unknown): boolean | undefined => (typeof value === 'boolean' ? value : undefined);

type Defined<T> = Exclude<T, undefined>;
type RequiredKeys<T> = { [K in keyof T]-?: undefined extends T[K] ? never : K }[keyof T];
type OptionalKeys<T> = { [K in keyof T]-?: undefined extends T[K] ? K : never }[keyof T];
export type Compact<T> = { [K in RequiredKeys<T>]: T[K] } & { [K in OptionalKeys<T>]?: Defined<T[K]> };

/** Drops the keys whose value is undefined, so normalized data never carries `"x": undefined`. */
export function compact<T extends object>(value: T): Compact<T> {
  const out: JsonRecord = {};
  for (const [key, v] of Object.entries(value)) if (v !== undefined) out[key] = v;
  return out as Compact<T>;
}

/** `snake_case` keys to `camelCase`, deeply; for Meta structures passed through whole (shared contacts, ad data). */
export function camelizeKeys(value: unknown): unknown {
  if (Array.isArray(value)) return value.map(camelizeKeys);
  if (!isRecord(value)) return value;
  const out: JsonRecord = {};
  for (const [key, v] of Object.entries(value)) {
    out[key.replace(/_([a-z0-9])/g, (_, c: string) => c.toUpperCase())] = camelizeKeys(v);
  }
  return out;
}
