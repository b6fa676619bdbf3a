import { describe, expect, it } from 'vitest';
import { contentHash } from './dedup.ts';
import { fixtureNames, loadFixture } from './fixtures.ts';
import { parseMetaWebhook } from './parse.ts';

const WA = '106540352242922';
const WABA = '102290129340398';
const PAGE = '682498302938465';
const PSID = '6945793142124621';
const IG = '17841405822304914';
const IGSID = '1254459154682919';
const IG_MID = (suffix: string) =>
  `aWdfZAG1faXRlbToxOklHTWVzc2FnZAUlEOjE3ODQxNDA1ODIyMzA0OTE0OjM0MDI4MjM2Njg0MTcxMDMwMTI0NDI1OTQ5OTM2MjM5NjIzNjQ3NzozMTk2NTQ3MjM0NTU2MDM3NjA2MjI3MjY0NTM3Nzc0ODY3${suffix}ZDZD`;
const STATUS_WAMID = 'wamid.HBgLMTY1MDUwNzY1MjAVAgARGBI3N0VCNTY0RTJBRDQyNjRDMEYA';
const REACTED_WAMID = 'wamid.HBgLMTQxMjU1NTA4MjkVAgASGBQzQUNCNjk5RDUwNUZGMUZEM0VBRAA=';
const MESSENGER_ECHO_MID = 'm_qT7ywaKpO9kkQR7Gv-nM8LIfLZDamVrALniheUYEDdHJXjDXEAyaS1xxONzb2Iv-DFzmTihfWJV012P5pK0AhQ';

/** The first messaging item (or change) of a fixture, to recompute content-hash keys independently. */
const firstEntry = (name: string) => (loadFixture(name) as { entry: Record<string, unknown[]>[] }).entry[0]!;
const messagingItem = (name: string) => firstEntry(name).messaging![0];
const changeItem = (name: string) => firstEntry(name).changes![0];

/** Every fixture, the types it must parse into and their dedup keys, in order. */
const expected: Record<string, [type: string, dedupKey: string][]> = {
  'whatsapp-text.json': [
    ['whatsapp.message.received', 'whatsapp:message:wamid.HBgLMTY1MDM4Nzk0MzkVAgASGBQzQTRBNjU5OUFFRTAzODEwMTQ0RgA='],
  ],
  'whatsapp-text-reply.json': [
    ['whatsapp.message.received', 'whatsapp:message:wamid.HBgLMTY1MDUwNzY1MjAVAgASGBQzQTUyNkJBMzE1QjVFRkE0MzcyMQA='],
  ],
  'whatsapp-text-forwarded-product.json': [
    ['whatsapp.message.received', 'whatsapp:message:wamid.HBgLMTY1MDUwNzY1MjAVAgASGBQzQUI0NkE4NjM1QTU2NjVGOURGQgA='],
  ],
  'whatsapp-image.json': [
    ['whatsapp.message.received', 'whatsapp:message:wamid.HBgLMTY1MDUwNzY1MjAVAgASGBQzQUU2NzhFNjQ0NDc5QkQwRjc5RAA='],
  ],
  'whatsapp-audio.json': [
    ['whatsapp.message.received', 'whatsapp:message:wamid.HBgLMTY1MDUwNzY1MjAVAgASGBQzQTg0QTMwNzYzRkI2MEVGMUQ0OQA='],
  ],
  'whatsapp-video.json': [
    ['whatsapp.message.received', 'whatsapp:message:wamid.HBgLMTY1MDUwNzY1MjAVAgASGBQzQTcwMEE5NzNBMUQ0RjYyRDA5QQA='],
  ],
  'whatsapp-document.json': [
    ['whatsapp.message.received', 'whatsapp:message:wamid.HBgLMTY1MDUwNzY1MjAVAgASGBQzQTFEOUU1QkZFN0FDMjc0RTdDMwA='],
  ],
  'whatsapp-sticker.json': [
    ['whatsapp.message.received', 'whatsapp:message:wamid.HBgLMTY1MDUwNzY1MjAVAgASGBQzQUE5MUVBQzE2NUFCNUI1NkI4RgA='],
  ],
  'whatsapp-location.json': [
    ['whatsapp.message.received', 'whatsapp:message:wamid.HBgLMTY1MDUwNzY1MjAVAgASGBQzQTI4RjVCMkE1NzdCOUMwOEY2NAA='],
  ],
  'whatsapp-contacts.json': [
    ['whatsapp.message.received', 'whatsapp:message:wamid.HBgLMTY1MDUwNzY1MjAVAgASGBQzQTY1RjU3NkJCQzdFNzVBQjQ5OAA='],
  ],
  'whatsapp-interactive-button-reply.json': [
    ['whatsapp.message.received', 'whatsapp:message:wamid.HBgLMTY1MDUwNzY1MjAVAgASGBQzQTRFMDg5MzhCRjg2ODQ5QTgwMQA='],
  ],
  'whatsapp-interactive-list-reply.json': [
    ['whatsapp.message.received', 'whatsapp:message:wamid.HBgLMTY1MDUwNzY1MjAVAgASGBQzQTlGNDc4MjA3QUY0MDk5MUE1QwA='],
  ],
  'whatsapp-interactive-nfm-reply.json': [
    ['whatsapp.message.received', 'whatsapp:message:wamid.HBgLMTY1MDUwNzY1MjAVAgASGBQzQThENzdFQkE0QjM2OTFCQTBFRQA='],
  ],
  'whatsapp-button.json': [
    ['whatsapp.message.received', 'whatsapp:message:wamid.HBgLMTY1MDUwNzY1MjAVAgASGBQzQUJCRDdCQUNFM0I2OUVEQUJGRAA='],
  ],
  'whatsapp-order.json': [
    ['whatsapp.message.received', 'whatsapp:message:wamid.HBgLMTY1MDUwNzY1MjAVAgASGBQzQTNDNjE3MEQ1QjFCRjk5MTJCMgA='],
  ],
  'whatsapp-referral-ctwa.json': [
    ['whatsapp.message.received', 'whatsapp:message:wamid.HBgLMTY1MDUwNzY1MjAVAgASGBQzQUIxQzBCRjk1RTE4QzU0QzI1NwA='],
  ],
  'whatsapp-unsupported.json': [
    ['whatsapp.message.received', 'whatsapp:message:wamid.HBgLMTY1MDUwNzY1MjAVAgASGBQzQTc3NDk2RTNBM0NGNjg2RTQ1MQA='],
  ],
  'whatsapp-system.json': [
    ['whatsapp.message.received', 'whatsapp:message:wamid.HBgLMTY1MDUwNzY1MjAVAgASGBQzQTBBMjY5MTc4RjNFMzJBNjQ2NQA='],
  ],
  'whatsapp-reaction.json': [['whatsapp.reaction.received', `whatsapp:reaction:${REACTED_WAMID}:👍:1739321300`]],
  'whatsapp-reaction-removed.json': [
    ['whatsapp.reaction.received', `whatsapp:reaction:${REACTED_WAMID}:removed:1739321360`],
  ],
  'whatsapp-status-sent.json': [['whatsapp.message.status', `whatsapp:status:${STATUS_WAMID}:sent`]],
  'whatsapp-status-delivered.json': [['whatsapp.message.status', `whatsapp:status:${STATUS_WAMID}:delivered`]],
  'whatsapp-status-read.json': [['whatsapp.message.status', `whatsapp:status:${STATUS_WAMID}:read`]],
  'whatsapp-status-failed.json': [
    ['whatsapp.message.status', 'whatsapp:status:wamid.HBgLMTY1MDUwNzY1MjAVAgARGBJCMkU0QjA4MzZERDU0RDhDNjIA:failed'],
  ],
  'whatsapp-errors.json': [
    [
      'whatsapp.error',
      `whatsapp:error:${WA}:${contentHash((changeItem('whatsapp-errors.json') as { value: { errors: unknown } }).value.errors)}`,
    ],
  ],
  'whatsapp-template-approved.json': [
    ['whatsapp.template.status_updated', 'whatsapp:template:1689556908129832:APPROVED:1751247548'],
  ],
  'whatsapp-template-rejected.json': [
    ['whatsapp.template.status_updated', 'whatsapp:template:1689556908129835:REJECTED:1751247612'],
  ],
  'whatsapp-batched.json': [
    ['whatsapp.message.received', 'whatsapp:message:wamid.HBgLMTY1MDUwNzY1MjAVAgASGBQzQUQ1NEM1MDRBRjJBMjE0M0Q0MQA='],
    ['whatsapp.message.received', 'whatsapp:message:wamid.HBgLNjAxNzM1MjYyMzMVAgASGBQzQUI0NkE4NjM1QTU2NjVGOURGQgA='],
    ['whatsapp.message.status', 'whatsapp:status:wamid.HBgLNjAxNzM1MjYyMzMVAgARGBJCNkY5NTBENEU3ODYxQTM3RUQA:delivered'],
    ['whatsapp.message.status', 'whatsapp:status:wamid.HBgLNjAxNzM1MjYyMzMVAgARGBJCNkY5NTBENEU3ODYxQTM3RUQA:read'],
  ],
  'whatsapp-quality-update.json': [
    ['whatsapp.unknown', `whatsapp:unknown:${contentHash(changeItem('whatsapp-quality-update.json'))}`],
  ],
  'messenger-text.json': [
    [
      'messenger.message.received',
      'messenger:message:m_AG5Hz2Uq7tuwNEhXfYYKj8mJEM_QPpz5jdCK48PnKAjSdjfipqxqMvK8ma6AC8fplwlqLP_5cgXIbu7I3rBN0P',
    ],
  ],
  'messenger-reply.json': [['messenger.message.received', 'messenger:message:m_1457764197618:41d102a3e1ae206a38']],
  'messenger-attachments.json': [
    ['messenger.message.received', 'messenger:message:mid.$cAAJdkrCd2ORnva8ErFhjGm0X_Q_c'],
  ],
  'messenger-echo.json': [['messenger.message.echo', `messenger:echo:${MESSENGER_ECHO_MID}`]],
  'messenger-postback.json': [['messenger.postback.received', 'messenger:postback:m_1457764197618:41d102a3e1ae206a39']],
  'messenger-postback-change.json': [
    ['messenger.postback.received', 'messenger:postback:m_MESSAGE-ID-postback-change'],
  ],
  'messenger-delivery.json': [['messenger.message.delivered', `messenger:delivery:${PAGE}:${PSID}:1458668856253`]],
  'messenger-read.json': [['messenger.message.read', `messenger:read:${PAGE}:${PSID}:1458668856253`]],
  'messenger-reaction.json': [
    ['messenger.reaction.received', `messenger:reaction:${MESSENGER_ECHO_MID}:\u2764\ufe0f:1458668856463`],
  ],
  'messenger-unreact.json': [
    ['messenger.reaction.received', `messenger:reaction:${MESSENGER_ECHO_MID}:removed:1458668871200`],
  ],
  'messenger-referral-ad.json': [
    ['messenger.referral.received', `messenger:referral:${contentHash(messagingItem('messenger-referral-ad.json'))}`],
  ],
  'messenger-optin.json': [
    ['messenger.optin.received', `messenger:optin:${contentHash(messagingItem('messenger-optin.json'))}`],
  ],
  'messenger-feed-change.json': [
    ['messenger.unknown', `messenger:unknown:${contentHash(changeItem('messenger-feed-change.json'))}`],
  ],
  'instagram-text.json': [['instagram.message.received', `instagram:message:${IG_MID('Mg')}`]],
  'instagram-story-reply.json': [['instagram.message.received', `instagram:message:${IG_MID('Mw')}`]],
  'instagram-attachments.json': [['instagram.message.received', `instagram:message:${IG_MID('NA')}`]],
  'instagram-echo.json': [['instagram.message.echo', `instagram:echo:${IG_MID('NQ')}`]],
  'instagram-deleted.json': [['instagram.message.deleted', `instagram:deleted:${IG_MID('Mg')}`]],
  'instagram-reaction.json': [
    ['instagram.reaction.received', `instagram:reaction:${IG_MID('NQ')}:\u2764\ufe0f:1569262550000`],
  ],
  'instagram-postback.json': [['instagram.postback.received', `instagram:postback:${IG_MID('Ng')}`]],
  'instagram-seen.json': [['instagram.message.read', `instagram:read:${IG}:${IGSID}:${IG_MID('NQ')}`]],
  'instagram-referral.json': [
    ['instagram.referral.received', `instagram:referral:${contentHash(messagingItem('instagram-referral.json'))}`],
  ],
  'instagram-handover.json': [
    ['instagram.unknown', `instagram:unknown:${contentHash(messagingItem('instagram-handover.json'))}`],
  ],
  'instagram-messages-change.json': [['instagram.message.received', `instagram:message:${IG_MID('Nw')}`]],
  'instagram-comment.json': [['instagram.comment.received', 'instagram:comment:17865799348089039']],
  'instagram-comment-reply.json': [['instagram.comment.received', 'instagram:comment:17865799348089052']],
  'instagram-live-comment.json': [['instagram.comment.received', 'instagram:comment:17865799348089077']],
  'instagram-mention-comment.json': [
    ['instagram.mention.received', 'instagram:mention:17918195224117851:17894227972186120'],
  ],
  'instagram-mention-caption.json': [['instagram.mention.received', 'instagram:mention:17918195224117999:caption']],
  'instagram-story-insights.json': [['instagram.story.insights', 'instagram:story_insights:18023345989012587']],
  'unknown-object.json': [['unknown', `unknown:${contentHash(loadFixture('unknown-object.json'))}`]],
};

describe('fixtures', () => {
  it('every fixture has an expectation, and every expectation a fixture', () => {
    expect(Object.keys(expected).sort()).toEqual(fixtureNames());
  });

  it.each(Object.entries(expected))('%s parses into the expected types and dedup keys', (name, events) => {
    const parsed = parseMetaWebhook(loadFixture(name));
    expect(parsed.map((e) => [e.type, e.dedupKey])).toEqual(events);
  });

  it.each(fixtureNames())('%s: every event is complete and consistent', (name) => {
    for (const event of parseMetaWebhook(loadFixture(name))) {
      expect(event.type.startsWith(event.platform === 'unknown' ? 'unknown' : `${event.platform}.`)).toBe(true);
      expect(event.type.endsWith(event.kind)).toBe(true);
      expect(event.dedupKey.length).toBeGreaterThan(0);
      expect(new Date(event.occurredAt).toISOString()).toBe(event.occurredAt);
      expect(event.raw).toBeDefined();
      expect(JSON.parse(JSON.stringify(event.data))).toEqual(event.data);
      if (event.platform !== 'unknown') expect(event.channelId).toMatch(/^\d+$/);
    }
  });
});

describe('WhatsApp', () => {
  const one = (name: string) => {
    const [event, ...rest] = parseMetaWebhook(loadFixture(name));
    expect(rest).toHaveLength(0);
    return event!;
  };
  const valueOf = (name: string) => (changeItem(name) as { value: unknown }).value;

  it('a text message: channel, account, conversation, time and the value as raw', () => {
    const event = one('whatsapp-text.json');
    expect(event).toMatchObject({
      type: 'whatsapp.message.received',
      kind: 'message.received',
      platform: 'whatsapp',
      channelId: WA,
      businessAccountId: WABA,
      conversationKey: `${WA}:16505551234`,
      occurredAt: '2025-06-08T20:59:43.000Z',
      data: {
        messageId: 'wamid.HBgLMTY1MDM4Nzk0MzkVAgASGBQzQTRBNjU5OUFFRTAzODEwMTQ0RgA=',
        from: '16505551234',
        sender: { waId: '16505551234', name: 'Sheena Nelson' },
        messageType: 'text',
        text: 'Does it come in another color?',
      },
    });
    expect(event.raw).toEqual(valueOf('whatsapp-text.json'));
  });

  it('a reply carries its context; a product enquiry its referred product', () => {
    expect(one('whatsapp-text-reply.json').data).toMatchObject({
      context: { from: '15550783881', messageId: 'wamid.HBgLMTQxMjU1NTA4MjkVAgARGBI5QTNDQTVCM0Q0Q0Q2RTY3RTcA' },
    });
    expect(one('whatsapp-text-forwarded-product.json').data).toMatchObject({
      context: { referredProduct: { catalogId: '194836987003835', productRetailerId: 'di9ozbzfi4' } },
    });
  });

  it.each([
    ['whatsapp-image.json', { id: '1003383421387256', mimeType: 'image/jpeg', caption: 'Black jacket' }],
    ['whatsapp-audio.json', { id: '1215439133625870', mimeType: 'audio/ogg; codecs=opus', voice: true }],
    ['whatsapp-video.json', { id: '1166846181421424', mimeType: 'video/mp4', caption: 'How it fits' }],
    ['whatsapp-document.json', { id: '1039211441557397', filename: 'po-2025-114.pdf', caption: 'Purchase order' }],
    ['whatsapp-sticker.json', { id: '1402848150854224', mimeType: 'image/webp', animated: false }],
  ])('%s: media', (name, media) => {
    expect(one(name).data).toMatchObject({ media });
  });

  it('location, shared contacts, order', () => {
    expect(one('whatsapp-location.json').data).toMatchObject({
      location: { latitude: 37.483253, longitude: -122.148981, name: 'Meta Headquarters' },
    });
    expect(one('whatsapp-contacts.json').data).toMatchObject({
      contacts: [{ name: { formattedName: 'Barbara J. Johnson' }, phones: [{ waId: '14155550123' }] }],
    });
    expect(one('whatsapp-order.json').data).toMatchObject({
      order: {
        catalogId: '194836987003835',
        text: 'Love these!',
        items: [
          { productRetailerId: 'di9ozbzfi4', quantity: 2, itemPrice: 7.99, currency: 'USD' },
          { productRetailerId: 'nqryix03ez', quantity: 1, itemPrice: 19.5, currency: 'USD' },
        ],
      },
    });
  });

  it('interactive replies: button, list row, Flow (response parsed), and template quick-reply buttons', () => {
    expect(one('whatsapp-interactive-button-reply.json').data).toMatchObject({
      interactive: { type: 'button_reply', id: 'cancel-button', title: 'Cancel' },
    });
    expect(one('whatsapp-interactive-list-reply.json').data).toMatchObject({
      interactive: { type: 'list_reply', id: 'priority_express', description: 'Next Day to 2 Days' },
    });
    expect(one('whatsapp-interactive-nfm-reply.json').data).toMatchObject({
      interactive: {
        type: 'nfm_reply',
        name: 'flow',
        response: { flow_token: 'appointment-7f3a', date: '2025-03-14', time: '10:30' },
      },
      context: { messageId: 'gBGGEiRVVgBPAgm7FUgc73noXjo' },
    });
    expect(one('whatsapp-button.json').data).toMatchObject({ button: { payload: 'Unsubscribe', text: 'Unsubscribe' } });
  });

  it('a Click to WhatsApp ad referral', () => {
    expect(one('whatsapp-referral-ctwa.json').data).toMatchObject({
      referral: {
        sourceType: 'ad',
        sourceId: '120226305854810726',
        headline: 'Chat with us',
        ctwaClid: expect.stringMatching(/^Aff-/) as unknown,
        welcomeMessageText: 'Hi there! Let us know how we can help!',
      },
    });
  });

  it('unsupported and system messages', () => {
    expect(one('whatsapp-unsupported.json').data).toMatchObject({
      messageType: 'unsupported',
      unsupportedType: 'poll_update',
      errors: [{ code: 131051, title: 'Message type unknown', details: 'Message type is currently not supported.' }],
    });
    const system = one('whatsapp-system.json');
    expect(system.data).toMatchObject({ system: { type: 'user_changed_number', newWaId: '12195555358' } });
    expect(system.data).not.toHaveProperty('sender');
  });

  it('reactions: the emoji, and its removal', () => {
    expect(one('whatsapp-reaction.json').data).toEqual({
      messageId: 'wamid.HBgLMTY1MDUwNzY1MjAVAgASGBQzQUMzMDVCOUNBNjE0NjA5QzlDMQA=',
      from: '16505551234',
      sender: { waId: '16505551234', name: 'Sheena Nelson' },
      reactedMessageId: REACTED_WAMID,
      emoji: '👍',
      removed: false,
    });
    expect(one('whatsapp-reaction-removed.json').data).toMatchObject({ emoji: null, removed: true });
  });

  it('statuses: conversation and pricing; failures with their errors', () => {
    expect(one('whatsapp-status-sent.json').data).toEqual({
      messageId: STATUS_WAMID,
      status: 'sent',
      recipientId: '16505551234',
      conversation: {
        id: 'f5fdae3920125a39a1e6a23e5f877c16',
        expiresAt: '2025-06-19T16:23:00.000Z',
        originType: 'utility',
      },
      pricing: { billable: true, pricingModel: 'PMP', category: 'utility', type: 'regular' },
    });
    const failed = one('whatsapp-status-failed.json');
    expect(failed.conversationKey).toBe(`${WA}:16505551234`);
    expect(failed.data).toMatchObject({
      status: 'failed',
      errors: [
        {
          code: 131047,
          title: 'Re-engagement message',
          message: 'Re-engagement message',
          details: expect.stringContaining('more than 24 hours') as unknown,
          href: 'https://developers.facebook.com/docs/whatsapp/cloud-api/support/error-codes/',
        },
      ],
    });
  });

  it('value-level errors and template updates belong to the phone number and the account', () => {
    const error = one('whatsapp-errors.json');
    expect(error).toMatchObject({ channelId: WA, data: { errors: [{ code: 130429, title: 'Rate limit hit' }] } });
    expect(error).not.toHaveProperty('conversationKey');
    const template = one('whatsapp-template-rejected.json');
    expect(template).toMatchObject({
      channelId: WABA,
      businessAccountId: WABA,
      occurredAt: '2025-06-30T01:40:12.000Z',
      data: {
        templateId: '1689556908129835',
        templateName: 'abandoned_cart',
        event: 'REJECTED',
        reason: 'INVALID_FORMAT',
        category: 'MARKETING',
        rejectionInfo: { recommendation: expect.stringContaining('curly braces') as unknown },
      },
    });
    expect(template.raw).toEqual(valueOf('whatsapp-template-rejected.json'));
  });

  it('a value with several items gives each event the value narrowed to its own item and contact', () => {
    const [first, second, delivered] = parseMetaWebhook(loadFixture('whatsapp-batched.json'));
    expect(first!.raw).toMatchObject({
      contacts: [{ wa_id: '16505551234' }],
      messages: [{ from: '16505551234' }],
    });
    expect((first!.raw as { messages: unknown[] }).messages).toHaveLength(1);
    expect(second!.raw).toMatchObject({ contacts: [{ wa_id: '60173526233' }], messages: [{ from: '60173526233' }] });
    expect(second!.data).toMatchObject({ sender: { name: 'Lee Jen Ling' } });
    expect(delivered!.channelId).toBe('114896151713920');
    expect(delivered!.raw).toMatchObject({ statuses: [{ status: 'delivered' }] });
    expect((delivered!.raw as { statuses: unknown[] }).statuses).toHaveLength(1);
  });

  it('an unknown field keeps the whole change, field name included', () => {
    const event = one('whatsapp-quality-update.json');
    expect(event).toMatchObject({
      type: 'whatsapp.unknown',
      channelId: WABA,
      data: { reason: 'unrecognised field', field: 'phone_number_quality_update' },
    });
    expect(event.raw).toEqual(changeItem('whatsapp-quality-update.json'));
  });
});

describe('Messenger', () => {
  const one = (name: string) => parseMetaWebhook(loadFixture(name))[0]!;

  it('a text message with a quick reply; the messaging item is raw', () => {
    const event = one('messenger-text.json');
    expect(event).toMatchObject({
      channelId: PAGE,
      conversationKey: `${PAGE}:${PSID}`,
      occurredAt: '2016-03-23T00:25:52.478Z',
      data: { senderId: PSID, recipientId: PAGE, text: 'hello, world!', quickReplyPayload: 'SIZE_M' },
    });
    expect(event).not.toHaveProperty('businessAccountId');
    expect(event.raw).toEqual(messagingItem('messenger-text.json'));
  });

  it('replies and attachments', () => {
    expect(one('messenger-reply.json').data).toMatchObject({
      replyTo: { messageId: 'm_1fTq8oLumEyIp3Q2MR-aY7IfLZDamVrALniheU', isSelfReply: false },
    });
    expect(one('messenger-attachments.json').data).toMatchObject({
      attachments: [
        { type: 'image', url: 'https://scontent.xx.fbcdn.net/v/t1.15752-9/28166836_n.png' },
        { type: 'fallback', title: 'Our spring catalogue', url: expect.stringContaining('example.com') as unknown },
      ],
    });
  });

  it('an echo is keyed to the customer it was sent to', () => {
    expect(one('messenger-echo.json')).toMatchObject({
      conversationKey: `${PAGE}:${PSID}`,
      data: { senderId: PAGE, recipientId: PSID, appId: '1517776481860111', metadata: 'crm-reply-4711' },
    });
  });

  it('delivery and read watermarks', () => {
    expect(one('messenger-delivery.json')).toMatchObject({
      occurredAt: '2016-03-22T17:47:36.253Z',
      data: { watermark: '2016-03-22T17:47:36.253Z', messageIds: ['mid.1458668856218:ed81099e15d3f4f233'] },
    });
    expect(one('messenger-read.json').data).toMatchObject({ watermark: '2016-03-22T17:47:36.253Z' });
  });

  it('postbacks, also when they arrive as a change (chat plugin user_ref)', () => {
    expect(one('messenger-postback.json').data).toMatchObject({
      title: 'Get Started',
      payload: 'GET_STARTED',
      referral: { ref: 'spring-campaign', source: 'SHORTLINK', type: 'OPEN_THREAD' },
    });
    const change = one('messenger-postback-change.json');
    expect(change).toMatchObject({
      conversationKey: `${PAGE}:3a2c9d7e-chat-plugin`,
      occurredAt: '2018-05-27T22:23:44.000Z',
      data: { senderUserRef: '3a2c9d7e-chat-plugin', payload: 'TALK_TO_SALES' },
    });
    expect(change.raw).toEqual(changeItem('messenger-postback-change.json'));
  });

  it('reactions and their removal', () => {
    expect(one('messenger-reaction.json').data).toMatchObject({
      reactedMessageId: MESSENGER_ECHO_MID,
      action: 'react',
      emoji: '\u2764\ufe0f',
      reaction: 'love',
      removed: false,
    });
    expect(one('messenger-unreact.json').data).toMatchObject({ action: 'unreact', emoji: null, removed: true });
  });

  it('ad referrals and marketing-message opt-ins', () => {
    expect(one('messenger-referral-ad.json').data).toMatchObject({
      ref: 'summer-sale',
      source: 'ADS',
      adId: '23851416431150512',
      adsContextData: { adTitle: 'Summer sale: 30% off', postId: '682498302938465_4187301904893462' },
    });
    expect(one('messenger-optin.json').data).toMatchObject({
      type: 'notification_messages',
      payload: 'weekly-deals',
      notificationMessagesToken: '4561936450716320234',
      tokenExpiresAt: '2023-12-13T00:00:00.000Z',
    });
  });

  it('a page feed change is kept as messenger.unknown', () => {
    expect(one('messenger-feed-change.json')).toMatchObject({
      type: 'messenger.unknown',
      channelId: PAGE,
      data: { reason: 'unrecognised field', field: 'feed' },
      raw: changeItem('messenger-feed-change.json'),
    });
  });
});

describe('Instagram', () => {
  const one = (name: string) => parseMetaWebhook(loadFixture(name))[0]!;

  it('direct messages: text, story replies, attachments, echoes, deletions', () => {
    expect(one('instagram-text.json')).toMatchObject({
      channelId: IG,
      conversationKey: `${IG}:${IGSID}`,
      data: { senderId: IGSID, text: 'Hi! Do you have this in size 38?' },
    });
    expect(one('instagram-story-reply.json').data).toMatchObject({
      replyTo: { story: { id: '17952365939720562' } },
    });
    expect(one('instagram-attachments.json').data).toMatchObject({
      attachments: [
        { type: 'image' },
        { type: 'story_mention', url: expect.stringContaining('17894457032301258') as unknown },
      ],
    });
    expect(one('instagram-echo.json')).toMatchObject({ conversationKey: `${IG}:${IGSID}`, data: { senderId: IG } });
    expect(one('instagram-deleted.json').data).toEqual({ senderId: IGSID, recipientId: IG, messageId: IG_MID('Mg') });
  });

  it('reactions, postbacks, seen and referrals', () => {
    expect(one('instagram-reaction.json').data).toMatchObject({ reactedMessageId: IG_MID('NQ'), reaction: 'love' });
    expect(one('instagram-postback.json').data).toMatchObject({ payload: 'ICEBREAKER_TRACK_ORDER' });
    expect(one('instagram-seen.json').data).toMatchObject({ messageId: IG_MID('NQ') });
    expect(one('instagram-referral.json').data).toMatchObject({ ref: 'bio-link', type: 'OPEN_THREAD' });
  });

  it('a handover (pass_thread_control) is kept as instagram.unknown', () => {
    expect(one('instagram-handover.json')).toMatchObject({
      type: 'instagram.unknown',
      channelId: IG,
      occurredAt: '2019-09-23T18:16:40.000Z',
      data: { reason: 'unrecognised messaging event' },
      raw: messagingItem('instagram-handover.json'),
    });
  });

  it('the messages field in the changes envelope parses like a messaging item, with the change as raw', () => {
    const event = one('instagram-messages-change.json');
    expect(event).toMatchObject({ data: { text: 'Sent through the changes envelope' } });
    expect(event.raw).toEqual(changeItem('instagram-messages-change.json'));
  });

  it('comments, replies to comments, live comments', () => {
    expect(one('instagram-comment.json')).toMatchObject({
      channelId: IG,
      occurredAt: '2024-06-26T11:45:20.000Z',
      data: {
        commentId: '17865799348089039',
        text: 'Is the blue one back in stock?',
        from: { id: IGSID, username: 'jane.doe' },
        mediaId: '17887498072083520',
        mediaProductType: 'FEED',
        live: false,
      },
      raw: changeItem('instagram-comment.json'),
    });
    expect(one('instagram-comment-reply.json').data).toMatchObject({ parentId: '17865799348089039' });
    expect(one('instagram-live-comment.json').data).toMatchObject({ live: true });
  });

  it('mentions and story insights', () => {
    expect(one('instagram-mention-comment.json').data).toEqual({
      mediaId: '17918195224117851',
      commentId: '17894227972186120',
    });
    expect(one('instagram-mention-caption.json').data).toEqual({ mediaId: '17918195224117999' });
    expect(one('instagram-story-insights.json')).toMatchObject({
      occurredAt: '2019-01-17T01:04:03.000Z',
      data: { mediaId: '18023345989012587', impressions: 28, reach: 17, tapsForward: 12, tapsBack: 0, exits: 1 },
    });
  });
});
