import { fileURLToPath } from 'node:url';
import {
  planeDatabaseOptions,
  planeSettingsOptions,
  startPlane,
  type Logger,
  type PlaneOverrides,
} from '@mic/platform';
import pkg from '../package.json' with { type: 'json' };
import type { EngineConfig } from './config.ts';
import system from './modules/system/index.ts';

export const ENGINE_MIGRATIONS = fileURLToPath(new URL('../migrations', import.meta.url));
export const ENGINE_VERSION = pkg.version;

export const engineDatabaseOptions = (config: EngineConfig) =>
  planeDatabaseOptions('engine', config, ENGINE_MIGRATIONS);

/** Starts the communications engine with the roles it is configured for. */
export function startEngine(config: EngineConfig, logger: Logger, overrides: PlaneOverrides = {}) {
  return startPlane({
    ...planeSettingsOptions('engine', config, ENGINE_MIGRATIONS, overrides),
    version: ENGINE_VERSION,
    description: 'MIC communications engine: Meta webhooks in, deliveries to instances, sends to Meta',
    logger,
    runsWorkers: config.roles.includes('worker'),
    bodyLimit: config.bodyLimit,
    async modules(app) {
      await app.register(system, { version: ENGINE_VERSION, roles: config.roles });
    },
  });
}
