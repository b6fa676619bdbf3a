import type { Clock } from '@mic/platform';
import { startTestPlane, type TestPlane } from '@mic/platform/testing';
import { loadControlConfig } from './config.ts';
import { CONTROL_MIGRATIONS, startControl } from './server.ts';

export type TestControl = TestPlane;

/** A control plane on a test database of its own; the engine address points nowhere unless given. */
export function startTestControl(env: Record<string, string> = {}, clock?: Clock): Promise<TestControl> {
  return startTestPlane({
    prefix: 'CONTROL',
    migrations: CONTROL_MIGRATIONS,
    loadConfig: loadControlConfig,
    start: startControl,
    ...(clock ? { clock } : {}),
    env: { ENGINE_URL: 'http://127.0.0.1:9', ...env },
  });
}
