import { Type, type Static } from 'typebox';

/**
 * A channel's connection to Meta, kept by the engine: the channel's access token (write-only, in
 * the engine's secret store) and the subscription of the Meta app to the channel's webhooks
 * (`subscribed_apps` on the WhatsApp Business Account, or on the page; an Instagram account's
 * through its linked page). Path: `/internal/v1/channels/{platform}/{channelId}/connection`, with
 * `ChannelParams` from routing.ts.
 */
export const PutChannelConnection = Type.Object(
  {
    accessToken: Type.String({
      minLength: 8,
      maxLength: 4096,
      writeOnly: true,
      description: 'the WhatsApp system user token or the page access token; stored, never returned',
    }),
    objectId: Type.String({
      pattern: '^[A-Za-z0-9_-]{1,64}$',
      description:
        'what the app subscribes to: the WhatsApp Business Account id (whatsapp), the page id (messenger), the linked page id (instagram)',
    }),
    metaApp: Type.Optional(
      Type.String({
        pattern: '^[a-z0-9][a-z0-9-]{0,62}$',
        description: "the Meta app whose secret verifies this channel's webhooks (default: default)",
      }),
    ),
  },
  { additionalProperties: false },
);
export type PutChannelConnection = Static<typeof PutChannelConnection>;

export const MetaSubscriptionState = Type.Union(
  [Type.Literal('subscribed'), Type.Literal('failed'), Type.Literal('unsubscribed')],
  {
    description:
      "subscribed: Meta sends this channel's webhooks; failed: the last subscription attempt failed (see error; retried in the background while retrying is true); unsubscribed: removed",
  },
);
export type MetaSubscriptionState = Static<typeof MetaSubscriptionState>;

export const MetaErrorClassification = Type.Union(
  [
    Type.Literal('transient'),
    Type.Literal('rate-limited'),
    Type.Literal('auth'),
    Type.Literal('permission'),
    Type.Literal('invalid-request'),
    Type.Literal('permanent'),
  ],
  { description: 'auth: the token is expired or revoked, the channel must be reauthorized' },
);

/** What Meta answered the last failed call with. */
export const ChannelConnectionError = Type.Object({
  code: Type.Union([Type.Integer(), Type.Null()], { description: "Meta's error code; null when Meta never answered" }),
  subcode: Type.Union([Type.Integer(), Type.Null()]),
  message: Type.String(),
  classification: MetaErrorClassification,
  fbtraceId: Type.Union([Type.String(), Type.Null()]),
  at: Type.String({ format: 'date-time' }),
});
export type ChannelConnectionError = Static<typeof ChannelConnectionError>;

export const ChannelConnection = Type.Object({
  platform: Type.String(),
  channelId: Type.String(),
  objectId: Type.String(),
  metaApp: Type.String(),
  state: MetaSubscriptionState,
  subscribedAt: Type.Union([Type.String({ format: 'date-time' }), Type.Null()]),
  /** True while a failed subscription waits for its next background attempt. */
  retrying: Type.Boolean(),
  error: Type.Union([ChannelConnectionError, Type.Null()]),
  /** The token's name in the engine's secret store; null once removed. */
  tokenRef: Type.Union([Type.String(), Type.Null()]),
  tokenFingerprint: Type.Union([Type.String(), Type.Null()]),
  tokenLast4: Type.Union([Type.String(), Type.Null()]),
  updatedAt: Type.String({ format: 'date-time' }),
});
export type ChannelConnection = Static<typeof ChannelConnection>;
