import { createHash } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import { canonicalJson, chainHash, GENESIS_HASH, redact } from './chain.ts';

describe('the canonical form', () => {
  it('sorts keys at every depth, keeps array order, writes no whitespace', () => {
    expect(canonicalJson({ b: 1, a: [{ z: null, y: 'é"\n' }, true], '': 0.5 })).toBe(
      '{"":0.5,"a":[{"y":"é\\"\\n","z":null},true],"b":1}',
    );
  });

  it('sorts by UTF-16 code units, as RFC 8785 does', () => {
    expect(canonicalJson({ b: 1, B: 2, á: 3, '1': 4 })).toBe('{"1":4,"B":2,"b":1,"á":3}');
  });

  it('refuses what JSON cannot hold', () => {
    expect(() => canonicalJson(Number.NaN)).toThrow();
  });
});

describe('the chain hash', () => {
  const row = {
    id: '0190a4b0-0000-7000-8000-000000000000',
    seq: 1,
    at: new Date('2026-11-26T10:00:00.123Z'),
    actorType: 'operator',
    actorId: 'op_1',
    actorLabel: 'ana@example.com',
    action: 'instance.pause',
    targetType: 'instance',
    targetId: 'ins_1',
    before: { state: 'active' },
    after: { state: 'paused' },
    requestId: 'req-1',
    ip: '10.0.0.1',
  };

  it('is SHA-256 of the previous hash followed by the canonical JSON of the fields', () => {
    const canonical =
      '{"action":"instance.pause","actorId":"op_1","actorLabel":"ana@example.com","actorType":"operator",' +
      '"after":{"state":"paused"},"at":"2026-11-26T10:00:00.123Z","before":{"state":"active"},' +
      '"id":"0190a4b0-0000-7000-8000-000000000000","ip":"10.0.0.1","requestId":"req-1","seq":1,' +
      '"targetId":"ins_1","targetType":"instance"}';
    const expected = createHash('sha256')
      .update(GENESIS_HASH + canonical)
      .digest('hex');
    expect(chainHash(GENESIS_HASH, row)).toBe(expected);
  });

  it('changes with any field and with the previous hash', () => {
    const base = chainHash(GENESIS_HASH, row);
    expect(chainHash(GENESIS_HASH, { ...row, after: { state: 'active' } })).not.toBe(base);
    expect(chainHash(GENESIS_HASH, { ...row, seq: 2 })).not.toBe(base);
    expect(chainHash('f'.repeat(64), row)).not.toBe(base);
  });
});

describe('redaction', () => {
  it('hides secret-looking keys, whatever their case', () => {
    expect(redact({ Password: 'x', csrfToken: 'y', Authorization: 'z', name: 'n', tokenCount: 3 })).toEqual({
      Password: '[redacted]',
      csrfToken: '[redacted]',
      Authorization: '[redacted]',
      name: 'n',
      tokenCount: '[redacted]',
    });
    expect(redact(undefined)).toBeNull();
  });
});
