import { generateToken, SERVICE_TOKEN_PREFIX, type Clock } from '@mic/platform';
import { freePort } from '@mic/platform/testing';
import { startTestControl, type TestControl } from '../apps/control/src/testing.ts';
import { startTestEngine, type TestEngine } from '../apps/engine/src/testing.ts';

export interface TestPlanes {
  control: TestControl;
  engine: TestEngine;
  stop(): Promise<void>;
}

/**
 * Control and engine in this process, each on its own test database, calling each other over real
 * HTTP with service tokens the other accepts (as `mic start` arranges with its token file).
 */
export async function startTestPlanes(
  env: { control?: Record<string, string>; engine?: Record<string, string> } = {},
  clock?: Clock,
): Promise<TestPlanes> {
  const controlPort = await freePort();
  const toControl = generateToken(SERVICE_TOKEN_PREFIX);
  const toEngine = generateToken(SERVICE_TOKEN_PREFIX);
  const engine = await startTestEngine(
    { CONTROL_URL: `http://127.0.0.1:${controlPort}`, CONTROL_TOKEN: toControl, ...env.engine },
    clock,
  );
  await engine.app.serviceTokens.register('control', toEngine);
  let control: TestControl;
  try {
    control = await startTestControl(
      { CONTROL_PORT: String(controlPort), ENGINE_URL: engine.url, ENGINE_TOKEN: toEngine, ...env.control },
      clock,
    );
    await control.app.serviceTokens.register('engine', toControl);
  } catch (error) {
    await engine.stop();
    throw error;
  }
  return {
    control,
    engine,
    async stop() {
      await control.stop();
      await engine.stop();
    },
  };
}
