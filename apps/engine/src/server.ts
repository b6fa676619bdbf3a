import { fileURLToPath } from 'node:url';
import {
  commonPlaneOptions,
  planeDataDir,
  startPlane,
  type Clock,
  type Logger,
  type StartedPlane,
} from '@mic/platform';
import pkg from '../package.json' with { type: 'json' };
import type { EngineConfig } from './config.ts';
import system from './modules/system/index.ts';

export const ENGINE_MIGRATIONS = fileURLToPath(new URL('../migrations', import.meta.url));
export const ENGINE_VERSION = pkg.version;

export function engineDatabaseOptions(config: EngineConfig) {
  return {
    url: config.databaseUrl,
    dataDir: planeDataDir(config.dataDir, 'engine'),
    pgliteSharedBuffers: config.pgliteSharedBuffers,
    schema: config.databaseSchema,
    migrationsFolder: ENGINE_MIGRATIONS,
  };
}

/** Starts the communications engine with the roles it is configured for. */
export async function startEngine(
  config: EngineConfig,
  logger: Logger,
  overrides: { clock?: Clock; loadDataDir?: Blob } = {},
): Promise<StartedPlane> {
  return startPlane({
    plane: 'engine',
    version: ENGINE_VERSION,
    description: 'MIC communications engine: Meta webhooks in, deliveries to instances, sends to Meta',
    logger,
    host: config.host,
    port: config.port,
    portEnv: 'ENGINE_PORT',
    database: {
      ...engineDatabaseOptions(config),
      ...(overrides.loadDataDir ? { loadDataDir: overrides.loadDataDir } : {}),
    },
    ...commonPlaneOptions(config),
    runsWorkers: config.roles.includes('worker'),
    bodyLimit: config.bodyLimit,
    ...(overrides.clock ? { clock: overrides.clock } : {}),
    async modules(app) {
      await app.register(system, { version: ENGINE_VERSION, roles: config.roles });
    },
  });
}
