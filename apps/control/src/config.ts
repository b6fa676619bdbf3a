import { commonFields, fields, loadConfig, notifyFields, type ConfigOf } from '@mic/platform';

export function controlConfigSpec(env: Readonly<Record<string, string | undefined>>) {
  return {
    ...commonFields,
    host: fields.string('CONTROL_HOST', 'address the control plane listens on', '127.0.0.1'),
    port: fields.port('CONTROL_PORT', 'port of the control plane (API and console)', 3000),
    databaseUrl: fields.databaseUrl(
      'CONTROL_DATABASE_URL',
      'PostgreSQL URL of the control database; unset: embedded PGlite',
    ),
    databaseSchema: fields.string('CONTROL_DATABASE_SCHEMA', 'schema of the control tables', 'control'),
    engineUrl: fields.httpUrl(
      'ENGINE_URL',
      'where control reaches the engine',
      `http://127.0.0.1:${env.ENGINE_PORT?.trim() || '3100'}`,
    ),
    peerToken: fields.optionalString(
      'ENGINE_TOKEN',
      'service token control presents to the engine; unset: the embedded token file',
    ),
    engineTimeout: fields.duration('ENGINE_TIMEOUT', 'deadline of control calls to the engine', 10_000),
    instanceUrlAllowPrivate: fields.boolean(
      'INSTANCE_URL_ALLOW_PRIVATE',
      'accept instance URLs that resolve to private, loopback or link-local addresses (labs only)',
      false,
    ),
    instanceUrlAllowedNetworks: fields.networks(
      'INSTANCE_URL_ALLOWED_NETWORKS',
      'private networks instance URLs may point into, e.g. 10.20.0.0/16 (comma-separated CIDRs)',
    ),
    engineHealthTimeout: fields.duration(
      'ENGINE_HEALTH_TIMEOUT',
      'how long control waits for the engine health',
      1_500,
    ),
    operatorSessionIdle: fields.duration(
      'OPERATOR_SESSION_IDLE',
      "an operator's session ends after this long without a request",
      12 * 3_600_000,
    ),
    operatorSessionMax: fields.duration(
      'OPERATOR_SESSION_MAX',
      "an operator's session ends this long after sign-in in any case",
      7 * 86_400_000,
    ),
    cookieSecure: fields.boolean(
      'CONTROL_COOKIE_SECURE',
      'mark the session cookie Secure even on plain HTTP (TLS ends at a proxy); https requests always get it',
      false,
    ),
    loginMaxFailures: fields.integer(
      'LOGIN_MAX_FAILURES',
      'failed logins per email within LOGIN_FAILURE_WINDOW before logins to it are refused',
      5,
      1,
    ),
    loginMaxFailuresPerIp: fields.integer(
      'LOGIN_MAX_FAILURES_PER_IP',
      'failed logins per client address (any email) within LOGIN_FAILURE_WINDOW before it is refused',
      20,
      1,
    ),
    loginFailureWindow: fields.duration('LOGIN_FAILURE_WINDOW', 'the sliding window of the login limits', 60_000),
    ...notifyFields,
    alertNotifyMinInterval: fields.duration(
      'ALERT_NOTIFY_MIN_INTERVAL',
      'operators hear of one alert at most once per this interval (a flapping one in its latest state)',
      300_000,
    ),
    engineUnreachableAlertAfter: fields.duration(
      'ENGINE_UNREACHABLE_ALERT_AFTER',
      'how long the engine may fail its health check before control raises an alert',
      120_000,
    ),
    engineWatchInterval: fields.duration(
      'ENGINE_WATCH_INTERVAL',
      "how often control checks the engine's health and the supervisor's restart loops for alerts",
      15_000,
    ),
    receivedReportsRetention: fields.duration(
      'RECEIVED_REPORTS_RETENTION',
      "how long the ids of the engine's reports (replay protection) and its delivery stats are kept",
      30 * 86_400_000,
    ),
    metricsSampleInterval: fields.duration(
      'METRICS_SAMPLE_INTERVAL',
      "how often control samples the engine's key metrics into its history",
      60_000,
    ),
    metricsRetention: fields.duration('METRICS_RETENTION', 'how long the metric history is kept', 30 * 86_400_000),
    instanceControlKeyFile: fields.optionalString(
      'INSTANCE_CONTROL_KEY_FILE',
      "control's ed25519 command signing key (PEM); default $MIC_DATA_DIR/keys/instance-control-ed25519.pem",
    ),
    instanceCommandExpiry: fields.duration(
      'INSTANCE_COMMAND_EXPIRY',
      'how long a command to an instance is retried before it expires',
      86_400_000,
    ),
    instanceCommandTimeout: fields.duration('INSTANCE_COMMAND_TIMEOUT', 'deadline of one command attempt', 15_000),
    instanceCommandRetryBase: fields.duration(
      'INSTANCE_COMMAND_RETRY_BASE',
      'delay before the first retry of a command; each next one doubles',
      5_000,
    ),
    instanceCommandRetryMax: fields.duration(
      'INSTANCE_COMMAND_RETRY_MAX',
      'longest delay between two attempts',
      900_000,
    ),
    instanceProbeInterval: fields.duration(
      'INSTANCE_PROBE_INTERVAL',
      'how often control probes every instance with a signed health command',
      60_000,
    ),
    instanceProbeTimeout: fields.duration('INSTANCE_PROBE_TIMEOUT', 'deadline of one health probe', 10_000),
    instanceProbeRetention: fields.duration(
      'INSTANCE_PROBE_RETENTION',
      'how long probe samples (uptime history) are kept',
      30 * 86_400_000,
    ),
    instanceDownAfter: fields.duration(
      'INSTANCE_DOWN_AFTER',
      'an instance that fails every probe for this long is reported unreachable',
      300_000,
    ),
  };
}

export type ControlConfig = ConfigOf<ReturnType<typeof controlConfigSpec>>;

export function loadControlConfig(env: Readonly<Record<string, string | undefined>> = process.env): ControlConfig {
  return loadConfig(controlConfigSpec(env), env);
}
