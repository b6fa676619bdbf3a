import type { ChannelPlatform, ConfigSnapshot } from '@mic/contracts';
import type { Clock } from '@mic/platform';
import { startTestPlane, type TestPlane } from '@mic/platform/testing';
import { loadEngineConfig } from './config.ts';
import { ENGINE_MIGRATIONS, startEngine } from './server.ts';

export type TestEngine = TestPlane;

/** An engine on a test database of its own; control's address points nowhere unless given. */
export function startTestEngine(env: Record<string, string> = {}, clock?: Clock): Promise<TestEngine> {
  return startTestPlane({
    prefix: 'ENGINE',
    migrations: ENGINE_MIGRATIONS,
    loadConfig: loadEngineConfig,
    start: startEngine,
    ...(clock ? { clock } : {}),
    env: { CONTROL_URL: 'http://127.0.0.1:9', ...env },
  });
}

/** Changes the engine's configuration as a new snapshot from control would (tests without control). */
export async function applyTestConfig(engine: TestEngine, change: (snapshot: ConfigSnapshot) => void): Promise<void> {
  const current = engine.app.configSync.snapshot;
  const next: ConfigSnapshot = current ? structuredClone(current) : emptySnapshot();
  change(next);
  next.version = (current?.version ?? 0) + 1;
  next.generatedAt = new Date().toISOString();
  await engine.app.configSync.apply(next);
}

export interface TestInstanceRoute {
  id: string;
  tenantId?: string;
  webhookUrl: string;
  channels?: { platform: ChannelPlatform; channelId: string }[];
  deliveryFormat?: 'standard-webhooks' | 'meta';
}

export const emptySnapshot = (): ConfigSnapshot => ({
  version: 0,
  generatedAt: new Date().toISOString(),
  flags: {},
  tenants: [],
  instances: [],
  channels: [],
});

/** Adds (or replaces) an active instance with its channels, and its tenant with every module on. */
export function withTestInstance(s: ConfigSnapshot, instance: TestInstanceRoute): ConfigSnapshot {
  const tenantId = instance.tenantId ?? `ten_${instance.id.replace(/[^A-Za-z0-9]/g, '')}`;
  if (!s.tenants.some((t) => t.id === tenantId)) {
    s.tenants.push({
      id: tenantId,
      modules: { whatsapp: true, messenger: true, instagram: true, marketing: true, publishing: true },
      limits: {
        messagesPerMonth: null,
        sendsPerSecond: 80,
        broadcastSize: null,
        priorities: ['critical', 'conversation', 'marketing'],
      },
    });
  }
  const previous = s.instances.find((i) => i.id === instance.id);
  s.instances = s.instances.filter((i) => i.id !== instance.id);
  s.instances.push({
    id: instance.id,
    tenantId,
    kind: 'nexus',
    webhookUrl: instance.webhookUrl,
    deliveryFormat: instance.deliveryFormat ?? 'standard-webhooks',
    state: 'active',
    endpointRevision: (previous?.endpointRevision ?? 0) + 1,
  });
  for (const channel of instance.channels ?? []) {
    s.channels = s.channels.filter((c) => !(c.platform === channel.platform && c.channelId === channel.channelId));
    s.channels.push({ ...channel, instanceId: instance.id });
  }
  return s;
}

/** Routes an instance as control would after the operator created it (see `withTestInstance`). */
export function routeTestInstance(engine: TestEngine, instance: TestInstanceRoute): Promise<void> {
  return applyTestConfig(engine, (s) => void withTestInstance(s, instance));
}
