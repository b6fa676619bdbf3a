import { describe, expect, it } from 'vitest';
import { parseMetaWebhook, type MetaWebhookEvent } from '@mic/meta';
import {
  bodyGenerator,
  instagramTextMessage,
  messengerTextMessage,
  whatsappReaction,
  whatsappStatus,
  whatsappTextMessage,
  WEBHOOK_KINDS,
  type MetaWebhookBody,
} from './bodies.ts';

/** The one event a generated body holds, as the engine's parser reads it. */
function only(body: MetaWebhookBody): MetaWebhookEvent {
  const events = parseMetaWebhook(JSON.parse(JSON.stringify(body)));
  expect(events).toHaveLength(1);
  return events[0]!;
}

describe('webhook bodies', () => {
  it('a WhatsApp text message from a customer to a phone_number_id', () => {
    const at = new Date('2025-06-01T12:00:00Z');
    const event = only(
      whatsappTextMessage({ from: '5215512345678', phoneNumberId: '111', text: 'hola', timestamp: at, name: 'Ana' }),
    );
    expect(event).toMatchObject({
      type: 'whatsapp.message.received',
      channelId: '111',
      conversationKey: '111:5215512345678',
      occurredAt: '2025-06-01T12:00:00.000Z',
      data: { from: '5215512345678', messageType: 'text', text: 'hola', sender: { name: 'Ana' } },
    });
    expect(event.type === 'whatsapp.message.received' && event.data.messageId).toMatch(/^wamid\./);
  });

  it('statuses sent, delivered and read of one wamid are three events', () => {
    const events = (['sent', 'delivered', 'read'] as const).map((status) =>
      only(whatsappStatus({ messageId: 'wamid.ABC', status, recipientId: '16505550000' })),
    );
    expect(events.map((e) => e.type)).toEqual(Array(3).fill('whatsapp.message.status'));
    expect(events.map((e) => (e.data as { status: string }).status)).toEqual(['sent', 'delivered', 'read']);
    expect(new Set(events.map((e) => e.dedupKey)).size).toBe(3);
  });

  it('a reaction, and its removal', () => {
    const reaction = only(whatsappReaction({ messageId: 'wamid.TARGET', emoji: '👍' }));
    expect(reaction).toMatchObject({
      type: 'whatsapp.reaction.received',
      data: { reactedMessageId: 'wamid.TARGET', emoji: '👍' },
    });
    const removal = only(whatsappReaction({ messageId: 'wamid.TARGET' }));
    expect(removal.type).toBe('whatsapp.reaction.received');
    expect(removal.dedupKey).not.toBe(reaction.dedupKey);
  });

  it('Messenger and Instagram text messages', () => {
    expect(only(messengerTextMessage({ recipientId: 'PAGE', senderId: 'PSID', text: 'hi' }))).toMatchObject({
      type: 'messenger.message.received',
      channelId: 'PAGE',
      conversationKey: 'PAGE:PSID',
    });
    expect(only(instagramTextMessage({ recipientId: 'IGACC', senderId: 'IGSID' }))).toMatchObject({
      type: 'instagram.message.received',
      channelId: 'IGACC',
      conversationKey: 'IGACC:IGSID',
    });
  });

  it('each generator makes new events: distinct dedup keys, ids unique', () => {
    for (const kind of WEBHOOK_KINDS) {
      const generate = bodyGenerator(kind);
      const keys = Array.from({ length: 60 }, (_, i) => only(generate(i)).dedupKey);
      expect(new Set(keys).size, kind).toBe(60);
    }
  });

  it('whatsapp-status gives each wamid sent, delivered and read in turn', () => {
    const generate = bodyGenerator('whatsapp-status');
    const events = Array.from({ length: 6 }, (_, i) => only(generate(i)).data as { messageId: string; status: string });
    expect(events.map((e) => e.status)).toEqual(['sent', 'delivered', 'read', 'sent', 'delivered', 'read']);
    expect(new Set(events.slice(0, 3).map((e) => e.messageId)).size).toBe(1);
    expect(events[3]?.messageId).not.toBe(events[0]?.messageId);
  });

  it('spreads bodies over customers on the channel it is given', () => {
    const generate = bodyGenerator('whatsapp-text', { channelId: '999', customer: '15550000001', customers: 3 });
    const keys = Array.from({ length: 6 }, (_, i) => only(generate(i)).conversationKey);
    expect(keys).toEqual([
      '999:15550000001',
      '999:15550000002',
      '999:15550000003',
      '999:15550000001',
      '999:15550000002',
      '999:15550000003',
    ]);
  });

  it('mixed takes every platform in turn', () => {
    const generate = bodyGenerator('mixed');
    const types = Array.from({ length: 5 }, (_, i) => only(generate(i)).type);
    expect(types).toEqual([
      'whatsapp.message.received',
      'whatsapp.message.status',
      'whatsapp.reaction.received',
      'messenger.message.received',
      'instagram.message.received',
    ]);
  });
});
