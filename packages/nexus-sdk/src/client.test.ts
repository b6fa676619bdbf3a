import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { afterEach, describe, expect, it } from 'vitest';
import { Type } from 'typebox';
import { EngineClient, EngineError } from './index.ts';

interface Call {
  url: string;
  init: RequestInit | undefined;
}

/** A fetch that records each call and answers with the next response. */
function fakeFetch(...responses: (() => Response)[]): { fetch: typeof fetch; calls: Call[] } {
  const calls: Call[] = [];
  const stub = async (input: string | URL | Request, init?: RequestInit) => {
    calls.push({ url: input instanceof Request ? input.url : input.toString(), init });
    const next = responses.shift();
    if (!next) throw new Error('unexpected call');
    return next();
  };
  return { fetch: stub, calls };
}

const json =
  (status: number, body: unknown, headers: Record<string, string> = {}) =>
  () =>
    new Response(JSON.stringify(body), { status, headers: { 'content-type': 'application/json', ...headers } });

async function failure(promise: Promise<unknown>): Promise<EngineError> {
  try {
    await promise;
  } catch (error) {
    if (error instanceof EngineError) return error;
    throw error;
  }
  throw new Error('expected an EngineError');
}

let server: Server | undefined;
afterEach(async () => {
  server?.closeAllConnections();
  await new Promise((resolve) => server?.close(resolve) ?? resolve(undefined));
  server = undefined;
});

describe('EngineClient', () => {
  it('whoAmI calls GET /v1/instance with the bearer token and returns the identity', async () => {
    const { fetch, calls } = fakeFetch(json(200, { instanceId: 'ins_1' }));
    const client = new EngineClient({ baseUrl: 'https://engine.example.com/mic/', token: 'mic_it_abc', fetch });
    expect(await client.whoAmI()).toEqual({ instanceId: 'ins_1' });
    expect(calls[0]?.url).toBe('https://engine.example.com/mic/v1/instance');
    expect(calls[0]?.init?.method).toBe('GET');
    expect((calls[0]?.init?.headers as Record<string, string>).authorization).toBe('Bearer mic_it_abc');
  });

  it('asks for the token on every call, so a rotated one is used', async () => {
    let token = 'mic_it_old';
    const { fetch, calls } = fakeFetch(json(200, { instanceId: 'i' }), json(200, { instanceId: 'i' }));
    const client = new EngineClient({ baseUrl: 'http://127.0.0.1:1', token: () => token, fetch });
    await client.whoAmI();
    token = 'mic_it_new';
    await client.whoAmI();
    const sent = calls.map((c) => (c.init?.headers as Record<string, string>).authorization);
    expect(sent).toEqual(['Bearer mic_it_old', 'Bearer mic_it_new']);
  });

  it("surfaces the engine's problem details as a typed error", async () => {
    const problem = {
      type: '/problems/invalid-instance-token',
      title: 'A valid instance API token is required',
      status: 401,
      detail: 'send Authorization: Bearer <instance API token>',
    };
    const { fetch } = fakeFetch(json(401, problem, { 'content-type': 'application/problem+json' }));
    const client = new EngineClient({ baseUrl: 'http://engine', token: 'mic_it_bad', fetch });
    const error = await failure(client.whoAmI());
    expect(error.kind).toBe('problem');
    expect(error.status).toBe(401);
    expect(error.type).toBe('/problems/invalid-instance-token');
    expect(error.problem).toEqual(problem);
    expect(error.isRetryable).toBe(false);
    expect(error.message).toContain('401');
    expect(error.message).toContain('Bearer <instance API token>');
  });

  it('reads Retry-After on 429 and 503, in seconds or as a date', async () => {
    const inTwoMinutes = new Date(Date.now() + 120_000).toUTCString();
    const { fetch } = fakeFetch(
      json(429, { type: '/problems/rate-limited', title: 'Too many requests', status: 429 }, { 'retry-after': '7' }),
      () => new Response('<html>down</html>', { status: 503, headers: { 'retry-after': inTwoMinutes } }),
    );
    const client = new EngineClient({ baseUrl: 'http://engine', token: 't', fetch });
    const limited = await failure(client.whoAmI());
    expect(limited.retryAfterSeconds).toBe(7);
    expect(limited.isRetryable).toBe(true);
    const down = await failure(client.whoAmI());
    expect(down.status).toBe(503);
    expect(down.problem).toBeUndefined();
    expect(down.retryAfterSeconds).toBeGreaterThanOrEqual(118);
    expect(down.retryAfterSeconds).toBeLessThanOrEqual(120);
  });

  it('calls a 2xx answer that does not match the contract an invalid response', async () => {
    const { fetch } = fakeFetch(json(200, { id: 'ins_1' }), () => new Response('not json', { status: 200 }));
    const client = new EngineClient({ baseUrl: 'http://engine', token: 't', fetch });
    expect((await failure(client.whoAmI())).kind).toBe('invalid-response');
    expect((await failure(client.whoAmI())).kind).toBe('invalid-response');
  });

  it('reports an engine that cannot be reached, and one that does not answer in time', async () => {
    server = createServer(() => undefined); // takes requests, never answers
    await new Promise<void>((resolve) => server!.listen(0, '127.0.0.1', resolve));
    const { port } = server.address() as AddressInfo;

    const slow = new EngineClient({ baseUrl: `http://127.0.0.1:${port}`, token: 't', timeoutMs: 100 });
    const timeout = await failure(slow.whoAmI());
    expect(timeout.kind).toBe('timeout');
    expect(timeout.status).toBe(0);
    expect(timeout.isRetryable).toBe(true);

    const closed = createServer();
    await new Promise<void>((resolve) => closed.listen(0, '127.0.0.1', resolve));
    const closedPort = (closed.address() as AddressInfo).port;
    await new Promise((resolve) => closed.close(resolve));
    const gone = new EngineClient({ baseUrl: `http://127.0.0.1:${closedPort}`, token: 't' });
    const unreachable = await failure(gone.whoAmI());
    expect(unreachable.kind).toBe('unreachable');
    expect(unreachable.isRetryable).toBe(true);
  });

  it('lets a subclass add an endpoint through request, with body and Idempotency-Key', async () => {
    const Accepted = Type.Object({ id: Type.String(), state: Type.String() });
    class SendingClient extends EngineClient {
      send(text: string, key: string) {
        return this.request('POST', '/v1/messages', Accepted, { body: { text }, idempotencyKey: key });
      }
    }
    const { fetch, calls } = fakeFetch(json(202, { id: 'msg_1', state: 'queued' }));
    const client = new SendingClient({ baseUrl: 'http://engine', token: 't', fetch });
    const accepted: { id: string; state: string } = await client.send('hola', 'key-1');
    expect(accepted).toEqual({ id: 'msg_1', state: 'queued' });
    const headers = calls[0]?.init?.headers as Record<string, string>;
    expect(headers['idempotency-key']).toBe('key-1');
    expect(headers['content-type']).toBe('application/json');
    expect(calls[0]?.init?.body).toBe('{"text":"hola"}');
  });

  it('refuses a base URL or token that cannot work', () => {
    expect(() => new EngineClient({ baseUrl: 'engine:3000', token: 't' })).toThrow(TypeError);
    expect(() => new EngineClient({ baseUrl: 'not a url', token: 't' })).toThrow(TypeError);
    expect(() => new EngineClient({ baseUrl: 'http://engine', token: ' ' })).toThrow(TypeError);
  });
});

describe('EngineClient.sendMessage', () => {
  const message = {
    channel: { kind: 'whatsapp' as const, id: '106540352242922' },
    to: '+34600000001',
    message: { type: 'text' as const, text: { body: 'Hola' } },
  };
  const accepted = json(202, { id: '0190f0e0-0000-7000-8000-000000000001', state: 'queued' });
  const retry = { minDelayMs: 1, maxDelayMs: 5 };
  const keysOf = (calls: Call[]) => calls.map((c) => (c.init?.headers as Record<string, string>)['idempotency-key']);

  it('repeats a send that got no answer or a 5xx with the same Idempotency-Key', async () => {
    const { fetch, calls } = fakeFetch(
      () => {
        throw new TypeError('fetch failed');
      },
      json(503, { type: '/problems/unavailable', title: 'Service Unavailable' }),
      accepted,
    );
    const client = new EngineClient({ baseUrl: 'http://engine', token: 'mic_it_a', fetch, retry });
    expect(await client.sendMessage(message)).toEqual({ id: '0190f0e0-0000-7000-8000-000000000001', state: 'queued' });
    expect(calls).toHaveLength(3);
    const keys = keysOf(calls);
    expect(new Set(keys).size).toBe(1);
    expect(keys[0]).toMatch(/^[0-9a-f-]{36}$/);
    expect(JSON.parse(calls[2]!.init!.body as string)).toEqual(message);
    expect(calls[2]!.init!.method).toBe('POST');
    expect(calls[2]!.url).toBe('http://engine/v1/messages');
  });

  it('uses the caller’s key, and a new key per call otherwise', async () => {
    const { fetch, calls } = fakeFetch(accepted, accepted, accepted);
    const client = new EngineClient({ baseUrl: 'http://engine', token: 'mic_it_a', fetch, retry });
    await client.sendMessage(message, { idempotencyKey: 'order-42' });
    await client.sendMessage(message);
    await client.sendMessage(message);
    const keys = keysOf(calls);
    expect(keys[0]).toBe('order-42');
    expect(keys[1]).not.toBe(keys[2]);
  });

  it('throws at once on a refusal waiting cannot fix: 400, 423, and 429 without Retry-After (a quota)', async () => {
    for (const [status, type] of [
      [400, '/problems/validation'],
      [423, '/problems/instance-paused'],
      [429, '/problems/message-quota-exceeded'],
    ] as const) {
      const { fetch, calls } = fakeFetch(json(status, { type, title: 'Refused' }), accepted);
      const client = new EngineClient({ baseUrl: 'http://engine', token: 'mic_it_a', fetch, retry });
      const error = await failure(client.sendMessage(message));
      expect(error.status).toBe(status);
      expect(error.type).toBe(type);
      expect(calls).toHaveLength(1);
    }
  });

  it('waits out a 429 with Retry-After, then sends', async () => {
    const { fetch, calls } = fakeFetch(
      json(429, { type: '/problems/rate-limited', title: 'Too Many Requests' }, { 'retry-after': '0' }),
      accepted,
    );
    const client = new EngineClient({ baseUrl: 'http://engine', token: 'mic_it_a', fetch, retry });
    await client.sendMessage(message);
    expect(calls).toHaveLength(2);
  });

  it('gives up after its retries with the last error', async () => {
    const down = () => json(503, { type: '/problems/unavailable', title: 'Service Unavailable' })();
    const { fetch, calls } = fakeFetch(down, down, down);
    const client = new EngineClient({
      baseUrl: 'http://engine',
      token: 'mic_it_a',
      fetch,
      retry: { ...retry, retries: 2 },
    });
    const error = await failure(client.sendMessage(message));
    expect(error.status).toBe(503);
    expect(calls).toHaveLength(3);
  });

  it('reads a message’s status with GET /v1/messages/{id}', async () => {
    const status = {
      id: 'm1',
      channel: message.channel,
      to: message.to,
      priority: 'conversation',
      state: 'sent',
      metaMessageId: 'wamid.1',
      createdAt: '2026-11-26T08:00:00.000Z',
      timeline: [{ state: 'queued', at: '2026-11-26T08:00:00.000Z' }],
    };
    const { fetch, calls } = fakeFetch(json(200, status));
    const client = new EngineClient({ baseUrl: 'http://engine', token: 'mic_it_a', fetch });
    expect(await client.getMessage('m1')).toEqual(status);
    expect(calls[0]!.url).toBe('http://engine/v1/messages/m1');
  });
});
