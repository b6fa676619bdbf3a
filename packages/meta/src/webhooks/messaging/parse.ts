import { buildEvent, conversationKeyOf, type ParseContext } from '../build-event.ts';
import { contentHash, dedupKey } from '../dedup.ts';
import type { MetaWebhookEvent } from '../events.ts';
import { bool, isRecord, items, nonEmpty, record, text, type JsonRecord } from '../json.ts';
import { toIsoTime } from '../timestamps.ts';
import { unknownEvent } from '../unknown.ts';
import { readMessageContent, readOptin, readParties, readReferral } from './content.ts';

/**
 * The messaging envelope that Messenger (`object: page`) and Instagram (`object: instagram`) share:
 * entry[].messaging[] items of `{ sender, recipient, timestamp, <event> }`. The same item shape also
 * arrives as the `value` of an entry[].changes[] item (Meta's test notifications, and Instagram's
 * `messages` field), so the caller passes the fragment to keep as `raw`.
 */
export type MessagingPlatform = 'messenger' | 'instagram';

export interface MessagingScope {
  platform: MessagingPlatform;
  /** entry.id: the Page id or the Instagram account id. */
  channelId: string | undefined;
  /** entry.time, the fallback when the item has no timestamp. */
  time: unknown;
  /** The item came in `standby[]`: another app controls the conversation. */
  standby: boolean;
}

/** Does a value look like a messaging item, whichever envelope carried it? */
export const isMessagingItem = (value: unknown): value is JsonRecord =>
  isRecord(value) &&
  (isRecord(value.sender) || isRecord(value.recipient)) &&
  ['message', 'delivery', 'read', 'reaction', 'postback', 'referral', 'optin'].some((key) => isRecord(value[key]));

export function parseMessagingItem(
  item: unknown,
  raw: unknown,
  scope: MessagingScope,
  ctx: ParseContext,
): MetaWebhookEvent {
  const { platform } = scope;
  if (!isRecord(item)) {
    return unknownEvent(platform, raw, { reason: 'messaging item is not an object', channelId: scope.channelId }, ctx);
  }
  const parties = readParties(item, scope.standby);
  const message = record(item.message);
  const isEcho = message !== undefined && bool(message.is_echo) === true;
  // Echoes go from the page (sender) to the customer (recipient); everything else the other way.
  const channelId = scope.channelId ?? (isEcho ? parties.senderId : parties.recipientId) ?? null;
  const customerId = isEcho ? parties.recipientId : (parties.senderId ?? parties.senderUserRef);
  const common = {
    channelId,
    conversationKey: conversationKeyOf(channelId, customerId),
    times: [item.timestamp, scope.time],
    raw,
  };
  const unknown = (reason: string) => unknownEvent(platform, raw, { reason, channelId, times: common.times }, ctx);

  if (message !== undefined) {
    const messageId = text(message.mid);
    if (messageId === undefined) return unknown('message without mid');
    if (platform === 'instagram' && bool(message.is_deleted) === true) {
      return buildEvent(
        'instagram.message.deleted',
        { ...common, dedupKey: dedupKey(platform, 'deleted', messageId), data: { ...parties, messageId } },
        ctx,
      );
    }
    const content = readMessageContent(message);
    if (isEcho) {
      const appId = text(message.app_id);
      const metadata = text(message.metadata);
      return buildEvent(
        `${platform}.message.echo`,
        {
          ...common,
          dedupKey: dedupKey(platform, 'echo', messageId),
          data: {
            ...parties,
            messageId,
            ...content,
            ...(appId === undefined ? {} : { appId }),
            ...(metadata === undefined ? {} : { metadata }),
          },
        },
        ctx,
      );
    }
    return buildEvent(
      `${platform}.message.received`,
      { ...common, dedupKey: dedupKey(platform, 'message', messageId), data: { ...parties, messageId, ...content } },
      ctx,
    );
  }

  const delivery = record(item.delivery);
  if (delivery !== undefined && platform === 'messenger') {
    const watermark = text(delivery.watermark);
    const watermarkTime = toIsoTime(delivery.watermark);
    return buildEvent(
      'messenger.message.delivered',
      {
        ...common,
        // Deliveries have no id: the page, the customer and the watermark identify one.
        dedupKey: dedupKey(platform, 'delivery', channelId ?? '', customerId ?? '', watermark ?? contentHash(item)),
        times: [item.timestamp, delivery.watermark, scope.time],
        data: {
          ...parties,
          ...(watermarkTime === undefined ? {} : { watermark: watermarkTime }),
          messageIds: items(delivery.mids).flatMap((mid) => text(mid) ?? []),
        },
      },
      ctx,
    );
  }

  const read = record(item.read);
  if (read !== undefined) {
    const watermark = text(read.watermark);
    const watermarkTime = toIsoTime(read.watermark);
    const messageId = text(read.mid);
    return buildEvent(
      `${platform}.message.read`,
      {
        ...common,
        // Messenger reads carry a watermark, Instagram's the mid seen; neither has an id of its own.
        dedupKey: dedupKey(
          platform,
          'read',
          channelId ?? '',
          customerId ?? '',
          watermark ?? messageId ?? contentHash(item),
        ),
        times: [item.timestamp, read.watermark, scope.time],
        data: {
          ...parties,
          ...(watermarkTime === undefined ? {} : { watermark: watermarkTime }),
          ...(messageId === undefined ? {} : { messageId }),
        },
      },
      ctx,
    );
  }

  const reaction = record(item.reaction);
  if (reaction !== undefined) {
    const reactedMessageId = text(reaction.mid);
    const action = text(reaction.action) ?? 'react';
    const removed = action === 'unreact';
    const emoji = nonEmpty(reaction.emoji) ?? null;
    const kind = text(reaction.reaction);
    return buildEvent(
      `${platform}.reaction.received`,
      {
        ...common,
        // The mid is the message reacted to, shared by react, unreact and react again: the emoji
        // (or its removal) and the time tell them apart.
        dedupKey: dedupKey(
          platform,
          'reaction',
          reactedMessageId ?? '',
          removed ? 'removed' : (emoji ?? kind ?? ''),
          text(item.timestamp) ?? contentHash(item),
        ),
        data: {
          ...parties,
          ...(reactedMessageId === undefined ? {} : { reactedMessageId }),
          action,
          emoji,
          ...(kind === undefined ? {} : { reaction: kind }),
          removed,
        },
      },
      ctx,
    );
  }

  const postback = record(item.postback);
  if (postback !== undefined) {
    const messageId = text(postback.mid);
    const title = text(postback.title);
    const payload = text(postback.payload);
    const referral = readReferral(postback.referral);
    return buildEvent(
      `${platform}.postback.received`,
      {
        ...common,
        // Postbacks carry a mid since Graph API v11; older ones are keyed by their content.
        dedupKey: dedupKey(platform, 'postback', messageId ?? contentHash(item)),
        data: {
          ...parties,
          ...(messageId === undefined ? {} : { messageId }),
          ...(title === undefined ? {} : { title }),
          ...(payload === undefined ? {} : { payload }),
          ...(referral === undefined ? {} : { referral }),
        },
      },
      ctx,
    );
  }

  const referral = readReferral(item.referral);
  if (referral !== undefined) {
    return buildEvent(
      `${platform}.referral.received`,
      { ...common, dedupKey: dedupKey(platform, 'referral', contentHash(item)), data: { ...parties, ...referral } },
      ctx,
    );
  }

  const optin = record(item.optin);
  if (optin !== undefined && platform === 'messenger') {
    return buildEvent(
      'messenger.optin.received',
      {
        ...common,
        dedupKey: dedupKey(platform, 'optin', contentHash(item)),
        data: { ...parties, ...readOptin(optin) },
      },
      ctx,
    );
  }

  return unknown('unrecognised messaging event');
}
