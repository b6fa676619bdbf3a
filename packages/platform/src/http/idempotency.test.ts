import { describe, expect, it } from 'vitest';
import { idempotencyKeyOf, requestHash } from './idempotency.ts';
import { Problem } from './problems.ts';

describe('Idempotency-Key', () => {
  it('takes a key of 1 to 255 characters, the first of repeated headers, and none when absent', () => {
    expect(idempotencyKeyOf(undefined)).toBeUndefined();
    expect(idempotencyKeyOf('order-17')).toBe('order-17');
    expect(idempotencyKeyOf(['a', 'b'])).toBe('a');
    expect(() => idempotencyKeyOf('')).toThrow(Problem);
    expect(() => idempotencyKeyOf('x'.repeat(256))).toThrow(/1 to 255 characters/);
  });

  it('hashes a request the same whatever the order of its keys or its undefined fields', () => {
    const one = requestHash({ to: '34600', text: { body: 'hola', previewUrl: undefined }, list: [1, { b: 2, a: 1 }] });
    const two = requestHash({ list: [1, { a: 1, b: 2 }], text: { body: 'hola' }, to: '34600' });
    expect(one).toBe(two);
    expect(requestHash({ to: '34600', text: { body: 'adiós' } })).not.toBe(
      requestHash({ to: '34600', text: { body: 'hola' } }),
    );
    expect(requestHash({ list: [1, 2] })).not.toBe(requestHash({ list: [2, 1] }));
  });
});
