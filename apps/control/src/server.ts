import { fileURLToPath } from 'node:url';
import {
  planeDatabaseOptions,
  planeSettingsOptions,
  startPlane,
  type Logger,
  type PlaneOverrides,
} from '@mic/platform';
import pkg from '../package.json' with { type: 'json' };
import type { ControlConfig } from './config.ts';
import system from './modules/system/index.ts';
import health from './modules/health/index.ts';
import engine from './modules/engine/index.ts';
import secrets from './modules/secrets/index.ts';

export const CONTROL_MIGRATIONS = fileURLToPath(new URL('../migrations', import.meta.url));
export const CONTROL_VERSION = pkg.version;

export const controlDatabaseOptions = (config: ControlConfig) =>
  planeDatabaseOptions('control', config, CONTROL_MIGRATIONS);

/** Starts the control plane: ERP, CRM and the control center API (and, later, the console). */
export function startControl(config: ControlConfig, logger: Logger, overrides: PlaneOverrides = {}) {
  return startPlane({
    ...planeSettingsOptions('control', config, CONTROL_MIGRATIONS, overrides),
    version: CONTROL_VERSION,
    description: 'MIC control plane: ERP, CRM and the control center',
    logger,
    runsWorkers: true,
    async modules(app) {
      await app.register(system, { version: CONTROL_VERSION });
      await app.register(health, { engineUrl: config.engineUrl, timeoutMs: config.engineHealthTimeout });
      await app.register(engine, { engineUrl: config.engineUrl, timeoutMs: config.engineTimeout });
      await app.register(secrets);
    },
  });
}
