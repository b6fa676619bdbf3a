import { createServer, type IncomingMessage, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { afterEach, describe, expect, it } from 'vitest';
import { verifyMetaSignature } from '@mic/meta';
import { bodyGenerator, whatsappTextMessage } from './bodies.ts';
import { sendWebhooks } from './send.ts';

const appSecret = 'sandbox-app-secret';

interface Received {
  body: string;
  signature: string | undefined;
  isValid: boolean;
}

/**
 * A stand-in for the engine's ingress: verifies `X-Hub-Signature-256` on the raw body (401 when
 * wrong) and answers what `answer` says; 127.0.0.1 only.
 */
async function ingress(answer: (request: IncomingMessage, received: Received, n: number) => number = () => 200) {
  const received: Received[] = [];
  let inFlight = 0;
  let maxInFlight = 0;
  const server = createServer((request, response) => {
    inFlight += 1;
    maxInFlight = Math.max(maxInFlight, inFlight);
    const chunks: Buffer[] = [];
    request.on('data', (chunk: Buffer) => chunks.push(chunk));
    request.on('end', () => {
      const raw = Buffer.concat(chunks);
      const signature = request.headers['x-hub-signature-256'];
      const entry = {
        body: raw.toString('utf8'),
        signature: typeof signature === 'string' ? signature : undefined,
        isValid: verifyMetaSignature(raw, signature, appSecret),
      };
      received.push(entry);
      const status = entry.isValid ? answer(request, entry, received.length) : 401;
      if (status === 0) return; // never answer
      // A little latency, so concurrency is visible.
      setTimeout(() => {
        inFlight -= 1;
        response.writeHead(status).end();
      }, 5);
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  servers.push(server);
  return {
    url: `http://127.0.0.1:${(server.address() as AddressInfo).port}/webhooks/meta/main`,
    received,
    maxInFlight: () => maxInFlight,
  };
}

const servers: Server[] = [];
afterEach(async () => {
  for (const server of servers.splice(0)) {
    server.closeAllConnections();
    await new Promise((resolve) => server.close(resolve));
  }
});

describe('sendWebhooks', () => {
  it('posts generated bodies signed with the app secret, and reports each status and latency', async () => {
    const { url, received } = await ingress();
    const { results, summary } = await sendWebhooks({
      url,
      appSecret,
      generator: bodyGenerator('whatsapp-text'),
      count: 40,
      concurrency: 8,
    });
    expect(received).toHaveLength(40);
    expect(received.every((r) => r.isValid)).toBe(true);
    expect(new Set(received.map((r) => r.body)).size).toBe(40);
    expect(results.map((r) => r.index)).toEqual(Array.from({ length: 40 }, (_, i) => i));
    expect(results.every((r) => r.status === 200 && r.kind === 'original' && r.latencyMs >= 0)).toBe(true);
    expect(summary).toMatchObject({ requests: 40, originals: 40, ok: 40, undelivered: 0, byStatus: { 200: 40 } });
    expect(summary.latencyMs.max).toBeGreaterThanOrEqual(summary.latencyMs.p50);
  });

  it('sends given bodies as they are: a string byte for byte', async () => {
    const { url, received } = await ingress();
    const pretty = JSON.stringify(whatsappTextMessage(), null, 2);
    await sendWebhooks({ url, appSecret, bodies: [pretty, whatsappTextMessage()] });
    expect(received[0]?.body).toBe(pretty);
    expect(received.every((r) => r.isValid)).toBe(true);
  });

  it('sends deliberate duplicates: the same bytes and signature as the body before', async () => {
    const { url, received } = await ingress();
    const { results, summary } = await sendWebhooks({
      url,
      appSecret,
      generator: bodyGenerator('whatsapp-status'),
      count: 9,
      duplicateEvery: 3,
      concurrency: 1,
    });
    expect(results.map((r) => r.kind)).toEqual([
      'original',
      'original',
      'duplicate',
      'original',
      'original',
      'duplicate',
      'original',
      'original',
      'duplicate',
    ]);
    expect(results.map((r) => r.body)).toEqual([0, 1, 1, 2, 3, 3, 4, 5, 5]);
    expect(received[2]).toEqual(received[1]);
    expect(received[5]).toEqual(received[4]);
    expect(new Set(received.map((r) => r.body)).size).toBe(6);
    expect(summary).toMatchObject({ originals: 6, duplicates: 3 });
  });

  it('retries a body that gets no 2xx, with the same bytes, until it is taken', async () => {
    const failedOnce = new Set<string>();
    const { url, received } = await ingress((_, entry) => {
      if (failedOnce.has(entry.body)) return 200;
      failedOnce.add(entry.body);
      return 500;
    });
    const { results, summary } = await sendWebhooks({
      url,
      appSecret,
      generator: bodyGenerator('messenger-text'),
      count: 5,
      retries: 2,
      retryDelayMs: 10,
    });
    expect(received).toHaveLength(10);
    expect(results.map((r) => [r.index, r.kind, r.attempt, r.status])).toEqual(
      [0, 1, 2, 3, 4].flatMap((i) => [
        [i, 'original', 1, 500],
        [i, 'retry', 2, 200],
      ]),
    );
    expect(summary).toMatchObject({ requests: 10, retries: 5, ok: 5, undelivered: 0, byStatus: { 200: 5, 500: 5 } });
  });

  it('counts bodies still refused after every retry as undelivered (here: the wrong secret)', async () => {
    const { url } = await ingress();
    const { summary } = await sendWebhooks({
      url,
      appSecret: 'not-the-secret',
      generator: bodyGenerator('instagram-text'),
      count: 3,
      retries: 1,
      retryDelayMs: 0,
    });
    expect(summary).toMatchObject({ requests: 6, ok: 0, undelivered: 3, byStatus: { 401: 6 } });
  });

  it('keeps to the rate and the concurrency', async () => {
    const { url, maxInFlight } = await ingress();
    const { results, summary } = await sendWebhooks({
      url,
      appSecret,
      generator: bodyGenerator('whatsapp-reaction'),
      count: 21,
      rate: 100,
      concurrency: 2,
    });
    // The 21st request is due 200 ms after the first: a lower bound only, never an upper one.
    expect(results.at(-1)?.startedMs).toBeGreaterThanOrEqual(195);
    expect(summary.durationMs).toBeGreaterThanOrEqual(195);
    expect(maxInFlight()).toBeLessThanOrEqual(2);
  });

  it('reports status 0 for no answer: a timeout, or nothing listening', async () => {
    const { url } = await ingress(() => 0);
    const timedOut = await sendWebhooks({
      url,
      appSecret,
      bodies: [whatsappTextMessage()],
      timeoutMs: 100,
    });
    expect(timedOut.results[0]).toMatchObject({ status: 0, error: 'no answer within 100 ms' });
    expect(timedOut.summary).toMatchObject({
      undelivered: 1,
      byStatus: { 0: 1 },
      errors: { 'no answer within 100 ms': 1 },
    });

    const closed = createServer();
    await new Promise<void>((resolve) => closed.listen(0, '127.0.0.1', resolve));
    const port = (closed.address() as AddressInfo).port;
    await new Promise((resolve) => closed.close(resolve));
    const refused = await sendWebhooks({
      url: `http://127.0.0.1:${port}/`,
      appSecret,
      bodies: [whatsappTextMessage()],
    });
    expect(refused.results[0]).toMatchObject({ status: 0, error: 'ECONNREFUSED' });
  });

  it('refuses options that cannot work', async () => {
    const url = 'http://127.0.0.1:9/';
    const generator = bodyGenerator('whatsapp-text');
    await expect(sendWebhooks({ url, appSecret })).rejects.toThrow(/bodies or a generator/);
    await expect(sendWebhooks({ url, appSecret, generator })).rejects.toThrow(/count is required/);
    await expect(sendWebhooks({ url, appSecret, generator, count: 1, duplicateEvery: 1 })).rejects.toThrow(
      /duplicateEvery/,
    );
    await expect(sendWebhooks({ url, appSecret, generator, count: 1, rate: -1 })).rejects.toThrow(/rate/);
    await expect(sendWebhooks({ url, appSecret, bodies: [whatsappTextMessage()], count: 2 })).rejects.toThrow(
      /need 2 bodies/,
    );
    await expect(sendWebhooks({ url: 'nope', appSecret, generator, count: 1 })).rejects.toThrow();
  });
});
