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
import type { ControlConfig } from './config.ts';
import auth, { secondFactorKeySource } from './modules/auth/index.ts';
import audit from './modules/audit/index.ts';
import system from './modules/system/index.ts';
import health from './modules/health/index.ts';
import engine from './modules/engine/index.ts';
import secrets from './modules/secrets/index.ts';
import instanceControl, { type SigningKeySource } from './modules/instance-control/index.ts';
import outbox from './modules/outbox/index.ts';
import configSync from './modules/config-sync/index.ts';
import tenants from './modules/tenants/index.ts';
import flags from './modules/flags/index.ts';
import hub from './modules/hub/index.ts';
import crm from './modules/crm/index.ts';
import hubPosts from './modules/hub-posts/index.ts';
import hubBroadcasts from './modules/hub-broadcasts/index.ts';
import monitoring from './modules/monitoring/index.ts';
import alerts from './modules/alerts/index.ts';
import backups from './modules/backups/index.ts';
import billing from './modules/billing/index.ts';
import deliveries from './modules/deliveries/index.ts';
import consoleUi from './modules/console/index.ts';

export const CONTROL_MIGRATIONS = fileURLToPath(new URL('../migrations', import.meta.url));
export const CONTROL_VERSION = pkg.version;

/** Control's command signing key: INSTANCE_CONTROL_KEY_FILE, else the keys folder, else memory (tests). */
function instanceControlKey(config: ControlConfig): SigningKeySource {
  const path = config.instanceControlKeyFile ?? keysPath(config.dataDir, 'instance-control-ed25519.pem');
  return path
    ? { kind: 'file', path, env: config.instanceControlKeyFile ? 'INSTANCE_CONTROL_KEY_FILE' : 'MIC_DATA_DIR' }
    : { kind: 'memory' };
}

export const controlDatabaseOptions = (config: ControlConfig) =>
  planeDatabaseOptions('control', config, CONTROL_MIGRATIONS);

/** Starts the control plane: ERP, CRM and the control center API (and, later, the console). */
export async function startControl(config: ControlConfig, logger: Logger, overrides: PlaneOverrides = {}) {
  // A restore asked for while the plane ran is applied now, before anything opens the database.
  await applyPendingRestore({
    plane: 'control',
    settings: backupSettings(config),
    database: controlDatabaseOptions(config),
    log: (line) => logger.warn(line),
  });
  return startPlane({
    ...planeSettingsOptions('control', config, CONTROL_MIGRATIONS, overrides),
    version: CONTROL_VERSION,
    description: 'MIC control plane: ERP, CRM and the control center',
    logger,
    runsWorkers: true,
    async modules(app) {
      // First: its onRoute hook checks the permission of every /v1/ route registered after it.
      await app.register(auth, {
        sessionIdleMs: config.operatorSessionIdle,
        sessionMaxMs: config.operatorSessionMax,
        cookieSecure: config.cookieSecure,
        loginMaxFailures: config.loginMaxFailures,
        loginMaxFailuresPerIp: config.loginMaxFailuresPerIp,
        loginFailureWindowMs: config.loginFailureWindow,
        secondFactorRequired: config.secondFactorRequired,
        loginChallengeTtlMs: config.loginChallengeTtl,
        secondFactorKey: secondFactorKeySource(config.secondFactorKeyFile, config.dataDir),
        mail: {
          smtpUrl: config.accountSmtpUrl ?? config.alertSmtpUrl,
          from: config.accountEmailFrom,
          timeoutMs: config.alertNotifyTimeout,
        },
        recovery: {
          ttlMs: config.passwordResetTtl,
          inviteTtlMs: config.operatorInviteTtl,
          emailIntervalMs: config.passwordResetEmailInterval,
          maxPerIp: config.passwordResetMaxPerIp,
          ipWindowMs: config.passwordResetIpWindow,
          consoleUrl: config.consoleUrl,
        },
      });
      await app.register(audit);
      await app.register(system, { version: CONTROL_VERSION });
      await app.register(health, { engineUrl: config.engineUrl, timeoutMs: config.engineHealthTimeout });
      await app.register(engine, { engineUrl: config.engineUrl, timeoutMs: config.engineTimeout });
      await app.register(secrets);
      await app.register(outbox);
      await app.register(configSync);
      await app.register(instanceControl, {
        key: instanceControlKey(config),
        expiryMs: config.instanceCommandExpiry,
        timeoutMs: config.instanceCommandTimeout,
        retryBaseMs: config.instanceCommandRetryBase,
        retryMaxMs: config.instanceCommandRetryMax,
        probeIntervalMs: config.instanceProbeInterval,
        probeTimeoutMs: config.instanceProbeTimeout,
        probeRetentionMs: config.instanceProbeRetention,
        downAfterMs: config.instanceDownAfter,
        userAgent: `mic-control/${CONTROL_VERSION}`,
      });
      await app.register(tenants, {
        urlPolicy: { allowPrivate: config.instanceUrlAllowPrivate, allowedNetworks: config.instanceUrlAllowedNetworks },
      });
      await app.register(flags);
      await app.register(hub);
      await app.register(crm);
      await app.register(hubPosts);
      await app.register(hubBroadcasts, { bodyLimit: 64 * 1024 * 1024 });
      await app.register(monitoring, {
        sampleIntervalMs: config.metricsSampleInterval,
        retentionMs: config.metricsRetention,
      });
      await app.register(alerts, {
        notify: config,
        notifyMinIntervalMs: config.alertNotifyMinInterval,
        retentionMs: config.receivedReportsRetention,
        engineAlertAfterMs: config.engineUnreachableAlertAfter,
        watchIntervalMs: config.engineWatchInterval,
      });
      await app.register(backups, {
        settings: backupSettings(config),
        schedule: config.backupSchedule,
        version: CONTROL_VERSION,
      });
      await app.register(billing, {
        invoiceSeries: config.billingInvoiceSeries,
        creditNoteSeries: config.billingCreditNoteSeries,
        autoIssue: config.billingAutoIssue,
        reminderDays: config.billingReminderDays,
        pauseDay: config.billingPauseDay,
        webhookSecret: config.billingWebhookSecret,
        webhookToleranceMs: config.billingWebhookTolerance,
        issuer: { name: config.billingIssuerName, details: config.billingIssuerDetails },
        mail: {
          smtpUrl: config.billingSmtpUrl ?? config.alertSmtpUrl,
          from: config.billingEmailFrom,
          timeoutMs: config.alertNotifyTimeout,
        },
        tickIntervalMs: config.billingTickInterval,
      });
      await app.register(deliveries);
      // Last: its catch-all route answers every GET no module claimed.
      await app.register(consoleUi, { dir: config.consoleDir });
    },
  });
}
