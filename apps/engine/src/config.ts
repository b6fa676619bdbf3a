import { backupFields, commonFields, fields, loadConfig, notifyFields, type ConfigOf, type Field } from '@mic/platform';
import { DEFAULT_GRAPH_URL, DEFAULT_GRAPH_VERSION } from '@mic/meta';
import { DEFAULT_RETRY_SCHEDULE, parseSchedule } from './modules/delivery/schedule.ts';

export const ENGINE_ROLES = ['ingress', 'worker'] as const;
export type EngineRole = (typeof ENGINE_ROLES)[number];

function roles(env: string, description: string): Field<EngineRole[]> {
  return {
    env,
    description,
    fallback: [...ENGINE_ROLES],
    isOptional: false,
    parse(raw) {
      const list = raw
        .split(',')
        .map((r) => r.trim())
        .filter(Boolean);
      const unknown = list.filter((r) => !(ENGINE_ROLES as readonly string[]).includes(r));
      if (unknown.length || list.length === 0)
        throw new Error(`expected a comma-separated list of ${ENGINE_ROLES.join(', ')}`);
      return [...new Set(list)] as EngineRole[];
    },
  };
}

export function engineConfigSpec(env: Readonly<Record<string, string | undefined>>) {
  return {
    ...commonFields,
    ...backupFields,
    host: fields.string('ENGINE_HOST', 'address the engine listens on', '127.0.0.1'),
    port: fields.port('ENGINE_PORT', 'port of the engine (webhooks, send API)', 3100),
    databaseUrl: fields.databaseUrl(
      'ENGINE_DATABASE_URL',
      'PostgreSQL URL of the engine database; unset: embedded PGlite',
    ),
    databaseSchema: fields.string('ENGINE_DATABASE_SCHEMA', 'schema of the engine tables', 'engine'),
    controlUrl: fields.httpUrl(
      'CONTROL_URL',
      'where the engine reaches control',
      `http://127.0.0.1:${env.CONTROL_PORT?.trim() || '3000'}`,
    ),
    peerToken: fields.optionalString(
      'CONTROL_TOKEN',
      'service token the engine presents to control; unset: the embedded token file',
    ),
    roles: roles('ENGINE_ROLES', 'what this engine process does: ingress (webhooks in), worker (deliveries and sends)'),
    controlTimeout: fields.duration('CONTROL_TIMEOUT', 'deadline of engine calls to control', 5_000),
    configSyncInterval: fields.duration(
      'CONFIG_SYNC_INTERVAL',
      "how often the engine pulls control's config snapshot (control also hints at once)",
      5_000,
    ),
    configStaleAfter: fields.duration(
      'CONFIG_SYNC_STALE_AFTER',
      'health warns when control has not confirmed the snapshot for this long',
      30_000,
    ),
    keyring: fields.optionalString('ENGINE_KEYRING', "the engine's keyring as JSON (instead of a file)"),
    keyringFile: fields.optionalString(
      'ENGINE_KEYRING_FILE',
      'keyring file; default $MIC_DATA_DIR/keys/engine-keyring.json',
    ),
    metaAppSecret: fields.optionalString('META_APP_SECRET', "the default Meta app's secret (seeds the secret store)"),
    metaVerifyToken: fields.optionalString('META_VERIFY_TOKEN', "the default Meta app's webhook verify token"),
    credentialGrace: fields.duration(
      'CREDENTIAL_GRACE',
      'how long a rotated instance credential stays valid',
      86_400_000,
    ),
    metaSecretCache: fields.duration('META_SECRET_CACHE', 'how long ingress keeps Meta app secrets in memory', 10_000),
    retrySchedule: {
      env: 'DELIVERY_RETRY_SCHEDULE',
      description: 'delay before each delivery attempt, comma-separated',
      fallback: parseSchedule(DEFAULT_RETRY_SCHEDULE),
      isOptional: false,
      parse: parseSchedule,
    } satisfies Field<number[]>,
    deliveryTimeout: fields.duration('DELIVERY_TIMEOUT', 'how long a delivery attempt waits for the instance', 15_000),
    deliveryConcurrency: fields.integer(
      'DELIVERY_CONCURRENCY',
      'drain workers per engine process (each takes up to 5 conversations per fetch)',
      20,
      1,
      1000,
    ),
    deliveryLease: fields.duration(
      'DELIVERY_LEASE',
      "how long a drain's claim on a conversation lasts without renewal (a crashed worker's work resumes after it)",
      30_000,
    ),
    breakerThreshold: fields.integer('BREAKER_THRESHOLD', 'consecutive failures that open an endpoint breaker', 5, 1),
    breakerHalfOpenAfter: fields.duration(
      'BREAKER_HALF_OPEN_AFTER',
      'how long an open breaker waits before a probe',
      30_000,
    ),
    bodyLimit: fields.integer(
      'ENGINE_BODY_LIMIT',
      'largest request body, in bytes (Meta webhooks)',
      3 * 1024 * 1024,
      1024,
    ),
    ...notifyFields,
    reportsFlushInterval: fields.duration(
      'REPORTS_FLUSH_INTERVAL',
      'how often the outbox of reports to control is sent (a new report also wakes it)',
      2_000,
    ),
    reportsMaxBackoff: fields.duration(
      'REPORTS_MAX_BACKOFF',
      'longest wait between tries to send reports while control does not answer',
      30_000,
    ),
    controlPingInterval: fields.duration(
      'CONTROL_PING_INTERVAL',
      'how often an idle engine checks that control takes reports',
      10_000,
    ),
    reportsStatsInterval: fields.duration(
      'REPORTS_STATS_INTERVAL',
      'interval of the delivery statistics and usage counts reported to control',
      60_000,
    ),
    reportsRetention: fields.duration('REPORTS_RETENTION', 'how long sent reports stay in the outbox', 86_400_000),
    reportsBatchSize: fields.integer('REPORTS_BATCH_SIZE', 'reports sent to control in one request', 200, 1, 500),
    controlUnreachableAlertAfter: fields.duration(
      'CONTROL_UNREACHABLE_ALERT_AFTER',
      'how long control may be unreachable before the engine alerts the operators itself',
      300_000,
    ),
    metaGraphUrl: fields.httpUrl(
      'META_GRAPH_URL',
      "Meta's Graph API (the meta-sandbox's URL in tests)",
      DEFAULT_GRAPH_URL,
    ),
    metaGraphVersion: {
      ...fields.string('META_GRAPH_VERSION', 'Graph API version the engine calls', DEFAULT_GRAPH_VERSION),
      parse(raw: string) {
        if (!/^v\d+\.\d+$/.test(raw)) throw new Error('expected a version such as v21.0');
        return raw;
      },
    } satisfies Field<string>,
    metaGraphTimeout: fields.duration('META_GRAPH_TIMEOUT', 'how long a Graph API call waits for Meta', 10_000),
    channelSubscribeRetrySchedule: {
      env: 'CHANNEL_SUBSCRIBE_RETRY_SCHEDULE',
      description: "delay before each background retry of a channel's webhook subscription, comma-separated",
      fallback: parseSchedule('10s,1m,5m,30m,2h,6h'),
      isOptional: false,
      parse: parseSchedule,
    } satisfies Field<number[]>,
    outboundDefaultRate: fields.integer(
      'OUTBOUND_DEFAULT_RATE',
      "per-channel sends per second when the tenant's limits give none (and their ceiling)",
      80,
      1,
      1000,
    ),
    outboundRateShare: {
      env: 'OUTBOUND_RATE_SHARE',
      description: "share of a channel's cap the engine paces its sends to",
      fallback: 0.95,
      isOptional: false,
      parse(raw: string) {
        const share = Number(raw);
        if (!(share > 0 && share <= 1)) throw new Error('expected a number in (0, 1]');
        return share;
      },
    } satisfies Field<number>,
    outboundHorizon: fields.duration('OUTBOUND_HORIZON', 'send slots a worker reserves ahead per claim', 250),
    outboundLease: fields.duration('OUTBOUND_LEASE', "a worker's claim on sends, renewed every third", 30_000),
    outboundPollInterval: fields.duration(
      'OUTBOUND_POLL_INTERVAL',
      'how often a worker looks for sends it was not told about (retries, other replicas)',
      500,
    ),
    outboundMaxInFlightLane: fields.integer(
      'OUTBOUND_MAX_IN_FLIGHT_LANE',
      'sends one worker holds per channel at once',
      200,
      1,
      10_000,
    ),
    sendRetryBase: fields.duration(
      'SEND_RETRY_BASE',
      'wait before sending again after Meta failed transiently (doubled each time, with jitter)',
      1_000,
    ),
    sendRetryMax: fields.duration('SEND_RETRY_MAX', 'longest wait between two tries of a send', 300_000),
    sendMaxAttempts: fields.integer(
      'SEND_MAX_ATTEMPTS',
      'tries of a send Meta fails transiently before it fails',
      10,
      1,
    ),
    sendSlowFactor: fields.integer(
      'SEND_SLOW_FACTOR',
      'a channel Meta throttles (130429, 131048) sends this many times slower for a while',
      2,
      1,
      100,
    ),
    sendSlowFor: fields.duration('SEND_SLOW_FOR', 'how long a throttled channel stays slowed down', 60_000),
    sendPairRateDelay: fields.duration(
      'SEND_PAIR_RATE_DELAY',
      "how long a recipient's messages wait after Meta's pair rate limit (131056)",
      6_000,
    ),
    graphApiPrefix: fields.string(
      'GRAPH_API_PREFIX',
      "path under which the engine answers Meta's Graph API send calls (an instance's client points its base URL here)",
      '/graph',
    ),
    graphApiWait: fields.duration(
      'GRAPH_API_WAIT',
      "how long a Graph-compatible send waits for Meta's answer; a send that has not left by then is not sent (130429)",
      8_000,
    ),
    graphApiPort: {
      env: 'GRAPH_API_PORT',
      description:
        'a port of its own where the Graph-compatible API answers with no prefix, for clients that only let you change the host (same routes and auth); unset: none',
      fallback: undefined,
      isOptional: true,
      parse: (raw: string) => fields.port('GRAPH_API_PORT', 'port', 0).parse(raw),
    } satisfies Field<number | undefined>,
    graphApiMediaTimeout: fields.duration(
      'GRAPH_API_MEDIA_TIMEOUT',
      'how long a WhatsApp media upload to Meta or download from it may take, the file included',
      300_000,
    ),
    postRetryBase: fields.duration(
      'POST_RETRY_BASE',
      'wait before a publishing step Meta failed transiently is tried again (doubled each time, with jitter)',
      5_000,
    ),
    postRetryMax: fields.duration('POST_RETRY_MAX', 'longest wait between two tries of a publishing step', 600_000),
    postMaxAttempts: fields.integer(
      'POST_MAX_ATTEMPTS',
      'tries of a publishing step Meta fails transiently before the post fails',
      8,
      1,
    ),
    postPollInitial: fields.duration(
      'POST_POLL_INITIAL',
      "first wait before an Instagram container's status is asked again (doubled each poll)",
      2_000,
    ),
    postPollMax: fields.duration('POST_POLL_MAX', 'longest wait between two status polls of a container', 60_000),
    postPollTimeout: fields.duration(
      'POST_POLL_TIMEOUT',
      'a post whose Instagram containers Meta has not finished processing this long after they were made fails',
      1_800_000,
    ),
    postLimitRecheck: fields.duration(
      'POST_LIMIT_RECHECK',
      "how often a post waiting for the Instagram account's publishing limit checks it again",
      600_000,
    ),
    postHoldRecheck: fields.duration(
      'POST_HOLD_RECHECK',
      'how often a due post of a paused instance (or with publishing off) checks again',
      60_000,
    ),
    postConcurrency: fields.integer('POST_CONCURRENCY', 'posts one worker process publishes at once', 4, 1, 100),
    templateSyncInterval: fields.duration(
      'TEMPLATE_SYNC_INTERVAL',
      "how often every connected WhatsApp Business Account's templates and messaging limit are synced again",
      3_600_000,
    ),
    broadcastTick: fields.duration('BROADCAST_TICK', 'how often a worker hands due broadcasts to their lanes', 1_000),
    broadcastLookahead: fields.duration(
      'BROADCAST_LOOKAHEAD',
      "how much of a channel's sends (as time at its rate) a broadcast keeps queued in its lane at most",
      2_000,
    ),
    broadcastProgressInterval: fields.duration(
      'BROADCAST_PROGRESS_INTERVAL',
      'how often a running broadcast reports its progress as an event, at most',
      5_000,
    ),
    broadcastOptOutKeywords: {
      env: 'BROADCAST_OPT_OUT_KEYWORDS',
      description:
        'inbound WhatsApp texts that opt the sender out of broadcasts, comma-separated (the whole message, any case and accents)',
      fallback: ['STOP', 'BAJA'],
      isOptional: false,
      parse: (raw: string) =>
        raw
          .split(',')
          .map((k) => k.trim().toUpperCase())
          .filter(Boolean),
    } satisfies Field<string[]>,
    broadcastBodyLimit: fields.integer(
      'BROADCAST_BODY_LIMIT',
      'largest POST /v1/broadcasts body, in bytes',
      64 * 1024 * 1024,
      1024,
    ),
  };
}

export type EngineConfig = ConfigOf<ReturnType<typeof engineConfigSpec>>;

export function loadEngineConfig(env: Readonly<Record<string, string | undefined>> = process.env): EngineConfig {
  return loadConfig(engineConfigSpec(env), env);
}
