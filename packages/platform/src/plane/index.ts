import fp from 'fastify-plugin';
import type { Logger } from 'pino';
import type { Registry } from 'prom-client';
import { Gauge } from 'prom-client';
import { createHttpServer, type HttpServer } from '../http/index.ts';
import { openDatabase, type Database, type DatabaseOptions } from '../db/index.ts';
import { JobQueue } from '../queue/index.ts';
import { registerHealthRoutes, type HealthCheck } from '../health/index.ts';
import { createMetricsRegistry } from '../metrics/index.ts';
import { listen, type RunningService } from '../lifecycle/index.ts';
import { systemClock, type Clock } from '../clock/index.ts';
import { QueueHeartbeats } from '../heartbeat/index.ts';
import type { PlaneName } from '../supervision/index.ts';
import { peerTokenReader, readOrCreatePeerTokens, registerServiceAuth, ServiceTokens } from '../service-auth/index.ts';

export {
  commonFields,
  keysPath,
  planeDatabaseOptions,
  planeDataDir,
  planeSettingsOptions,
  type PlaneOverrides,
  type PlaneSettings,
} from './config.ts';

/** Health groups by path; modules add checks to them while they register. */
export class HealthRegistry {
  readonly groups = new Map<string, { description: string; checks: HealthCheck[] }>();
  readonly readiness: HealthCheck[] = [];

  group(path: string, description: string): void {
    if (!this.groups.has(path)) this.groups.set(path, { description, checks: [] });
  }

  add(path: string, check: HealthCheck): void {
    const group = this.groups.get(path);
    if (!group) throw new Error(`no health group ${path}`);
    group.checks.push(check);
  }
}

declare module 'fastify' {
  interface FastifyInstance {
    plane: PlaneName;
    db: Database;
    queue: JobQueue;
    clock: Clock;
    health: HealthRegistry;
    metricsRegistry: Registry;
    heartbeats: QueueHeartbeats;
    /** Whether this process runs queue workers (the engine's `worker` role; control always does). */
    runsWorkers: boolean;
    /** Service tokens this plane accepts on its `/internal` routes. */
    serviceTokens: ServiceTokens;
    /** The token this plane presents on the other plane's `/internal` routes. */
    peerToken: () => string;
  }
}

export interface PlaneOptions {
  plane: PlaneName;
  version: string;
  description: string;
  logger: Logger;
  host: string;
  port: number;
  portEnv: string;
  database: DatabaseOptions;
  pollingIntervalMs: number;
  heartbeatIntervalMs: number;
  shutdownTimeoutMs: number;
  healthTimeoutMs: number;
  /** Proxies whose X-Forwarded-* headers are believed (Fastify's `trustProxy`). */
  trustProxy: boolean | string[];
  runsWorkers: boolean;
  serviceAuth: ServiceAuthOptions;
  bodyLimit?: number;
  clock?: Clock;
  /** Registers the plane's modules (Fastify plugins) on the app. */
  modules: (app: HttpServer) => Promise<void>;
}

export interface ServiceAuthOptions {
  /** The plane this one calls. */
  peer: PlaneName;
  /** The token to present to the peer, from configuration (separate deployments). */
  outgoingToken: string | undefined;
  /** The embedded default's shared token file; undefined for in-memory test planes. */
  tokensFile: string | undefined;
}

/** The token this plane presents to its peer, and the peer's token it accepts (embedded default). */
async function setUpServiceAuth(
  plane: PlaneName,
  options: ServiceAuthOptions,
  tokens: ServiceTokens,
): Promise<() => string> {
  if (options.outgoingToken) {
    const token = options.outgoingToken;
    return () => token;
  }
  if (!options.tokensFile) {
    return () => {
      throw new Error(`no service token configured for calls to ${options.peer}`);
    };
  }
  const file = readOrCreatePeerTokens(options.tokensFile);
  await tokens.register(options.peer, file[options.peer]);
  return peerTokenReader(options.tokensFile, plane);
}

export interface StartedPlane {
  app: HttpServer;
  url: string;
  service: RunningService;
}

/**
 * Boots a plane: database (migrated), queue, HTTP server with health and metrics, then the
 * plane's modules; returns a service whose stop() shuts down in the reverse order.
 */
export async function startPlane(options: PlaneOptions): Promise<StartedPlane> {
  const { logger } = options;
  const startedAt = new Date();
  let isReady = false;
  const db = await openDatabase(options.database);
  let queue: JobQueue | undefined;
  let app: HttpServer | undefined;
  try {
    const applied = await db.migrate();
    if (applied.length) logger.info({ applied }, 'migrations applied');
    queue = new JobQueue({
      database: db,
      logger,
      pollingIntervalSeconds: Math.max(0.5, options.pollingIntervalMs / 1000),
      runMaintenance: options.runsWorkers,
      instanceName: `${options.plane}-${process.pid}`,
    });
    await queue.start();

    const metrics = createMetricsRegistry(options.plane);
    app = await createHttpServer({
      logger,
      metrics,
      title: `MIC ${options.plane}`,
      version: options.version,
      description: options.description,
      ...(options.bodyLimit ? { bodyLimit: options.bodyLimit } : {}),
      trustProxy: options.trustProxy,
    });
    const health = new HealthRegistry();
    const heartbeats = new QueueHeartbeats(db.orm, queue, options.heartbeatIntervalMs);
    const clock = options.clock ?? systemClock;
    const serviceTokens = new ServiceTokens(db.orm, clock);
    const peerToken = await setUpServiceAuth(options.plane, options.serviceAuth, serviceTokens);
    app.decorate('plane', options.plane);
    app.decorate('db', db);
    app.decorate('queue', queue);
    app.decorate('clock', clock);
    app.decorate('serviceTokens', serviceTokens);
    app.decorate('peerToken', peerToken);
    app.decorate('health', health);
    app.decorate('metricsRegistry', metrics);
    app.decorate('heartbeats', heartbeats);
    app.decorate('runsWorkers', options.runsWorkers);

    const dbCheck: HealthCheck = {
      name: `${db.kind === 'pglite' ? 'pglite' : 'postgres'}:responseTime`,
      run: async () => ({
        componentId: db.schema,
        componentType: 'datastore',
        observedValue: Math.round((await db.ping()) * 100) / 100,
        observedUnit: 'ms',
        status: 'pass',
      }),
    };
    const uptime: HealthCheck = {
      name: 'uptime',
      run: async () => ({
        componentType: 'system',
        observedValue: Math.round(process.uptime()),
        observedUnit: 's',
        status: 'pass',
      }),
    };
    health.group('/health/api', `the ${options.plane} API itself`);
    health.group('/health/db', `the ${options.plane} database and its queue`);
    health.add('/health/api', uptime);
    health.add('/health/db', dbCheck);
    health.add('/health/db', heartbeats.check(startedAt));
    health.readiness.push(dbCheck);

    const depth = new Gauge({
      name: 'queue_jobs',
      help: 'Jobs per queue and state',
      labelNames: ['queue', 'state'],
      registers: [metrics],
    });

    registerServiceAuth(app, serviceTokens);
    await app.register(fp((instance: HttpServer) => options.modules(instance), { name: `${options.plane}-modules` }));
    // Every group registered by now; the routes read them at request time.
    registerHealthRoutes(app, {
      serviceId: `mic-${options.plane}`,
      version: options.version.split('.')[0] ?? '0',
      releaseId: options.version,
      timeoutMs: options.healthTimeoutMs,
      groups: Object.fromEntries(health.groups),
      readinessChecks: health.readiness,
      isReady: () => isReady,
      metrics,
      beforeScrape: async () => {
        const depths = await queue!.depths().catch(() => ({}));
        for (const [name, d] of Object.entries(depths)) {
          depth.set({ queue: name, state: 'queued' }, d.queued);
          depth.set({ queue: name, state: 'active' }, d.active);
          depth.set({ queue: name, state: 'failed' }, d.failed);
        }
      },
    });
    await app.ready();
    await heartbeats.start(options.runsWorkers, (error) => logger.warn({ err: error }, 'heartbeat failed'));

    const url = await listen(app, options.host, options.port, options.portEnv);
    isReady = true;
    logger.info({ url, db: db.kind, schema: db.schema, workers: options.runsWorkers }, `${options.plane} ready`);

    const startedApp = app;
    const startedQueue = queue;
    return {
      app: startedApp,
      url,
      service: {
        async stop() {
          isReady = false;
          heartbeats.stop();
          await startedApp.close();
          await startedQueue.stop(options.shutdownTimeoutMs);
          await db.close();
        },
      },
    };
  } catch (error) {
    await app?.close().catch(() => {});
    await queue?.stop(0).catch(() => {});
    await db.close().catch(() => {});
    throw error;
  }
}
