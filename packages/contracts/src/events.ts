import { Type, type Static } from 'typebox';

/**
 * The delivered event: what the engine POSTs to a Nexus instance for every event on its channels.
 * Part of the product's public API (DESIGN.md "Contracts an instance sees"): fields are only ever
 * added, never renamed or removed, so an instance must ignore fields it does not know.
 *
 * Each delivery is signed per Standard Webhooks (https://www.standardwebhooks.com): the three
 * headers below, the signature being HMAC-SHA256 over `<webhook-id>.<webhook-timestamp>.<raw body>`
 * with the instance's signing secret (`whsec_…`). Every attempt is signed anew (new timestamp,
 * same id); during a secret rotation the signature header carries one `v1,<signature>` per valid
 * secret, space-separated.
 */

/** Header: the delivery id, identical on every attempt of one delivery (and equal to the event's `id`). */
export const WEBHOOK_ID_HEADER = 'webhook-id';
/** Header: when this attempt was signed, in integer seconds since the Unix epoch. */
export const WEBHOOK_TIMESTAMP_HEADER = 'webhook-timestamp';
/** Header: space-separated `v1,<base64 HMAC-SHA256>` signatures, one per valid signing secret. */
export const WEBHOOK_SIGNATURE_HEADER = 'webhook-signature';
/** The W3C trace context of the Meta webhook that caused the delivery, when there is one. */
export const TRACEPARENT_HEADER = 'traceparent';

export const DELIVERY_HEADERS = {
  id: WEBHOOK_ID_HEADER,
  timestamp: WEBHOOK_TIMESTAMP_HEADER,
  signature: WEBHOOK_SIGNATURE_HEADER,
} as const;

export const ChannelKind = Type.Union(
  [Type.Literal('whatsapp'), Type.Literal('messenger'), Type.Literal('instagram')],
  {
    description: 'The Meta platform of the channel.',
  },
);
export type ChannelKind = Static<typeof ChannelKind>;

export const EventChannel = Type.Object(
  {
    kind: ChannelKind,
    id: Type.String({
      minLength: 1,
      description:
        "The channel's id at Meta: the WhatsApp phone_number_id, the Facebook Page id or the Instagram account id.",
    }),
  },
  { description: 'The channel (a WhatsApp number, a Facebook Page, an Instagram account) the event belongs to.' },
);
export type EventChannel = Static<typeof EventChannel>;

export const EventConversation = Type.Object(
  {
    id: Type.String({
      minLength: 1,
      description: 'Stable id of the conversation between the channel and one customer (wa_id, PSID or IGSID).',
    }),
    seq: Type.Integer({
      minimum: 0,
      description:
        'Position of the event in its conversation, assigned by the engine when the webhook is stored: it grows ' +
        'with every event of the conversation, so an instance can put in order events that reach it out of ' +
        'order (retries, replays) and recognise one it has already applied.',
    }),
  },
  { description: 'The conversation the event belongs to, for ordering.' },
);
export type EventConversation = Static<typeof EventConversation>;

/** Event type names: `<platform>.<object>.<event>`, or `<platform>.unknown` for what the normalizer does not know yet. */
export const EVENT_TYPE_PATTERN = '^[a-z][a-z0-9_]*(\\.[a-z][a-z0-9_]*)+$';

export const DeliveredEvent = Type.Object(
  {
    id: Type.String({
      minLength: 1,
      description:
        'The delivery id: the same on every attempt and replay of this delivery, and equal to the `webhook-id` ' +
        'header. Deduplicate on it: delivery is at least once.',
    }),
    type: Type.String({
      pattern: EVENT_TYPE_PATTERN,
      description:
        'The event type, `<platform>.<object>.<event>` (for example `whatsapp.message.received`, ' +
        '`whatsapp.message.status`, `messenger.reaction.received`); `<platform>.unknown` carries a Meta event ' +
        'the normalizer does not recognise yet, whole, in `raw`. New types may appear: ignore the ones you do ' +
        'not handle, and answer 2xx.',
    }),
    tenantId: Type.String({ minLength: 1, description: 'The tenant (customer company) the instance belongs to.' }),
    instanceId: Type.String({ minLength: 1, description: 'The Nexus instance this delivery is addressed to.' }),
    channel: EventChannel,
    conversation: Type.Union([EventConversation, Type.Null()], {
      description:
        'The conversation the event belongs to; null for events outside any conversation (template status, ' +
        'account quality, comments on posts).',
    }),
    occurredAt: Type.String({
      format: 'date-time',
      description: 'When the event happened, per Meta (UTC, ISO 8601); the time of receipt when Meta gives none.',
    }),
    receivedAt: Type.String({
      format: 'date-time',
      description: "When the engine received Meta's webhook and stored it (UTC, ISO 8601).",
    }),
    data: Type.Record(Type.String(), Type.Unknown(), {
      description:
        "The event, normalized: the same shape for the same type on every channel. Each type's fields are " +
        'documented on its own page (packages/meta/docs/events.md).',
    }),
    raw: Type.Record(Type.String(), Type.Unknown(), {
      description:
        "Meta's own fragment of the webhook for this event, unchanged: a field the normalizer does not know yet " +
        'is still here.',
    }),
  },
  { description: 'One event delivered to a Nexus instance: the JSON body of each signed delivery.' },
);
export type DeliveredEvent = Static<typeof DeliveredEvent>;
