/** Normalized `data` of the Messenger and Instagram messaging events (one envelope, two platforms). */

/** Who is on each side. For inbound events the sender is the customer; for echoes it is the page or account. */
export interface MessagingParties {
  /** PSID (Messenger) or IGSID (Instagram) of the customer, or the page/account id on echoes. */
  senderId?: string;
  /** The chat plugin's `user_ref`, when the sender has no PSID yet. */
  senderUserRef?: string;
  recipientId?: string;
  /** Delivered on the standby channel: another app controls the conversation (handover protocol). */
  standby?: boolean;
}

export interface MessagingAttachment {
  /** image, video, audio, file, fallback, template, share, story_mention, reel, ig_reel, … */
  type: string;
  url?: string;
  title?: string;
  /** The attachment's payload as Meta sent it (templates, products, stickers). */
  payload?: unknown;
}

/** How the person reached the conversation: an m.me / ig.me link, an ad, the chat plugin. */
export interface MessagingReferral {
  ref?: string;
  /** SHORTLINK, ADS, CUSTOMER_CHAT_PLUGIN, … */
  source?: string;
  /** OPEN_THREAD */
  type?: string;
  adId?: string;
  refererUri?: string;
  /** The ad's context (title, photo, post, product), Meta's structure with camelCase keys. */
  adsContextData?: unknown;
}

export interface MessagingReplyTo {
  /** The mid of the message replied to. */
  messageId?: string;
  isSelfReply?: boolean;
  /** Instagram: a reply to a story. */
  story?: { id?: string; url?: string };
}

/** `messenger.message.received`, `instagram.message.received` */
export interface MessagingMessageReceived extends MessagingParties {
  messageId: string;
  text?: string;
  quickReplyPayload?: string;
  attachments?: MessagingAttachment[];
  replyTo?: MessagingReplyTo;
  /** Ad or link the message came from (Instagram and ads). */
  referral?: MessagingReferral;
  stickerId?: string;
  /** Instagram: a message type the API cannot show (GIF, some stickers). */
  isUnsupported?: boolean;
}

/** `messenger.message.echo`, `instagram.message.echo`: a message the page or account sent. */
export interface MessagingMessageEcho extends MessagingMessageReceived {
  appId?: string;
  metadata?: string;
}

/** `instagram.message.deleted` */
export interface MessagingMessageDeleted extends MessagingParties {
  messageId: string;
}

/** `messenger.message.delivered` */
export interface MessagingMessageDelivered extends MessagingParties {
  /** Every message sent before this time was delivered. */
  watermark?: string;
  /** The mids delivered, when Meta lists them. */
  messageIds: string[];
}

/** `messenger.message.read`, `instagram.message.read` */
export interface MessagingMessageRead extends MessagingParties {
  /** Messenger: every message sent before or at this time was read. */
  watermark?: string;
  /** Instagram: the mid that was seen. */
  messageId?: string;
}

/** `messenger.postback.received`, `instagram.postback.received` */
export interface MessagingPostbackReceived extends MessagingParties {
  messageId?: string;
  title?: string;
  payload?: string;
  referral?: MessagingReferral;
}

/** `messenger.reaction.received`, `instagram.reaction.received` */
export interface MessagingReactionReceived extends MessagingParties {
  /** The mid of the message reacted to (a reaction has no id of its own). */
  reactedMessageId?: string;
  /** react or unreact */
  action: string;
  /** The emoji, or null when removed without one. */
  emoji: string | null;
  /** smile, angry, sad, wow, love, like, dislike, laugh, other */
  reaction?: string;
  removed: boolean;
}

/** `messenger.referral.received`, `instagram.referral.received` */
export interface MessagingReferralReceived extends MessagingParties, MessagingReferral {}

/** `messenger.optin.received` */
export interface MessagingOptinReceived extends MessagingParties {
  /** notification_messages, or absent for the Send to Messenger / checkbox plugins. */
  type?: string;
  ref?: string;
  userRef?: string;
  payload?: string;
  title?: string;
  notificationMessagesToken?: string;
  notificationMessagesFrequency?: string;
  notificationMessagesTimezone?: string;
  notificationMessagesStatus?: string;
  tokenExpiresAt?: string;
  userTokenStatus?: string;
}
