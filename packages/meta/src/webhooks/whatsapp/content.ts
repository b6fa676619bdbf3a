import { bool, camelizeKeys, compact, items, num, record, text, isRecord, type JsonRecord } from '../json.ts';
import { toIsoTime } from '../timestamps.ts';
import type {
  WhatsAppAdReferral,
  WhatsAppContext,
  WhatsAppError,
  WhatsAppInteractiveReply,
  WhatsAppMedia,
  WhatsAppMessageReceived,
  WhatsAppOrder,
  WhatsAppSender,
  WhatsAppMessageStatus,
  WhatsAppTemplateStatusUpdated,
} from './data.ts';

/** Reads the content of WhatsApp's messages, statuses and template updates into normalized data. */

const MEDIA_TYPES = new Set(['image', 'audio', 'video', 'document', 'sticker']);

export function readErrors(value: unknown): WhatsAppError[] | undefined {
  const list = items(value).filter(isRecord);
  if (list.length === 0) return undefined;
  return list.map((e) =>
    compact({
      code: num(e.code),
      title: text(e.title),
      message: text(e.message),
      details: text(record(e.error_data)?.details),
      href: text(e.href),
    }),
  );
}

export function readSender(contact: JsonRecord | undefined): WhatsAppSender | undefined {
  const waId = text(contact?.wa_id);
  if (waId === undefined) return undefined;
  return compact({ waId, name: text(record(contact?.profile)?.name) });
}

function readMedia(value: unknown): WhatsAppMedia | undefined {
  const m = record(value);
  if (m === undefined) return undefined;
  return compact({
    id: text(m.id),
    mimeType: text(m.mime_type),
    sha256: text(m.sha256),
    url: text(m.url),
    caption: text(m.caption),
    filename: text(m.filename),
    voice: bool(m.voice),
    animated: bool(m.animated),
  });
}

function parseJsonText(value: string): unknown {
  try {
    return JSON.parse(value) as unknown;
  } catch {
    return undefined;
  }
}

function readInteractive(value: unknown): WhatsAppInteractiveReply | undefined {
  const i = record(value);
  if (i === undefined) return undefined;
  const type = text(i.type) ?? 'unknown';
  const reply = record(i[type]) ?? {};
  const responseJson = text(reply.response_json);
  return compact({
    type,
    id: text(reply.id),
    title: text(reply.title),
    description: text(reply.description),
    name: text(reply.name),
    body: text(reply.body),
    response: responseJson === undefined ? undefined : parseJsonText(responseJson),
    responseJson,
  });
}

function readOrder(value: unknown): WhatsAppOrder | undefined {
  const o = record(value);
  if (o === undefined) return undefined;
  return compact({
    catalogId: text(o.catalog_id),
    text: text(o.text),
    items: items(o.product_items)
      .filter(isRecord)
      .map((p) =>
        compact({
          productRetailerId: text(p.product_retailer_id),
          quantity: num(p.quantity),
          itemPrice: num(p.item_price),
          currency: text(p.currency),
        }),
      ),
  });
}

function readAdReferral(value: unknown): WhatsAppAdReferral | undefined {
  const r = record(value);
  if (r === undefined) return undefined;
  return compact({
    sourceUrl: text(r.source_url),
    sourceId: text(r.source_id),
    sourceType: text(r.source_type),
    headline: text(r.headline),
    body: text(r.body),
    mediaType: text(r.media_type),
    imageUrl: text(r.image_url),
    videoUrl: text(r.video_url),
    thumbnailUrl: text(r.thumbnail_url),
    ctwaClid: text(r.ctwa_clid),
    welcomeMessageText: text(record(r.welcome_message)?.text),
  });
}

function readContext(value: unknown): WhatsAppContext | undefined {
  const c = record(value);
  if (c === undefined) return undefined;
  const product = record(c.referred_product);
  return compact({
    from: text(c.from),
    messageId: text(c.id),
    forwarded: bool(c.forwarded),
    frequentlyForwarded: bool(c.frequently_forwarded),
    referredProduct:
      product === undefined
        ? undefined
        : compact({ catalogId: text(product.catalog_id), productRetailerId: text(product.product_retailer_id) }),
  });
}

/** The normalized content of an inbound message; `messageId` and `from` are checked by the caller. */
export function readInboundMessage(
  message: JsonRecord,
  ids: { messageId: string; from: string },
  sender: WhatsAppSender | undefined,
): WhatsAppMessageReceived {
  const messageType = text(message.type) ?? 'unknown';
  const system = record(message.system);
  const contacts = items(message.contacts);
  return compact({
    messageId: ids.messageId,
    from: ids.from,
    sender,
    messageType,
    text: text(record(message.text)?.body),
    media: MEDIA_TYPES.has(messageType) ? readMedia(message[messageType]) : undefined,
    location:
      messageType === 'location' && isRecord(message.location)
        ? compact({
            latitude: num(message.location.latitude),
            longitude: num(message.location.longitude),
            name: text(message.location.name),
            address: text(message.location.address),
            url: text(message.location.url),
          })
        : undefined,
    contacts: contacts.length > 0 ? contacts.map(camelizeKeys) : undefined,
    interactive: readInteractive(message.interactive),
    button: isRecord(message.button)
      ? compact({ payload: text(message.button.payload), text: text(message.button.text) })
      : undefined,
    order: readOrder(message.order),
    system:
      system === undefined
        ? undefined
        : compact({
            type: text(system.type),
            body: text(system.body),
            newWaId: text(system.wa_id ?? system.new_wa_id),
          }),
    unsupportedType: text(record(message.unsupported)?.type),
    referral: readAdReferral(message.referral),
    context: readContext(message.context),
    errors: readErrors(message.errors),
  });
}

export function readStatus(status: JsonRecord, ids: { messageId: string; status: string }): WhatsAppMessageStatus {
  const conversation = record(status.conversation);
  const pricing = record(status.pricing);
  return compact({
    messageId: ids.messageId,
    status: ids.status,
    recipientId: text(status.recipient_id),
    recipientType: text(status.recipient_type),
    recipientParticipantId: text(status.recipient_participant_id),
    conversation:
      conversation === undefined
        ? undefined
        : compact({
            id: text(conversation.id),
            expiresAt: toIsoTime(conversation.expiration_timestamp),
            originType: text(record(conversation.origin)?.type),
          }),
    pricing:
      pricing === undefined
        ? undefined
        : compact({
            billable: bool(pricing.billable),
            pricingModel: text(pricing.pricing_model),
            category: text(pricing.category),
            type: text(pricing.type),
          }),
    bizOpaqueCallbackData: text(status.biz_opaque_callback_data),
    errors: readErrors(status.errors),
  });
}

export function readTemplateStatus(value: JsonRecord): WhatsAppTemplateStatusUpdated {
  const other = record(value.other_info);
  const rejection = record(value.rejection_info);
  return compact({
    templateId: text(value.message_template_id),
    templateName: text(value.message_template_name),
    language: text(value.message_template_language),
    event: text(value.event),
    reason: value.reason === null ? null : text(value.reason),
    category: text(value.message_template_category),
    disabledAt: toIsoTime(record(value.disable_info)?.disable_date),
    otherInfo:
      other === undefined ? undefined : compact({ title: text(other.title), description: text(other.description) }),
    rejectionInfo:
      rejection === undefined
        ? undefined
        : compact({ reason: text(rejection.reason), recommendation: text(rejection.recommendation) }),
  });
}
