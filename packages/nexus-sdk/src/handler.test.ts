import { randomBytes } from 'node:crypto';
import { createServer, request as httpRequest, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { Webhook } from 'standardwebhooks';
import { afterEach, describe, expect, it, vi } from 'vitest';
import type { DeliveredEvent } from '@mic/contracts';
import {
  createDeliveryHandler,
  type DeliveryContext,
  type DeliveryHandlerOptions,
  type DeliveryListener,
  type DeliveryVerificationError,
} from './index.ts';

const secret = `whsec_${randomBytes(24).toString('base64')}`;

const event: DeliveredEvent = {
  id: 'dlv_1',
  type: 'messenger.message.received',
  tenantId: 'ten_1',
  instanceId: 'ins_1',
  channel: { kind: 'messenger', id: '682498302938465' },
  conversation: { id: 'cnv_1', seq: 1 },
  occurredAt: '2025-06-01T11:59:58.000Z',
  receivedAt: '2025-06-01T11:59:59.000Z',
  data: { messageId: 'm_1', text: 'hi' },
  raw: { message: { mid: 'm_1', text: 'hi' } },
};

function signed(body: string, at = new Date(), id = event.id): Record<string, string> {
  return {
    'content-type': 'application/json',
    'webhook-id': id,
    'webhook-timestamp': String(Math.floor(at.getTime() / 1000)),
    'webhook-signature': new Webhook(secret).sign(id, at, body),
  };
}

let server: Server | undefined;
afterEach(async () => {
  server?.closeAllConnections();
  await new Promise((resolve) => server?.close(resolve) ?? resolve(undefined));
  server = undefined;
});

async function serve(listener: DeliveryListener, options?: DeliveryHandlerOptions): Promise<string> {
  server = createServer(createDeliveryHandler([secret], listener, options));
  await new Promise<void>((resolve) => server!.listen(0, '127.0.0.1', resolve));
  return `http://127.0.0.1:${(server.address() as AddressInfo).port}/webhooks/mic`;
}

const post = (url: string, body: string, headers: Record<string, string>) =>
  fetch(url, { method: 'POST', body, headers });

describe('createDeliveryHandler', () => {
  it('verifies the raw body, hands over the event and its context, and answers 204', async () => {
    const seen: { event: DeliveredEvent; context: DeliveryContext }[] = [];
    const url = await serve((e, context) => void seen.push({ event: e, context }));
    // Deliberately not what JSON.stringify would write: the handler must verify the bytes as sent.
    const body = JSON.stringify(event, null, 1);
    const response = await post(url, body, signed(body));
    expect(response.status).toBe(204);
    expect(seen).toHaveLength(1);
    expect(seen[0]?.event).toEqual(event);
    expect(seen[0]?.context.webhookId).toBe(event.id);
    expect(seen[0]?.context.headers['webhook-id']).toBe(event.id);
    expect(seen[0]?.context.signedAt).toBeInstanceOf(Date);
  });

  it('answers 401 problem details for a bad signature, and tells onRejected', async () => {
    const listener = vi.fn();
    const rejected: DeliveryVerificationError[] = [];
    const url = await serve(listener, { onRejected: (error) => rejected.push(error) });
    const body = JSON.stringify(event);
    const response = await post(url, `${body} `, signed(body));
    expect(response.status).toBe(401);
    expect(response.headers.get('content-type')).toBe('application/problem+json');
    expect(await response.json()).toMatchObject({
      type: '/problems/delivery-bad-signature',
      status: 401,
      reason: 'bad-signature',
      instance: '/webhooks/mic',
    });
    expect(listener).not.toHaveBeenCalled();
    expect(rejected.map((e) => e.reason)).toEqual(['bad-signature']);
  });

  it('answers 401 for missing headers and for a stale timestamp', async () => {
    const url = await serve(() => undefined);
    const body = JSON.stringify(event);
    const missing = await post(url, body, { 'content-type': 'application/json' });
    expect(missing.status).toBe(401);
    expect(await missing.json()).toMatchObject({ reason: 'missing-headers' });
    const stale = await post(url, body, signed(body, new Date(Date.now() - 3_600_000)));
    expect(stale.status).toBe(401);
    expect(await stale.json()).toMatchObject({ reason: 'stale-timestamp' });
  });

  it('uses the clock and tolerance it is given', async () => {
    const past = new Date('2025-01-01T00:00:00Z');
    const url = await serve(() => undefined, { now: () => past, toleranceSeconds: 5 });
    const body = JSON.stringify(event);
    expect((await post(url, body, signed(body, new Date(past.getTime() + 4000)))).status).toBe(204);
    expect((await post(url, body, signed(body, new Date(past.getTime() + 6000)))).status).toBe(401);
  });

  it('answers 400 with the fields at fault for a signed body that is not a delivered event', async () => {
    const url = await serve(() => undefined);
    const body = JSON.stringify({ ...event, channel: { kind: 'whatsapp' } });
    const response = await post(url, body, signed(body));
    expect(response.status).toBe(400);
    expect(await response.json()).toMatchObject({
      type: '/problems/delivery-invalid-body',
      errors: [{ field: 'channel.id', message: 'is required' }],
    });
  });

  it('answers 500 when the listener throws, so the engine retries', async () => {
    const onError = vi.fn();
    const url = await serve(
      () => {
        throw new Error('database down');
      },
      { onError },
    );
    const body = JSON.stringify(event);
    const response = await post(url, body, signed(body));
    expect(response.status).toBe(500);
    const problem = (await response.json()) as Record<string, unknown>;
    expect(problem.type).toBe('/problems/delivery-not-processed');
    expect(JSON.stringify(problem)).not.toContain('database down');
    expect(onError).toHaveBeenCalledOnce();
  });

  it("answers the listener's own reply: 503 with Retry-After, a JSON body, a 2xx other than 204", async () => {
    const replies = [
      { status: 503, headers: { 'retry-after': '30' } },
      { status: 200, body: { accepted: true } },
      { status: 202 },
    ];
    const url = await serve(async () => replies.shift());
    const body = JSON.stringify(event);

    const unavailable = await post(url, body, signed(body));
    expect(unavailable.status).toBe(503);
    expect(unavailable.headers.get('retry-after')).toBe('30');
    expect(await unavailable.json()).toMatchObject({ type: 'about:blank', title: 'Service Unavailable', status: 503 });

    const ok = await post(url, body, signed(body));
    expect(ok.status).toBe(200);
    expect(await ok.json()).toEqual({ accepted: true });

    expect((await post(url, body, signed(body))).status).toBe(202);
  });

  it('answers 405 to anything but POST', async () => {
    const url = await serve(() => undefined);
    const response = await fetch(url);
    expect(response.status).toBe(405);
    expect(response.headers.get('allow')).toBe('POST');
  });

  it('answers 413 to a body over the limit, declared or streamed', async () => {
    const listener = vi.fn();
    const url = await serve(listener, { maxBodyBytes: 1024 });
    const big = JSON.stringify({ ...event, raw: { padding: 'x'.repeat(4096) } });
    expect((await post(url, big, signed(big))).status).toBe(413);

    // Chunked, without a content-length: the limit is enforced while reading.
    const status = await new Promise<number | undefined>((resolve, reject) => {
      const req = httpRequest(url, { method: 'POST', headers: signed(big) }, (res) => {
        res.resume();
        resolve(res.statusCode);
      });
      req.on('error', reject);
      req.write(big.slice(0, 800));
      setTimeout(() => req.end(big.slice(800)), 20);
    });
    expect(status).toBe(413);
    expect(listener).not.toHaveBeenCalled();
  });

  it('picks up rotated secrets from a function, and refuses bad secrets at creation', async () => {
    let secrets = [secret];
    const next = `whsec_${randomBytes(24).toString('base64')}`;
    server = createServer(
      createDeliveryHandler(
        () => secrets,
        () => undefined,
      ),
    );
    await new Promise<void>((resolve) => server!.listen(0, '127.0.0.1', resolve));
    const url = `http://127.0.0.1:${(server.address() as AddressInfo).port}/`;
    const body = JSON.stringify(event);
    const at = new Date();
    const byNext = { ...signed(body, at), 'webhook-signature': new Webhook(next).sign(event.id, at, body) };
    expect((await post(url, body, byNext)).status).toBe(401);
    secrets = [secret, next];
    expect((await post(url, body, byNext)).status).toBe(204);

    expect(() => createDeliveryHandler([], () => undefined)).toThrow(TypeError);
    expect(() => createDeliveryHandler(['whsec_'], () => undefined)).toThrow(TypeError);
  });
});
