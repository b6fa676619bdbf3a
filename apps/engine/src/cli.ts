import type { PlaneCli } from '@mic/platform';
import { loadEngineConfig, type EngineConfig } from './config.ts';
import { engineDatabaseOptions, startEngine } from './server.ts';

/** The engine plane as a command: `serve` or `migrate` (run by `mic` or by main.ts alone). */
export const engineCli: PlaneCli<EngineConfig> = {
  plane: 'engine',
  loadConfig: () => loadEngineConfig(),
  start: (config, logger) => startEngine(config, logger),
  databaseOptions: engineDatabaseOptions,
};
export { engineConfigSpec } from './config.ts';
export { ENGINE_VERSION } from './server.ts';
