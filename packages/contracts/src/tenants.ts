import { Type, type Static } from 'typebox';
import { ChannelPlatform, DeliveryFormat } from './routing.ts';
import { InstanceState, TenantLimits, TenantModules } from './config-snapshot.ts';
import { IssuedCredentials } from './credentials.ts';

/**
 * The operator's API for customers' tenants, their Nexus instances and their Meta channels
 * (`/v1/tenants`, `/v1/instances`, `/v1/channels`). Control is the source of truth; the engine
 * learns of every change through the config snapshot within seconds.
 */
const Id = (prefix: string) => Type.String({ pattern: `^${prefix}_[A-Za-z0-9]+$`, maxLength: 64 });
const DateTime = Type.String({ format: 'date-time' });
const HttpsUrl = Type.String({ format: 'uri', maxLength: 2048, pattern: '^https?://' });

export const TenantStatus = Type.Union([Type.Literal('active'), Type.Literal('paused')], {
  description: 'paused: every instance of the tenant is paused (for example by dunning)',
});

/** Who administers the tenant's instances: reset links for their passwords can be e-mailed there. */
export const TenantAdminContact = Type.Object(
  {
    email: Type.String({ format: 'email', maxLength: 320 }),
    locale: Type.Union([Type.Literal('es'), Type.Literal('en')], { description: 'The language of e-mails to it' }),
  },
  { additionalProperties: false },
);
export type TenantAdminContact = Static<typeof TenantAdminContact>;

export const Tenant = Type.Object({
  id: Type.String(),
  name: Type.String(),
  status: TenantStatus,
  modules: TenantModules,
  limits: TenantLimits,
  adminContact: Type.Union([TenantAdminContact, Type.Null()]),
  createdAt: DateTime,
  updatedAt: DateTime,
});
export type Tenant = Static<typeof Tenant>;

export const CreateTenant = Type.Object(
  {
    name: Type.String({ minLength: 1, maxLength: 200 }),
    modules: Type.Optional(Type.Partial(TenantModules)),
    limits: Type.Optional(Type.Partial(TenantLimits)),
    adminContact: Type.Optional(Type.Union([TenantAdminContact, Type.Null()])),
  },
  { additionalProperties: false },
);
export type CreateTenant = Static<typeof CreateTenant>;
export const UpdateTenant = Type.Partial(CreateTenant, { additionalProperties: false });
export type UpdateTenant = Static<typeof UpdateTenant>;

export const TenantParams = Type.Object({ tenantId: Id('ten') });

export const Instance = Type.Object({
  id: Type.String(),
  tenantId: Type.String(),
  name: Type.String(),
  kind: Type.Union([Type.Literal('nexus'), Type.Literal('hub')]),
  webhookUrl: Type.Union([Type.String(), Type.Null()]),
  controlUrl: Type.Union([Type.String(), Type.Null()]),
  deliveryFormat: DeliveryFormat,
  state: InstanceState,
  stateReason: Type.Union([Type.String(), Type.Null()]),
  stateChangedAt: DateTime,
  version: Type.Union([Type.String(), Type.Null()], { description: 'the Nexus version the instance reports' }),
  createdAt: DateTime,
  updatedAt: DateTime,
});
export type Instance = Static<typeof Instance>;

export const CreateInstance = Type.Object(
  {
    name: Type.String({ minLength: 1, maxLength: 200 }),
    webhookUrl: HttpsUrl,
    controlUrl: Type.Optional(HttpsUrl),
    deliveryFormat: Type.Optional(DeliveryFormat),
  },
  { additionalProperties: false },
);
export type CreateInstance = Static<typeof CreateInstance>;

export const UpdateInstance = Type.Object(
  {
    name: Type.Optional(Type.String({ minLength: 1, maxLength: 200 })),
    webhookUrl: Type.Optional(HttpsUrl),
    controlUrl: Type.Optional(Type.Union([HttpsUrl, Type.Null()])),
    deliveryFormat: Type.Optional(DeliveryFormat),
    version: Type.Optional(Type.String({ maxLength: 64 })),
  },
  { additionalProperties: false },
);
export type UpdateInstance = Static<typeof UpdateInstance>;

/** A new instance, with the engine credentials it needs, shown once (null when the engine was down). */
export const CreatedInstance = Type.Object({
  instance: Instance,
  credentials: Type.Union([IssuedCredentials, Type.Null()]),
  credentialsError: Type.Union([Type.String(), Type.Null()]),
});
export type CreatedInstance = Static<typeof CreatedInstance>;

export const InstanceIdParams = Type.Object({ instanceId: Type.String({ pattern: '^ins_[A-Za-z0-9]+$|^hub$' }) });

export const StateChange = Type.Object(
  { reason: Type.String({ minLength: 1, maxLength: 500 }) },
  { additionalProperties: false },
);

export const ChannelConnectionState = Type.Union([
  Type.Literal('pending'),
  Type.Literal('subscribed'),
  Type.Literal('failed'),
  Type.Literal('unsubscribed'),
]);

export const Channel = Type.Object({
  platform: ChannelPlatform,
  channelId: Type.String({ description: 'phone-number id, page id or Instagram account id' }),
  instanceId: Type.String(),
  tenantId: Type.String(),
  name: Type.Union([Type.String(), Type.Null()]),
  wabaId: Type.Union([Type.String(), Type.Null()], { description: 'WhatsApp business account' }),
  businessId: Type.Union([Type.String(), Type.Null()], { description: 'Meta business portfolio' }),
  pageId: Type.Union([Type.String(), Type.Null()], { description: 'the Facebook page (Instagram: its linked page)' }),
  connection: Type.Object({
    state: ChannelConnectionState,
    error: Type.Union([Type.String(), Type.Null()]),
    checkedAt: Type.Union([DateTime, Type.Null()]),
  }),
  createdAt: DateTime,
});
export type Channel = Static<typeof Channel>;

const MetaId = Type.String({ minLength: 1, maxLength: 64, pattern: '^[0-9A-Za-z_.-]+$' });

export const CreateChannel = Type.Object(
  {
    platform: ChannelPlatform,
    channelId: MetaId,
    name: Type.Optional(Type.String({ maxLength: 200 })),
    wabaId: Type.Optional(MetaId),
    businessId: Type.Optional(MetaId),
    pageId: Type.Optional(MetaId),
    accessToken: Type.String({
      minLength: 8,
      maxLength: 4096,
      description: "the channel's Meta access token: stored in the engine, never shown again",
    }),
    metaApp: Type.Optional(Type.String({ pattern: '^[a-z0-9-]{1,40}$' })),
  },
  { additionalProperties: false },
);
export type CreateChannel = Static<typeof CreateChannel>;
