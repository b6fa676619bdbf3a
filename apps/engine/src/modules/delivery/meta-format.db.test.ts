import { createServer, type IncomingHttpHeaders, type Server } from 'node:http';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { signMetaBody, verifyMetaSignature } from '@mic/meta';
import { eventually } from '@mic/platform/testing';
import { startGraphSandbox, type GraphSandbox } from '@mic/meta-sandbox';
import { routeTestInstance, startTestEngine, type TestEngine } from '../../testing.ts';
import { channelTokenRef } from '../channels/index.ts';

const APP_SECRET = 'meta-format-app-secret';
const PHONE = '5098765432101';
const PAGE = '5098765432102';

let engine: TestEngine;
let sandbox: GraphSandbox;
let receiver: Server;
let signingSecret: string;
let apiToken: string;
/** What the instance received: the raw body and its headers. */
const received: { body: string; headers: IncomingHttpHeaders }[] = [];

beforeAll(async () => {
  receiver = createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => {
      received.push({ body: Buffer.concat(chunks).toString('utf8'), headers: req.headers });
      res.writeHead(200).end();
    });
  });
  await new Promise<void>((r) => receiver.listen(0, '127.0.0.1', r));
  sandbox = await startGraphSandbox({ objects: [{ id: PHONE, kind: 'whatsapp-phone-number', token: 'EAAGtoken' }] });
  engine = await startTestEngine({
    META_APP_SECRET: APP_SECRET,
    META_GRAPH_URL: sandbox.url,
    OUTBOUND_POLL_INTERVAL: '50ms',
  });
  await engine.app.secrets.put(channelTokenRef('whatsapp', PHONE), 'meta-access-token', 'EAAGtoken');
  await routeTestInstance(engine, {
    id: 'ins_meta',
    webhookUrl: `http://127.0.0.1:${(receiver.address() as { port: number }).port}/webhook`,
    deliveryFormat: 'meta',
    channels: [
      { platform: 'whatsapp', channelId: PHONE },
      { platform: 'messenger', channelId: PAGE },
    ],
  });
  const issued = await engine.app.inject({
    method: 'POST',
    url: '/internal/v1/instances/ins_meta/credentials',
    headers: engine.auth,
  });
  ({ signingSecret, apiToken } = issued.json<{ signingSecret: string; apiToken: string }>());
});
afterAll(async () => {
  await engine?.stop();
  await sandbox?.stop();
  receiver?.close();
});

async function fromMeta(body: object): Promise<void> {
  const raw = JSON.stringify(body);
  const res = await fetch(`${engine.url}/meta/webhook`, {
    method: 'POST',
    headers: { 'content-type': 'application/json', 'x-hub-signature-256': signMetaBody(raw, APP_SECRET) },
    body: raw,
  });
  expect(res.status).toBe(200);
}

const whatsappValue = {
  messaging_product: 'whatsapp',
  metadata: { display_phone_number: '15550001111', phone_number_id: PHONE },
  contacts: [
    { wa_id: '16505551234', profile: { name: 'Ana' } },
    { wa_id: '16505554321', profile: { name: 'Luis' } },
  ],
  messages: [
    { from: '16505551234', id: 'wamid.meta-format-A', timestamp: '1764140000', type: 'text', text: { body: 'uno' } },
    { from: '16505554321', id: 'wamid.meta-format-B', timestamp: '1764140001', type: 'text', text: { body: 'dos' } },
  ],
};

describe("deliveries in Meta's own format", () => {
  it("sends each event as the webhook Meta would have sent for it alone, signed like Meta's", async () => {
    await fromMeta({
      object: 'whatsapp_business_account',
      entry: [{ id: '102290129340398', changes: [{ field: 'messages', value: whatsappValue }] }],
    });
    const messaging = {
      sender: { id: '6945793142124621' },
      recipient: { id: PAGE },
      timestamp: 1764140002000,
      message: { mid: 'm_meta-format-1', text: 'hola' },
    };
    await fromMeta({ object: 'page', entry: [{ id: PAGE, time: 1764140002500, messaging: [messaging] }] });

    const bodies = await eventually(async () => (received.length >= 3 ? received.slice(0, 3) : undefined));
    for (const { body, headers } of bodies) {
      // The check any Meta webhook handler makes, with the instance's signing secret as its app secret.
      expect(verifyMetaSignature(body, headers['x-hub-signature-256'], signingSecret)).toBe(true);
      expect(headers['webhook-signature']).toBeUndefined();
    }
    const parsed = bodies.map((b) => JSON.parse(b.body) as unknown);
    const single = (i: 0 | 1) => ({
      ...whatsappValue,
      contacts: [whatsappValue.contacts[i]],
      messages: [whatsappValue.messages[i]],
    });
    // Two conversations (two customers) and a page: no order between them.
    expect(parsed).toHaveLength(3);
    expect(parsed).toEqual(
      expect.arrayContaining([
        {
          object: 'whatsapp_business_account',
          entry: [{ id: '102290129340398', changes: [{ field: 'messages', value: single(0) }] }],
        },
        {
          object: 'whatsapp_business_account',
          entry: [{ id: '102290129340398', changes: [{ field: 'messages', value: single(1) }] }],
        },
        { object: 'page', entry: [{ id: PAGE, time: 1764140002500, messaging: [messaging] }] },
      ]) as unknown[],
    );
  });

  it("does not send the engine's own outbound events, which Meta has no shape for", async () => {
    const before = received.length;
    const res = await engine.app.inject({
      method: 'POST',
      url: '/v1/messages',
      headers: { authorization: `Bearer ${apiToken}` },
      payload: {
        channel: { kind: 'whatsapp', id: PHONE },
        to: '16505551234',
        message: { type: 'text', text: { body: 'hi' } },
      },
    });
    expect(res.statusCode).toBe(202);
    await eventually(async () => (sandbox.sends({ objectId: PHONE }).length === 1 ? true : undefined));
    await new Promise((r) => setTimeout(r, 500));
    expect(received.slice(before).map((r) => r.body)).toEqual([]);
  });
});
