import type { InstagramCommentReceived, InstagramMentionReceived, InstagramStoryInsights } from './instagram/data.ts';
import type {
  MessagingMessageDeleted,
  MessagingMessageDelivered,
  MessagingMessageEcho,
  MessagingMessageRead,
  MessagingMessageReceived,
  MessagingOptinReceived,
  MessagingPostbackReceived,
  MessagingReactionReceived,
  MessagingReferralReceived,
} from './messaging/data.ts';
import type {
  WhatsAppErrorReported,
  WhatsAppMessageReceived,
  WhatsAppMessageStatus,
  WhatsAppReactionReceived,
  WhatsAppTemplateStatusUpdated,
} from './whatsapp/data.ts';

/** Every event type the parser can emit, `<platform>.<object>.<event>`. docs/events.md has a section for each. */
export const EVENT_TYPES = [
  'whatsapp.message.received',
  'whatsapp.reaction.received',
  'whatsapp.message.status',
  'whatsapp.template.status_updated',
  'whatsapp.error',
  'whatsapp.unknown',
  'messenger.message.received',
  'messenger.message.echo',
  'messenger.message.delivered',
  'messenger.message.read',
  'messenger.postback.received',
  'messenger.reaction.received',
  'messenger.referral.received',
  'messenger.optin.received',
  'messenger.unknown',
  'instagram.message.received',
  'instagram.message.echo',
  'instagram.message.deleted',
  'instagram.message.read',
  'instagram.postback.received',
  'instagram.reaction.received',
  'instagram.referral.received',
  'instagram.comment.received',
  'instagram.mention.received',
  'instagram.story.insights',
  'instagram.unknown',
  'unknown',
] as const;

export type EventType = (typeof EVENT_TYPES)[number];

export const PLATFORMS = ['whatsapp', 'messenger', 'instagram'] as const;
export type Platform = (typeof PLATFORMS)[number];

/** Why an event is `unknown`, and what Meta called the thing that was not recognised. */
export interface UnknownEventData {
  reason: string;
  object?: string;
  field?: string;
}

/** The normalized `data` of each event type. */
export interface EventDataByType {
  'whatsapp.message.received': WhatsAppMessageReceived;
  'whatsapp.reaction.received': WhatsAppReactionReceived;
  'whatsapp.message.status': WhatsAppMessageStatus;
  'whatsapp.template.status_updated': WhatsAppTemplateStatusUpdated;
  'whatsapp.error': WhatsAppErrorReported;
  'whatsapp.unknown': UnknownEventData;
  'messenger.message.received': MessagingMessageReceived;
  'messenger.message.echo': MessagingMessageEcho;
  'messenger.message.delivered': MessagingMessageDelivered;
  'messenger.message.read': MessagingMessageRead;
  'messenger.postback.received': MessagingPostbackReceived;
  'messenger.reaction.received': MessagingReactionReceived;
  'messenger.referral.received': MessagingReferralReceived;
  'messenger.optin.received': MessagingOptinReceived;
  'messenger.unknown': UnknownEventData;
  'instagram.message.received': MessagingMessageReceived;
  'instagram.message.echo': MessagingMessageEcho;
  'instagram.message.deleted': MessagingMessageDeleted;
  'instagram.message.read': MessagingMessageRead;
  'instagram.postback.received': MessagingPostbackReceived;
  'instagram.reaction.received': MessagingReactionReceived;
  'instagram.referral.received': MessagingReferralReceived;
  'instagram.comment.received': InstagramCommentReceived;
  'instagram.mention.received': InstagramMentionReceived;
  'instagram.story.insights': InstagramStoryInsights;
  'instagram.unknown': UnknownEventData;
  unknown: UnknownEventData;
}

interface EventEnvelope<T extends EventType> {
  type: T;
  /** The type without its platform (`message.received`), the same across platforms. */
  kind: string;
  platform: Platform | 'unknown';
  /** The channel the event belongs to: WhatsApp phone_number_id, Facebook Page id or Instagram account id; null when nothing in the body names one. */
  channelId: string | null;
  /** WhatsApp Business Account id (WhatsApp only). */
  businessAccountId?: string;
  /** Equal for every delivery of the same event by Meta, different for different events (DESIGN.md rule 1). */
  dedupKey: string;
  /** `<channelId>:<customer id>` (wa_id, PSID or IGSID), for ordering per conversation. */
  conversationKey?: string;
  /** When the event happened, per Meta (ISO 8601, UTC); the time of receipt when Meta gives none. */
  occurredAt: string;
  data: EventDataByType[T];
  /** Meta's own fragment, unchanged: a field the normalizer does not know yet is still here. */
  raw: unknown;
}

/** One normalized webhook event; narrow it by `type` to get the matching `data`. */
export type MetaWebhookEvent = { [T in EventType]: EventEnvelope<T> }[EventType];

/** The event of one type. */
export type MetaWebhookEventOf<T extends EventType> = Extract<MetaWebhookEvent, { type: T }>;
