import { Type, type Static } from 'typebox';
import { ChannelPlatform, DeliveryFormat } from './routing.ts';

/**
 * The configuration control publishes for the engine: who owns each channel, where each instance
 * receives its events, which instances are paused, flags and limits. Never a secret. The engine
 * pulls it (`GET /internal/v1/config/snapshot`, ETag `"v<version>"`), keeps the last one in its own
 * database and runs from it while control is unreachable.
 */
export const TENANT_MODULES = ['whatsapp', 'messenger', 'instagram', 'marketing', 'publishing'] as const;
export type TenantModule = (typeof TENANT_MODULES)[number];

export const TenantModules = Type.Object(
  {
    whatsapp: Type.Boolean(),
    messenger: Type.Boolean(),
    instagram: Type.Boolean(),
    marketing: Type.Boolean(),
    publishing: Type.Boolean(),
  },
  { description: 'modules a tenant has: a module turned off holds its events and refuses its sends' },
);
export type TenantModules = Static<typeof TenantModules>;

export const SendPriority = Type.Union([
  Type.Literal('critical'),
  Type.Literal('conversation'),
  Type.Literal('marketing'),
]);
export type SendPriority = Static<typeof SendPriority>;

export const TenantLimits = Type.Object({
  messagesPerMonth: Type.Union([Type.Integer({ minimum: 0 }), Type.Null()], { description: 'null: unlimited' }),
  sendsPerSecond: Type.Integer({ minimum: 1, maximum: 1_000 }),
  broadcastSize: Type.Union([Type.Integer({ minimum: 0 }), Type.Null()], { description: 'null: unlimited' }),
  priorities: Type.Array(SendPriority, { description: 'send priorities the tenant may use' }),
});
export type TenantLimits = Static<typeof TenantLimits>;

export const InstanceState = Type.Union(
  [Type.Literal('active'), Type.Literal('paused'), Type.Literal('suspended'), Type.Literal('deprovisioned')],
  { description: 'only an active instance gets deliveries and may send; the others have theirs held' },
);
export type InstanceState = Static<typeof InstanceState>;

/** Global flags: `engine.enabled` and one kill switch per module (`module.<name>.enabled`). */
export const GLOBAL_FLAGS = {
  'engine.enabled': 'the engine delivers and sends; off: ingress still stores, nothing goes out',
  'module.whatsapp.enabled': 'WhatsApp for every tenant',
  'module.messenger.enabled': 'Messenger for every tenant',
  'module.instagram.enabled': 'Instagram for every tenant',
  'module.marketing.enabled': 'broadcasts for every tenant',
  'module.publishing.enabled': 'content publishing for every tenant',
} as const;
export type GlobalFlag = keyof typeof GLOBAL_FLAGS;

export const SnapshotTenant = Type.Object({
  id: Type.String(),
  modules: TenantModules,
  limits: TenantLimits,
});

export const SnapshotInstance = Type.Object({
  id: Type.String(),
  tenantId: Type.String(),
  kind: Type.Union([Type.Literal('nexus'), Type.Literal('hub')], {
    description: "hub: the operator's own instance, delivered to control's internal events endpoint",
  }),
  webhookUrl: Type.Union([Type.String(), Type.Null()], { description: 'null for the hub instance' }),
  deliveryFormat: DeliveryFormat,
  state: InstanceState,
  /** Raised by control when the operator sets the endpoint again: re-enables one disabled by a 410. */
  endpointRevision: Type.Integer({ minimum: 0 }),
});
export type SnapshotInstance = Static<typeof SnapshotInstance>;

export const SnapshotChannel = Type.Object({
  platform: ChannelPlatform,
  channelId: Type.String(),
  instanceId: Type.String(),
});
export type SnapshotChannel = Static<typeof SnapshotChannel>;

export const ConfigSnapshot = Type.Object({
  version: Type.Integer({ minimum: 0, description: 'raised by every change; the ETag is "v<version>"' }),
  generatedAt: Type.String({ format: 'date-time' }),
  flags: Type.Record(Type.String(), Type.Boolean()),
  tenants: Type.Array(SnapshotTenant),
  instances: Type.Array(SnapshotInstance),
  channels: Type.Array(SnapshotChannel),
});
export type ConfigSnapshot = Static<typeof ConfigSnapshot>;

export const snapshotEtag = (version: number) => `"v${version}"`;

/** What the engine reports of the snapshot it runs from (`GET /internal/v1/config`). */
export const ConfigSyncStatus = Type.Object({
  version: Type.Union([Type.Integer(), Type.Null()]),
  fetchedAt: Type.Union([Type.String({ format: 'date-time' }), Type.Null()]),
  lastAttemptAt: Type.Union([Type.String({ format: 'date-time' }), Type.Null()]),
  lastError: Type.Union([Type.String(), Type.Null()]),
  ageSeconds: Type.Union([Type.Number(), Type.Null()], { description: 'since control last confirmed it' }),
});
export type ConfigSyncStatus = Static<typeof ConfigSyncStatus>;
