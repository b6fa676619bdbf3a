import { createServer, request, type Server } from 'node:http';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startGraphSandbox, type GraphSandbox } from '@mic/meta-sandbox';
import { eventually } from '@mic/platform/testing';
import { EngineClient, EngineError } from '@mic/nexus-sdk';
import { routeTestInstance, startTestEngine, type TestEngine } from '../apps/engine/src/testing.ts';
import { channelTokenRef } from '../apps/engine/src/modules/channels/index.ts';

const PHONE = '3098765432101';
const TOKEN = 'EAAGsdk-send-token';

let sandbox: GraphSandbox;
let engine: TestEngine;
let proxy: Server;
let proxyUrl: string;
let apiToken: string;
/**
 * How the proxy between the instance and the engine treats the next calls: `lose-answer` forwards
 * the call and drops the engine's answer (the engine crashed before answering, or the network
 * broke), `down` answers 503 as a restarting engine's load balancer does.
 */
const faults: ('lose-answer' | 'down')[] = [];

beforeAll(async () => {
  sandbox = await startGraphSandbox({ objects: [{ id: PHONE, kind: 'whatsapp-phone-number', token: TOKEN }] });
  engine = await startTestEngine({
    META_GRAPH_URL: sandbox.url,
    OUTBOUND_POLL_INTERVAL: '100ms',
    OUTBOUND_HORIZON: '100ms',
  });
  await engine.app.secrets.put(channelTokenRef('whatsapp', PHONE), 'meta-access-token', TOKEN);
  await routeTestInstance(engine, {
    id: 'ins_sdk',
    webhookUrl: 'http://127.0.0.1:9/hook',
    channels: [{ platform: 'whatsapp', channelId: PHONE }],
  });
  const issued = await engine.app.inject({
    method: 'POST',
    url: '/internal/v1/instances/ins_sdk/credentials',
    headers: engine.auth,
  });
  apiToken = issued.json<{ apiToken: string }>().apiToken;

  const target = new URL(engine.url);
  proxy = createServer((req, res) => {
    const fault = req.method === 'POST' ? faults.shift() : undefined;
    if (fault === 'down') {
      res.writeHead(503, { 'content-type': 'text/html' }).end('<h1>503 Service Unavailable</h1>');
      return;
    }
    const upstream = request(
      { host: target.hostname, port: target.port, path: req.url, method: req.method, headers: req.headers },
      (answer) => {
        if (fault === 'lose-answer') {
          answer.resume();
          answer.on('end', () => res.destroy());
          return;
        }
        res.writeHead(answer.statusCode ?? 502, answer.headers);
        answer.pipe(res);
      },
    );
    req.pipe(upstream);
  });
  await new Promise<void>((r) => proxy.listen(0, '127.0.0.1', r));
  proxyUrl = `http://127.0.0.1:${(proxy.address() as { port: number }).port}`;
});
afterAll(async () => {
  proxy?.closeAllConnections();
  proxy?.close();
  await engine?.stop();
  await sandbox?.stop();
});

const client = () =>
  new EngineClient({ baseUrl: proxyUrl, token: () => apiToken, retry: { minDelayMs: 50, maxDelayMs: 200 } });
const text = (body: string) => ({
  channel: { kind: 'whatsapp' as const, id: PHONE },
  to: '+34600000009',
  message: { type: 'text' as const, text: { body } },
});

describe('an instance sending through the SDK', () => {
  it('sends once when the engine took the message but its answer was lost, then while it restarts', async () => {
    faults.push('lose-answer', 'down', 'down');
    const accepted = await client().sendMessage(text('Pedido 42 confirmado'));
    expect(faults).toEqual([]);
    const sent = await eventually(async () => {
      const status = await client().getMessage(accepted.id);
      return status.state === 'sent' ? status : undefined;
    });
    expect(sent.metaMessageId).toMatch(/^wamid\./);
    // Give a second queued copy, if there were one, the time to be sent.
    await new Promise((r) => setTimeout(r, 500));
    expect(sandbox.sends({ objectId: PHONE }).filter((s) => s.messageId === sent.metaMessageId)).toHaveLength(1);
    expect(sandbox.sends({ objectId: PHONE })).toHaveLength(1);
  });

  it('names the field of a message the engine refuses, without retrying', async () => {
    const error = await client()
      .sendMessage({ ...text(''), message: { type: 'text', text: { body: '' } } })
      .then(
        () => undefined,
        (e: unknown) => e,
      );
    expect(error).toBeInstanceOf(EngineError);
    expect((error as EngineError).status).toBe(400);
    expect(JSON.stringify((error as EngineError).problem)).toContain('message.text.body');
  });
});
