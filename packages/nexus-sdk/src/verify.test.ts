import { randomBytes } from 'node:crypto';
import { Webhook } from 'standardwebhooks';
import { describe, expect, it } from 'vitest';
import type { DeliveredEvent } from '@mic/contracts';
import { DeliveryVerificationError, isEventType, verifyDelivery, type DeliveryRejectionReason } from './index.ts';

const newSecret = () => `whsec_${randomBytes(24).toString('base64')}`;
const secret = newSecret();
const now = new Date('2025-06-01T12:00:00Z');

const event: DeliveredEvent = {
  id: 'dlv_01970000-0000-7000-8000-000000000001',
  type: 'whatsapp.message.received',
  tenantId: 'ten_acme',
  instanceId: 'ins_acme_main',
  channel: { kind: 'whatsapp', id: '106540352242922' },
  conversation: { id: 'cnv_1', seq: 7 },
  occurredAt: '2025-06-01T11:59:58.000Z',
  receivedAt: '2025-06-01T11:59:59.120Z',
  data: { messageId: 'wamid.X', from: '16505551234', messageType: 'text', text: 'hola' },
  raw: { from: '16505551234', id: 'wamid.X', timestamp: '1748779198', type: 'text', text: { body: 'hola' } },
};

/** A delivery as the engine sends it: one `v1,` signature per secret, space-separated. */
function signed(body: string, secrets: readonly string[], at = now, id = event.id) {
  return {
    'webhook-id': id,
    'webhook-timestamp': String(Math.floor(at.getTime() / 1000)),
    'webhook-signature': secrets.map((s) => new Webhook(s).sign(id, at, body)).join(' '),
  };
}

function rejection(fn: () => unknown): DeliveryVerificationError {
  try {
    fn();
  } catch (error) {
    if (error instanceof DeliveryVerificationError) return error;
    throw error;
  }
  throw new Error('expected a DeliveryVerificationError');
}

const expectReason = (fn: () => unknown, reason: DeliveryRejectionReason) => {
  const error = rejection(fn);
  expect(error.reason).toBe(reason);
  return error;
};

describe('verifyDelivery', () => {
  const body = JSON.stringify(event);

  it('returns the event of a delivery signed with the secret, from a string or bytes', () => {
    const headers = signed(body, [secret]);
    expect(verifyDelivery(body, headers, [secret], { now })).toEqual(event);
    expect(verifyDelivery(Buffer.from(body), headers, [secret], { now })).toEqual(event);
    expect(verifyDelivery(new Uint8Array(Buffer.from(body)), new Headers(headers), [secret], { now })).toEqual(event);
  });

  it('reads headers in any case, and a signature header given twice', () => {
    const headers = signed(body, [secret]);
    const upper = {
      'Webhook-Id': headers['webhook-id'],
      'WEBHOOK-TIMESTAMP': headers['webhook-timestamp'],
      'webhook-signature': ['v1,bm90IGl0', headers['webhook-signature']],
    };
    expect(verifyDelivery(body, upper, [secret], { now }).id).toBe(event.id);
  });

  it('accepts any of several secrets and any of several signatures (rotation on either side)', () => {
    const old = newSecret();
    const next = newSecret();
    // The engine signs with old and new during the grace period; the instance knows either.
    expect(verifyDelivery(body, signed(body, [old, next]), [next], { now }).id).toBe(event.id);
    expect(verifyDelivery(body, signed(body, [old, next]), [old], { now }).id).toBe(event.id);
    // The instance already holds the new secret beside the old one.
    expect(verifyDelivery(body, signed(body, [old]), [next, old], { now }).id).toBe(event.id);
    expectReason(() => verifyDelivery(body, signed(body, [old]), [next], { now }), 'bad-signature');
  });

  it('ignores signatures of other versions', () => {
    const headers = signed(body, [secret]);
    const sig = headers['webhook-signature'].slice('v1,'.length);
    const v2only = { ...headers, 'webhook-signature': `v1a,${sig} v2,${sig}` };
    expectReason(() => verifyDelivery(body, v2only, [secret], { now }), 'bad-signature');
  });

  it('refuses a missing header, naming it', () => {
    for (const name of ['webhook-id', 'webhook-timestamp', 'webhook-signature'] as const) {
      const headers: Record<string, string> = signed(body, [secret]);
      delete headers[name];
      const error = expectReason(() => verifyDelivery(body, headers, [secret], { now }), 'missing-headers');
      expect(error.message).toContain(name);
      expect(error.status).toBe(401);
    }
  });

  it('refuses a timestamp that is not Unix seconds', () => {
    for (const timestamp of ['2025-06-01T12:00:00Z', '-5', '1.5', '']) {
      const headers = { ...signed(body, [secret]), 'webhook-timestamp': timestamp };
      const reason = timestamp === '' ? 'missing-headers' : 'invalid-timestamp';
      expectReason(() => verifyDelivery(body, headers, [secret], { now }), reason);
    }
  });

  it('refuses a timestamp outside the tolerance, either way, and accepts one just inside', () => {
    const at = (seconds: number) => new Date(now.getTime() + seconds * 1000);
    expect(verifyDelivery(body, signed(body, [secret], at(-300)), [secret], { now }).id).toBe(event.id);
    expect(verifyDelivery(body, signed(body, [secret], at(300)), [secret], { now }).id).toBe(event.id);
    expectReason(() => verifyDelivery(body, signed(body, [secret], at(-301)), [secret], { now }), 'stale-timestamp');
    expectReason(() => verifyDelivery(body, signed(body, [secret], at(301)), [secret], { now }), 'stale-timestamp');
    const tolerant = { now, toleranceSeconds: 3600 };
    expect(verifyDelivery(body, signed(body, [secret], at(-3000)), [secret], tolerant).id).toBe(event.id);
    expectReason(
      () => verifyDelivery(body, signed(body, [secret], at(-20)), [secret], { now, toleranceSeconds: 10 }),
      'stale-timestamp',
    );
  });

  it('checks the timestamp against the system clock by default', () => {
    const fresh = signed(body, [secret], new Date());
    expect(verifyDelivery(body, fresh, [secret]).id).toBe(event.id);
    expectReason(() => verifyDelivery(body, signed(body, [secret]), [secret]), 'stale-timestamp');
  });

  it('refuses a changed body, id or timestamp (each is signed)', () => {
    const headers = signed(body, [secret]);
    const changed = body.replace('hola', 'hole');
    expectReason(() => verifyDelivery(changed, headers, [secret], { now }), 'bad-signature');
    expectReason(
      () => verifyDelivery(body, { ...headers, 'webhook-id': 'dlv_other' }, [secret], { now }),
      'bad-signature',
    );
    const later = String(Number(headers['webhook-timestamp']) + 1);
    expectReason(
      () => verifyDelivery(body, { ...headers, 'webhook-timestamp': later }, [secret], { now }),
      'bad-signature',
    );
  });

  it('refuses the same JSON re-serialized (the signature covers the bytes)', () => {
    const pretty = JSON.stringify(event, null, 2);
    expectReason(() => verifyDelivery(pretty, signed(body, [secret]), [secret], { now }), 'bad-signature');
  });

  it('refuses a signed body that is not JSON, or not a delivered event, with 400 and the fields at fault', () => {
    const notJson = 'not json';
    const error = expectReason(
      () => verifyDelivery(notJson, signed(notJson, [secret]), [secret], { now }),
      'invalid-body',
    );
    expect(error.status).toBe(400);

    const { tenantId: _, ...withoutTenant } = event;
    const wrong = JSON.stringify({
      ...withoutTenant,
      type: 'Not A Type',
      channel: { kind: 'telegram', id: '1' },
      conversation: { id: 'c', seq: 1.5 },
    });
    const invalid = expectReason(
      () => verifyDelivery(wrong, signed(wrong, [secret]), [secret], { now }),
      'invalid-body',
    );
    expect(invalid.errors).toEqual(
      expect.arrayContaining([
        { field: 'tenantId', message: 'is required' },
        { field: 'channel.kind', message: 'must be one of whatsapp, messenger, instagram' },
        { field: 'conversation.seq', message: 'must be integer' },
      ]),
    );
    expect(invalid.errors.map((e) => e.field)).toContain('type');
    expect(invalid.message).toContain('tenantId: is required');

    const late = JSON.stringify({ ...event, receivedAt: 'yesterday' });
    const badTime = expectReason(() => verifyDelivery(late, signed(late, [secret]), [secret], { now }), 'invalid-body');
    expect(badTime.errors).toEqual([{ field: 'receivedAt', message: 'must match format "date-time"' }]);
  });

  it('accepts fields it does not know (the contract only grows), a null conversation and an unknown type', () => {
    const grown = JSON.stringify({
      ...event,
      type: 'whatsapp.unknown',
      conversation: null,
      attempt: 3,
      data: { reason: 'new thing' },
    });
    const result = verifyDelivery(grown, signed(grown, [secret]), [secret], { now });
    expect(result.conversation).toBeNull();
    expect((result as Record<string, unknown>).attempt).toBe(3);
  });

  it('keeps the webhook-id on the error when there is one, for logs', () => {
    const error = expectReason(
      () => verifyDelivery(body, signed(body, [newSecret()]), [secret], { now }),
      'bad-signature',
    );
    expect(error.webhookId).toBe(event.id);
  });

  it('throws a TypeError, never naming the value, for secrets that are not signing secrets', () => {
    const headers = signed(body, [secret]);
    expect(() => verifyDelivery(body, headers, [], { now })).toThrow(TypeError);
    expect(() => verifyDelivery(body, headers, [secret, 'whsec_'], { now })).toThrow(/#2/);
    try {
      verifyDelivery(body, headers, ['whsec_###not-base64###'], { now });
    } catch (error) {
      expect(error).toBeInstanceOf(TypeError);
      expect((error as Error).message).not.toContain('###');
    }
  });

  it('narrows an event by type to its normalized data', () => {
    const result = verifyDelivery(body, signed(body, [secret]), [secret], { now });
    if (!isEventType(result, 'whatsapp.message.received')) throw new Error('narrowing failed');
    expect(result.data.text).toBe('hola');
    expect(isEventType(result, 'whatsapp.message.status')).toBe(false);
  });
});
