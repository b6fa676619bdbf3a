import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { describe, expect, it } from 'vitest';
import { GraphClient } from './client.ts';
import { GraphError } from './errors.ts';

function recordingFetch(status: number, body: string) {
  const requests: { url: string; method: string; headers: Record<string, string>; body?: unknown }[] = [];
  const fetch: typeof globalThis.fetch = async (input, init) => {
    requests.push({
      url: input instanceof Request ? input.url : input.toString(),
      method: init?.method ?? 'GET',
      headers: init?.headers as Record<string, string>,
      ...(typeof init?.body === 'string' ? { body: JSON.parse(init.body) } : {}),
    });
    return new Response(body, { status, headers: { 'content-type': 'application/json' } });
  };
  return { fetch, requests };
}

describe('GraphClient', () => {
  it('sends the token as a Bearer header only, never in the URL', async () => {
    const { fetch, requests } = recordingFetch(200, '{"success":true}');
    const graph = new GraphClient({ baseUrl: 'https://graph.example/', version: 'v22.0', fetch });
    await graph.subscribeApp('123', 'EAAsecret-token', ['messages', 'message_echoes']);
    await graph.unsubscribeApp('123', 'EAAsecret-token');
    expect(requests.map((r) => [r.method, r.url])).toEqual([
      ['POST', 'https://graph.example/v22.0/123/subscribed_apps?subscribed_fields=messages%2Cmessage_echoes'],
      ['DELETE', 'https://graph.example/v22.0/123/subscribed_apps'],
    ]);
    expect(requests[0]!.headers.authorization).toBe('Bearer EAAsecret-token');
    expect(requests.some((r) => r.url.includes('EAAsecret'))).toBe(false);
  });

  it('posts to an edge with its defined parameters as a JSON body, and refuses other paths', async () => {
    const { fetch, requests } = recordingFetch(200, '{"id":"17890"}');
    const graph = new GraphClient({ baseUrl: 'https://graph.example', version: 'v22.0', fetch });
    expect(await graph.post('1784/media', 't', { image_url: 'https://x/1.jpg', caption: undefined })).toEqual({
      id: '17890',
    });
    expect(requests).toEqual([
      expect.objectContaining({
        method: 'POST',
        url: 'https://graph.example/v22.0/1784/media',
        body: { image_url: 'https://x/1.jpg' },
      }),
    ]);
    await expect(graph.post('1784/../me/feed', 't', {})).rejects.toThrow(TypeError);
    await expect(graph.post('1784', 't', {})).rejects.toThrow(TypeError);
    expect(requests).toHaveLength(1);
  });

  it('refuses object ids that could change the path, before any call', async () => {
    const { fetch, requests } = recordingFetch(200, '{"success":true}');
    const graph = new GraphClient({ fetch });
    await expect(graph.subscribeApp('../me', 't')).rejects.toThrow(TypeError);
    await expect(graph.subscribeApp('1?x=', 't')).rejects.toThrow(TypeError);
    expect(requests).toEqual([]);
  });

  it('turns a 200 with an error body, or without success, into a GraphError', async () => {
    const withError = new GraphClient({
      fetch: recordingFetch(200, '{"error":{"message":"(#2) Service","code":2,"type":"OAuthException"}}').fetch,
    });
    await expect(withError.subscribeApp('1', 't')).rejects.toMatchObject({ code: 2, classification: 'transient' });
    const noSuccess = new GraphClient({ fetch: recordingFetch(200, '{"success":false}').fetch });
    await expect(noSuccess.unsubscribeApp('1', 't')).rejects.toBeInstanceOf(GraphError);
  });

  it('gives up after timeoutMs with a transient error', async () => {
    const server = createServer(() => {});
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    try {
      const graph = new GraphClient({
        baseUrl: `http://127.0.0.1:${(server.address() as AddressInfo).port}`,
        timeoutMs: 100,
      });
      await expect(graph.subscribedApps('1', 't')).rejects.toMatchObject({
        status: 0,
        classification: 'transient',
        message: 'Graph API unreachable: no answer within 100 ms',
      });
    } finally {
      server.closeAllConnections();
      await new Promise((resolve) => server.close(resolve));
    }
  });

  it("sends a message as JSON with the Bearer token, and answers Meta's body", async () => {
    const answer = '{"messaging_product":"whatsapp","contacts":[],"messages":[{"id":"wamid.X"}]}';
    const { fetch, requests } = recordingFetch(200, answer);
    const graph = new GraphClient({ baseUrl: 'https://graph.example', version: 'v22.0', fetch });
    const body = { messaging_product: 'whatsapp', to: '16505551234', type: 'text', text: { body: 'hi' } };
    expect(await graph.send('106540352242922/messages', body, 'EAAsecret')).toEqual(JSON.parse(answer));
    expect(requests).toEqual([
      {
        url: 'https://graph.example/v22.0/106540352242922/messages',
        method: 'POST',
        headers: expect.objectContaining({
          authorization: 'Bearer EAAsecret',
          'content-type': 'application/json',
        }) as object,
        body,
      },
    ]);
    await expect(graph.send('../me/messages', body, 't')).rejects.toThrow(TypeError);
    await expect(graph.send('1/subscribed_apps', body, 't')).rejects.toThrow(TypeError);
  });

  it('fails a send with a classified GraphError, and a timed-out one as outcome unknown', async () => {
    const failing = new GraphClient({
      fetch: recordingFetch(
        400,
        '{"error":{"message":"(#131047) Re-engagement message","type":"OAuthException","code":131047}}',
      ).fetch,
    });
    await expect(failing.send('1/messages', {}, 't')).rejects.toMatchObject({
      code: 131047,
      classification: 'permanent',
      isOutcomeUnknown: false,
    });
    const server = createServer(() => {});
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    try {
      const graph = new GraphClient({
        baseUrl: `http://127.0.0.1:${(server.address() as AddressInfo).port}`,
        timeoutMs: 100,
      });
      await expect(graph.send('1/messages', { text: 'x' }, 't')).rejects.toMatchObject({
        status: 0,
        classification: 'transient',
        isOutcomeUnknown: true,
      });
    } finally {
      server.closeAllConnections();
      await new Promise((resolve) => server.close(resolve));
    }
  });
});
