import { Type, type Static } from 'typebox';

/**
 * The engine's routing table: which instance receives each channel's events, and where. Filled from
 * control's config snapshot.
 */
export const ChannelPlatform = Type.Union([
  Type.Literal('whatsapp'),
  Type.Literal('messenger'),
  Type.Literal('instagram'),
]);
export type ChannelPlatform = Static<typeof ChannelPlatform>;

export const DeliveryFormat = Type.Union([Type.Literal('standard-webhooks'), Type.Literal('meta')], {
  description: "standard-webhooks: the MIC event envelope; meta: Meta's own webhook shape",
});

export const InstanceRoute = Type.Object({
  instanceId: Type.String(),
  tenantId: Type.String(),
  kind: Type.Union([Type.Literal('nexus'), Type.Literal('hub')]),
  webhookUrl: Type.Union([Type.String(), Type.Null()]),
  deliveryFormat: DeliveryFormat,
  state: Type.Union([
    Type.Literal('active'),
    Type.Literal('paused'),
    Type.Literal('suspended'),
    Type.Literal('deprovisioned'),
  ]),
  disabledAt: Type.Union([Type.String({ format: 'date-time' }), Type.Null()], {
    description: 'set when the endpoint answered 410 Gone; control re-enables it (a new endpoint revision)',
  }),
  disabledReason: Type.Union([Type.String(), Type.Null()]),
  updatedAt: Type.String({ format: 'date-time' }),
});

export const ChannelParams = Type.Object({
  platform: ChannelPlatform,
  channelId: Type.String({ minLength: 1, maxLength: 64, pattern: '^[A-Za-z0-9_.-]+$' }),
});

export const InboundEventSummary = Type.Object({
  id: Type.String(),
  type: Type.String(),
  platform: Type.String(),
  channelId: Type.Union([Type.String(), Type.Null()]),
  routeState: Type.Union([Type.Literal('routed'), Type.Literal('unrouted')]),
  instanceId: Type.Union([Type.String(), Type.Null()]),
  occurredAt: Type.String({ format: 'date-time' }),
  receivedAt: Type.String({ format: 'date-time' }),
  dedupKey: Type.String(),
});

export const InboundEventQuery = Type.Object({
  routeState: Type.Optional(Type.Union([Type.Literal('routed'), Type.Literal('unrouted')])),
  platform: Type.Optional(Type.String()),
  channelId: Type.Optional(Type.String()),
  type: Type.Optional(Type.String()),
  limit: Type.Optional(Type.Integer({ minimum: 1, maximum: 500, default: 100 })),
});

export const InboundEventParams = Type.Object({ id: Type.String({ format: 'uuid' }) });

/** One stored event as the operator inspects it: what the engine read from it and Meta's part of the body. */
export const InboundEventDetail = Type.Object({
  event: InboundEventSummary,
  data: Type.Unknown({ description: 'the event as the engine normalised it (the `data` it delivers)' }),
  raw: Type.Unknown({ description: "the event's part of Meta's webhook body, as Meta sent it" }),
});
