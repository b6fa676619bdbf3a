import fp from 'fastify-plugin';
import { ENGINE_HEALTH_PATH } from '@mic/contracts';
import { Notifier, type HttpServer, type NotifySettings } from '@mic/platform';
import type { DeliveryAlert } from '../delivery/index.ts';
import { ControlLink } from './link.ts';
import { EngineFigures } from './metrics.ts';
import { registerReportRoutes } from './routes.ts';
import { Reports, type NewAlert, type ReportsOptions } from './service.ts';

export { Reports, type NewAlert, type NewReport } from './service.ts';
export { ControlLink } from './link.ts';

declare module 'fastify' {
  interface FastifyInstance {
    /** What the engine reports to control (alerts, usage, delivery stats), through its outbox. */
    reports: Reports;
    /** Whether this process reaches control. */
    controlLink: ControlLink;
  }
}

export interface ReportsModuleOptions extends ReportsOptions {
  /** Shown in the health check; calls go through `app.controlClient`. */
  controlUrl: string;
  notify: NotifySettings;
}

/** The engine's delivery alerts as reports: one key per condition, raised and later resolved. */
function deliveryAlertReport(alert: DeliveryAlert): NewAlert | undefined {
  const base = { instanceId: alert.instanceId, details: { ...alert.detail } };
  switch (alert.kind) {
    case 'breaker.opened':
    case 'breaker.closed':
      return {
        ...base,
        key: `breaker:${alert.instanceId}`,
        type: 'breaker-open',
        severity: 'critical',
        state: alert.kind === 'breaker.opened' ? 'raised' : 'resolved',
        message:
          alert.kind === 'breaker.opened'
            ? `Deliveries to instance ${alert.instanceId} are held: its endpoint keeps failing`
            : `Instance ${alert.instanceId} takes deliveries again`,
      };
    case 'endpoint.disabled':
    case 'endpoint.enabled':
      return {
        ...base,
        key: `endpoint-disabled:${alert.instanceId}`,
        type: 'endpoint-disabled',
        severity: 'critical',
        state: alert.kind === 'endpoint.disabled' ? 'raised' : 'resolved',
        message:
          alert.kind === 'endpoint.disabled'
            ? `Instance ${alert.instanceId}'s endpoint answered 410 Gone: deliveries are held until its route is set again`
            : `Instance ${alert.instanceId}'s route was set again: deliveries resume`,
      };
    default:
      return undefined;
  }
}

export default fp(
  async (app: HttpServer, options: ReportsModuleOptions) => {
    const link = new ControlLink(app.clock);
    const figures = new EngineFigures(app.db.orm);
    const notifier = new Notifier(options.notify, app.log as never);
    const reports = new Reports({
      db: app.db.orm,
      clock: app.clock,
      control: app.controlClient,
      link,
      figures,
      notifier,
      logger: app.log as never,
      options,
    });
    app.decorate('reports', reports);
    app.decorate('controlLink', link);

    app.deliveries.onAlert(async (alert, tx) => {
      const report = deliveryAlertReport(alert);
      if (report) await reports.alert(report, tx);
    });
    // A channel Meta no longer lets us subscribe: an expired or revoked token needs the operator.
    app.channelConnections.onConnectionFailed(async (connection) => {
      const channel = `${connection.platform}:${connection.channelId}`;
      const isAuth = connection.error?.classification === 'auth';
      await reports.alert({
        key: `channel:${channel}`,
        state: 'raised',
        type: isAuth ? 'reauthorize-channel' : 'channel-subscription-failed',
        severity: isAuth ? 'critical' : 'warning',
        channel,
        message: isAuth
          ? `Meta refused the token of ${channel}: reauthorize the channel and give its new token`
          : `the app could not be subscribed to the webhooks of ${channel}: ${connection.error?.message ?? 'unknown error'}`,
        details: {
          code: connection.error?.code ?? null,
          subcode: connection.error?.subcode ?? null,
          classification: connection.error?.classification ?? null,
        },
      });
    });
    // Control re-enabling an endpoint that a 410 disabled resolves its alert (recorded like the others).
    app.routingTable.onEndpointReenabled(async (instanceId) => {
      await app.deliveries.alert('endpoint.enabled', instanceId, {});
    });

    registerReportRoutes(app, figures, options.statsIntervalMs);
    if (app.runsWorkers) {
      const check = link.check(options.controlUrl);
      app.health.add('/health/api', check);
      app.health.add(ENGINE_HEALTH_PATH, check);
      app.addHook('onReady', async () => reports.start());
      app.addHook('onClose', async () => {
        await reports.stop();
        notifier.close();
      });
    }
  },
  { name: 'reports', dependencies: ['system', 'routing', 'config-sync', 'delivery', 'channels'] },
);
