/** Normalized `data` of the WhatsApp Cloud API events. Absent Meta fields are absent here too. */

/** The sender's profile, from the `contacts` array beside the message. */
export interface WhatsAppSender {
  waId: string;
  name?: string;
}

/** An error as WhatsApp reports it on a failed status, an unsupported message or a whole value. */
export interface WhatsAppError {
  code?: number;
  title?: string;
  message?: string;
  details?: string;
  href?: string;
}

/** An image, audio, video, document or sticker; the file itself is fetched by its `id`. */
export interface WhatsAppMedia {
  id?: string;
  mimeType?: string;
  sha256?: string;
  url?: string;
  caption?: string;
  filename?: string;
  /** Audio recorded as a voice note. */
  voice?: boolean;
  /** An animated sticker. */
  animated?: boolean;
}

export interface WhatsAppLocation {
  latitude?: number;
  longitude?: number;
  name?: string;
  address?: string;
  url?: string;
}

/** A reply to an interactive message: a reply button, a list row, or a completed Flow (`nfm_reply`). */
export interface WhatsAppInteractiveReply {
  type: string;
  /** Button or row id (`button_reply`, `list_reply`). */
  id?: string;
  title?: string;
  description?: string;
  /** Flow replies: the name (`flow`), the body (`Sent`) and the Flow's response. */
  name?: string;
  body?: string;
  /** `response_json` parsed, when it is valid JSON. */
  response?: unknown;
  /** `response_json` as Meta sent it. */
  responseJson?: string;
}

/** A tap on a template's quick-reply button. */
export interface WhatsAppButtonReply {
  payload?: string;
  text?: string;
}

export interface WhatsAppOrderItem {
  productRetailerId?: string;
  quantity?: number;
  itemPrice?: number;
  currency?: string;
}

export interface WhatsAppOrder {
  catalogId?: string;
  text?: string;
  items: WhatsAppOrderItem[];
}

/** The Click to WhatsApp ad the conversation came from (first message after the click only). */
export interface WhatsAppAdReferral {
  sourceUrl?: string;
  sourceId?: string;
  sourceType?: string;
  headline?: string;
  body?: string;
  mediaType?: string;
  imageUrl?: string;
  videoUrl?: string;
  thumbnailUrl?: string;
  ctwaClid?: string;
  welcomeMessageText?: string;
}

/** What a message answers or how it arrived: a reply, a forward, a product enquiry. */
export interface WhatsAppContext {
  /** The number that sent the message replied to (the business's display number for replies to it). */
  from?: string;
  /** The wamid of the message replied to. */
  messageId?: string;
  forwarded?: boolean;
  frequentlyForwarded?: boolean;
  referredProduct?: { catalogId?: string; productRetailerId?: string };
}

export interface WhatsAppSystemNotice {
  type?: string;
  body?: string;
  /** `user_changed_number`: the user's new WhatsApp id. */
  newWaId?: string;
}

/** `whatsapp.message.received` */
export interface WhatsAppMessageReceived {
  messageId: string;
  from: string;
  sender?: WhatsAppSender;
  /** Meta's message type: text, image, audio, video, document, sticker, location, contacts, interactive, button, order, system, unsupported, or a newer one. */
  messageType: string;
  text?: string;
  media?: WhatsAppMedia;
  location?: WhatsAppLocation;
  /** Shared contact cards, Meta's structure with camelCase keys. */
  contacts?: unknown[];
  interactive?: WhatsAppInteractiveReply;
  button?: WhatsAppButtonReply;
  order?: WhatsAppOrder;
  system?: WhatsAppSystemNotice;
  /** `unsupported` messages: the kind of message Cloud API could not deliver. */
  unsupportedType?: string;
  referral?: WhatsAppAdReferral;
  context?: WhatsAppContext;
  errors?: WhatsAppError[];
}

/** `whatsapp.reaction.received` */
export interface WhatsAppReactionReceived {
  /** The reaction's own wamid. */
  messageId: string;
  from: string;
  sender?: WhatsAppSender;
  /** The wamid of the message reacted to. */
  reactedMessageId?: string;
  /** The emoji, or null when the reaction was removed. */
  emoji: string | null;
  removed: boolean;
}

/** `whatsapp.message.status` */
export interface WhatsAppMessageStatus {
  /** The wamid of the business's outbound message. */
  messageId: string;
  /** sent, delivered, read, failed (and any newer status Meta adds). */
  status: string;
  recipientId?: string;
  recipientType?: string;
  recipientParticipantId?: string;
  conversation?: { id?: string; expiresAt?: string; originType?: string };
  pricing?: { billable?: boolean; pricingModel?: string; category?: string; type?: string };
  bizOpaqueCallbackData?: string;
  errors?: WhatsAppError[];
}

/** `whatsapp.template.status_updated` */
export interface WhatsAppTemplateStatusUpdated {
  templateId?: string;
  templateName?: string;
  language?: string;
  /** APPROVED, REJECTED, PENDING, PAUSED, DISABLED, FLAGGED, … */
  event?: string;
  /** Rejection reason; null when the template is scheduled for deletion. */
  reason?: string | null;
  category?: string;
  disabledAt?: string;
  otherInfo?: { title?: string; description?: string };
  rejectionInfo?: { reason?: string; recommendation?: string };
}

/** `whatsapp.error` */
export interface WhatsAppErrorReported {
  errors: WhatsAppError[];
}
