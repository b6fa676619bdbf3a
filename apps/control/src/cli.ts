import type { PlaneCli } from '@mic/platform';
import { loadControlConfig, type ControlConfig } from './config.ts';
import { controlDatabaseOptions, startControl } from './server.ts';

/** The control plane as a command: `serve` or `migrate` (run by `mic` or by main.ts alone). */
export const controlCli: PlaneCli<ControlConfig> = {
  plane: 'control',
  loadConfig: () => loadControlConfig(),
  start: (config, logger) => startControl(config, logger),
  databaseOptions: controlDatabaseOptions,
};

export { openControlAdmin, type ControlAdmin } from './modules/auth/admin.ts';
export { ROLES, type Role } from './modules/auth/permissions.ts';
export { controlConfigSpec } from './config.ts';
export { CONTROL_VERSION } from './server.ts';
