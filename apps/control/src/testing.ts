import { planeTestEnv, planeTestOverrides, testDatabase, testLogger } from '@mic/platform/testing';
import type { StartedPlane } from '@mic/platform';
import { loadControlConfig } from './config.ts';
import { CONTROL_MIGRATIONS, startControl } from './server.ts';

export interface TestControl extends StartedPlane {
  /** Stops the plane and drops its test database. */
  stop(): Promise<void>;
}

/** A control plane on a test database of its own (PGlite, or Postgres with TEST_DATABASE_URL). */
export async function startTestControl(env: Record<string, string> = {}): Promise<TestControl> {
  const test = testDatabase(CONTROL_MIGRATIONS, 'control');
  const config = loadControlConfig({
    ...planeTestEnv('CONTROL', test),
    CONTROL_PORT: '0',
    ENGINE_URL: 'http://127.0.0.1:9',
    ...env,
  });
  const started = await startControl(config, testLogger(), planeTestOverrides(test));
  return {
    ...started,
    async stop() {
      await started.service.stop();
      await test.drop();
    },
  };
}
