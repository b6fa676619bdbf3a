import { generateKeyPairSync, sign, type KeyObject } from 'node:crypto';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { afterEach, describe, expect, it, vi } from 'vitest';
import { controlSignedContent, type ControlCommand, type ControlResult } from '@mic/contracts';
import {
  ControlCommandError,
  ControlVerificationError,
  controlKeyIdOf,
  createControlHandler,
  MemoryControlCommandStore,
  verifyControlCommand,
  type ControlHandlerOptions,
} from './index.ts';

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
const other = keyPair();

let seq = 0;
function command(overrides: Partial<ControlCommand> = {}): ControlCommand {
  seq += 1;
  return {
    id: `0190a4b0-0000-7000-8000-${String(seq).padStart(12, '0')}`,
    instanceId: 'ins_1',
    command: 'pause',
    args: { reason: 'dunning' },
    issuedAt: '2025-06-01T12:00:00.000Z',
    ...overrides,
  };
}

function signed(
  body: string,
  id: string,
  {
    at = new Date(),
    key = control.privateKey,
    keyId = control.keyId,
  }: { at?: Date; key?: KeyObject; keyId?: string } = {},
): Record<string, string> {
  const timestamp = String(Math.floor(at.getTime() / 1000));
  const signature = sign(null, Buffer.from(controlSignedContent(id, timestamp, body)), key).toString('base64');
  return {
    'content-type': 'application/json',
    'mic-command-id': id,
    'mic-timestamp': timestamp,
    'mic-key-id': keyId,
    'mic-signature': `v1,${signature}`,
  };
}

let server: Server | undefined;
afterEach(async () => {
  server?.closeAllConnections();
  await new Promise((resolve) => server?.close(resolve) ?? resolve(undefined));
  server = undefined;
});

async function serve(options: Partial<ControlHandlerOptions> = {}): Promise<string> {
  server = createServer(createControlHandler({ publicKeys: [control.pem], handlers: {}, ...options }));
  await new Promise<void>((resolve) => server!.listen(0, '127.0.0.1', resolve));
  return `http://127.0.0.1:${(server.address() as AddressInfo).port}/control`;
}

async function post(url: string, c: ControlCommand, options?: Parameters<typeof signed>[2], text = JSON.stringify(c)) {
  const response = await fetch(url, { method: 'POST', body: text, headers: signed(text, c.id, options) });
  return { status: response.status, body: (await response.json()) as ControlResult & Record<string, unknown> };
}

describe('verifyControlCommand', () => {
  it('returns the command, the signing time and the key that matched', () => {
    const c = command();
    const body = JSON.stringify(c, null, 1);
    const verified = verifyControlCommand(body, signed(body, c.id), [other.pem, control.raw]);
    expect(verified.command).toEqual(c);
    expect(verified.keyId).toBe(control.keyId);
    expect(verified.signedAt).toBeInstanceOf(Date);
  });

  it.each([
    ['a signature by another key', { key: other.privateKey }, 'bad-signature', 401],
    ['a stale timestamp', { at: new Date(Date.now() - 600_000) }, 'stale-timestamp', 401],
  ] as const)('refuses %s', (_what, options, reason, status) => {
    const c = command();
    const body = JSON.stringify(c);
    const attempt = () => verifyControlCommand(body, signed(body, c.id, options), [control.pem]);
    expect(attempt).toThrow(ControlVerificationError);
    expect(attempt).toThrow(expect.objectContaining({ reason, status }));
  });

  it('refuses missing headers, a body that is not a command, an id mismatch and another instance', () => {
    const c = command();
    const body = JSON.stringify(c);
    const reasonOf = (fn: () => unknown) => {
      try {
        fn();
      } catch (error) {
        return (error as ControlVerificationError).reason;
      }
      return null;
    };
    const { 'mic-key-id': _, ...withoutKeyId } = signed(body, c.id);
    expect(reasonOf(() => verifyControlCommand(body, withoutKeyId, [control.pem]))).toBe('missing-headers');
    const notCommand = JSON.stringify({ id: c.id });
    expect(reasonOf(() => verifyControlCommand(notCommand, signed(notCommand, c.id), [control.pem]))).toBe(
      'invalid-body',
    );
    expect(reasonOf(() => verifyControlCommand(body, signed(body, command().id), [control.pem]))).toBe('invalid-body');
    expect(reasonOf(() => verifyControlCommand(body, signed(body, c.id), [control.pem], { instanceId: 'ins_2' }))).toBe(
      'wrong-instance',
    );
  });

  it('refuses a private key or a key that is not ed25519 as configuration', () => {
    const { privateKey } = generateKeyPairSync('ed25519');
    const pem = privateKey.export({ format: 'pem', type: 'pkcs8' }).toString();
    expect(() => verifyControlCommand('{}', {}, [pem])).toThrow(/private key/);
    const rsa = generateKeyPairSync('rsa', { modulusLength: 1024 }).publicKey.export({ format: 'pem', type: 'spki' });
    expect(() => verifyControlCommand('{}', {}, [rsa.toString()])).toThrow(/not an ed25519 key/);
    expect(() => verifyControlCommand('{}', {}, ['not a key'])).toThrow(/#1 is not a public key/);
  });
});

describe('createControlHandler', () => {
  it('runs the handler with args and context, and answers 200 with the result', async () => {
    const pause = vi.fn(() => ({ state: 'paused' as const }));
    const url = await serve({ handlers: { pause } });
    const c = command();
    const { status, body } = await post(url, c);
    expect(status).toBe(200);
    expect(body).toEqual({ id: c.id, command: 'pause', status: 'succeeded', result: { state: 'paused' } });
    expect(pause).toHaveBeenCalledWith(
      { reason: 'dunning' },
      expect.objectContaining({ id: c.id, instanceId: 'ins_1', keyId: control.keyId }),
    );
  });

  it('answers a command id seen before with the recorded result, without running it again', async () => {
    let backups = 0;
    const verified: boolean[] = [];
    const url = await serve({
      handlers: { backup: () => ({ backupId: `b${++backups}`, createdAt: new Date().toISOString() }) },
      onVerified: (_c, context) => verified.push(context.isReplay),
    });
    const c = command({ command: 'backup', args: {} });
    const first = await post(url, c);
    const again = await post(url, c); // signed anew, as control's retries are
    expect(again.body).toEqual(first.body);
    expect(backups).toBe(1);
    expect(verified).toEqual([false, true]);
  });

  it('lets a retry that arrives during the first run wait for it', async () => {
    let release = () => {};
    const gate = new Promise<void>((resolve) => (release = resolve));
    const health = vi.fn(async () => {
      await gate;
      return { status: 'pass' as const, version: '1.0.0', uptimeSeconds: 5 };
    });
    const url = await serve({ handlers: { health } });
    const c = command({ command: 'health', args: {} });
    const both = Promise.all([post(url, c), post(url, c)]);
    await vi.waitFor(() => expect(health).toHaveBeenCalled());
    release();
    const [a, b] = await both;
    expect(a.body).toEqual(b.body);
    expect(health).toHaveBeenCalledTimes(1);
  });

  it('answers unsupported-command for an unknown command or one without a handler, and records it', async () => {
    const url = await serve({ handlers: { health: () => ({ status: 'pass', version: '1', uptimeSeconds: 1 }) } });
    const unknown = await post(url, command({ command: 'self-destruct', args: {} }));
    expect(unknown.status).toBe(200);
    expect(unknown.body).toMatchObject({ status: 'failed', error: { code: 'unsupported-command' } });
    const unhandled = await post(url, command({ command: 'backup', args: {} }));
    expect(unhandled.body).toMatchObject({
      command: 'backup',
      status: 'failed',
      error: { code: 'unsupported-command' },
    });
  });

  it('answers invalid-args for args that do not match the command, without running it', async () => {
    const passwordReset = vi.fn();
    const url = await serve({ handlers: { passwordReset } });
    const { body } = await post(url, command({ command: 'password-reset', args: { username: 42 } }));
    expect(body).toMatchObject({ status: 'failed', error: { code: 'invalid-args' } });
    expect(passwordReset).not.toHaveBeenCalled();
  });

  it('records a ControlCommandError as a failed result; any other error is 500 and runs again on retry', async () => {
    let calls = 0;
    const onError = vi.fn();
    const url = await serve({
      onError,
      handlers: {
        backup: () => {
          calls += 1;
          if (calls === 1) throw new Error('disk busy');
          throw new ControlCommandError('backup-storage-full', 'no space left for the backup');
        },
      },
    });
    const c = command({ command: 'backup', args: {} });
    const first = await post(url, c);
    expect(first.status).toBe(500);
    expect(first.body).toMatchObject({ type: '/problems/control-not-processed' });
    expect(onError).toHaveBeenCalledTimes(1);
    const second = await post(url, c);
    expect(second.body).toMatchObject({ status: 'failed', error: { code: 'backup-storage-full' } });
    const third = await post(url, c);
    expect(third.body).toEqual(second.body);
    expect(calls).toBe(2);
  });

  it('answers 401 problem details for a wrong key or a stale timestamp, and 400 for another instance', async () => {
    const pause = vi.fn(() => ({ state: 'paused' as const }));
    const rejected: string[] = [];
    const url = await serve({ handlers: { pause }, instanceId: 'ins_1', onRejected: (e) => rejected.push(e.reason) });
    const wrongKey = await post(url, command(), { key: other.privateKey, keyId: other.keyId });
    expect(wrongKey.status).toBe(401);
    expect(wrongKey.body).toMatchObject({ type: '/problems/control-bad-signature', reason: 'bad-signature' });
    expect(String(wrongKey.body.detail)).toContain(other.keyId);
    const stale = await post(url, command(), { at: new Date(Date.now() - 3_600_000) });
    expect(stale.status).toBe(401);
    const elsewhere = await post(url, command({ instanceId: 'ins_2' }));
    expect(elsewhere.status).toBe(400);
    expect(elsewhere.body).toMatchObject({ reason: 'wrong-instance' });
    expect(pause).not.toHaveBeenCalled();
    expect(rejected).toEqual(['bad-signature', 'stale-timestamp', 'wrong-instance']);
  });

  it('uses the clock it is given, and picks up rotated keys from a function', async () => {
    const past = new Date('2025-01-01T00:00:00Z');
    let keys = [control.pem];
    const url = await serve({
      publicKeys: () => keys,
      now: () => past,
      handlers: { resume: () => ({ state: 'active' }) },
    });
    const resume = () => command({ command: 'resume', args: {} });
    expect((await post(url, resume(), { at: past })).status).toBe(200);
    expect((await post(url, resume())).status).toBe(401);
    expect((await post(url, resume(), { at: past, key: other.privateKey, keyId: other.keyId })).status).toBe(401);
    keys = [control.pem, other.pem];
    expect((await post(url, resume(), { at: past, key: other.privateKey, keyId: other.keyId })).status).toBe(200);
  });

  it('refuses other methods with 405', async () => {
    const url = await serve();
    const response = await fetch(url);
    expect(response.status).toBe(405);
    expect(response.headers.get('allow')).toBe('POST');
  });
});

describe('MemoryControlCommandStore', () => {
  it('forgets a result after its keepUntil', () => {
    let now = new Date('2025-01-01T00:00:00Z');
    const store = new MemoryControlCommandStore(() => now);
    const result: ControlResult = { id: 'a', command: 'health', status: 'failed', error: { code: 'x', message: 'y' } };
    store.set('a', result, new Date(now.getTime() + 1000));
    expect(store.get('a')).toEqual(result);
    now = new Date(now.getTime() + 1000);
    expect(store.get('a')).toBeUndefined();
    now = new Date(now.getTime() + 60_000);
    store.set('b', result, new Date(now.getTime() + 1000));
    expect(store.size).toBe(1);
  });
});
