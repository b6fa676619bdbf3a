import { describe, expect, it } from 'vitest';
import { fixtureNames, loadFixture } from './fixtures.ts';
import { metaEnvelopeOf, metaWebhookBodyOf } from './envelope.ts';
import { parseMetaWebhook } from './parse.ts';

describe('metaEnvelopeOf', () => {
  it.each(fixtureNames())('%s: every event sits in one item of the body, as Meta sent it', (name) => {
    const body = loadFixture(name) as { object: string; entry: Record<string, unknown>[] };
    for (const event of parseMetaWebhook(body)) {
      if (event.type === 'unknown') continue;
      const envelope = metaEnvelopeOf(body, event.raw);
      expect(envelope, `${event.type} in ${name}`).not.toBeNull();
      const single = metaWebhookBodyOf(envelope!, event.raw);
      expect(single.object).toBe(body.object);
      const entry = (single.entry as Record<string, unknown>[])[0]!;
      expect(body.entry.some((e) => String(e.id) === entry.id)).toBe(true);
      // Parsed alone, the body gives this event again.
      const again = parseMetaWebhook(JSON.parse(JSON.stringify(single)));
      expect(again.map((e) => e.type)).toContain(event.type);
    }
  });

  it('narrows a WhatsApp value with two messages to the event’s own', () => {
    const value = {
      messaging_product: 'whatsapp',
      metadata: { display_phone_number: '15550001111', phone_number_id: '106540352242922' },
      contacts: [
        { wa_id: '16505551234', profile: { name: 'Ana' } },
        { wa_id: '16505554321', profile: { name: 'Luis' } },
      ],
      messages: [
        { from: '16505551234', id: 'wamid.A', timestamp: '1700000000', type: 'text', text: { body: 'uno' } },
        { from: '16505554321', id: 'wamid.B', timestamp: '1700000001', type: 'text', text: { body: 'dos' } },
      ],
    };
    const body = {
      object: 'whatsapp_business_account',
      entry: [{ id: 'WABA', changes: [{ field: 'messages', value }] }],
    };
    const [, second] = parseMetaWebhook(body);
    const single = metaWebhookBodyOf(metaEnvelopeOf(body, second!.raw)!, second!.raw);
    expect(single).toEqual({
      object: 'whatsapp_business_account',
      entry: [
        {
          id: 'WABA',
          changes: [
            {
              field: 'messages',
              value: { ...value, contacts: [value.contacts[1]], messages: [value.messages[1]] },
            },
          ],
        },
      ],
    });
  });
});
