import { describe, expect, it } from 'vitest';
import { Value } from 'typebox/value';
import { OUTBOUND_EVENT_TYPES, SendMessageRequest, validateSendRequest } from './messages.ts';

const wa = (message: unknown, extra: Record<string, unknown> = {}) => ({
  channel: { kind: 'whatsapp', id: '106540352242922' },
  to: '16505551234',
  message,
  ...extra,
});
const page = (kind: 'messenger' | 'instagram', message: unknown, extra: Record<string, unknown> = {}) => ({
  channel: { kind, id: '682498302938465' },
  to: '6945793142124621',
  message,
  ...extra,
});

const fields = (req: unknown) => {
  const result = validateSendRequest(req);
  return result.ok ? [] : result.errors.map((e) => e.field);
};

const buttons = (n: number) => Array.from({ length: n }, (_, i) => ({ id: `b${i}`, title: `Button ${i}` }));

describe('validateSendRequest', () => {
  it('accepts every WhatsApp message type, and defaults the priority to conversation', () => {
    const messages = [
      { type: 'text', text: { body: 'Hello', previewUrl: true } },
      {
        type: 'template',
        template: {
          name: 'order_confirmation',
          language: { code: 'en_US' },
          components: [
            { type: 'header', parameters: [{ type: 'image', image: { link: 'https://example.com/a.png' } }] },
            {
              type: 'body',
              parameters: [
                { type: 'text', text: 'Pablo' },
                { type: 'currency', currency: { fallbackValue: '$100.99', code: 'USD', amount1000: 100990 } },
                { type: 'date_time', dateTime: { fallbackValue: 'February 25, 1977' } },
              ],
            },
            { type: 'button', subType: 'quick_reply', index: 0, parameters: [{ type: 'payload', payload: 'stop' }] },
            { type: 'button', subType: 'url', index: 1, parameters: [{ type: 'text', text: 'order/42' }] },
          ],
        },
      },
      { type: 'image', image: { id: '1479537139650973', caption: 'x' } },
      { type: 'audio', audio: { link: 'https://example.com/a.ogg' } },
      { type: 'video', video: { link: 'https://example.com/a.mp4', caption: 'v' } },
      { type: 'document', document: { link: 'https://example.com/a.pdf', filename: 'a.pdf' } },
      { type: 'sticker', sticker: { id: '798882015472548' } },
      { type: 'interactive', interactive: { type: 'button', body: { text: 'Pick' }, action: { buttons: buttons(3) } } },
      {
        type: 'interactive',
        interactive: {
          type: 'list',
          header: { type: 'text', text: 'Shipping' },
          body: { text: 'Choose' },
          action: {
            button: 'Options',
            sections: [
              { title: 'Fast', rows: [{ id: 'a', title: 'Express', description: 'Next day' }] },
              { title: 'Slow', rows: [{ id: 'b', title: 'Normal' }] },
            ],
          },
        },
      },
      { type: 'location', location: { latitude: 37.44, longitude: -122.16, name: 'Philz', address: '101 Forest' } },
      { type: 'contacts', contacts: [{ name: { formattedName: 'Ana Lima' }, phones: [{ phone: '+1 650 555 1234' }] }] },
      { type: 'reaction', reaction: { messageId: 'wamid.X', emoji: '' } },
      { type: 'mark_as_read', markAsRead: { messageId: 'wamid.X' } },
    ];
    for (const message of messages) {
      const result = validateSendRequest(wa(message));
      expect(result, JSON.stringify(message)).toMatchObject({ ok: true, value: { priority: 'conversation' } });
      expect(Value.Check(SendMessageRequest, wa(message))).toBe(true);
    }
  });

  it('names the field of each broken limit', () => {
    expect(
      validateSendRequest(
        wa({
          type: 'interactive',
          interactive: { type: 'button', body: { text: 'x' }, action: { buttons: buttons(4) } },
        }),
      ),
    ).toEqual({
      ok: false,
      errors: [{ field: 'message.interactive.action.buttons', message: expect.stringContaining('3') as string }],
    });
    const long = { ...buttons(1)[0], title: 'x'.repeat(21) };
    expect(
      fields(
        wa({ type: 'interactive', interactive: { type: 'button', body: { text: 'x' }, action: { buttons: [long] } } }),
      ),
    ).toEqual(['message.interactive.action.buttons[0].title']);
    expect(fields(wa({ type: 'text', text: { body: 'x'.repeat(4097) } }))).toEqual(['message.text.body']);
    expect(fields(wa({ type: 'text', text: { body: 'x', color: 'red' } }))).toEqual(['message.text.color']);
    expect(
      fields(
        wa({
          type: 'template',
          template: {
            name: 'hi',
            language: { code: 'en' },
            components: [{ type: 'body', parameters: [{ type: 'currency', currency: { code: 'usd' } }] }],
          },
        }),
      ),
    ).toEqual(
      expect.arrayContaining([
        'message.template.components[0].parameters[0].currency',
        'message.template.components[0].parameters[0].currency.code',
      ]),
    );
    expect(fields(wa({ type: 'interactive', interactive: { type: 'carousel', body: { text: 'x' } } }))).toEqual([
      'message.interactive.type',
    ]);
  });

  it('applies the rules a schema cannot say', () => {
    expect(fields(wa({ type: 'image', image: { caption: 'no source' } }))).toEqual(['message.image']);
    expect(fields(wa({ type: 'image', image: { link: 'https://example.com/a.png', id: '1' } }))).toEqual([
      'message.image',
    ]);
    const dup = [
      { id: 'a', title: 'One' },
      { id: 'a', title: 'One' },
    ];
    expect(
      fields(
        wa({ type: 'interactive', interactive: { type: 'button', body: { text: 'x' }, action: { buttons: dup } } }),
      ),
    ).toEqual(['message.interactive.action.buttons[1].id', 'message.interactive.action.buttons[1].title']);
    const rows = (n: number, from = 0) => Array.from({ length: n }, (_, i) => ({ id: `r${from + i}`, title: 'Row' }));
    expect(
      fields(
        wa({
          type: 'interactive',
          interactive: {
            type: 'list',
            body: { text: 'x' },
            action: { button: 'Open', sections: [{ title: 'A', rows: rows(6) }, { rows: rows(5, 6) }] },
          },
        }),
      ),
    ).toEqual(['message.interactive.action.sections', 'message.interactive.action.sections[1].title']);
    expect(
      fields(
        wa({
          type: 'template',
          template: {
            name: 'hi',
            language: { code: 'en' },
            components: [
              { type: 'button', subType: 'quick_reply', index: 0, parameters: [{ type: 'text', text: 'x' }] },
            ],
          },
        }),
      ),
    ).toEqual(['message.template.components[0].parameters[0].type']);
    expect(fields(wa({ type: 'text', text: { body: 'x' } }, { to: 'not-a-number' }))).toEqual(['to']);
    expect(fields(wa({ type: 'reaction', reaction: { messageId: 'w', emoji: '👍' } }, { replyTo: 'w' }))).toEqual([
      'replyTo',
    ]);
  });

  it('takes only its platform’s types and tags on Messenger and Instagram', () => {
    expect(fields(page('messenger', { type: 'text', text: { body: 'Hi' } }))).toEqual([]);
    expect(
      validateSendRequest(
        page('messenger', {
          type: 'attachment',
          attachment: { type: 'file', url: 'https://example.com/a.pdf' },
          quickReplies: [{ title: 'Yes', payload: 'YES' }],
          tag: 'POST_PURCHASE_UPDATE',
        }),
      ).ok,
    ).toBe(true);
    expect(fields(page('messenger', { type: 'template', template: {} }))).toEqual(['message.type']);
    expect(fields(wa({ type: 'attachment', attachment: { type: 'image', url: 'https://e.com/a' } }))).toEqual([
      'message.type',
    ]);
    const many = Array.from({ length: 14 }, (_, i) => ({ title: `q${i}`, payload: `p${i}` }));
    expect(fields(page('messenger', { type: 'text', text: { body: 'Hi' }, quickReplies: many }))).toEqual([
      'message.quickReplies',
    ]);
    expect(fields(page('instagram', { type: 'text', text: { body: 'Hi' }, tag: 'ACCOUNT_UPDATE' }))).toEqual([
      'message.tag',
    ]);
    expect(fields(page('instagram', { type: 'text', text: { body: 'Hi' }, tag: 'HUMAN_AGENT' }))).toEqual([]);
    expect(fields(page('instagram', { type: 'text', text: { body: 'é'.repeat(501) } }))).toEqual(['message.text.body']);
    expect(fields(page('messenger', { type: 'text', text: { body: 'Hi' }, messagingType: 'MESSAGE_TAG' }))).toEqual([
      'message.tag',
    ]);
    expect(fields(page('messenger', { type: 'text', text: { body: 'Hi' } }, { replyTo: 'm_1' }))).toEqual(['replyTo']);
  });

  it('refuses a broken envelope', () => {
    expect(fields({ channel: { kind: 'sms', id: '1' }, to: 'x', message: { type: 'text' } })).toEqual(['channel.kind']);
    expect(
      fields({ channel: { kind: 'whatsapp', id: '1' }, to: '1', message: { type: 'text' }, priority: 'low' }),
    ).toEqual(['priority']);
    expect(fields(null)).toEqual(['(body)']);
    expect(fields(wa({ type: 'text', text: { body: 'x' } }, { sendAt: 'later' }))).toEqual(['sendAt']);
  });

  it('lists the outbound event types per platform', () => {
    expect(OUTBOUND_EVENT_TYPES).toContain('whatsapp.outbound.sent');
    expect(OUTBOUND_EVENT_TYPES).toContain('instagram.outbound.failed');
    expect(OUTBOUND_EVENT_TYPES).toHaveLength(12);
  });
});
