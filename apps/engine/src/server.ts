import { fileURLToPath } from 'node:url';
import {
  applyPendingRestore,
  backupSettings,
  keysPath,
  planeDatabaseOptions,
  planeSettingsOptions,
  startPlane,
  type Logger,
  type PlaneOverrides,
} from '@mic/platform';
import pkg from '../package.json' with { type: 'json' };
import type { EngineConfig } from './config.ts';
import system from './modules/system/index.ts';
import secrets, { type KeyringSource } from './modules/secrets/index.ts';
import credentials from './modules/credentials/index.ts';
import routing from './modules/routing/index.ts';
import channels from './modules/channels/index.ts';
import configSync from './modules/config-sync/index.ts';
import ingress from './modules/ingress/index.ts';
import delivery from './modules/delivery/index.ts';
import reports from './modules/reports/index.ts';
import outbound from './modules/outbound/index.ts';
import messages, { laneCap } from './modules/messages/index.ts';
import backups from './modules/backups/index.ts';
import graphApi from './modules/graph-api/index.ts';
import templates from './modules/templates/index.ts';
import broadcasts from './modules/broadcasts/index.ts';
import posts from './modules/posts/index.ts';

export const ENGINE_MIGRATIONS = fileURLToPath(new URL('../migrations', import.meta.url));
export const ENGINE_VERSION = pkg.version;

export const engineDatabaseOptions = (config: EngineConfig) =>
  planeDatabaseOptions('engine', config, ENGINE_MIGRATIONS);

/** The keyring: from ENGINE_KEYRING, else a file outside the data folders, else memory (tests). */
function keyringSource(config: EngineConfig): KeyringSource {
  if (config.keyring) return { kind: 'env', value: config.keyring };
  const path = config.keyringFile ?? keysPath(config.dataDir, 'engine-keyring.json');
  return path ? { kind: 'file', path } : { kind: 'memory' };
}

/** Starts the communications engine with the roles it is configured for. */
export async function startEngine(config: EngineConfig, logger: Logger, overrides: PlaneOverrides = {}) {
  // A restore asked for while the plane ran is applied now, before anything opens the database.
  await applyPendingRestore({
    plane: 'engine',
    settings: backupSettings(config),
    database: engineDatabaseOptions(config),
    log: (line) => logger.warn(line),
  });
  return startPlane({
    ...planeSettingsOptions('engine', config, ENGINE_MIGRATIONS, overrides),
    version: ENGINE_VERSION,
    description: 'MIC communications engine: Meta webhooks in, deliveries to instances, sends to Meta',
    logger,
    runsWorkers: config.roles.includes('worker'),
    bodyLimit: config.bodyLimit,
    async modules(app) {
      await app.register(system, { version: ENGINE_VERSION, roles: config.roles });
      await app.register(secrets, {
        keyring: keyringSource(config),
        metaAppSecret: config.metaAppSecret,
        metaVerifyToken: config.metaVerifyToken,
      });
      await app.register(credentials, { graceMs: config.credentialGrace });
      await app.register(routing);
      await app.register(channels, {
        graph: {
          baseUrl: config.metaGraphUrl,
          version: config.metaGraphVersion,
          timeoutMs: config.metaGraphTimeout,
          userAgent: `MIC-Engine/${ENGINE_VERSION}`,
        },
        retrySchedule: config.channelSubscribeRetrySchedule,
      });
      await app.register(configSync, {
        controlUrl: config.controlUrl,
        controlTimeoutMs: config.controlTimeout,
        intervalMs: config.configSyncInterval,
        staleAfterMs: config.configStaleAfter,
      });
      await app.register(delivery, {
        schedule: config.retrySchedule,
        timeoutMs: config.deliveryTimeout,
        breaker: { threshold: config.breakerThreshold, halfOpenAfterMs: config.breakerHalfOpenAfter },
        concurrency: config.deliveryConcurrency,
        leaseMs: Math.max(config.deliveryLease, config.deliveryTimeout + 5_000),
        userAgent: `MIC-Engine/${ENGINE_VERSION}`,
        hubEventsUrl: `${config.controlUrl}/internal/v1/hub/events`,
      });
      await app.register(reports, {
        controlUrl: config.controlUrl,
        notify: config,
        flushIntervalMs: config.reportsFlushInterval,
        maxBackoffMs: config.reportsMaxBackoff,
        pingIntervalMs: config.controlPingInterval,
        statsIntervalMs: config.reportsStatsInterval,
        unreachableAlertAfterMs: config.controlUnreachableAlertAfter,
        retentionMs: config.reportsRetention,
        batchSize: config.reportsBatchSize,
        // Longer than a pass can take: a drain call waits CONTROL_TIMEOUT at most.
        leaseMs: Math.max(30_000, config.reportsFlushInterval * 5, config.controlTimeout * 3),
      });
      await app.register(outbound, {
        capFor: (lane) => laneCap(app.configSync.snapshot, lane, config.outboundDefaultRate),
        share: config.outboundRateShare,
        horizonMs: config.outboundHorizon,
        leaseMs: config.outboundLease,
        pollIntervalMs: config.outboundPollInterval,
        maxInFlightPerLane: config.outboundMaxInFlightLane,
        stopTimeoutMs: config.metaGraphTimeout + 1_000,
      });
      await app.register(messages, {
        graph: {
          baseUrl: config.metaGraphUrl,
          version: config.metaGraphVersion,
          timeoutMs: config.metaGraphTimeout,
          userAgent: `MIC-Engine/${ENGINE_VERSION}`,
        },
        retryBaseMs: config.sendRetryBase,
        retryMaxMs: config.sendRetryMax,
        maxAttempts: config.sendMaxAttempts,
        slowFactor: config.sendSlowFactor,
        slowForMs: config.sendSlowFor,
        pairRateDelayMs: config.sendPairRateDelay,
      });
      await app.register(templates, {
        graph: {
          baseUrl: config.metaGraphUrl,
          version: config.metaGraphVersion,
          timeoutMs: config.metaGraphTimeout,
          userAgent: `MIC-Engine/${ENGINE_VERSION}`,
        },
        syncIntervalMs: config.templateSyncInterval,
      });
      await app.register(broadcasts, {
        rateOf: (lane) => laneCap(app.configSync.snapshot, lane, config.outboundDefaultRate) * config.outboundRateShare,
        tickMs: config.broadcastTick,
        lookaheadMs: config.broadcastLookahead,
        progressIntervalMs: config.broadcastProgressInterval,
        optOutKeywords: config.broadcastOptOutKeywords,
        bodyLimit: config.broadcastBodyLimit,
      });
      await app.register(graphApi, {
        prefix: config.graphApiPrefix,
        waitMs: config.graphApiWait,
        graph: {
          baseUrl: config.metaGraphUrl,
          version: config.metaGraphVersion,
          timeoutMs: config.metaGraphTimeout,
          userAgent: `MIC-Engine/${ENGINE_VERSION}`,
        },
        mediaTimeoutMs: config.graphApiMediaTimeout,
        ownPort:
          config.graphApiPort === undefined
            ? undefined
            : { host: config.host, port: config.graphApiPort, shutdownTimeoutMs: config.shutdownTimeout },
      });
      await app.register(posts, {
        graph: {
          baseUrl: config.metaGraphUrl,
          version: config.metaGraphVersion,
          timeoutMs: config.metaGraphTimeout,
          userAgent: `MIC-Engine/${ENGINE_VERSION}`,
        },
        retryBaseMs: config.postRetryBase,
        retryMaxMs: config.postRetryMax,
        maxAttempts: config.postMaxAttempts,
        pollInitialMs: config.postPollInitial,
        pollMaxMs: config.postPollMax,
        pollTimeoutMs: config.postPollTimeout,
        limitRecheckMs: config.postLimitRecheck,
        holdRecheckMs: config.postHoldRecheck,
        concurrency: config.postConcurrency,
      });
      await app.register(backups, {
        settings: backupSettings(config),
        schedule: config.backupSchedule,
        version: ENGINE_VERSION,
      });
      if (config.roles.includes('ingress')) {
        await app.register(ingress, { bodyLimit: config.bodyLimit, secretCacheMs: config.metaSecretCache });
        app.ingress.onStored((tx, events) => app.templates.applyStatusEvents(tx, events));
      }
    },
  });
}
