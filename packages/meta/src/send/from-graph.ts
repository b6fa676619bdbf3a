import {
  validateSendRequest,
  type ChannelPlatform,
  type SendMessageRequest,
  type SendFieldError,
} from '@mic/contracts';

/**
 * A Graph API send body, as Meta documents it, read into the Send API's request: the inverse of
 * `toGraphRequest`, so a client written for Meta's API gets the same checks as `POST /v1/messages`.
 * Only the fields the contract knows are read; the caller sends Meta's body as it came.
 */
export type FromGraphResult = { ok: true; request: SendMessageRequest } | { ok: false; errors: SendFieldError[] };

type Json = Record<string, unknown>;

const isObject = (value: unknown): value is Json =>
  typeof value === 'object' && value !== null && !Array.isArray(value);

/** `preview_url` → `previewUrl`, `amount_1000` → `amount1000`. */
const camelKey = (key: string) => key.replace(/_([a-z0-9])/g, (_, c: string) => c.toUpperCase());

function camel(value: unknown): unknown {
  if (Array.isArray(value)) return value.map(camel);
  if (isObject(value)) return Object.fromEntries(Object.entries(value).map(([k, v]) => [camelKey(k), camel(v)]));
  return value;
}

/** A contract field path (`message.text.body`) as Meta names it (`text.body`). */
export function graphFieldOf(field: string): string {
  return field
    .replace(/^message\.(?:markAsRead\.)?/, '')
    .replace(/^replyTo$/, 'context.message_id')
    .replace(/[A-Z]/g, (c) => `_${c.toLowerCase()}`);
}

function templateComponent(component: unknown): unknown {
  if (!isObject(component)) return component;
  const { type, sub_type: subType, index, parameters } = component;
  if (type === 'button') {
    const asNumber = typeof index === 'string' && /^\d+$/.test(index) ? Number(index) : index;
    return { type, subType, index: asNumber, parameters: camel(parameters) };
  }
  return { type, parameters: camel(parameters) };
}

function whatsappMessage(body: Json): Json {
  const type = body.type;
  if (body.status === 'read' && type === undefined) {
    return { type: 'mark_as_read', markAsRead: { messageId: body.message_id } };
  }
  if (typeof type !== 'string') return { type };
  const content = body[type];
  if (type === 'template' && isObject(content)) {
    const { name, language, components } = content;
    return {
      type,
      template: {
        name,
        language: isObject(language) ? { code: language.code } : language,
        ...(Array.isArray(components) ? { components: components.map(templateComponent) } : {}),
      },
    };
  }
  if (type === 'interactive' && isObject(content) && content.type === 'button' && isObject(content.action)) {
    const buttons = Array.isArray(content.action.buttons)
      ? content.action.buttons.map((b: unknown) => (isObject(b) ? camel(b.reply) : b))
      : content.action.buttons;
    return { type, interactive: { ...(camel(content) as Json), action: { buttons } } };
  }
  return { type, [type]: camel(content) };
}

function messagingMessage(body: Json): Json {
  const message = isObject(body.message) ? body.message : {};
  const attachment = isObject(message.attachment) ? message.attachment : undefined;
  const payload = attachment && isObject(attachment.payload) ? attachment.payload : {};
  const quickReplies = Array.isArray(message.quick_replies)
    ? message.quick_replies.map((r: unknown) =>
        isObject(r)
          ? { title: r.title, payload: r.payload, ...(r.image_url === undefined ? {} : { imageUrl: r.image_url }) }
          : r,
      )
    : undefined;
  const tag = body.tag;
  // The default `toGraphRequest` derives (RESPONSE, or MESSAGE_TAG with a tag) is left implicit.
  const derived = tag === undefined ? 'RESPONSE' : 'MESSAGE_TAG';
  const messagingType = body.messaging_type === derived ? undefined : body.messaging_type;
  return {
    ...(attachment
      ? {
          type: 'attachment',
          attachment: {
            type: attachment.type,
            url: payload.url,
            ...(payload.is_reusable === undefined ? {} : { isReusable: payload.is_reusable }),
          },
        }
      : { type: 'text', text: { body: message.text } }),
    ...(quickReplies ? { quickReplies } : {}),
    ...(messagingType === undefined ? {} : { messagingType }),
    ...(tag === undefined ? {} : { tag }),
  };
}

/**
 * Reads `body` (a Graph send body) for `channel`. WhatsApp's mark-as-read names no recipient:
 * `markAsReadRecipient` stands in (the customer whose message it is, when known).
 */
export function fromGraphRequest(
  channel: { kind: ChannelPlatform; id: string },
  body: unknown,
  options: { markAsReadRecipient?: string } = {},
): FromGraphResult {
  if (!isObject(body)) return { ok: false, errors: [{ field: '', message: 'must be a JSON object' }] };
  let request: Json;
  if (channel.kind === 'whatsapp') {
    const message = whatsappMessage(body);
    const context = isObject(body.context) ? body.context.message_id : undefined;
    const to = message.type === 'mark_as_read' ? (options.markAsReadRecipient ?? body.message_id) : body.to;
    request = { channel, to, ...(context === undefined ? {} : { replyTo: context }), message };
  } else {
    const recipient = isObject(body.recipient) ? body.recipient.id : undefined;
    request = { channel, to: recipient, message: messagingMessage(body) };
  }
  const validation = validateSendRequest(request);
  if (!validation.ok) {
    return { ok: false, errors: validation.errors.map((e) => ({ ...e, field: graphFieldOf(e.field) })) };
  }
  return { ok: true, request: validation.value };
}
