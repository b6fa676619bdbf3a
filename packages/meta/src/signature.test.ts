import { describe, expect, it } from 'vitest';
import { parseMetaWebhook } from './index.ts';
import { signMetaBody, verifyMetaSignature } from './signature.ts';
import { fixtureBytes } from './webhooks/fixtures.ts';

const secret = 'app-secret-123';
const body = '{"object":"page","entry":[{"id":"1","time":1458692752478,"messaging":[]}]}';

describe('verifyMetaSignature', () => {
  it('accepts the signature of the raw body, as a string or as bytes', () => {
    const header = signMetaBody(body, secret);
    expect(header).toMatch(/^sha256=[0-9a-f]{64}$/);
    expect(verifyMetaSignature(body, header, secret)).toBe(true);
    expect(verifyMetaSignature(Buffer.from(body), header, secret)).toBe(true);
    expect(verifyMetaSignature(new Uint8Array(Buffer.from(body)), header, secret)).toBe(true);
  });

  it('matches an HMAC-SHA256 computed independently (known vector)', () => {
    // RFC 4231 test case 2: key "Jefe", data "what do ya want for nothing?".
    expect(signMetaBody('what do ya want for nothing?', 'Jefe')).toBe(
      'sha256=5bdcc146bf60754e6a042426089575c75a003f089d2739839dec58b964ec3843',
    );
  });

  it('rejects a body with one byte changed', () => {
    const header = signMetaBody(body, secret);
    const bytes = Buffer.from(body);
    for (const index of [0, Math.floor(bytes.length / 2), bytes.length - 1]) {
      const changed = Buffer.from(bytes);
      changed[index] = (changed[index] ?? 0) ^ 0x01;
      expect(verifyMetaSignature(changed, header, secret)).toBe(false);
    }
  });

  it('rejects a body re-serialized after parsing (same JSON, different bytes)', () => {
    const raw = '{"object":"page", "entry":[]}';
    expect(verifyMetaSignature(JSON.stringify(JSON.parse(raw)), signMetaBody(raw, secret), secret)).toBe(false);
  });

  it('verifies a fixture as Meta would send it, byte for byte, before it is parsed', () => {
    const bytes = fixtureBytes('whatsapp-text.json');
    const header = signMetaBody(bytes, secret);
    expect(verifyMetaSignature(bytes, header, secret)).toBe(true);
    const parsed: unknown = JSON.parse(bytes.toString('utf8'));
    expect(parseMetaWebhook(parsed)[0]?.type).toBe('whatsapp.message.received');
    // The fixture is pretty-printed; compact JSON of the same content is other bytes.
    expect(verifyMetaSignature(JSON.stringify(parsed), header, secret)).toBe(false);
  });

  it('rejects the wrong secret', () => {
    expect(verifyMetaSignature(body, signMetaBody(body, secret), 'another-secret')).toBe(false);
  });

  it('accepts any of several secrets (rotation), and ignores empty ones', () => {
    const header = signMetaBody(body, secret);
    expect(verifyMetaSignature(body, header, ['old-secret', secret])).toBe(true);
    expect(verifyMetaSignature(body, header, ['old-secret', ''])).toBe(false);
    expect(verifyMetaSignature(body, signMetaBody(body, ''), '')).toBe(false);
    expect(verifyMetaSignature(body, header, [])).toBe(false);
  });

  it('tolerates surrounding whitespace and an upper-case digest', () => {
    const header = signMetaBody(body, secret);
    expect(verifyMetaSignature(body, `  ${header.toUpperCase().replace('SHA256=', 'sha256=')} `, secret)).toBe(true);
  });

  it.each([
    ['missing', undefined],
    ['null', null],
    ['empty', ''],
    ['no prefix', signMetaBody(body, secret).slice('sha256='.length)],
    ['sha1 (the old X-Hub-Signature)', 'sha1=0123456789abcdef0123456789abcdef01234567'],
    ['too short', 'sha256=abcd'],
    ['too long', `${signMetaBody(body, secret)}00`],
    ['not hex', `sha256=${'z'.repeat(64)}`],
    ['an array of headers', [signMetaBody(body, secret)]],
    ['a number', 42],
  ])('rejects a %s header without throwing', (_name, header) => {
    expect(() => verifyMetaSignature(body, header, secret)).not.toThrow();
    expect(verifyMetaSignature(body, header, secret)).toBe(false);
  });
});
