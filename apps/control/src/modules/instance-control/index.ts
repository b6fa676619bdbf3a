import fp from 'fastify-plugin';
import type { HttpServer, Logger } from '@mic/platform';
import { CommandSigningKey, type SigningKeySource } from './keys.ts';
import { registerInstanceControlRoutes } from './routes.ts';
import { COMMAND_QUEUE, InstanceControl, PROBE_QUEUE, type InstanceControlOptions } from './service.ts';

export {
  COMMAND_QUEUE,
  InstanceControl,
  PROBE_QUEUE,
  emptyDirectory,
  type InstanceCommandRow,
  type InstanceControlOptions,
  type InstanceDirectory,
  type AdminContact,
  type DirectOutcome,
  type IssueCommand,
} from './service.ts';
export type { AvailabilityChange, AvailabilityListener, InstanceUptimeInfo } from './availability.ts';
export { CommandSigningKey, type SigningKeySource } from './keys.ts';

declare module 'fastify' {
  interface FastifyInstance {
    /** Signed commands to instances (pause, resume, password-reset, backup, health) and their uptime. */
    instanceControl: InstanceControl;
  }
}

export interface InstanceControlModuleOptions extends InstanceControlOptions {
  key: SigningKeySource;
}

/**
 * Instance control: commands are rows plus queue jobs written in one transaction, each sent signed
 * with control's ed25519 key and retried until it expires. Health probes run once per interval
 * across all control processes: every process offers a probe job each interval, and pg-boss keeps
 * one per interval slot (`singletonSeconds`) and runs one at a time (`stately`).
 */
export default fp(
  async (app: HttpServer, options: InstanceControlModuleOptions) => {
    const key = CommandSigningKey.load(options.key);
    const logger = app.log.child({ module: 'instance-control' }) as Logger;
    const service = new InstanceControl({ db: app.db.orm, queue: app.queue, clock: app.clock, key, logger, options });
    app.decorate('instanceControl', service);

    const attemptSeconds = Math.ceil(options.timeoutMs / 1000);
    await app.queue.define(COMMAND_QUEUE, {
      retryLimit: 5,
      retryDelay: 5,
      retryBackoff: true,
      expireInSeconds: attemptSeconds + 60,
      deleteAfterSeconds: 86_400,
    });
    await app.queue.define(PROBE_QUEUE, {
      policy: 'stately',
      retryLimit: 0,
      heartbeatSeconds: 30,
      deleteAfterSeconds: 3_600,
    });
    if (app.runsWorkers) {
      await app.queue.work<{ commandId: string }>(COMMAND_QUEUE, { batchSize: 1, localConcurrency: 4 }, async ([job]) =>
        service.send(job!.data.commandId),
      );
      await app.queue.work(PROBE_QUEUE, { batchSize: 1 }, async () => service.probeAll());
    }
    const slotSeconds = Math.max(1, Math.round(options.probeIntervalMs / 1000));
    const offerProbe = () =>
      app.queue
        .send(PROBE_QUEUE, {}, { singletonKey: 'round', singletonSeconds: slotSeconds })
        .catch((error: unknown) => logger.warn({ err: error }, 'instance probe not scheduled'));
    let timer: NodeJS.Timeout | undefined;
    app.addHook('onReady', async () => {
      void offerProbe();
      timer = setInterval(() => void offerProbe(), options.probeIntervalMs);
      timer.unref();
    });
    app.addHook('onClose', async () => clearInterval(timer));

    registerInstanceControlRoutes(app);
    app.log.info({ key: key.describe(), keyId: key.keyId }, 'instance control ready');
  },
  { name: 'instance-control', dependencies: ['auth', 'audit'] },
);
