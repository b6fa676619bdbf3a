import { fields, loadConfig, type ConfigOf } from '@mic/platform';

export const supervisorConfigSpec = {
  backoffMin: fields.duration('SUPERVISOR_BACKOFF_MIN', 'first delay before restarting a crashed plane', 500),
  backoffMax: fields.duration('SUPERVISOR_BACKOFF_MAX', 'longest delay between restarts', 30_000),
  stableAfter: fields.duration('SUPERVISOR_STABLE_AFTER', 'uptime after which a plane counts as healthy again', 60_000),
  crashLoopRestarts: fields.integer(
    'SUPERVISOR_CRASH_LOOP_RESTARTS',
    'restarts within the window that make a restart loop',
    5,
    1,
  ),
  crashLoopWindow: fields.duration('SUPERVISOR_CRASH_LOOP_WINDOW', 'window in which restarts are counted', 120_000),
  shutdownTimeout: fields.duration('SHUTDOWN_TIMEOUT', 'how long a stopping plane waits for in-flight work', 10_000),
};

export type SupervisorConfig = ConfigOf<typeof supervisorConfigSpec>;

export function loadSupervisorConfig(
  env: Readonly<Record<string, string | undefined>> = process.env,
): SupervisorConfig {
  return loadConfig(supervisorConfigSpec, env);
}
