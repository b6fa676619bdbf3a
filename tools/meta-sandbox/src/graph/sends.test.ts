import { describe, expect, it } from 'vitest';
import { parseMetaWebhook } from '@mic/meta';
import { PairBuckets, SendWindow, maxInAnySecond, parseSendBody, perSecond, type GraphSend } from './sends.ts';
import { statusWebhookBody } from './statuses.ts';

describe('send rate arithmetic', () => {
  it('refuses the send that would make `cap` in the last 1,000 ms, and frees the slot a second later', () => {
    const window = new SendWindow();
    const tryAcquire = (t: number) => {
      if (window.isFull(t, 3)) return false;
      window.add(t);
      return true;
    };
    expect([0, 100, 200].map(tryAcquire)).toEqual([true, true, true]);
    expect(tryAcquire(999)).toBe(false);
    expect(tryAcquire(1000)).toBe(true);
    expect(tryAcquire(1050)).toBe(false);
    expect(tryAcquire(1100)).toBe(true);
  });

  it('measures the most sends in any sliding second, and counts per wall-clock second', () => {
    expect(maxInAnySecond([])).toBe(0);
    // Three in [500, 1500) though no wall-clock second holds more than two.
    const times = [0, 500, 900, 1400, 2600];
    expect(maxInAnySecond(times)).toBe(3);
    expect(maxInAnySecond([0, 1000, 2000])).toBe(1);
    expect(perSecond(times.map((t) => t + 1_764_136_800_000))).toEqual([
      { second: '2025-11-26T06:00:00Z', count: 3 },
      { second: '2025-11-26T06:00:01Z', count: 1 },
      { second: '2025-11-26T06:00:02Z', count: 1 },
    ]);
  });

  it('lets a burst through to one recipient, then one per interval', () => {
    const pairs = new PairBuckets();
    const rate = { burst: 2, intervalMs: 1000 };
    expect([pairs.tryTake('a', 0, rate), pairs.tryTake('a', 0, rate), pairs.tryTake('a', 10, rate)]).toEqual([
      true,
      true,
      false,
    ]);
    expect(pairs.tryTake('b', 10, rate)).toBe(true);
    expect(pairs.tryTake('a', 500, rate)).toBe(false);
    expect(pairs.tryTake('a', 1000, rate)).toBe(true);
    expect(pairs.tryTake('a', 1100, rate)).toBe(false);
  });
});

describe('parseSendBody', () => {
  it('reads the recipient and type of each platform, and refuses what Meta refuses', () => {
    expect(
      parseSendBody('whatsapp', { messaging_product: 'whatsapp', to: '1', type: 'image', image: { id: '2' } }),
    ).toEqual({ kind: 'message', recipient: '1', type: 'image' });
    expect(parseSendBody('whatsapp', { messaging_product: 'whatsapp', status: 'read', message_id: 'w' })).toEqual({
      kind: 'mark-as-read',
      messageId: 'w',
    });
    expect(parseSendBody('whatsapp', { to: '1', type: 'text', text: {} })).toMatchObject({ kind: 'invalid' });
    expect(parseSendBody('whatsapp', { messaging_product: 'whatsapp', to: '1', type: 'text' })).toEqual({
      kind: 'invalid',
      message: '(#100) The parameter text is required.',
    });
    expect(parseSendBody('messenger', { recipient: { id: '9' }, message: { attachment: {} } })).toEqual({
      kind: 'message',
      recipient: '9',
      type: 'attachment',
    });
    expect(parseSendBody('instagram', { recipient: { id: '9' } })).toMatchObject({ kind: 'invalid' });
  });
});

describe('status webhook bodies', () => {
  const send = (platform: GraphSend['platform'], objectId: string, recipient: string): GraphSend => ({
    at: '2026-11-26T06:00:00.000Z',
    atMs: 0,
    objectId,
    platform,
    recipient,
    type: 'text',
    messageId: platform === 'whatsapp' ? 'wamid.TEST' : 'm_TEST',
    body: {},
  });
  const at = new Date('2026-11-26T06:00:00Z');

  it('are what the engine parses as statuses of that very message', () => {
    const wa = send('whatsapp', '106540352242922', '+16505551234');
    for (const status of ['sent', 'delivered', 'read'] as const) {
      const [event] = parseMetaWebhook(statusWebhookBody(wa, status, { at }));
      expect(event).toMatchObject({
        type: 'whatsapp.message.status',
        channelId: '106540352242922',
        data: { messageId: 'wamid.TEST', status, recipientId: '16505551234' },
      });
    }
    const [failed] = parseMetaWebhook(
      statusWebhookBody(wa, 'failed', { at, failure: { code: 131047, title: 'Re-engagement message' } }),
    );
    expect(failed).toMatchObject({
      type: 'whatsapp.message.status',
      data: { status: 'failed', errors: [expect.objectContaining({ code: 131047, title: 'Re-engagement message' })] },
    });

    const messenger = send('messenger', '682498302938465', '6945793142124621');
    expect(statusWebhookBody(messenger, 'sent')).toBeNull();
    expect(statusWebhookBody(messenger, 'failed')).toBeNull();
    expect(parseMetaWebhook(statusWebhookBody(messenger, 'delivered', { at }))).toMatchObject([
      { type: 'messenger.message.delivered', data: { messageIds: ['m_TEST'] } },
    ]);
    expect(parseMetaWebhook(statusWebhookBody(messenger, 'read', { at }))).toMatchObject([
      { type: 'messenger.message.read' },
    ]);

    const instagram = send('instagram', '17841405822304914', '1254459154682919');
    expect(statusWebhookBody(instagram, 'delivered')).toBeNull();
    expect(parseMetaWebhook(statusWebhookBody(instagram, 'read', { at }))).toMatchObject([
      { type: 'instagram.message.read', data: { messageId: 'm_TEST' } },
    ]);
  });
});
