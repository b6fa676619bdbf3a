import fp from 'fastify-plugin';
import { Notifier, type HttpServer, type NotifySettings } from '@mic/platform';
import { registerAlertRoutes } from './routes.ts';
import { Alerts, NOTIFY_QUEUE, type AlertsOptions } from './service.ts';
import { ControlWatch } from './watch.ts';

export { Alerts, type AlertRow, type RaiseAlert } from './service.ts';

declare module 'fastify' {
  interface FastifyInstance {
    /** The operators' alert list: `raise(alert, tx?)`, `resolve(key, tx?)`, `list`, `acknowledge`. */
    alerts: Alerts;
  }
}

export interface AlertsModuleOptions extends AlertsOptions {
  notify: NotifySettings;
  engineAlertAfterMs: number;
  watchIntervalMs: number;
}

export default fp(
  async (app: HttpServer, options: AlertsModuleOptions) => {
    const notifier = new Notifier(options.notify, app.log as never);
    const alerts = new Alerts({
      tenantOf: (instanceId, tx) => app.tenants.tenantOf(instanceId, tx),
      db: app.db.orm,
      clock: app.clock,
      queue: app.queue,
      notifier,
      monitoring: app.monitoring,
      logger: app.log as never,
      options,
    });
    app.decorate('alerts', alerts);

    // An instance that stops answering control's health probes (past INSTANCE_DOWN_AFTER), and back.
    app.instanceControl.onInstanceUnreachable(async (change) => {
      const instance = await app.tenants.instance(change.instanceId).catch(() => undefined);
      await alerts.raise({
        key: `instance-unreachable:${change.instanceId}`,
        type: 'instance-unreachable',
        severity: 'critical',
        message: `instance ${instance?.name ?? change.instanceId} has not answered control since ${change.since.toISOString()}: ${change.error ?? 'no answer'}`,
        instanceId: change.instanceId,
        tenantId: instance?.tenantId,
        details: { lastOkAt: change.lastOkAt?.toISOString() ?? null, consecutiveFailures: change.consecutiveFailures },
      });
    });
    app.instanceControl.onInstanceReachable(async (change) => {
      await alerts.resolve(`instance-unreachable:${change.instanceId}`);
    });
    registerAlertRoutes(app);

    await app.queue.define(NOTIFY_QUEUE, { retryLimit: 20, retryDelay: 5, retryBackoff: true, retryDelayMax: 900 });
    if (app.runsWorkers) {
      await app.queue.work<{ alertId: string }>(NOTIFY_QUEUE, { batchSize: 1 }, async ([job]) =>
        alerts.notify(job!.data.alertId),
      );
    }

    const engineCheck = app.health.groups.get('/health/engine')?.checks.find((c) => c.name === 'engine:health');
    if (!engineCheck) throw new Error('the alerts module needs the engine health check (register health first)');
    const watch = new ControlWatch({
      alerts,
      engineCheck,
      clock: app.clock,
      logger: app.log as never,
      engineAlertAfterMs: options.engineAlertAfterMs,
    });
    let timer: NodeJS.Timeout | undefined;
    let running: Promise<void> | undefined;
    let lastCleanup = 0;
    app.addHook('onReady', async () => {
      timer = setInterval(() => {
        if (running) return;
        running = (async () => {
          await watch.tick();
          if (Date.now() - lastCleanup > 3_600_000) {
            lastCleanup = Date.now();
            await alerts.dropOld();
          }
        })()
          .catch((error: unknown) => app.log.warn({ err: error }, 'alert watch failed'))
          .finally(() => (running = undefined));
      }, options.watchIntervalMs);
      timer.unref();
    });
    app.addHook('onClose', async () => {
      clearInterval(timer);
      await running;
      notifier.close();
    });
  },
  { name: 'alerts', dependencies: ['health', 'monitoring', 'tenants', 'instance-control'] },
);
