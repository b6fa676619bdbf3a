import fp from 'fastify-plugin';
import type { HttpServer, Logger } from '@mic/platform';
import { MAIL_QUEUE, TICK_QUEUE, type BillingOptions, type MailJob, type UsageSource } from './context.ts';
import { Mailer } from '@mic/platform';
import { registerBillingRoutes } from './routes.ts';
import { Billing } from './service.ts';
import { billingTimelineSource } from './timeline.ts';

export { Billing, type BillingEventRow } from './service.ts';
export { signProviderEvent } from './payments.ts';

declare module 'fastify' {
  interface FastifyInstance {
    /** Plans, subscriptions, invoices, payments, dunning and reports; `tick(now)` moves business time. */
    billing: Billing;
  }
}

export interface BillingModuleOptions extends BillingOptions {
  mail: { smtpUrl: string | undefined; from: string; timeoutMs: number };
  tickIntervalMs: number;
}

const dayOf = (d: Date) => d.toISOString().slice(0, 10);

export default fp(
  async (app: HttpServer, options: BillingModuleOptions) => {
    const logger = app.log.child({ module: 'billing' }) as Logger;
    // Usage is what the alerts module stores from the engine's reports: absolute counts per UTC day.
    const usage: UsageSource = async (tenantId, from, to) => {
      const first = dayOf(from);
      const last = dayOf(new Date(to.getTime() - 1));
      let total = 0;
      const month = new Date(Date.UTC(from.getUTCFullYear(), from.getUTCMonth(), 1));
      while (dayOf(month) <= last) {
        const rows = await app.alerts.usage({ tenantId, period: dayOf(month).slice(0, 7) });
        for (const row of rows) {
          if (row.metric === 'messages.sent' && row.period >= first && row.period <= last) total += row.value;
        }
        month.setUTCMonth(month.getUTCMonth() + 1);
      }
      return total;
    };
    const mailer = new Mailer(options.mail, logger);
    const billing = new Billing(
      {
        db: app.db.orm,
        clock: app.clock,
        audit: app.audit,
        tenants: app.tenants,
        queue: app.queue,
        usage,
        planChanged: async (tenantId, plan) => {
          if (app.hasDecorator('crm')) await app.crm.recordPlan(tenantId, plan);
        },
        logger,
        options,
      },
      mailer,
    );
    app.decorate('billing', billing);
    registerBillingRoutes(app);
    // The CRM's company timeline shows billing's events when the CRM module is there.
    if (app.hasDecorator('crmTimeline')) app.crmTimeline.register(billingTimelineSource(app.db.orm));

    await app.queue.define(MAIL_QUEUE, { retryLimit: 20, retryDelay: 30, retryBackoff: true, retryDelayMax: 3_600 });
    await app.queue.define(TICK_QUEUE, { policy: 'stately', retryLimit: 0, deleteAfterSeconds: 86_400 });
    if (app.runsWorkers) {
      await app.queue.work<MailJob>(MAIL_QUEUE, { batchSize: 1 }, async ([job]) => billing.sendMail(job!.data));
      await app.queue.work(TICK_QUEUE, { batchSize: 1 }, async () => billing.tick());
    }
    const slotSeconds = Math.max(1, Math.round(options.tickIntervalMs / 1000));
    const offerTick = () =>
      app.queue
        .send(TICK_QUEUE, {}, { singletonKey: 'tick', singletonSeconds: slotSeconds })
        .catch((error: unknown) => logger.warn({ err: error }, 'billing tick not scheduled'));
    let timer: NodeJS.Timeout | undefined;
    app.addHook('onReady', async () => {
      timer = setInterval(() => void offerTick(), options.tickIntervalMs);
      timer.unref();
    });
    app.addHook('onClose', async () => {
      clearInterval(timer);
      mailer.close();
    });
  },
  { name: 'billing', dependencies: ['audit', 'tenants', 'alerts'] },
);
