import { afterEach, describe, expect, it } from 'vitest';
import { eventually, TEST_DATABASE_URL } from '@mic/platform/testing';
import { readdirSync } from 'node:fs';
import { join } from 'node:path';
import {
  ROOT,
  health,
  micEnv,
  plainLines,
  systemStatus,
  runMic,
  waitForHealth,
  type MicEnv,
  type MicProcess,
} from './harness.ts';

const running: MicProcess[] = [];

function migrationNames(plane: string): string[] {
  return readdirSync(join(ROOT, 'apps', plane, 'migrations'))
    .filter((f) => f.endsWith('.sql'))
    .map((f) => f.replace(/\.sql$/, ''))
    .sort();
}
const envs: MicEnv[] = [];

afterEach(async () => {
  for (const mic of running.splice(0)) await mic.stop(5_000);
  for (const env of envs.splice(0)) await env.cleanup();
});

async function env(): Promise<MicEnv> {
  const e = await micEnv();
  envs.push(e);
  return e;
}

function run(args: string[], e: MicEnv): MicProcess {
  const mic = runMic(args, e);
  running.push(mic);
  return mic;
}

describe('one plane alone', () => {
  it('mic migrate prepares both databases, then reports them up to date', async () => {
    const e = await env();
    const first = run(['migrate'], e);
    expect((await first.exited).code).toBe(0);
    for (const plane of ['control', 'engine']) {
      const files = migrationNames(plane);
      expect(first.output()).toContain(`${plane}: applied ${files.length} migration(s): ${files.join(', ')}`);
    }
    const second = run(['migrate'], e);
    expect((await second.exited).code).toBe(0);
    expect(plainLines(second.output())).toEqual(['control: database is up to date', 'engine: database is up to date']);
  });

  it('mic engine serves alone with control absent', async () => {
    const e = await env();
    const engine = run(['engine'], e);
    // Serving, and honest about what it lacks: no snapshot from control yet, control unreachable.
    const h = await waitForHealth(`${engine.engineUrl}/health`, 'warn');
    const statusOf = (check: string) => h.body.checks?.[check]?.[0]?.status;
    expect(statusOf('config:snapshot')).toBe('warn');
    expect(statusOf('control:reachability')).toBe('warn');
    await eventually(async () => {
      const now = await health(`${engine.engineUrl}/health`);
      return now.body.checks?.['queue:roundTrip']?.[0]?.status === 'pass' ? true : undefined;
    });
    expect(statusOf('uptime')).toBe('pass');
  });

  it.skipIf(TEST_DATABASE_URL)('a second process on the same PGlite folder is refused, and so is migrate', async () => {
    const e = await env();
    const control = run(['control'], e);
    await waitForHealth(`${control.controlUrl}/health/api`, 'pass');
    const { pid } = await systemStatus(control, 'control');

    const second = run(['control'], { ...e, env: { ...e.env, CONTROL_PORT: '0' } });
    expect((await second.exited).code).toBe(78);
    expect(plainLines(second.output())).toEqual([
      `mic control: the data folder ${e.dataDir}/control is in use by process ${pid}; stop it first, or ask it through its admin endpoint`,
    ]);

    const migrate = run(['migrate', 'control'], e);
    expect((await migrate.exited).code).toBe(78);
    expect(plainLines(migrate.output())).toEqual([
      `mic migrate control: refused: the running control plane (pid ${pid}) holds ${e.dataDir}/control; it applied its migrations when it started, so restart it to apply new ones`,
    ]);

    expect((await control.stop()).code).toBe(0);
    const after = run(['migrate', 'control'], e);
    expect((await after.exited).code).toBe(0);
    await eventually(async () => (after.output().includes('up to date') ? true : undefined));
  });
});
