import fp from 'fastify-plugin';
import { Type } from 'typebox';
import { Flags, type HttpServer } from '@mic/platform';
import { actorOf } from '../audit/index.ts';
import { FeatureFlags } from './service.ts';

export { FeatureFlags, type FlagState } from './service.ts';

declare module 'fastify' {
  interface FastifyInstance {
    /** Global flags as stored by control (`featureFlags`), and the OpenFeature client over them (`flags`). */
    featureFlags: FeatureFlags;
    flags: Flags;
  }
}

const FlagView = Type.Object({
  key: Type.String(),
  description: Type.String(),
  enabled: Type.Boolean(),
  updatedAt: Type.Union([Type.String({ format: 'date-time' }), Type.Null()]),
  updatedBy: Type.Union([Type.String(), Type.Null()]),
});

const serialize = (f: ReturnType<FeatureFlags['list']>[number]) => ({
  ...f,
  updatedAt: f.updatedAt?.toISOString() ?? null,
});

export default fp(
  async (app: HttpServer) => {
    const featureFlags = new FeatureFlags(app.db.orm, app.clock, app.configPublisher);
    await featureFlags.load();
    app.decorate('featureFlags', featureFlags);
    app.configPublisher.section(async () => ({ flags: featureFlags.values() }));
    app.decorate(
      'flags',
      await Flags.open('control', {
        global: () => featureFlags.values(),
        tenantModules: async (id) => (await app.tenants.findTenant(id))?.modules,
      }),
    );

    const tags = ['flags'];
    app.get(
      '/v1/flags',
      {
        config: { permission: 'flags.read' },
        schema: { tags, summary: 'Global flags', response: { 200: Type.Array(FlagView) } },
      },
      async () => featureFlags.list().map(serialize),
    );
    app.put(
      '/v1/flags/:key',
      {
        config: { permission: 'flags.write' },
        schema: {
          tags,
          summary:
            'Turn a global flag on or off (engine.enabled off: nothing is delivered or sent; ingress keeps storing)',
          params: Type.Object({ key: Type.String({ maxLength: 100 }) }),
          body: Type.Object({ enabled: Type.Boolean() }, { additionalProperties: false }),
          response: { 200: FlagView },
        },
      },
      async (req) => {
        const actor = actorOf(req);
        const { after } = await app.db.orm.transaction(async (tx) => {
          const change = await featureFlags.set(tx, req.params.key, req.body.enabled, actor.label ?? actor.type);
          const target = { type: 'flag', id: req.params.key };
          await app.audit.record({ actor, action: 'flag.set', target, before: change.before, after: change.after }, tx);
          return change;
        });
        await featureFlags.refresh();
        return serialize(after);
      },
    );
  },
  { name: 'flags', dependencies: ['audit', 'config-sync', 'tenants'] },
);
