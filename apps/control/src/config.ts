import { backupFields, commonFields, fields, loadConfig, notifyFields, type ConfigOf, type Field } from '@mic/platform';

/** A comma-separated list of whole days, e.g. `1,7,14`. */
function dayList(env: string, description: string, fallback: number[]): Field<number[]> {
  return {
    env,
    description,
    fallback,
    isOptional: false,
    parse(raw) {
      const days = raw.split(',').map((d) => Number(d.trim()));
      if (days.some((d) => !Number.isInteger(d) || d < 1))
        throw new Error('expected whole days from 1, comma-separated');
      return [...new Set(days)].sort((a, b) => a - b);
    },
  };
}

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
    loginChallengeTtl: fields.duration(
      'LOGIN_CHALLENGE_TTL',
      'how long a sign-in that passed the password waits for its second-factor code',
      300_000,
    ),
    secondFactorRequired: fields.boolean(
      'OPERATOR_SECOND_FACTOR_REQUIRED',
      'owners and admins must sign in with a TOTP second factor; one without it gets a session that can only enrol one',
      false,
    ),
    secondFactorKeyFile: fields.optionalString(
      'OPERATOR_SECOND_FACTOR_KEY_FILE',
      "the AES-256 key (base64, 32 bytes) that encrypts operators' TOTP secrets; default $MIC_DATA_DIR/keys/operator-second-factor.key",
    ),
    consoleUrl: fields.httpUrl(
      'CONSOLE_URL',
      "the console's public URL, for links in e-mails (a password reset is <CONSOLE_URL>/#/reset?token=...)",
      `http://127.0.0.1:${env.CONTROL_PORT?.trim() || '3000'}`,
    ),
    consoleDir: fields.optionalString(
      'CONSOLE_DIR',
      'folder of the built console that control serves at / (index.html and assets); unset: apps/console/dist',
    ),
    accountSmtpUrl: fields.optionalUrl(
      'ACCOUNT_SMTP_URL',
      'SMTP server for account e-mails (password recovery, instance reset links); unset: ALERT_SMTP_URL',
      {
        protocols: ['smtp:', 'smtps:'],
        example: 'a URL such as smtp://user:password@host:587 or smtps://user:password@host:465',
        isSecret: true,
      },
    ),
    accountEmailFrom: fields.string('ACCOUNT_EMAIL_FROM', 'sender of account e-mails', 'MIC <mic@localhost>'),
    passwordResetTtl: fields.duration(
      'PASSWORD_RESET_TTL',
      'how long a "forgot password" link works (once)',
      30 * 60_000,
    ),
    operatorInviteTtl: fields.duration(
      'OPERATOR_INVITE_TTL',
      "how long a new operator's invitation link (to choose their password) works",
      72 * 3_600_000,
    ),
    passwordResetEmailInterval: fields.duration(
      'PASSWORD_RESET_EMAIL_INTERVAL',
      'at most one "forgot password" e-mail per address per this interval',
      60_000,
    ),
    passwordResetMaxPerIp: fields.integer(
      'PASSWORD_RESET_MAX_PER_IP',
      '"forgot password" requests per client address within PASSWORD_RESET_IP_WINDOW before it is refused',
      10,
      1,
    ),
    passwordResetIpWindow: fields.duration(
      'PASSWORD_RESET_IP_WINDOW',
      'the sliding window of PASSWORD_RESET_MAX_PER_IP',
      3_600_000,
    ),
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
    ...backupFields,
    billingInvoiceSeries: fields.string(
      'BILLING_INVOICE_SERIES',
      'series of invoice numbers: F gives F-2026-000123',
      'F',
    ),
    billingCreditNoteSeries: fields.string('BILLING_CREDIT_NOTE_SERIES', 'series of credit note numbers', 'NC'),
    billingAutoIssue: fields.boolean(
      'BILLING_AUTO_ISSUE',
      'issue and send period invoices as soon as the period closes; false leaves drafts to review',
      true,
    ),
    billingReminderDays: dayList(
      'BILLING_REMINDER_DAYS',
      'days after the due date on which a payment reminder is e-mailed, comma-separated',
      [1, 7, 14],
    ),
    billingPauseDay: fields.integer(
      'BILLING_PAUSE_DAY',
      "days after the due date on which an unpaid tenant's instances are paused",
      21,
      1,
    ),
    billingTickInterval: fields.duration(
      'BILLING_TICK_INTERVAL',
      'how often billing closes ended periods and runs dunning',
      3_600_000,
    ),
    billingWebhookSecret: {
      ...fields.optionalString(
        'BILLING_WEBHOOK_SECRET',
        "the payment provider's webhook secret (HMAC-SHA256); unset: the webhook is off",
      ),
      isSecret: true,
    } satisfies Field<string | undefined>,
    billingWebhookTolerance: fields.duration(
      'BILLING_WEBHOOK_TOLERANCE',
      "how far a provider webhook's signed timestamp may be from now",
      300_000,
    ),
    billingSmtpUrl: fields.optionalUrl(
      'BILLING_SMTP_URL',
      'SMTP server for invoices and reminders to tenants; unset: ALERT_SMTP_URL',
      {
        protocols: ['smtp:', 'smtps:'],
        example: 'a URL such as smtp://user:password@host:587',
        isSecret: true,
      },
    ),
    billingEmailFrom: fields.string(
      'BILLING_EMAIL_FROM',
      'sender of invoices and reminders',
      'MIC <billing@localhost>',
    ),
    billingIssuerName: fields.string('BILLING_ISSUER_NAME', 'the issuer named on invoices', 'MIC'),
    billingIssuerDetails: fields.optionalString(
      'BILLING_ISSUER_DETAILS',
      'address and tax id printed under the issuer name on invoices',
    ),
  };
}

export type ControlConfig = ConfigOf<ReturnType<typeof controlConfigSpec>>;

export function loadControlConfig(env: Readonly<Record<string, string | undefined>> = process.env): ControlConfig {
  return loadConfig(controlConfigSpec(env), env);
}
