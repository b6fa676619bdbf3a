import { Type, type Static } from 'typebox';
import { MessageError, SendChannel, WhatsAppMessage, WhatsAppTemplateComponent } from './messages.ts';

/**
 * Broadcasts (instance API, version 1): one WhatsApp message to a list of recipients, always at
 * `marketing` priority, through the channel's lane (never above its rate, never ahead of critical
 * or conversation sends) and within the business portfolio's messaging limit. A template goes to
 * anyone; any other message only to recipients inside the 24 h customer service window (the others
 * are `skipped`). Duplicates and the tenant's opted-out recipients are removed.
 *
 * `POST /v1/broadcasts` (201 `Broadcast`), `GET /v1/broadcasts/{id}`, `GET /v1/broadcasts/{id}/recipients`,
 * `POST /v1/broadcasts/{id}/pause|resume|cancel`; opt-outs: `GET|PUT|DELETE /v1/opt-outs[/{recipient}]`.
 * Events: `whatsapp.broadcast.<state>` with `BroadcastEventData`; each recipient's message also
 * produces the usual `whatsapp.outbound.<state>` events, whose data carries `broadcastId`.
 */

export const MAX_BROADCAST_RECIPIENTS = 100_000;

export const BroadcastRecipientInput = Type.Object(
  {
    to: Type.String({
      pattern: '^\\+?[0-9]{6,20}$',
      description: "The customer's number in international form (digits, an optional leading +) or wa_id.",
    }),
    components: Type.Optional(
      Type.Array(WhatsAppTemplateComponent, {
        maxItems: 12,
        description: "This recipient's template parameters: replaces the message's components for them.",
      }),
    ),
  },
  { additionalProperties: false },
);
export type BroadcastRecipientInput = Static<typeof BroadcastRecipientInput>;

export const CreateBroadcastRequest = Type.Object(
  {
    name: Type.Optional(Type.String({ minLength: 1, maxLength: 200, description: 'For people: shown in events.' })),
    channel: SendChannel,
    message: WhatsAppMessage,
    recipients: Type.Array(BroadcastRecipientInput, { minItems: 1, maxItems: MAX_BROADCAST_RECIPIENTS }),
    scheduledAt: Type.Optional(Type.String({ format: 'date-time', description: 'Not sent before; now when absent.' })),
  },
  {
    additionalProperties: false,
    description:
      'The body of `POST /v1/broadcasts`. WhatsApp channels only. An `Idempotency-Key` header makes a repeat answer the first broadcast.',
  },
);
export type CreateBroadcastRequest = Static<typeof CreateBroadcastRequest>;

export const BROADCAST_STATES = ['scheduled', 'running', 'waiting', 'paused', 'completed', 'cancelled'] as const;
export type BroadcastState = (typeof BROADCAST_STATES)[number];
export const BroadcastState = Type.Union(
  [
    Type.Literal('scheduled'),
    Type.Literal('running'),
    Type.Literal('waiting'),
    Type.Literal('paused'),
    Type.Literal('completed'),
    Type.Literal('cancelled'),
  ],
  {
    description:
      'scheduled (before its time), running, waiting (the portfolio messaging limit is reached: see waitingReason and ' +
      'waitingUntil), paused, completed (every recipient settled), cancelled',
  },
);

export const BROADCAST_RECIPIENT_STATES = [
  'pending',
  'suppressed',
  'skipped',
  'queued',
  'sent',
  'delivered',
  'read',
  'failed',
  'cancelled',
] as const;
export type BroadcastRecipientState = (typeof BROADCAST_RECIPIENT_STATES)[number];
export const BroadcastRecipientState = Type.Union(
  [
    Type.Literal('pending'),
    Type.Literal('suppressed'),
    Type.Literal('skipped'),
    Type.Literal('queued'),
    Type.Literal('sent'),
    Type.Literal('delivered'),
    Type.Literal('read'),
    Type.Literal('failed'),
    Type.Literal('cancelled'),
  ],
  {
    description:
      'pending (not yet handed to the lane), suppressed (opted out), skipped (a non-template message to someone outside ' +
      'the 24 h window), queued (in the lane), sent, delivered, read, failed (with Meta’s code), cancelled',
  },
);

export const BroadcastTotals = Type.Object({
  recipients: Type.Integer({ description: 'Distinct recipients kept, suppressed and skipped ones included.' }),
  duplicates: Type.Integer({ description: 'Entries dropped as repeats of an earlier recipient.' }),
  pending: Type.Integer(),
  suppressed: Type.Integer(),
  skipped: Type.Integer(),
  queued: Type.Integer(),
  sent: Type.Integer(),
  delivered: Type.Integer(),
  read: Type.Integer(),
  failed: Type.Integer(),
  cancelled: Type.Integer(),
});
export type BroadcastTotals = Static<typeof BroadcastTotals>;

export const Broadcast = Type.Object(
  {
    id: Type.String(),
    name: Type.Union([Type.String(), Type.Null()]),
    channel: SendChannel,
    state: BroadcastState,
    waitingReason: Type.Union([Type.String(), Type.Null()], { description: 'Why a waiting broadcast waits.' }),
    waitingUntil: Type.Union([Type.String({ format: 'date-time' }), Type.Null()], {
      description: 'When the messaging limit’s moving window lets it go on, at the earliest.',
    }),
    scheduledAt: Type.String({ format: 'date-time' }),
    createdAt: Type.String({ format: 'date-time' }),
    startedAt: Type.Union([Type.String({ format: 'date-time' }), Type.Null()]),
    finishedAt: Type.Union([Type.String({ format: 'date-time' }), Type.Null()]),
    totals: BroadcastTotals,
  },
  { description: 'A broadcast, its progress and totals.' },
);
export type Broadcast = Static<typeof Broadcast>;

export const BroadcastParams = Type.Object({ id: Type.String({ minLength: 1 }) });

export const BroadcastRecipient = Type.Object({
  to: Type.String(),
  state: BroadcastRecipientState,
  messageId: Type.Union([Type.String(), Type.Null()], {
    description: 'The message sent to them (`GET /v1/messages/{id}`).',
  }),
  error: Type.Union([MessageError, Type.Null()]),
  updatedAt: Type.String({ format: 'date-time' }),
});
export type BroadcastRecipient = Static<typeof BroadcastRecipient>;

export const TenantBroadcastFigures = Type.Object(
  {
    tenantId: Type.String(),
    broadcasts: Type.Integer({ description: 'Broadcasts made in the period.' }),
    active: Type.Integer({ description: 'Of them, those scheduled, running, waiting or paused now.' }),
    totals: BroadcastTotals,
  },
  { description: "A tenant's broadcasts made in a period, and their recipients by state." },
);
export type TenantBroadcastFigures = Static<typeof TenantBroadcastFigures>;

export const BroadcastFiguresQuery = Type.Object(
  {
    days: Type.Optional(
      Type.Integer({ minimum: 1, maximum: 366, default: 30, description: 'The last this many days.' }),
    ),
  },
  { additionalProperties: false },
);
export type BroadcastFiguresQuery = Static<typeof BroadcastFiguresQuery>;

export const BroadcastFigures = Type.Object({
  since: Type.String({ format: 'date-time' }),
  tenants: Type.Array(TenantBroadcastFigures, { description: 'Most recipients first.' }),
});
export type BroadcastFigures = Static<typeof BroadcastFigures>;

export const BroadcastListQuery = Type.Object(
  {
    state: Type.Optional(BroadcastState),
    channelId: Type.Optional(Type.String({ pattern: '^[0-9]{1,64}$', description: 'The phone number id.' })),
    limit: Type.Optional(Type.Integer({ minimum: 1, maximum: 100, default: 20 })),
    cursor: Type.Optional(Type.String({ maxLength: 64, description: 'From the previous page’s nextCursor.' })),
  },
  { additionalProperties: false },
);
export type BroadcastListQuery = Static<typeof BroadcastListQuery>;

export const BroadcastList = Type.Object({
  broadcasts: Type.Array(Broadcast, { description: 'Newest first.' }),
  nextCursor: Type.Union([Type.String(), Type.Null()], { description: 'Pass as `cursor` for the next page.' }),
});
export type BroadcastList = Static<typeof BroadcastList>;

export const BroadcastRecipientsQuery = Type.Object({
  state: Type.Optional(BroadcastRecipientState),
  limit: Type.Optional(Type.Integer({ minimum: 1, maximum: 1_000, default: 100 })),
  after: Type.Optional(Type.String({ description: 'The `nextCursor` of the previous page.' })),
});
export type BroadcastRecipientsQuery = Static<typeof BroadcastRecipientsQuery>;

export const BroadcastRecipientPage = Type.Object({
  recipients: Type.Array(BroadcastRecipient),
  nextCursor: Type.Union([Type.String(), Type.Null()]),
});
export type BroadcastRecipientPage = Static<typeof BroadcastRecipientPage>;

export const BROADCAST_EVENTS = [
  'started',
  'progress',
  'waiting',
  'paused',
  'resumed',
  'completed',
  'cancelled',
] as const;
export type BroadcastEvent = (typeof BROADCAST_EVENTS)[number];
export const BROADCAST_EVENT_TYPES = BROADCAST_EVENTS.map((e) => `whatsapp.broadcast.${e}` as const);

export const BroadcastEventData = Type.Object(
  {
    broadcastId: Type.String(),
    name: Type.Union([Type.String(), Type.Null()]),
    state: BroadcastState,
    waitingReason: Type.Union([Type.String(), Type.Null()]),
    totals: BroadcastTotals,
  },
  { description: 'The `data` of a `whatsapp.broadcast.<event>` event: progress at most once per dispatch pass.' },
);
export type BroadcastEventData = Static<typeof BroadcastEventData>;

export const OptOut = Type.Object({
  recipient: Type.String({ description: 'Digits only, as WhatsApp names users (wa_id).' }),
  source: Type.Union([Type.Literal('api'), Type.Literal('keyword')]),
  keyword: Type.Union([Type.String(), Type.Null()], { description: 'The word the user sent (STOP, BAJA, …).' }),
  createdAt: Type.String({ format: 'date-time' }),
});
export type OptOut = Static<typeof OptOut>;

export const OptOutParams = Type.Object({ recipient: Type.String({ pattern: '^\\+?[0-9]{6,20}$' }) });

export const OptOutQuery = Type.Object({
  limit: Type.Optional(Type.Integer({ minimum: 1, maximum: 1_000, default: 100 })),
  after: Type.Optional(Type.String()),
});

export const OptOutPage = Type.Object({
  optOuts: Type.Array(OptOut),
  nextCursor: Type.Union([Type.String(), Type.Null()]),
});
export type OptOutPage = Static<typeof OptOutPage>;

/**
 * Control's admin API for the hub's own broadcasts (tenant zero): `POST /v1/hub/broadcasts` to a
 * recipient list or a CRM segment (resolved when the broadcast is created: each contact's WhatsApp
 * id, else its first phone). It waits in control's outbox until the engine takes it.
 */
export const CreateHubBroadcastRequest = Type.Object(
  {
    name: Type.Optional(Type.String({ minLength: 1, maxLength: 200 })),
    channel: SendChannel,
    message: WhatsAppMessage,
    recipients: Type.Optional(Type.Array(BroadcastRecipientInput, { minItems: 1, maxItems: MAX_BROADCAST_RECIPIENTS })),
    segmentId: Type.Optional(Type.String({ minLength: 1, description: 'A CRM segment: its reachable contacts.' })),
    scheduledAt: Type.Optional(Type.String({ format: 'date-time' })),
  },
  { additionalProperties: false, description: 'Exactly one of `recipients` and `segmentId`.' },
);
export type CreateHubBroadcastRequest = Static<typeof CreateHubBroadcastRequest>;

export const HubBroadcastState = Type.Union(
  [
    Type.Literal('pending'),
    Type.Literal('refused'),
    Type.Literal('scheduled'),
    Type.Literal('running'),
    Type.Literal('waiting'),
    Type.Literal('paused'),
    Type.Literal('completed'),
    Type.Literal('cancelled'),
  ],
  {
    description:
      'pending: waiting in control for the engine; refused: the engine refused it (see error); then the engine’s state',
  },
);
export type HubBroadcastState = Static<typeof HubBroadcastState>;

export const HubBroadcast = Type.Object({
  id: Type.String(),
  name: Type.Union([Type.String(), Type.Null()]),
  channel: SendChannel,
  segmentId: Type.Union([Type.String(), Type.Null()]),
  recipients: Type.Integer({
    description: 'Entries handed to the engine (before it removes duplicates and opt-outs).',
  }),
  state: HubBroadcastState,
  engineBroadcastId: Type.Union([Type.String(), Type.Null()]),
  totals: Type.Union([BroadcastTotals, Type.Null()], { description: 'As the engine last reported them.' }),
  waitingReason: Type.Union([Type.String(), Type.Null()]),
  error: Type.Union([Type.Object({ title: Type.String(), message: Type.String() }), Type.Null()]),
  createdAt: Type.String({ format: 'date-time' }),
  updatedAt: Type.String({ format: 'date-time' }),
});
export type HubBroadcast = Static<typeof HubBroadcast>;
