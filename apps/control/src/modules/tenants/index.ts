import fp from 'fastify-plugin';
import type { HttpServer, UrlPolicy } from '@mic/platform';
import { Tenants } from './service.ts';
import { registerTenantRoutes } from './routes.ts';

export { Tenants, HUB_INSTANCE_ID, HUB_TENANT_ID, type Change, type InstanceRow } from './service.ts';

declare module 'fastify' {
  interface FastifyInstance {
    /** Tenants, their instances and channels: who receives what, and in which state. */
    tenants: Tenants;
  }
}

export default fp(
  async (app: HttpServer, options: { urlPolicy: UrlPolicy }) => {
    const tenants = new Tenants({
      db: app.db.orm,
      clock: app.clock,
      publisher: app.configPublisher,
      urlPolicy: options.urlPolicy,
    });
    app.decorate('tenants', tenants);
    app.configPublisher.section(() => tenants.snapshotSection());
    tenants.onChange((tx, change) =>
      app.audit
        .record(
          {
            actor: change.actor,
            action: change.action,
            target: { type: change.targetType, id: change.targetId },
            before: change.before,
            after: change.after,
          },
          tx,
        )
        .then(() => undefined),
    );
    app.instanceControl.useDirectory({
      controlTarget: async (instanceId) => {
        const [instance] = await tenants.controllable([instanceId]);
        return instance?.controlUrl ? { controlUrl: instance.controlUrl } : null;
      },
      probeTargets: async () =>
        (await tenants.controllable()).map((i) => ({ instanceId: i.id, controlUrl: i.controlUrl! })),
      adminContact: (instanceId) => tenants.adminContactOf(instanceId),
    });
    app.instanceControl.onVersionReported((instanceId, version) => tenants.recordReportedVersion(instanceId, version));
    // Pause and resume reach the instance itself through a signed command, issued in the change's transaction.
    tenants.useInstanceCommand(async (tx, instance, command, reason, actor) => {
      if (!instance.controlUrl) return;
      await app.instanceControl.issue(
        { instanceId: instance.id, command, args: { reason }, requestedBy: actor.id ?? actor.label },
        tx,
      );
    });
    await tenants.ensureHub();
    registerTenantRoutes(app);
  },
  { name: 'tenants', dependencies: ['audit', 'config-sync', 'outbox', 'secrets', 'engine', 'instance-control'] },
);
