import type { Clock } from '@mic/platform';
import { startTestPlane, type TestPlane } from '@mic/platform/testing';
import { loadEngineConfig } from './config.ts';
import { ENGINE_MIGRATIONS, startEngine } from './server.ts';

export type TestEngine = TestPlane;

/** An engine on a test database of its own; control's address points nowhere unless given. */
export function startTestEngine(env: Record<string, string> = {}, clock?: Clock): Promise<TestEngine> {
  return startTestPlane({
    prefix: 'ENGINE',
    migrations: ENGINE_MIGRATIONS,
    loadConfig: loadEngineConfig,
    start: startEngine,
    ...(clock ? { clock } : {}),
    env: { CONTROL_URL: 'http://127.0.0.1:9', ...env },
  });
}
