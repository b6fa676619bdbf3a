import { spawn } from 'node:child_process';
import { generateKeyPairSync, randomBytes, randomUUID, sign, type KeyObject } from 'node:crypto';
import { once } from 'node:events';
import { join } from 'node:path';
import { createInterface } from 'node:readline';
import { afterEach, describe, expect, it } from 'vitest';
import { controlSignedContent, type ControlCommand, type ControlResult } from '@mic/contracts';
import { controlKeyIdOf } from '@mic/nexus-sdk';
import { startNexusSim, type NexusSim, type NexusSimOptions, type SimReport } from './index.ts';

const secret = `whsec_${randomBytes(24).toString('base64')}`;

function keyPair() {
  const { publicKey, privateKey } = generateKeyPairSync('ed25519');
  return {
    privateKey,
    keyId: controlKeyIdOf(publicKey),
    pem: publicKey.export({ format: 'pem', type: 'spki' }).toString(),
    raw: publicKey.export({ format: 'der', type: 'spki' }).subarray(12).toString('base64'),
  };
}
const control = keyPair();
const stranger = keyPair();

function command(name: string, args: Record<string, unknown> = {}, id: string = randomUUID()): ControlCommand {
  return { id, instanceId: 'ins_sim', command: name, args, issuedAt: new Date().toISOString() };
}

/** One attempt, signed as control signs it: anew on every attempt, the id unchanged. */
async function send(url: string, c: ControlCommand, key: { privateKey: KeyObject; keyId: string } = control) {
  const body = JSON.stringify(c);
  const timestamp = String(Math.floor(Date.now() / 1000));
  const signature = sign(null, Buffer.from(controlSignedContent(c.id, timestamp, body)), key.privateKey);
  const response = await fetch(`${url}/control`, {
    method: 'POST',
    body,
    headers: {
      'content-type': 'application/json',
      'mic-command-id': c.id,
      'mic-timestamp': timestamp,
      'mic-key-id': key.keyId,
      'mic-signature': `v1,${signature.toString('base64')}`,
    },
  });
  return { status: response.status, body: (await response.json()) as ControlResult };
}

let sim: NexusSim | undefined;
afterEach(async () => {
  await sim?.stop();
  sim = undefined;
});
const start = async (options: Partial<NexusSimOptions> = {}) => {
  sim = await startNexusSim({ secrets: [secret], controlPublicKey: control.pem, ...options });
  return sim;
};

describe('nexus-sim control endpoint', () => {
  it('pauses and resumes, and shows the state and every command received', async () => {
    const { url, instance, commands } = await start();
    const pause = command('pause', { reason: 'dunning' });
    expect(await send(url, pause)).toEqual({
      status: 200,
      body: { id: pause.id, command: 'pause', status: 'succeeded', result: { state: 'paused' } },
    });
    expect(instance()).toMatchObject({ state: 'paused', stateReason: 'dunning' });
    expect((await send(url, command('resume'))).body.result).toEqual({ state: 'active' });
    expect(instance().state).toBe('active');
    expect(commands()).toMatchObject([
      {
        id: pause.id,
        command: 'pause',
        args: { reason: 'dunning' },
        attempt: 1,
        mode: 'ok',
        isReplay: false,
        executed: true,
        status: 200,
        result: { status: 'succeeded' },
      },
      { command: 'resume', status: 200 },
    ]);
  });

  it('answers health, backup and password-reset with a version, a backup id and a reset link', async () => {
    const { url, instance } = await start({ version: '2.3.4' });
    const health = await send(url, command('health'));
    expect(health.body.result).toEqual({
      status: 'pass',
      version: '2.3.4',
      uptimeSeconds: expect.any(Number) as number,
    });
    const backup = await send(url, command('backup', { label: 'before upgrade' }));
    expect(backup.body.result).toMatchObject({
      backupId: expect.stringMatching(/^bkp_/) as string,
      sizeBytes: 1_048_576,
    });
    const reset = await send(url, command('password-reset', { username: 'ana' }));
    expect(reset.body.result).toMatchObject({ resetUrl: expect.stringContaining(`${url}/reset-password/`) as string });
    expect(instance().backups).toMatchObject([{ label: 'before upgrade' }]);
    expect(instance().passwordResets).toMatchObject([{ username: 'ana' }]);
  });

  it('runs a command once: a repeated id gets the recorded answer', async () => {
    const { url, control: report } = await start();
    const backup = command('backup');
    const first = await send(url, backup);
    const again = await send(url, backup);
    expect(again.body).toEqual(first.body);
    expect(report().executions).toEqual({ [backup.id]: 1 });
    expect(report().commands.map((c) => [c.attempt, c.isReplay, c.executed])).toEqual([
      [1, false, true],
      [2, true, false],
    ]);
    expect(report().instance.backups).toHaveLength(1);
  });

  it('fails as its control mode says, running nothing, and can be told so over HTTP', async () => {
    const { url, instance, control: report } = await start();
    const mode = async (body: unknown) =>
      fetch(`${url}/sim/control/mode`, { method: 'POST', body: JSON.stringify(body) });
    expect((await mode({ mode: 'fail-500' })).status).toBe(200);
    expect(await (await fetch(`${url}/sim/control/mode`)).json()).toEqual({ mode: 'fail-500' });
    const pause = command('pause');
    expect((await send(url, pause)).status).toBe(500);
    expect(instance().state).toBe('active');
    await mode({ mode: 'fail-for', durationMs: 300 });
    expect((await send(url, pause)).status).toBe(500);
    await new Promise((resolve) => setTimeout(resolve, 350));
    expect((await send(url, pause)).status).toBe(200);
    expect(instance().state).toBe('paused');
    expect(report().executions).toEqual({ [pause.id]: 1 });
    expect(report().commands.map((c) => [c.mode, c.status])).toEqual([
      ['fail-500', 500],
      ['fail-for', 500],
      ['fail-for', 200],
    ]);
    expect((await mode({ mode: 'explode' })).status).toBe(400);
  });

  it('hang: never answers, and stop() still ends at once', async () => {
    const { url, setControlMode, waitForCommands } = await start();
    setControlMode({ mode: 'hang' });
    const pending = send(url, command('health')).catch((error: unknown) => error);
    await waitForCommands((c) => c.length === 1);
    await sim!.stop();
    expect(await pending).toBeInstanceOf(Error);
  });

  it('refuses commands signed by another key or for another instance, and records why', async () => {
    const { url, commands, control: report } = await start({ instanceId: 'ins_other' });
    expect((await send(url, command('pause'), stranger)).status).toBe(401);
    expect((await send(url, command('pause'))).status).toBe(400);
    expect(commands()).toEqual([]);
    expect(report().rejected.map((r) => r.reason)).toEqual(['bad-signature', 'wrong-instance']);
  });

  it('shows the control endpoint in GET /sim/received; DELETE forgets commands but not the state', async () => {
    const { url } = await start();
    await send(url, command('pause'));
    const report = (await (await fetch(`${url}/sim/received`)).json()) as SimReport;
    expect(report.control).toMatchObject({ mode: { mode: 'ok' }, instance: { state: 'paused' } });
    expect(report.control.commands).toHaveLength(1);
    await fetch(`${url}/sim/received`, { method: 'DELETE' });
    const cleared = (await (await fetch(`${url}/sim/received`)).json()) as SimReport;
    expect(cleared.control.commands).toEqual([]);
    expect(cleared.control.instance.state).toBe('paused');
  });

  it('answers 404 on /control without a control public key', async () => {
    sim = await startNexusSim({ secrets: [secret] });
    expect((await send(sim.url, command('health'))).status).toBe(404);
  });

  it('takes the key from NEXUS_SIM_CONTROL_PUBLIC_KEY as a process', async () => {
    const child = spawn(process.execPath, [join(import.meta.dirname, 'main.ts')], {
      env: {
        ...process.env,
        NEXUS_SIM_SECRETS: secret,
        NEXUS_SIM_CONTROL_PUBLIC_KEY: `${stranger.raw},${control.raw}`,
      },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    const lines = createInterface({ input: child.stdout })[Symbol.asyncIterator]();
    const listening = JSON.parse(String((await lines.next()).value)) as { url: string };
    expect((await send(listening.url, command('health'))).status).toBe(200);
    child.kill('SIGTERM');
    expect(((await once(child, 'exit')) as [number | null])[0]).toBe(0);
  });
});
