import fp from 'fastify-plugin';
import { ConfigSyncStatus, ENGINE_HEALTH_PATH, type ChannelPlatform } from '@mic/contracts';
import {
  Flags,
  InternalClient,
  Problem,
  tenantModuleFlag,
  type HttpServer,
  type Logger,
  type Observation,
} from '@mic/platform';
import { ConfigSync } from './service.ts';

export { ConfigSync } from './service.ts';

declare module 'fastify' {
  interface FastifyInstance {
    /** Control's internal API, called with the engine's service token. */
    controlClient: InternalClient;
    /** The engine's copy of control's configuration (routing, states, flags, limits). */
    configSync: ConfigSync;
    /** This plane's flags through OpenFeature (control: its database; the engine: its snapshot). */
    flags: Flags;
    /** Why an instance's deliveries and sends are held now, or null when they may go. */
    holdReason(instanceId: string, platform?: ChannelPlatform): Promise<string | null>;
    /**
     * Refuses an instance's send with a problem: 423 while the instance is paused, 403 when the
     * module is off for its tenant, 503 while the engine is disabled.
     */
    assertInstanceMaySend(instanceId: string, platform?: ChannelPlatform): Promise<void>;
    /** The hub instance (tenant zero) that control's own sends go out as, or 503 until the first config sync brings it. */
    hubInstanceId(): string;
  }
}

export interface ConfigSyncOptions {
  controlUrl: string;
  controlTimeoutMs: number;
  intervalMs: number;
  staleAfterMs: number;
}

export default fp(
  async (app: HttpServer, options: ConfigSyncOptions) => {
    const control = new InternalClient({
      baseUrl: options.controlUrl,
      token: app.peerToken,
      timeoutMs: options.controlTimeoutMs,
      peer: 'control',
    });
    app.decorate('controlClient', control);
    const sync = new ConfigSync({
      db: app.db.orm,
      clock: app.clock,
      control,
      routing: app.routingTable,
      logger: app.log.child({ module: 'config-sync' }) as Logger,
    });
    await sync.load();
    app.decorate('configSync', sync);
    const flags = await Flags.open('engine', {
      global: () => sync.globalFlags(),
      tenantModules: (tenantId) => sync.tenantModules(tenantId),
    });
    app.decorate('flags', flags);
    app.decorate('holdReason', async (instanceId: string, platform?: ChannelPlatform) => {
      if (!(await flags.isEnabled('engine.enabled'))) return 'the engine is disabled (engine.enabled is off)';
      const instance = sync.instance(instanceId);
      if (!instance) return 'the instance is not in the config snapshot';
      if (instance.state !== 'active') return `the instance is ${instance.state}`;
      if (platform && !(await flags.isEnabled(tenantModuleFlag(platform), instance.tenantId))) {
        return `the ${platform} module is off for this tenant`;
      }
      return null;
    });
    app.decorate('assertInstanceMaySend', async (instanceId: string, platform?: ChannelPlatform) => {
      const instance = sync.instance(instanceId);
      if (!(await flags.isEnabled('engine.enabled'))) {
        throw new Problem({
          status: 503,
          type: 'engine-disabled',
          title: 'The engine is not sending now',
          detail: 'engine.enabled is off; try again later',
        });
      }
      if (!instance) {
        throw new Problem({
          status: 423,
          type: 'instance-unknown',
          title: 'The instance is not configured',
          detail: 'the engine has no configuration for this instance yet',
        });
      }
      if (instance.state !== 'active') {
        throw new Problem({
          status: 423,
          type: 'instance-paused',
          title: 'The instance is paused',
          detail: `instance ${instance.id} is ${instance.state}: its sends are refused until it is resumed`,
          state: instance.state,
        });
      }
      if (platform && !(await flags.isEnabled(tenantModuleFlag(platform), instance.tenantId))) {
        throw new Problem({
          status: 403,
          type: 'module-disabled',
          title: 'The module is off',
          detail: `the ${platform} module is off for this tenant`,
          module: platform,
        });
      }
    });
    app.decorate('hubInstanceId', () => {
      const hub = sync.snapshot?.instances.find((i) => i.kind === 'hub');
      if (!hub) {
        // 503, not 423: the first config sync will bring it, so the caller should retry.
        throw new Problem({
          status: 503,
          type: 'hub-not-configured',
          title: 'The hub instance is not configured yet',
          detail: 'the engine has no config snapshot with the hub instance yet',
        });
      }
      return hub.id;
    });

    const log = app.log.child({ module: 'config-sync' });
    const pull = () => void sync.pull().catch((error: unknown) => log.error({ err: error }, 'config pull failed'));
    const timer = setInterval(pull, options.intervalMs);
    timer.unref();
    app.addHook('onReady', async () => pull());
    app.addHook('onClose', async () => clearInterval(timer));

    const check = {
      name: 'config:snapshot',
      run: async (): Promise<Observation> => {
        const status = sync.status();
        const base = { componentType: 'component', observedUnit: 's', time: app.clock.now().toISOString() };
        if (status.version === null) {
          return {
            ...base,
            status: 'warn',
            output: `no config snapshot from control yet: nothing is routed (${status.lastError ?? 'not asked yet'})`,
          };
        }
        const age = status.ageSeconds ?? Number.POSITIVE_INFINITY;
        const observedValue = Number.isFinite(age) ? Math.round(age) : null;
        if (age * 1000 > options.staleAfterMs) {
          return {
            ...base,
            status: 'warn',
            observedValue,
            output: `running from snapshot v${status.version}; control has ${observedValue === null ? 'not confirmed it since this process started' : `not confirmed it for ${observedValue} s`}${status.lastError ? ` (${status.lastError})` : ''}`,
          };
        }
        return { ...base, status: 'pass', observedValue };
      },
    };
    app.health.add('/health/api', check);
    app.health.add(ENGINE_HEALTH_PATH, check);

    const tags = ['config sync'];
    app.post(
      '/internal/v1/config/hint',
      { schema: { tags, summary: 'Control says the configuration changed: pull it now' } },
      async (_req, reply) => {
        pull();
        void reply.status(202);
        return { accepted: true };
      },
    );
    app.get(
      '/internal/v1/config',
      {
        schema: {
          tags,
          summary: 'The snapshot the engine runs from, and how fresh it is',
          response: { 200: ConfigSyncStatus },
        },
      },
      async () => sync.status(),
    );
  },
  { name: 'config-sync', dependencies: ['routing'] },
);
