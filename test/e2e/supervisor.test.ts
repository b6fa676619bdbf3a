import { afterEach, describe, expect, it } from 'vitest';
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { eventually, TEST_DATABASE_URL } from '@mic/platform/testing';
import {
  health,
  isAlive,
  systemStatus,
  micEnv,
  plainLines,
  runMic,
  waitForHealth,
  type MicEnv,
  type MicProcess,
} from './harness.ts';

const running: MicProcess[] = [];
const envs: MicEnv[] = [];

async function start(extra: Record<string, string> = {}): Promise<MicProcess> {
  const env = await micEnv(extra);
  envs.push(env);
  const mic = runMic(['start'], env);
  running.push(mic);
  return mic;
}

afterEach(async () => {
  for (const mic of running.splice(0)) await mic.stop(5_000);
  for (const env of envs.splice(0)) await env.cleanup();
});

describe(`mic start on ${TEST_DATABASE_URL ? 'Postgres' : 'PGlite'}`, () => {
  it('brings both planes up, survives kill -9 of the engine, and restarts it', async () => {
    const mic = await start({ ENGINE_HEALTH_TIMEOUT: '1s' });
    for (const path of ['/health/api', '/health/db', '/health/engine', '/health/motor']) {
      const h = await waitForHealth(`${mic.controlUrl}${path}`, 'pass');
      expect(h.contentType).toContain('application/health+json');
    }
    await eventually(async () => (mic.output().includes('MIC is running') ? true : undefined));
    expect(mic.output()).toContain(`console and control API: http://localhost:${new URL(mic.controlUrl).port}/`);

    const engine = await systemStatus(mic, 'engine');
    expect(engine.database.kind).toBe(TEST_DATABASE_URL ? 'postgres' : 'pglite');
    process.kill(engine.pid, 'SIGKILL');

    // Control keeps serving and says the engine is down, without hanging.
    expect((await health(`${mic.controlUrl}/health/api`)).body.status).toBe('pass');
    const down = await waitForHealth(`${mic.controlUrl}/health/engine`, 'fail', 10_000);
    expect(down.status).toBe(503);
    expect((await health(`${mic.controlUrl}/health/api`)).status).toBe(200);

    // The supervisor brings it back by itself, as a new process.
    const back = await waitForHealth(`${mic.controlUrl}/health/engine`, 'pass', 60_000);
    expect(back.body.checks?.['supervisor:restarts']?.[0]?.observedValue).toBe(1);
    const restarted = await systemStatus(mic, 'engine');
    expect(restarted.pid).not.toBe(engine.pid);
  });

  it('stops both planes on SIGTERM, exits 0 and releases the data folders', async () => {
    const mic = await start();
    await waitForHealth(`${mic.controlUrl}/health/engine`, 'pass');
    const pids = [(await systemStatus(mic, 'control')).pid, (await systemStatus(mic, 'engine')).pid];
    const result = await mic.stop();
    expect(result.code).toBe(0);
    await eventually(async () => (pids.every((p) => !isAlive(p)) ? true : undefined), 5_000);
    if (!TEST_DATABASE_URL) {
      expect(existsSync(join(mic.dataDir, 'control', 'mic.lock'))).toBe(false);
      expect(existsSync(join(mic.dataDir, 'engine', 'mic.lock'))).toBe(false);
    }
  });

  it('reports a plane that keeps crashing, loudly and in control health, while control keeps serving', async () => {
    const mic = await start({
      ENGINE_DATABASE_URL: 'postgres://mic@127.0.0.1:1/nothing',
      SUPERVISOR_BACKOFF_MIN: '100ms',
      SUPERVISOR_BACKOFF_MAX: '500ms',
      SUPERVISOR_CRASH_LOOP_RESTARTS: '3',
    });
    const looping = await eventually(async () => {
      const h = await health(`${mic.controlUrl}/health/engine`);
      return h.body.checks?.['supervisor:restarts']?.[0]?.status === 'fail' ? h : undefined;
    }, 60_000);
    expect(looping.body.checks?.['supervisor:restarts']?.[0]?.output).toContain('engine keeps crashing');
    expect(mic.output()).toContain('RESTART LOOP');
    expect(plainLines(mic.output()).some((l) => l.startsWith('mic: engine keeps crashing'))).toBe(true);
    expect((await health(`${mic.controlUrl}/health/api`)).body.status).toBe('pass');
  });
});

describe('mic start refuses a bad configuration with one clear line', () => {
  async function startFails(
    extra: Record<string, string>,
  ): Promise<{ code: number | null; lines: string[]; output: string }> {
    const mic = await start(extra);
    const result = await Promise.race([
      mic.exited,
      new Promise<never>((_, reject) => setTimeout(() => reject(new Error(`still running:\n${mic.output()}`)), 60_000)),
    ]);
    return {
      code: result.code,
      lines: plainLines(mic.output()).filter((l) => !l.startsWith('>')),
      output: mic.output(),
    };
  }

  it('a port that is not a number', async () => {
    const { code, lines, output } = await startFails({ CONTROL_PORT: 'http' });
    expect(code).toBe(78);
    expect(lines).toEqual([
      'mic: control: configuration error: CONTROL_PORT="http" is not valid: expected a port number from 0 to 65535',
    ]);
    expect(output).not.toMatch(/\n\s+at /);
  });

  it('a database URL that is not postgres://', async () => {
    const { code, lines } = await startFails({ ENGINE_DATABASE_URL: 'mysql://root@127.0.0.1/mic' });
    expect(code).toBe(78);
    expect(lines).toEqual([
      'mic: engine: configuration error: ENGINE_DATABASE_URL="mysql://root@127.0.0.1/mic" is not valid: expected a postgres:// URL',
    ]);
  });

  it('a port already in use', async () => {
    const { createServer } = await import('node:net');
    const blocker = createServer();
    await new Promise<void>((r) => blocker.listen(0, '127.0.0.1', r));
    const port = (blocker.address() as { port: number }).port;
    try {
      const { code, lines } = await startFails({ ENGINE_PORT: String(port) });
      expect(code).toBe(78);
      expect(lines).toEqual([`mic: engine: ENGINE_PORT=${port} is already in use by another process`]);
    } finally {
      blocker.close();
    }
  });
});
