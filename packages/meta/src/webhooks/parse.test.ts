import { describe, expect, it } from 'vitest';
import { EVENT_TYPES } from './events.ts';
import { fixtureNames, loadFixture, recordAt } from './fixtures.ts';
import { parseMetaWebhook } from './parse.ts';

const receivedAt = new Date('2025-03-01T10:00:00Z');

describe('parseMetaWebhook: bodies it does not recognise', () => {
  it.each([
    ['an unknown object', { object: 'something_new' }, 'unrecognised object'],
    [
      'an unknown object with entries',
      { object: 'permissions', entry: [{ id: '1', changes: [] }] },
      'unrecognised object',
    ],
    ['no object', { entry: [] }, 'unrecognised object'],
    ['an object named like a prototype property', { object: 'constructor', entry: [] }, 'unrecognised object'],
    ['an object that is not a string', { object: { name: 'page' }, entry: [] }, 'unrecognised object'],
    ['a known object without entry', { object: 'whatsapp_business_account' }, 'body has no entry array'],
    ['a known object with entry not an array', { object: 'page', entry: { id: '1' } }, 'body has no entry array'],
  ])('%s: one `unknown` event with the whole body as raw', (_name, body, reason) => {
    const events = parseMetaWebhook(body, { receivedAt });
    expect(events).toHaveLength(1);
    expect(events[0]).toMatchObject({
      type: 'unknown',
      kind: 'unknown',
      platform: 'unknown',
      channelId: null,
      occurredAt: receivedAt.toISOString(),
      data: { reason },
    });
    expect(events[0]!.raw).toBe(body);
  });

  it.each([
    ['an array', [{ object: 'page' }]],
    ['a string', 'hello'],
    ['a number', 42],
    ['null', null],
    ['true', true],
    ['undefined', undefined],
  ])('%s: one `unknown` event, never a throw', (_name, body) => {
    const events = parseMetaWebhook(body, { receivedAt });
    expect(events).toHaveLength(1);
    expect(events[0]).toMatchObject({ type: 'unknown', data: { reason: 'body is not a JSON object' } });
    expect(events[0]!.raw).toBe(body);
    expect(events[0]!.dedupKey).toMatch(/^unknown:[0-9a-f]{64}$/);
  });

  it('a known object whose entry is empty: one `<platform>.unknown` with the body, nothing dropped', () => {
    for (const [object, type] of [
      ['page', 'messenger.unknown'],
      ['instagram', 'instagram.unknown'],
      ['whatsapp_business_account', 'whatsapp.unknown'],
    ] as const) {
      const body = { object, entry: [] };
      const events = parseMetaWebhook(body);
      expect(events.map((e) => e.type)).toEqual([type]);
      expect(events[0]!.raw).toBe(body);
    }
  });

  it('odd items inside a known body each become `<platform>.unknown`, beside the good ones', () => {
    const good = loadFixture('messenger-text.json') as { entry: { messaging: unknown[] }[] };
    const body = {
      object: 'page',
      entry: [
        null,
        7,
        { id: '682498302938465' },
        { id: '682498302938465', messaging: ['x', good.entry[0]!.messaging[0]] },
      ],
    };
    const events = parseMetaWebhook(body);
    expect(events.map((e) => e.type)).toEqual([
      'messenger.unknown',
      'messenger.unknown',
      'messenger.unknown',
      'messenger.unknown',
      'messenger.message.received',
    ]);
    expect(events.map((e) => e.raw)).toEqual([null, 7, { id: '682498302938465' }, 'x', good.entry[0]!.messaging[0]]);
  });

  it('a WhatsApp message without an id, or a status without a status, is kept as whatsapp.unknown', () => {
    const body = {
      object: 'whatsapp_business_account',
      entry: [
        {
          id: '102290129340398',
          changes: [
            {
              field: 'messages',
              value: {
                messaging_product: 'whatsapp',
                metadata: { phone_number_id: '106540352242922' },
                messages: [{ from: '16505551234', type: 'text', text: { body: 'no id' } }, 'garbage'],
                statuses: [{ id: 'wamid.X' }],
              },
            },
          ],
        },
      ],
    };
    const events = parseMetaWebhook(body);
    expect(events.map((e) => [e.type, e.channelId])).toEqual([
      ['whatsapp.unknown', '106540352242922'],
      ['whatsapp.unknown', '106540352242922'],
      ['whatsapp.unknown', '106540352242922'],
    ]);
    expect(new Set(events.map((e) => e.dedupKey)).size).toBe(3);
  });

  it('a WhatsApp message of a type newer than this parser is still a received message', () => {
    const body = structuredClone(loadFixture('whatsapp-text.json'));
    const message = recordAt(body, 'entry', 0, 'changes', 0, 'value', 'messages', 0);
    message.type = 'hologram';
    message.hologram = { id: '42' };
    delete message.text;
    const [event] = parseMetaWebhook(body);
    expect(event).toMatchObject({ type: 'whatsapp.message.received', data: { messageType: 'hologram' } });
    expect(recordAt(event!.raw, 'messages', 0).hologram).toEqual({ id: '42' });
  });

  it('standby items (another app controls the conversation) parse like messaging items, marked standby', () => {
    const item = recordAt(loadFixture('messenger-text.json'), 'entry', 0, 'messaging', 0);
    const body = { object: 'page', entry: [{ id: '682498302938465', time: 1458692752950, standby: [item] }] };
    const [event] = parseMetaWebhook(body);
    expect(event).toMatchObject({ type: 'messenger.message.received', data: { standby: true, text: 'hello, world!' } });
    expect(event!.dedupKey).toBe(parseMetaWebhook(loadFixture('messenger-text.json'))[0]!.dedupKey);
  });

  it('several entries and items in one body give one event each, in order', () => {
    const text = recordAt(loadFixture('messenger-text.json'), 'entry', 0);
    const read = recordAt(loadFixture('messenger-read.json'), 'entry', 0);
    const events = parseMetaWebhook({ object: 'page', entry: [text, read] });
    expect(events.map((e) => e.type)).toEqual(['messenger.message.received', 'messenger.message.read']);
  });

  it('falls back to receivedAt only where Meta gives no time', () => {
    const [error] = parseMetaWebhook(loadFixture('whatsapp-errors.json'), { receivedAt });
    expect(error!.occurredAt).toBe(receivedAt.toISOString());
    const [text] = parseMetaWebhook(loadFixture('whatsapp-text.json'), { receivedAt });
    expect(text!.occurredAt).toBe('2025-06-08T20:59:43.000Z');
  });
});

/** Every path to a value inside a JSON tree. */
function paths(value: unknown, prefix: (string | number)[] = []): (string | number)[][] {
  if (Array.isArray(value)) return value.flatMap((v, i) => [[...prefix, i], ...paths(v, [...prefix, i])]);
  if (typeof value === 'object' && value !== null) {
    return Object.entries(value).flatMap(([k, v]) => [[...prefix, k], ...paths(v, [...prefix, k])]);
  }
  return [];
}

function mutate(body: unknown, path: (string | number)[], replacement: unknown): unknown {
  const copy = structuredClone(body);
  let node: unknown = copy;
  for (const key of path.slice(0, -1)) node = Array.isArray(node) ? node[Number(key)] : recordAt(node)[key];
  const last = path[path.length - 1]!;
  if (Array.isArray(node)) {
    if (replacement === REMOVE) node.splice(Number(last), 1);
    else node[Number(last)] = replacement;
  } else {
    const parent = recordAt(node);
    if (replacement === REMOVE) delete parent[last];
    else parent[last] = replacement;
  }
  return copy;
}
const REMOVE = Symbol('remove');

describe('parseMetaWebhook never throws', () => {
  it.each(fixtureNames())('%s with any one field removed or replaced by a value of another type', (name) => {
    const body = loadFixture(name);
    for (const path of paths(body)) {
      for (const replacement of [REMOVE, null, 0, -1, 'x', '', true, [], {}, [null]]) {
        const changed = mutate(body, path, replacement);
        const events = parseMetaWebhook(changed, { receivedAt });
        expect(events.length).toBeGreaterThan(0);
        for (const event of events) {
          expect(EVENT_TYPES).toContain(event.type);
          expect(typeof event.dedupKey).toBe('string');
          expect(new Date(event.occurredAt).toISOString()).toBe(event.occurredAt);
        }
      }
    }
  });
});
