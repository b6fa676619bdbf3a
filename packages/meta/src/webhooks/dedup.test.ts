import { describe, expect, it } from 'vitest';
import { canonicalJson, contentHash } from './dedup.ts';
import { fixtureNames, loadFixture, recordAt } from './fixtures.ts';
import { parseMetaWebhook } from './parse.ts';

/** A deep copy of a fixture, changed by `edit`. */
const variant = (name: string, edit: (body: unknown) => void): unknown => {
  const body = structuredClone(loadFixture(name));
  edit(body);
  return body;
};
const keysOf = (body: unknown) => parseMetaWebhook(body).map((e) => e.dedupKey);

describe('dedup keys', () => {
  it('are the same when the same body is parsed twice, whenever it is received', () => {
    for (const name of fixtureNames()) {
      const body = loadFixture(name);
      const first = parseMetaWebhook(body, { receivedAt: new Date('2025-01-01T00:00:00Z') });
      const again = parseMetaWebhook(structuredClone(body), { receivedAt: new Date('2025-06-01T12:00:00Z') });
      expect(
        again.map((e) => e.dedupKey),
        name,
      ).toEqual(first.map((e) => e.dedupKey));
    }
  });

  it('are different for different events across all fixtures', () => {
    const keys = fixtureNames().flatMap((name) => keysOf(loadFixture(name)));
    expect(new Set(keys).size).toBe(keys.length);
  });

  it('tell apart the sent, delivered and read statuses of one message', () => {
    const keys = ['sent', 'delivered', 'read'].flatMap((status) =>
      keysOf(loadFixture(`whatsapp-status-${status}.json`)),
    );
    expect(new Set(keys).size).toBe(3);
    expect(keys.every((key) => key.includes('wamid.HBgLMTY1MDUwNzY1MjAVAgARGBI3N0VCNTY0RTJBRDQyNjRDMEYA'))).toBe(true);
  });

  it('a status redelivered with another timestamp or pricing is still the same event', () => {
    const redelivered = variant('whatsapp-status-delivered.json', (body) => {
      const status = recordAt(body, 'entry', 0, 'changes', 0, 'value', 'statuses', 0);
      status.timestamp = '1750263999';
      delete status.pricing;
    });
    expect(keysOf(redelivered)).toEqual(keysOf(loadFixture('whatsapp-status-delivered.json')));
  });

  it('tell apart react, unreact and react again on one WhatsApp message (even with the same emoji)', () => {
    const react = loadFixture('whatsapp-reaction.json');
    const unreact = loadFixture('whatsapp-reaction-removed.json');
    const reactAgain = variant('whatsapp-reaction.json', (body) => {
      const message = recordAt(body, 'entry', 0, 'changes', 0, 'value', 'messages', 0);
      message.id = 'wamid.HBgLMTY1MDUwNzY1MjAVAgASGBQzQUY5MDAwMDAwMDAwMDAwMDAwMQA=';
      message.timestamp = '1739321420';
    });
    const keys = [react, unreact, reactAgain].flatMap(keysOf);
    expect(new Set(keys).size).toBe(3);
  });

  it('an empty emoji (older payloads) is a removal, like an omitted one', () => {
    const empty = variant('whatsapp-reaction-removed.json', (body) => {
      recordAt(body, 'entry', 0, 'changes', 0, 'value', 'messages', 0, 'reaction').emoji = '';
    });
    const [event] = parseMetaWebhook(empty);
    expect(event?.data).toMatchObject({ emoji: null, removed: true });
    expect(event?.dedupKey).toBe(keysOf(loadFixture('whatsapp-reaction-removed.json'))[0]);
  });

  it('tell apart react, unreact and react again on one Messenger or Instagram message', () => {
    const reactAgain = variant('messenger-reaction.json', (body) => {
      recordAt(body, 'entry', 0, 'messaging', 0).timestamp = 1458668899000;
    });
    const keys = [loadFixture('messenger-reaction.json'), loadFixture('messenger-unreact.json'), reactAgain].flatMap(
      keysOf,
    );
    expect(new Set(keys).size).toBe(3);

    const unreactIg = variant('instagram-reaction.json', (body) => {
      const item = recordAt(body, 'entry', 0, 'messaging', 0);
      item.timestamp = 1569262551000;
      item.reaction = { mid: recordAt(item, 'reaction').mid, action: 'unreact' };
    });
    const igKeys = [loadFixture('instagram-reaction.json'), unreactIg].flatMap(keysOf);
    expect(new Set(igKeys).size).toBe(2);
  });

  it('key id-less Messenger watermarks by page, customer and watermark', () => {
    const later = variant('messenger-delivery.json', (body) => {
      recordAt(body, 'entry', 0, 'messaging', 0, 'delivery').watermark = 1458668999999;
    });
    const otherCustomer = variant('messenger-delivery.json', (body) => {
      recordAt(body, 'entry', 0, 'messaging', 0, 'sender').id = '1111111111111111';
    });
    const original = keysOf(loadFixture('messenger-delivery.json'));
    expect(keysOf(later)).not.toEqual(original);
    expect(keysOf(otherCustomer)).not.toEqual(original);
    // A redelivery in another batch (different entry time) is the same event.
    const rebatched = variant('messenger-delivery.json', (body) => {
      recordAt(body, 'entry', 0).time = 1458668999000;
    });
    expect(keysOf(rebatched)).toEqual(original);
    expect(keysOf(loadFixture('messenger-read.json'))).not.toEqual(original);
  });

  it('key template updates by template, event and time', () => {
    const approvedAgain = variant('whatsapp-template-approved.json', (body) => {
      recordAt(body, 'entry', 0).time = 1751300000;
    });
    expect(keysOf(approvedAgain)).not.toEqual(keysOf(loadFixture('whatsapp-template-approved.json')));
  });

  it('key unknown bodies by the hash of their canonical JSON, whatever the key order', () => {
    const a = { object: 'something_new', entry: [{ id: '1', time: 2, changes: [] }] };
    const b = { entry: [{ changes: [], time: 2, id: '1' }], object: 'something_new' };
    expect(keysOf(a)).toEqual(keysOf(b));
    expect(keysOf(a)).toEqual([`unknown:${contentHash(a)}`]);
    expect(keysOf({ ...a, object: 'something_else' })).not.toEqual(keysOf(a));
  });
});

describe('canonicalJson', () => {
  it('sorts keys at every level and keeps array order', () => {
    expect(canonicalJson({ b: 1, a: { d: [3, { f: 1, e: 2 }], c: null } })).toBe(
      '{"a":{"c":null,"d":[3,{"e":2,"f":1}]},"b":1}',
    );
  });

  it('reads values JSON cannot hold without throwing', () => {
    expect(canonicalJson(undefined)).toBe('null');
    expect(canonicalJson({ a: undefined, b: 10n })).toBe('{"b":"10"}');
    expect(contentHash('x')).toMatch(/^[0-9a-f]{64}$/);
  });
});
