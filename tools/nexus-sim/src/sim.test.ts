import { spawn } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { once } from 'node:events';
import { join } from 'node:path';
import { createInterface } from 'node:readline';
import { Webhook } from 'standardwebhooks';
import { afterEach, describe, expect, it } from 'vitest';
import type { DeliveredEvent } from '@mic/contracts';
import { startNexusSim, type NexusSim, type NexusSimOptions, type SimReport } from './index.ts';

const newSecret = () => `whsec_${randomBytes(24).toString('base64')}`;
const secret = newSecret();

let seq = 0;
function event(overrides: Partial<DeliveredEvent> = {}): DeliveredEvent {
  seq += 1;
  return {
    id: `dlv_${seq}`,
    type: 'whatsapp.message.received',
    tenantId: 'ten_1',
    instanceId: 'ins_1',
    channel: { kind: 'whatsapp', id: '106540352242922' },
    conversation: { id: 'cnv_1', seq },
    occurredAt: '2025-06-01T11:59:58.000Z',
    receivedAt: '2025-06-01T11:59:59.000Z',
    data: { messageId: `wamid.${seq}`, from: '16505551234', messageType: 'text', text: 'hola' },
    raw: { id: `wamid.${seq}` },
    ...overrides,
  };
}

/** One delivery attempt, signed as the engine signs it: anew on every attempt, the id unchanged. */
function deliver(
  url: string,
  delivered: DeliveredEvent,
  { secrets = [secret], at = new Date(), signal }: { secrets?: string[]; at?: Date; signal?: AbortSignal } = {},
) {
  const body = JSON.stringify(delivered);
  return fetch(`${url}/webhooks/mic`, {
    method: 'POST',
    body,
    ...(signal ? { signal } : {}),
    headers: {
      'content-type': 'application/json',
      'webhook-id': delivered.id,
      'webhook-timestamp': String(Math.floor(at.getTime() / 1000)),
      'webhook-signature': secrets.map((s) => new Webhook(s).sign(delivered.id, at, body)).join(' '),
      traceparent: '00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01',
    },
  });
}

let sim: NexusSim | undefined;
afterEach(async () => {
  await sim?.stop();
  sim = undefined;
});
const start = async (options: Partial<NexusSimOptions> = {}) => {
  sim = await startNexusSim({ secrets: [secret], ...options });
  return sim;
};

describe('nexus-sim', () => {
  it('verifies deliveries and records id, type, conversation seq, headers, arrival time and attempt', async () => {
    const { url, received } = await start();
    const first = event();
    const response = await deliver(url, first);
    expect(response.status).toBe(204);
    const [record] = received();
    expect(record).toMatchObject({
      webhookId: first.id,
      id: first.id,
      type: 'whatsapp.message.received',
      conversation: first.conversation,
      attempt: 1,
      mode: 'ok',
      status: 204,
      event: first,
    });
    expect(record?.headers.traceparent).toMatch(/^00-/);
    expect(record?.headers['webhook-id']).toBe(first.id);
    expect(Date.parse(record?.receivedAt ?? '')).not.toBeNaN();
  });

  it('counts attempts per webhook-id across retries', async () => {
    const { url, received, attempts, setMode } = await start();
    const retried = event();
    const other = event();
    setMode({ mode: 'fail-500' });
    expect((await deliver(url, retried)).status).toBe(500);
    expect((await deliver(url, retried)).status).toBe(500);
    setMode({ mode: 'ok' });
    expect((await deliver(url, retried)).status).toBe(204);
    expect((await deliver(url, other)).status).toBe(204);
    expect(received().map((r) => [r.id, r.attempt, r.status])).toEqual([
      [retried.id, 1, 500],
      [retried.id, 2, 500],
      [retried.id, 3, 204],
      [other.id, 1, 204],
    ]);
    expect(attempts()).toEqual({ [retried.id]: 3, [other.id]: 1 });
  });

  it('answers as its mode says: 429 and 503 with Retry-After, 410, 500', async () => {
    const { url, setMode } = await start();
    setMode({ mode: 'rate-limited', retryAfterSeconds: 7 });
    const limited = await deliver(url, event());
    expect(limited.status).toBe(429);
    expect(limited.headers.get('retry-after')).toBe('7');

    setMode({ mode: 'unavailable' });
    const unavailable = await deliver(url, event());
    expect(unavailable.status).toBe(503);
    expect(unavailable.headers.get('retry-after')).toBe('1');
    expect(unavailable.headers.get('content-type')).toBe('application/problem+json');

    setMode({ mode: 'gone' });
    expect((await deliver(url, event())).status).toBe(410);
    setMode({ mode: 'fail-500' });
    expect((await deliver(url, event())).status).toBe(500);
  });

  it('slow: answers after the delay, and shows the attempt as unanswered meanwhile', async () => {
    const { url, setMode, waitFor, received } = await start({ mode: { mode: 'slow', delayMs: 300 } });
    const started = performance.now();
    const pending = deliver(url, event());
    await waitFor((r) => r.length === 1);
    expect(received()[0]?.status).toBeNull();
    expect((await pending).status).toBe(204);
    expect(performance.now() - started).toBeGreaterThanOrEqual(290);
    expect(received()[0]?.status).toBe(204);
    expect(setMode({ mode: 'ok' })).toEqual({ mode: 'ok' });
  });

  it('hang: never answers, and stop() still ends at once', async () => {
    const { url, waitFor } = await start({ mode: { mode: 'hang' } });
    const abandoned = deliver(url, event(), { signal: AbortSignal.timeout(200) });
    await expect(abandoned).rejects.toThrow();
    const stillHanging = deliver(url, event()).catch((error: unknown) => error);
    const [first, second] = await waitFor((r) => r.length === 2);
    expect([first?.status, second?.status]).toEqual([null, null]);
    await sim?.stop();
    expect(await stillHanging).toBeInstanceOf(Error);
  });

  it('fail-for: 500 for the duration from when it is set, then 204 (on its own clock)', async () => {
    let clock = new Date('2025-06-01T12:00:00Z');
    const { url, setMode, mode } = await start({ now: () => clock });
    expect(setMode({ mode: 'fail-for', durationMs: 60_000 })).toEqual({
      mode: 'fail-for',
      durationMs: 60_000,
      until: '2025-06-01T12:01:00.000Z',
    });
    const retried = event();
    expect((await deliver(url, retried, { at: clock })).status).toBe(500);
    clock = new Date('2025-06-01T12:00:59Z');
    expect((await deliver(url, retried, { at: clock })).status).toBe(500);
    clock = new Date('2025-06-01T12:01:00Z');
    expect((await deliver(url, retried, { at: clock })).status).toBe(204);
    expect(mode().mode).toBe('fail-for');
  });

  it('refuses deliveries it cannot verify, whatever the mode, and records why', async () => {
    const { url, received, rejected, setMode } = await start();
    setMode({ mode: 'hang' });
    const forged = await deliver(url, event(), { secrets: [newSecret()] });
    expect(forged.status).toBe(401);
    const stale = await deliver(url, event(), { at: new Date(Date.now() - 3_600_000) });
    expect(stale.status).toBe(401);
    expect(received()).toEqual([]);
    expect(rejected().map((r) => r.reason)).toEqual(['bad-signature', 'stale-timestamp']);
    expect(rejected()[0]?.webhookId).toMatch(/^dlv_/);
  });

  it('accepts deliveries signed with any of its secrets (rotation)', async () => {
    const next = newSecret();
    const { url } = await start({ secrets: [secret, next] });
    expect((await deliver(url, event(), { secrets: [next] })).status).toBe(204);
    expect((await deliver(url, event(), { secrets: [newSecret(), secret] })).status).toBe(204);
  });

  it('has a control API: GET and DELETE /sim/received, GET and POST /sim/mode', async () => {
    const { url } = await start();
    const mode = (body: unknown) =>
      fetch(`${url}/sim/mode`, {
        method: 'POST',
        body: JSON.stringify(body),
        headers: { 'content-type': 'application/json' },
      });

    const first = event();
    await deliver(url, first);
    const report = (await (await fetch(`${url}/sim/received`)).json()) as SimReport;
    expect(report.mode).toEqual({ mode: 'ok' });
    expect(report.deliveries.map((d) => d.id)).toEqual([first.id]);
    expect(report.attempts).toEqual({ [first.id]: 1 });
    expect(report.rejected).toEqual([]);

    const set = await mode({ mode: 'rate-limited', retryAfterSeconds: 3 });
    expect(set.status).toBe(200);
    expect(await set.json()).toEqual({ mode: 'rate-limited', retryAfterSeconds: 3 });
    expect(await (await fetch(`${url}/sim/mode`)).json()).toEqual({ mode: 'rate-limited', retryAfterSeconds: 3 });
    expect((await deliver(url, event())).status).toBe(429);

    for (const bad of [
      { mode: 'explode' },
      { mode: 'slow' },
      { mode: 'ok', extra: 1 },
      { mode: 'slow', delayMs: -1 },
    ]) {
      const refused = await mode(bad);
      expect(refused.status).toBe(400);
      expect(refused.headers.get('content-type')).toBe('application/problem+json');
    }
    const notJson = await fetch(`${url}/sim/mode`, { method: 'POST', body: '{' });
    expect(notJson.status).toBe(400);
    expect((await fetch(`${url}/sim/nothing`)).status).toBe(404);

    expect((await fetch(`${url}/sim/received`, { method: 'DELETE' })).status).toBe(204);
    const cleared = (await (await fetch(`${url}/sim/received`)).json()) as SimReport;
    expect(cleared.deliveries).toEqual([]);
    expect(cleared.attempts).toEqual({});
    expect((await fetch(`${url}/livez`)).status).toBe(200);
  });

  it('refuses to start with a secret that is not a signing secret', async () => {
    await expect(startNexusSim({ secrets: ['not-a-secret'] })).rejects.toThrow(TypeError);
  });
});

describe('nexus-sim as a process', () => {
  const main = join(import.meta.dirname, 'main.ts');

  it('listens on NEXUS_SIM_PORT with NEXUS_SIM_SECRETS, logs deliveries, and stops on SIGTERM', async () => {
    const child = spawn(process.execPath, [main], {
      env: { ...process.env, NEXUS_SIM_PORT: '0', NEXUS_SIM_SECRETS: ` ${newSecret()}, ${secret} ` },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    const lines = createInterface({ input: child.stdout })[Symbol.asyncIterator]();
    const next = async () => JSON.parse(String((await lines.next()).value)) as Record<string, unknown>;
    const listening = await next();
    expect(listening.msg).toBe('nexus-sim listening');
    const url = String(listening.url);
    expect(url).toMatch(/^http:\/\/127\.0\.0\.1:\d+$/);

    const delivered = event();
    expect((await deliver(url, delivered)).status).toBe(204);
    expect(await next()).toMatchObject({ msg: 'delivery', id: delivered.id, attempt: 1, status: 204 });

    child.kill('SIGTERM');
    const [code] = (await once(child, 'exit')) as [number | null];
    expect(code).toBe(0);
  });

  it('explains a bad setting in one line, with exit code 2', async () => {
    const child = spawn(process.execPath, [main], {
      env: { ...process.env, NEXUS_SIM_SECRETS: secret, NEXUS_SIM_PORT: 'eighty' },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let stderr = '';
    child.stderr.on('data', (chunk: Buffer) => (stderr += chunk.toString()));
    const [code] = (await once(child, 'exit')) as [number | null];
    expect(code).toBe(2);
    expect(stderr.trim().split('\n')).toEqual([
      'nexus-sim: NEXUS_SIM_PORT must be a port number (0-65535), not "eighty"',
    ]);

    const noSecrets = spawn(process.execPath, [main], {
      env: { ...process.env, NEXUS_SIM_SECRETS: '' },
      stdio: ['ignore', 'ignore', 'pipe'],
    });
    let message = '';
    noSecrets.stderr.on('data', (chunk: Buffer) => (message += chunk.toString()));
    expect(((await once(noSecrets, 'exit')) as [number | null])[0]).toBe(2);
    expect(message).toMatch(/^nexus-sim: NEXUS_SIM_SECRETS is required/);
  });
});
