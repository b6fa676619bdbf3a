import { bool, camelizeKeys, compact, isRecord, items, record, text, type JsonRecord } from '../json.ts';
import { toIsoTime } from '../timestamps.ts';
import type {
  MessagingAttachment,
  MessagingOptinReceived,
  MessagingParties,
  MessagingReferral,
  MessagingReplyTo,
} from './data.ts';

/** Reads the parts of a Messenger / Instagram `messaging[]` item into normalized data. */

export function readParties(item: JsonRecord, standby: boolean): MessagingParties {
  const sender = record(item.sender);
  return compact({
    senderId: text(sender?.id),
    senderUserRef: text(sender?.user_ref),
    recipientId: text(record(item.recipient)?.id),
    standby: standby ? true : undefined,
  });
}

export function readReferral(value: unknown): MessagingReferral | undefined {
  const r = record(value);
  if (r === undefined) return undefined;
  return compact({
    ref: text(r.ref),
    source: text(r.source),
    type: text(r.type),
    adId: text(r.ad_id),
    refererUri: text(r.referer_uri),
    adsContextData: isRecord(r.ads_context_data) ? camelizeKeys(r.ads_context_data) : undefined,
  });
}

function readAttachments(value: unknown): MessagingAttachment[] | undefined {
  const list = items(value).filter(isRecord);
  if (list.length === 0) return undefined;
  return list.map((a) =>
    compact({
      type: text(a.type) ?? 'unknown',
      url: text(record(a.payload)?.url) ?? text(a.url),
      title: text(a.title),
      payload: a.payload,
    }),
  );
}

function readReplyTo(value: unknown): MessagingReplyTo | undefined {
  const r = record(value);
  if (r === undefined) return undefined;
  const story = record(r.story);
  return compact({
    messageId: text(r.mid),
    isSelfReply: bool(r.is_self_reply),
    story: story === undefined ? undefined : compact({ id: text(story.id), url: text(story.url) }),
  });
}

/** The content of a `message` object, shared by received messages and echoes. */
export function readMessageContent(message: JsonRecord) {
  return compact({
    text: text(message.text),
    quickReplyPayload: text(record(message.quick_reply)?.payload),
    attachments: readAttachments(message.attachments),
    replyTo: readReplyTo(message.reply_to),
    referral: readReferral(message.referral),
    stickerId: text(message.sticker_id),
    isUnsupported: bool(message.is_unsupported),
  });
}

export function readOptin(optin: JsonRecord): Omit<MessagingOptinReceived, keyof MessagingParties> {
  return compact({
    type: text(optin.type),
    ref: text(optin.ref),
    userRef: text(optin.user_ref),
    payload: text(optin.payload),
    title: text(optin.title),
    notificationMessagesToken: text(optin.notification_messages_token),
    notificationMessagesFrequency: text(optin.notification_messages_frequency),
    notificationMessagesTimezone: text(optin.notification_messages_timezone),
    notificationMessagesStatus: text(optin.notification_messages_status),
    tokenExpiresAt: toIsoTime(optin.token_expiry_timestamp),
    userTokenStatus: text(optin.user_token_status),
  });
}
