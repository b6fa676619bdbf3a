import { Type } from 'typebox';
import { MessageState } from './messages.ts';

/** Deliveries to instances, as the operator inspects and replays them. */
export const DeliveryState = Type.Union([Type.Literal('pending'), Type.Literal('delivered'), Type.Literal('dead')]);

export const DeliverySummary = Type.Object({
  id: Type.String({ description: 'also the webhook-id the instance sees' }),
  eventId: Type.String(),
  instanceId: Type.String(),
  type: Type.String(),
  conversation: Type.String(),
  seq: Type.Integer(),
  state: DeliveryState,
  attempts: Type.Integer(),
  nextAttemptAt: Type.String({ format: 'date-time' }),
  lastStatus: Type.Union([Type.Integer(), Type.Null()]),
  lastError: Type.Union([Type.String(), Type.Null()]),
  createdAt: Type.String({ format: 'date-time' }),
  deliveredAt: Type.Union([Type.String({ format: 'date-time' }), Type.Null()]),
  deadAt: Type.Union([Type.String({ format: 'date-time' }), Type.Null()]),
});

export const DeliveryAttempt = Type.Object({
  attempt: Type.Integer(),
  at: Type.String({ format: 'date-time' }),
  outcome: Type.String(),
  status: Type.Union([Type.Integer(), Type.Null()]),
  durationMs: Type.Integer(),
  error: Type.Union([Type.String(), Type.Null()]),
});

export const DeliveryDetail = Type.Object({
  delivery: DeliverySummary,
  payload: Type.Unknown({ description: 'the delivered event, as sent' }),
  attempts: Type.Array(DeliveryAttempt),
});

export const DeliveryQuery = Type.Object({
  state: Type.Optional(DeliveryState),
  instanceId: Type.Optional(Type.String()),
  type: Type.Optional(Type.String()),
  limit: Type.Optional(Type.Integer({ minimum: 1, maximum: 500, default: 100 })),
});

export const DeliveryParams = Type.Object({ id: Type.String({ format: 'uuid' }) });

export const ReplayFilter = Type.Object(
  {
    instanceId: Type.Optional(Type.String({ minLength: 1 })),
    type: Type.Optional(Type.String({ minLength: 1 })),
  },
  { additionalProperties: false },
);

export const ReplayResult = Type.Object({ replayed: Type.Integer() });

export const EngineAlert = Type.Object({
  id: Type.String(),
  kind: Type.String({ description: 'breaker.opened, breaker.closed, endpoint.disabled, …' }),
  instanceId: Type.Union([Type.String(), Type.Null()]),
  detail: Type.Unknown(),
  createdAt: Type.String({ format: 'date-time' }),
});

/**
 * Messages instances sent, as the operator looks through them (`GET /internal/v1/messages`); one
 * message's timeline is its `MessageStatus`.
 */
export const OutboundMessageSummary = Type.Object({
  id: Type.String(),
  instanceId: Type.String(),
  tenantId: Type.String(),
  channel: Type.String({ description: 'the lane: `platform:channelId`' }),
  to: Type.String(),
  priority: Type.String(),
  state: MessageState,
  metaMessageId: Type.Union([Type.String(), Type.Null()]),
  broadcastId: Type.Union([Type.String(), Type.Null()]),
  attempts: Type.Integer({ description: 'Graph calls made for it' }),
  createdAt: Type.String({ format: 'date-time' }),
  updatedAt: Type.String({ format: 'date-time' }),
});

export const OutboundMessageQuery = Type.Object({
  tenantId: Type.Optional(Type.String()),
  instanceId: Type.Optional(Type.String()),
  state: Type.Optional(MessageState),
  to: Type.Optional(Type.String({ description: 'the recipient, exactly' })),
  limit: Type.Optional(Type.Integer({ minimum: 1, maximum: 500, default: 100 })),
});

export const InstanceMessageParams = Type.Object({
  instanceId: Type.String({ minLength: 1 }),
  id: Type.String({ format: 'uuid' }),
});
