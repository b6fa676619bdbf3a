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
import type { ControlConfig } from './config.ts';
import system from './modules/system/index.ts';
import health from './modules/health/index.ts';

export const CONTROL_MIGRATIONS = fileURLToPath(new URL('../migrations', import.meta.url));
export const CONTROL_VERSION = pkg.version;

export function controlDatabaseOptions(config: ControlConfig) {
  return {
    url: config.databaseUrl,
    dataDir: planeDataDir(config.dataDir, 'control'),
    pgliteSharedBuffers: config.pgliteSharedBuffers,
    schema: config.databaseSchema,
    migrationsFolder: CONTROL_MIGRATIONS,
  };
}

/** Starts the control plane: ERP, CRM and the control center API (and, later, the console). */
export async function startControl(
  config: ControlConfig,
  logger: Logger,
  overrides: { clock?: Clock; loadDataDir?: Blob } = {},
): Promise<StartedPlane> {
  return startPlane({
    plane: 'control',
    version: CONTROL_VERSION,
    description: 'MIC control plane: ERP, CRM and the control center',
    logger,
    host: config.host,
    port: config.port,
    portEnv: 'CONTROL_PORT',
    database: {
      ...controlDatabaseOptions(config),
      ...(overrides.loadDataDir ? { loadDataDir: overrides.loadDataDir } : {}),
    },
    ...commonPlaneOptions(config),
    runsWorkers: true,
    ...(overrides.clock ? { clock: overrides.clock } : {}),
    async modules(app) {
      await app.register(system, { version: CONTROL_VERSION });
      await app.register(health, { engineUrl: config.engineUrl, timeoutMs: config.engineHealthTimeout });
    },
  });
}
