import { join, resolve } from 'node:path';
import { fields, type ConfigOf, type Field } from '../config/index.ts';
import { parseProxyList } from '../url-safety/index.ts';
import type { Clock } from '../clock/index.ts';
import type { DatabaseOptions } from '../db/index.ts';
import type { PlaneName } from '../supervision/index.ts';

/** Settings every plane shares; each plane adds its own (ports, URLs, roles). */
export const commonFields = {
  dataDir: fields.string('MIC_DATA_DIR', 'folder of the embedded PGlite databases', './data'),
  pollingInterval: fields.duration('QUEUE_POLLING_INTERVAL', 'how often idle workers look for delayed jobs', 1_000),
  heartbeatInterval: fields.duration(
    'QUEUE_HEARTBEAT_INTERVAL',
    'how often a heartbeat job proves the queue works',
    10_000,
  ),
  shutdownTimeout: fields.duration('SHUTDOWN_TIMEOUT', 'how long a stopping plane waits for in-flight work', 10_000),
  healthTimeout: fields.duration('HEALTH_CHECK_TIMEOUT', 'deadline of each health check', 2_000),
  databasePoolSize: fields.integer(
    'DATABASE_POOL_SIZE',
    'connections each process keeps to PostgreSQL (its workers, lanes and requests share them)',
    20,
    2,
    500,
  ),
  pgliteSharedBuffers: fields.memorySize(
    'PGLITE_SHARED_BUFFERS',
    "embedded PGlite's shared_buffers, most of its memory",
    '32MB',
  ),
  trustProxy: {
    env: 'TRUST_PROXY',
    description:
      'reverse proxies whose X-Forwarded-For/-Proto are believed (client address for login limits, https for cookies): true, or comma-separated addresses or CIDRs',
    fallback: false,
    isOptional: false,
    parse: (raw: string): boolean | string[] => {
      if (/^(true|1|yes)$/i.test(raw)) return true;
      if (/^(false|0|no)$/i.test(raw)) return false;
      return parseProxyList(raw);
    },
    display: (value: boolean | string[]) => (Array.isArray(value) ? value.join(',') : String(value)),
  } satisfies Field<boolean | string[]>,
  logLevel: fields.choice(
    'LOG_LEVEL',
    'log level',
    ['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent'],
    'info',
  ),
};

/** A file in the keys folder beside the data folders (never inside a plane's backup); undefined in memory. */
export function keysPath(dataDir: string, file: string): string | undefined {
  return dataDir.startsWith('memory://') ? undefined : resolve(join(dataDir, 'keys', file));
}

export function planeDataDir(dataDir: string, plane: string): string {
  return dataDir.startsWith('memory://') ? dataDir : resolve(join(dataDir, plane));
}

/** What every plane's configuration holds, whatever it adds. */
export type PlaneSettings = ConfigOf<typeof commonFields> & {
  /** The token this plane presents to the other one (ENGINE_TOKEN on control, CONTROL_TOKEN on the engine). */
  peerToken: string | undefined;
  host: string;
  port: number;
  databaseUrl: string | undefined;
  databaseSchema: string;
};

/** What tests pass besides the configuration. */
export interface PlaneOverrides {
  clock?: Clock;
  /** A PGlite dump to start from (the test template). */
  loadDataDir?: Blob;
}

export function planeDatabaseOptions(
  plane: PlaneName,
  config: PlaneSettings,
  migrationsFolder: string,
): DatabaseOptions {
  return {
    url: config.databaseUrl,
    dataDir: planeDataDir(config.dataDir, plane),
    pgliteSharedBuffers: config.pgliteSharedBuffers,
    poolSize: config.databasePoolSize,
    schema: config.databaseSchema,
    migrationsFolder,
  };
}

/** The parts of startPlane's options that come straight from the plane's settings. */
export function planeSettingsOptions(
  plane: PlaneName,
  config: PlaneSettings,
  migrationsFolder: string,
  overrides: PlaneOverrides,
) {
  const peer: PlaneName = plane === 'control' ? 'engine' : 'control';
  return {
    plane,
    serviceAuth: { peer, outgoingToken: config.peerToken, tokensFile: keysPath(config.dataDir, 'service-tokens.json') },
    host: config.host,
    port: config.port,
    portEnv: `${plane.toUpperCase()}_PORT`,
    database: {
      ...planeDatabaseOptions(plane, config, migrationsFolder),
      ...(overrides.loadDataDir ? { loadDataDir: overrides.loadDataDir } : {}),
    },
    pollingIntervalMs: config.pollingInterval,
    heartbeatIntervalMs: config.heartbeatInterval,
    shutdownTimeoutMs: config.shutdownTimeout,
    healthTimeoutMs: config.healthTimeout,
    trustProxy: config.trustProxy,
    ...(overrides.clock ? { clock: overrides.clock } : {}),
  };
}
