import type {
  MessagingSendRequest,
  SendMessageRequest,
  WhatsAppMessage,
  WhatsAppSendRequest,
  WhatsAppTemplateComponent,
} from '@mic/contracts';
import { GraphError } from '../graph/errors.ts';

/**
 * A Send API request (packages/contracts `SendMessageRequest`, already validated) as the Graph API
 * call Meta documents for it. Sources: the "Send API" section of src/webhooks/fixtures/SOURCES.md;
 * the fixtures in `fixtures/` are Meta's documented bodies.
 */
export interface GraphSendRequest {
  /** Relative to `{base}/{version}/`: `{phone-number-id}/messages` or `{page-id}/messages`. */
  path: string;
  body: Record<string, unknown>;
}

export interface GraphRequestOptions {
  /**
   * Instagram through Facebook Login sends from the linked page (`POST /{page-id}/messages`);
   * without it the path is the Instagram account's (`POST /{ig-id}/messages`, Instagram Login).
   */
  instagramPageId?: string;
}

type Json = null | boolean | number | string | Json[] | { [key: string]: Json };

/** `previewUrl` → `preview_url`, `amount1000` → `amount_1000`: Meta's names are the contract's in snake case. */
const snakeKey = (key: string) => key.replace(/([a-z])([A-Z]|\d+)/g, '$1_$2').toLowerCase();

function snake(value: unknown): Json {
  if (Array.isArray(value)) return value.map(snake);
  if (value !== null && typeof value === 'object') {
    return Object.fromEntries(
      Object.entries(value)
        .filter(([, v]) => v !== undefined)
        .map(([k, v]) => [snakeKey(k), snake(v)]),
    );
  }
  return value as Json;
}

export function toGraphRequest(req: SendMessageRequest, options: GraphRequestOptions = {}): GraphSendRequest {
  if (req.channel.kind === 'whatsapp') return whatsappRequest(req as WhatsAppSendRequest);
  const request = req as MessagingSendRequest;
  const sender =
    request.channel.kind === 'instagram' ? (options.instagramPageId ?? request.channel.id) : request.channel.id;
  return { path: `${sender}/messages`, body: messagingBody(request) };
}

function whatsappRequest(req: WhatsAppSendRequest): GraphSendRequest {
  const path = `${req.channel.id}/messages`;
  const { message } = req;
  // Marking as read is a call of its own, with no recipient.
  if (message.type === 'mark_as_read') {
    return {
      path,
      body: { messaging_product: 'whatsapp', status: 'read', message_id: message.markAsRead.messageId },
    };
  }
  return {
    path,
    body: {
      messaging_product: 'whatsapp',
      recipient_type: 'individual',
      to: req.to,
      ...(req.replyTo === undefined ? {} : { context: { message_id: req.replyTo } }),
      type: message.type,
      [message.type]: whatsappContent(message),
    },
  };
}

function whatsappContent(message: Exclude<WhatsAppMessage, { type: 'mark_as_read' }>): Json {
  switch (message.type) {
    case 'template': {
      const { name, language, components } = message.template;
      return {
        name,
        language: { code: language.code },
        ...(components && components.length > 0 ? { components: components.map(templateComponent) } : {}),
      };
    }
    case 'interactive': {
      const { interactive } = message;
      if (interactive.type === 'button') {
        return snake({
          ...interactive,
          action: { buttons: interactive.action.buttons.map((reply) => ({ type: 'reply', reply })) },
        });
      }
      return snake(interactive);
    }
    case 'text':
      return snake(message.text);
    case 'image':
      return snake(message.image);
    case 'audio':
      return snake(message.audio);
    case 'video':
      return snake(message.video);
    case 'document':
      return snake(message.document);
    case 'sticker':
      return snake(message.sticker);
    case 'location':
      return snake(message.location);
    case 'contacts':
      return snake(message.contacts);
    case 'reaction':
      return snake(message.reaction);
  }
}

function templateComponent(component: WhatsAppTemplateComponent): Json {
  if (component.type === 'button') {
    // Meta documents the button's index as a string.
    return {
      type: 'button',
      sub_type: component.subType,
      index: String(component.index),
      parameters: snake(component.parameters),
    };
  }
  return { type: component.type, parameters: snake(component.parameters) };
}

function messagingBody(req: MessagingSendRequest): Record<string, unknown> {
  const { message } = req;
  const messagingType = message.messagingType ?? (message.tag === undefined ? 'RESPONSE' : 'MESSAGE_TAG');
  const content =
    message.type === 'text'
      ? { text: message.text.body }
      : {
          attachment: {
            type: message.attachment.type,
            payload: {
              url: message.attachment.url,
              ...(message.attachment.isReusable === undefined ? {} : { is_reusable: message.attachment.isReusable }),
            },
          },
        };
  const quickReplies = message.quickReplies?.map((reply) => ({
    content_type: 'text',
    title: reply.title,
    payload: reply.payload,
    ...(reply.imageUrl === undefined ? {} : { image_url: reply.imageUrl }),
  }));
  return {
    recipient: { id: req.to },
    messaging_type: messagingType,
    message: { ...content, ...(quickReplies ? { quick_replies: quickReplies } : {}) },
    ...(message.tag === undefined ? {} : { tag: message.tag }),
  };
}

/**
 * Meta's id of the sent message from the Graph API's success answer: WhatsApp's
 * `messages[0].id` (a wamid), Messenger's and Instagram's `message_id`. Null for an answer that
 * carries none by design (WhatsApp's mark-as-read: `{ "success": true }`). Throws a GraphError for
 * any other answer.
 */
export function parseGraphSendResponse(body: unknown): string | null {
  const record = body && typeof body === 'object' ? (body as Record<string, unknown>) : {};
  const messages = record.messages;
  if (Array.isArray(messages)) {
    const id = (messages[0] as { id?: unknown } | undefined)?.id;
    if (typeof id === 'string' && id !== '') return id;
  }
  if (typeof record.message_id === 'string' && record.message_id !== '') return record.message_id;
  if (record.success === true) return null;
  throw new GraphError({ status: 200, message: 'Graph API answered a send without a message id' });
}
