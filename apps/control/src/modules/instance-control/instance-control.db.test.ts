import { createPublicKey, generateKeyPairSync, randomBytes } from 'node:crypto';
import { eq } from 'drizzle-orm';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import type { ControlPublicKey, InstanceCommand, InstanceUptime } from '@mic/contracts';
import { controlKeyIdOf } from '@mic/nexus-sdk';
import { startNexusSim, type NexusSim, type NexusSimOptions } from '@mic/nexus-sim';
import { eventually, freePort } from '@mic/platform/testing';
import { startTestControl, type TestControl } from '../../testing.ts';
import { COMMAND_QUEUE, type AvailabilityChange, type InstanceCommandRow } from './index.ts';
import { instanceCommands } from './schema.ts';

let control: TestControl;
let publicKey: ControlPublicKey;
/** The test's instance directory: instance id → control URL; probed ones in `probed`. */
const targets = new Map<string, string>();
const probed = new Set<string>();
const sims: NexusSim[] = [];
const changes: AvailabilityChange[] = [];

beforeAll(async () => {
  control = await startTestControl({
    QUEUE_POLLING_INTERVAL: '500ms',
    INSTANCE_COMMAND_TIMEOUT: '1s',
    INSTANCE_COMMAND_RETRY_BASE: '300ms',
    INSTANCE_COMMAND_RETRY_MAX: '600ms',
    INSTANCE_COMMAND_EXPIRY: '8s',
    INSTANCE_PROBE_INTERVAL: '1s',
    INSTANCE_PROBE_TIMEOUT: '500ms',
    INSTANCE_DOWN_AFTER: '2s',
  });
  control.app.instanceControl.useDirectory({
    controlTarget: async (id) => (targets.has(id) ? { controlUrl: targets.get(id)! } : null),
    probeTargets: async () => [...probed].map((instanceId) => ({ instanceId, controlUrl: targets.get(instanceId)! })),
  });
  control.app.instanceControl.onInstanceUnreachable((change) => void changes.push(change));
  control.app.instanceControl.onInstanceReachable((change) => void changes.push(change));
  publicKey = (
    await control.app.inject({ method: 'GET', url: '/v1/instance-control/public-key', headers: control.operator })
  ).json<ControlPublicKey>();
});
afterEach(async () => {
  probed.clear();
  await Promise.all(sims.splice(0).map((s) => s.stop()));
});
afterAll(() => control?.stop());

const secret = `whsec_${randomBytes(24).toString('base64')}`;
async function sim(instanceId: string, options: Partial<NexusSimOptions> = {}): Promise<NexusSim> {
  const started = await startNexusSim({
    secrets: [secret],
    controlPublicKey: publicKey.publicKeyPem,
    instanceId,
    ...options,
  });
  sims.push(started);
  targets.set(instanceId, `${started.url}/control`);
  return started;
}

const settled = (id: string, timeoutMs = 10_000) =>
  eventually(async () => {
    const row = await control.app.instanceControl.get(id);
    return row && ['succeeded', 'failed', 'expired'].includes(row.state) ? row : undefined;
  }, timeoutMs);

describe('instance control', () => {
  it("shows control's public key, whose id is what commands carry", async () => {
    expect(publicKey).toMatchObject({
      algorithm: 'ed25519',
      publicKeyPem: expect.stringContaining('PUBLIC KEY') as string,
    });
    expect(controlKeyIdOf(createPublicKey(publicKey.publicKeyPem))).toBe(publicKey.keyId);
    const forbidden = await control.app.inject({ method: 'GET', url: '/v1/instance-control/public-key' });
    expect(forbidden.statusCode).toBe(401);
  });

  it('sends a command signed, records its result, and lists it', async () => {
    const instance = await sim('ins_backup');
    const issued = await control.app.inject({
      method: 'POST',
      url: '/v1/instances/ins_backup/commands',
      headers: control.operator,
      payload: { command: 'backup', args: { label: 'nightly' } },
    });
    expect(issued.statusCode).toBe(202);
    const command = issued.json<InstanceCommand>();
    expect(command).toMatchObject({ instanceId: 'ins_backup', command: 'backup', state: 'pending', attempts: 0 });
    expect(command.requestedBy).toEqual(expect.any(String));

    const done = await settled(command.id);
    expect(done).toMatchObject({ state: 'succeeded', attempts: 1, error: null });
    expect(done.result).toMatchObject({ backupId: instance.instance().backups[0]!.backupId });
    const [received] = instance.commands();
    expect(received).toMatchObject({
      id: command.id,
      command: 'backup',
      args: { label: 'nightly' },
      keyId: publicKey.keyId,
      executed: true,
    });
    expect(instance.control().rejected).toEqual([]);

    const listed = await control.app.inject({
      method: 'GET',
      url: '/v1/instances/ins_backup/commands',
      headers: control.operator,
    });
    expect(listed.json<InstanceCommand[]>().map((c) => [c.id, c.state])).toEqual([[command.id, 'succeeded']]);
    const one = await control.app.inject({
      method: 'GET',
      url: `/v1/instances/ins_backup/commands/${command.id}`,
      headers: control.operator,
    });
    expect(one.json<InstanceCommand>()).toMatchObject({
      state: 'succeeded',
      completedAt: expect.any(String) as string,
    });
    const elsewhere = await control.app.inject({
      method: 'GET',
      url: `/v1/instances/ins_other/commands/${command.id}`,
      headers: control.operator,
    });
    expect(elsewhere.statusCode).toBe(404);
  });

  it('refuses pause from the route, and an instance without a control URL', async () => {
    const pause = await control.app.inject({
      method: 'POST',
      url: '/v1/instances/ins_backup/commands',
      headers: control.operator,
      payload: { command: 'pause' },
    });
    expect(pause.statusCode).toBe(400);
    const unknown = await control.app.inject({
      method: 'POST',
      url: '/v1/instances/ins_nowhere/commands',
      headers: control.operator,
      payload: { command: 'health' },
    });
    expect(unknown.statusCode).toBe(404);
    expect(unknown.json()).toMatchObject({ type: '/problems/instance-not-controllable' });
    await expect(
      control.app.instanceControl.issue({ instanceId: 'ins_x', command: 'password-reset', args: { username: '' } }),
    ).rejects.toMatchObject({ status: 400 });
  });

  it('retries while the instance is down and runs the command once it is back', async () => {
    const port = await freePort();
    targets.set('ins_down', `http://127.0.0.1:${port}/control`);
    const row = await control.app.instanceControl.issue({
      instanceId: 'ins_down',
      command: 'pause',
      args: { reason: 'dunning' },
      requestedBy: 'dunning',
    });
    await eventually(async () => {
      const current = await control.app.instanceControl.get(row.id);
      return current && current.attempts >= 2 && current.error?.code === 'unreachable' ? current : undefined;
    });
    const instance = await sim('ins_down', { port });
    instance.setControlMode({ mode: 'fail-for', durationMs: 800 });
    const done = await settled(row.id);
    expect(done).toMatchObject({
      state: 'succeeded',
      result: { state: 'paused' },
      error: null,
      requestedBy: 'dunning',
    });
    expect(done.attempts).toBeGreaterThanOrEqual(3);
    expect(instance.instance().state).toBe('paused');
    expect(instance.control().executions).toEqual({ [row.id]: 1 });
  });

  it('gets the recorded result, without a second run, when an answer was lost or the command is sent again', async () => {
    const instance = await sim('ins_slow');
    // Slower than the 1 s attempt deadline: the first answer is lost, the retry joins the run.
    instance.setControlMode({ mode: 'slow', delayMs: 1_300 });
    const row = await control.app.instanceControl.issue({ instanceId: 'ins_slow', command: 'backup' });
    const done = await settled(row.id);
    expect(done.state).toBe('succeeded');
    expect(done.attempts).toBeGreaterThanOrEqual(2);
    expect(instance.control().executions).toEqual({ [row.id]: 1 });

    // As if control had lost what it recorded: the same id goes out again.
    instance.setControlMode({ mode: 'ok' });
    await control.app.db.orm
      .update(instanceCommands)
      .set({ state: 'pending', result: null, completedAt: null })
      .where(eq(instanceCommands.id, row.id));
    await control.app.queue.send(COMMAND_QUEUE, { commandId: row.id });
    const again = await settled(row.id);
    expect(again.result).toEqual(done.result);
    expect(instance.commands().at(-1)).toMatchObject({ id: row.id, isReplay: true, executed: false, status: 200 });
    expect(instance.control().executions).toEqual({ [row.id]: 1 });
    expect(instance.instance().backups).toHaveLength(1);
  });

  it('an instance with the wrong key refuses with 401: the command is retried, then expires', async () => {
    const stranger = generateKeyPairSync('ed25519').publicKey.export({ format: 'pem', type: 'spki' }).toString();
    const instance = await sim('ins_wrong_key', { controlPublicKey: stranger });
    const row = await control.app.instanceControl.issue({ instanceId: 'ins_wrong_key', command: 'health' });
    const failing = await eventually(async () => {
      const current = await control.app.instanceControl.get(row.id);
      return current && current.attempts >= 2 ? current : undefined;
    });
    expect(failing).toMatchObject({
      state: expect.stringMatching(/pending|sending/) as string,
      error: { code: 'http-401' },
    });
    expect(failing.error?.message).toContain('not authentic');
    expect(instance.control().rejected[0]).toMatchObject({ commandId: row.id, reason: 'bad-signature' });
    expect(instance.commands()).toEqual([]);
    const expired: InstanceCommandRow = await settled(row.id, 15_000);
    expect(expired).toMatchObject({ state: 'expired', error: { code: 'http-401' } });
  });

  it('probes instances: down after the threshold (told once), up again when they answer', async () => {
    const instance = await sim('ins_probe');
    probed.add('ins_probe');
    const uptime = async () =>
      (
        await control.app.inject({ method: 'GET', url: '/v1/instances/ins_probe/uptime', headers: control.operator })
      ).json<InstanceUptime>();
    await eventually(async () => ((await uptime()).state === 'up' ? true : undefined));
    expect(instance.commands().every((c) => c.command === 'health' && c.status === 200)).toBe(true);

    instance.setControlMode({ mode: 'fail-500' });
    const down = await eventually(async () => {
      const u = await uptime();
      return u.state === 'down' ? u : undefined;
    }, 15_000);
    expect(down.consecutiveFailures).toBeGreaterThanOrEqual(2);
    expect(down.lastOkAt).toEqual(expect.any(String));
    // Listeners are told after the state commits, so the change may trail the uptime answer.
    const told = (n: number) =>
      eventually(async () => {
        const states = changes.filter((c) => c.instanceId === 'ins_probe').map((c) => c.state);
        return states.length >= n ? states : undefined;
      });
    expect(await told(1)).toEqual(['down']);

    instance.setControlMode({ mode: 'ok' });
    const up = await eventually(async () => {
      const u = await uptime();
      return u.state === 'up' ? u : undefined;
    }, 15_000);
    expect(await told(2)).toEqual(['down', 'up']);
    expect(up.ratio24h).toBeGreaterThan(0);
    expect(up.ratio24h).toBeLessThan(1);
    expect(up.probes30d).toBe(up.probes24h);
    const never = await control.app.inject({
      method: 'GET',
      url: '/v1/instances/ins_never/uptime',
      headers: control.operator,
    });
    expect(never.json()).toMatchObject({ state: 'unknown', ratio24h: null, probes24h: 0 });
  });
});
