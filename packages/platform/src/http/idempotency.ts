import { createHash } from 'node:crypto';
import { Problem } from './problems.ts';

/**
 * The `Idempotency-Key` header of a request that creates something: absent, or 1 to 255 characters
 * (a 400 problem naming the header otherwise). The first of repeated headers counts.
 */
export function idempotencyKeyOf(header: string | string[] | undefined): string | undefined {
  if (header === undefined) return undefined;
  const key = Array.isArray(header) ? header[0] : header;
  if (key === undefined || key.length < 1 || key.length > 255) {
    throw new Problem({
      status: 400,
      type: 'validation',
      title: 'The request is not valid',
      detail: 'Idempotency-Key: must be 1 to 255 characters',
      errors: [{ field: 'Idempotency-Key', message: 'must be 1 to 255 characters' }],
    });
  }
  return key;
}

/**
 * A request body's SHA-256, independent of the order of its keys and of undefined fields: a repeat
 * under the same Idempotency-Key must have the same hash, or it is a different request.
 */
export function requestHash(request: unknown): string {
  const canonical = (value: unknown): unknown => {
    if (Array.isArray(value)) return value.map(canonical);
    if (value !== null && typeof value === 'object') {
      return Object.fromEntries(
        Object.entries(value)
          .filter(([, v]) => v !== undefined)
          .sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0))
          .map(([k, v]) => [k, canonical(v)]),
      );
    }
    return value;
  };
  return createHash('sha256')
    .update(JSON.stringify(canonical(request)))
    .digest('hex');
}
