import fp from 'fastify-plugin';
import type { SendAccepted } from '@mic/contracts';
import type { HttpServer } from '@mic/platform';
import { Conversations } from './conversations.ts';
import { registerCrmRoutes } from './routes.ts';
import { Crm } from './service.ts';
import { crmTimelineSource, pauseTimelineSource } from './sources.ts';
import { CompanyTimeline } from './timeline.ts';
import { CrmTransfer } from './transfer.ts';

export { Crm, type SegmentRecipient } from './service.ts';
export { Conversations } from './conversations.ts';
export { CompanyTimeline, type TimelineCompany, type TimelineSource } from './timeline.ts';

/** The reply queue: a reply waits in control's database until the engine takes it. */
export const CRM_REPLIES = 'crm.replies';

declare module 'fastify' {
  interface FastifyInstance {
    /** Companies, contacts, deals, activities, segments (`resolveSegment`) and search. */
    crm: Crm;
    /** Conversations on the hub's own channels, and the operator's replies. */
    crmConversations: Conversations;
    /** Every company's timeline: other modules (billing) `register` a source of entries. */
    crmTimeline: CompanyTimeline;
    crmTransfer: CrmTransfer;
  }
}

export default fp(
  async (app: HttpServer) => {
    const crm = new Crm({
      db: app.db.orm,
      clock: app.clock,
      audit: (entry, tx) => app.audit.record(entry, tx),
      tenantStatus: async (tenantId, tx) => (await app.tenants.findTenant(tenantId, tx))?.status,
      isOperator: async (id) => (await app.operators.get(id)) !== undefined,
    });
    const conversations = new Conversations({
      db: app.db.orm,
      clock: app.clock,
      crm,
      queueReply: async (tx, messageId) => {
        await app.queue.send(CRM_REPLIES, { messageId }, {}, tx);
      },
      sendAsHub: (key, request) =>
        app.engine.request<SendAccepted>('PUT', `/internal/v1/hub/messages/${encodeURIComponent(key)}`, request),
    });
    const timeline = new CompanyTimeline(app.log.child({ module: 'crm' }));
    timeline.register(crmTimelineSource(app.db.orm));
    timeline.register(
      pauseTimelineSource(app.audit, async (tenantId) =>
        (await app.tenants.listInstances({ tenantId })).map((i) => i.id),
      ),
    );
    app.decorate('crm', crm);
    app.decorate('crmConversations', conversations);
    app.decorate('crmTimeline', timeline);
    app.decorate('crmTransfer', new CrmTransfer(app.db.orm, crm));

    app.hub.onEvent((tx, event) => conversations.applyHubEvent(tx, event));
    app.tenants.onChange(async (tx, change) => {
      if (change.action === 'tenant.pause' || change.action === 'tenant.resume') {
        await crm.recordTenantStatus(tx, change.targetId, change.action === 'tenant.pause' ? 'paused' : 'active');
      }
    });
    await crm.ensurePipeline();

    // Retried with backoff for as long as control's outbox would: the engine may be down for days.
    await app.queue.define(CRM_REPLIES, {
      retryLimit: 100_000,
      retryDelay: 1,
      retryBackoff: true,
      retryDelayMax: 60,
      deleteAfterSeconds: 86_400,
    });
    await app.queue.work<{ messageId: string }>(CRM_REPLIES, { batchSize: 1, localConcurrency: 2 }, async ([job]) =>
      conversations.sendReply(job!.data.messageId),
    );
    await registerCrmRoutes(app);
  },
  { name: 'crm', dependencies: ['audit', 'auth', 'engine', 'hub', 'tenants'] },
);
