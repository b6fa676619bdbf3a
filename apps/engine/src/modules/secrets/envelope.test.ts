import { describe, expect, it } from 'vitest';
import { randomBytes } from 'node:crypto';
import { fingerprint, open, rewrap, seal } from './envelope.ts';

const kek1 = { version: 1, key: randomBytes(32) };
const kek2 = { version: 2, key: randomBytes(32) };

describe('envelope encryption', () => {
  it('round-trips a value and never stores it in clear', () => {
    const sealed = seal('EAAG-access-token-1234', 'secret:a:v1', kek1);
    expect(JSON.stringify(sealed)).not.toContain('EAAG');
    expect(open(sealed, 'secret:a:v1', kek1.key)).toBe('EAAG-access-token-1234');
  });

  it('uses a fresh data key and IV each time', () => {
    expect(seal('same', 'aad', kek1).ciphertext).not.toBe(seal('same', 'aad', kek1).ciphertext);
  });

  it('refuses a value moved to another row, a changed byte, or the wrong key', () => {
    const sealed = seal('value', 'secret:a:v1', kek1);
    expect(() => open(sealed, 'secret:b:v1', kek1.key)).toThrow();
    const raw = Buffer.from(sealed.ciphertext, 'base64');
    raw[raw.length - 1]! ^= 1;
    expect(() => open({ ...sealed, ciphertext: raw.toString('base64') }, 'secret:a:v1', kek1.key)).toThrow();
    expect(() => open(sealed, 'secret:a:v1', kek2.key)).toThrow();
  });

  it('re-wraps the data key under a new key-encryption key without touching the value', () => {
    const sealed = seal('value', 'aad', kek1);
    const moved = rewrap(sealed, 'aad', kek1.key, kek2);
    expect(moved.ciphertext).toBe(sealed.ciphertext);
    expect(moved.kekVersion).toBe(2);
    expect(open(moved, 'aad', kek2.key)).toBe('value');
    expect(() => open(moved, 'aad', kek1.key)).toThrow();
  });

  it('fingerprints depend on the key, so a short value cannot be looked up by its hash', () => {
    const a = fingerprint('1234', kek1.key);
    expect(a).toMatch(/^fp_[0-9a-f]{16}$/);
    expect(fingerprint('1234', kek1.key)).toBe(a);
    expect(fingerprint('1234', kek2.key)).not.toBe(a);
  });
});
