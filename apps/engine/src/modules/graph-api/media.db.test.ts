import { createHash } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { eq } from 'drizzle-orm';
import { GraphApiError, WhatsAppClient } from '@kapso/whatsapp-cloud-api';
import { signMetaBody } from '@mic/meta';
import { startGraphSandbox, type GraphSandbox } from '@mic/meta-sandbox';
import { eventually, freePort } from '@mic/platform/testing';
import { routeTestInstance, startTestEngine, type TestEngine } from '../../testing.ts';
import { channelTokenRef } from '../channels/index.ts';
import { graphMedia, graphMediaCalls } from './schema.ts';

const APP_SECRET = 'graph-media-app-secret';
const PHONE_A = '4198765432101';
const PHONE_B = '4198765432102';
const TOKEN = 'EAAGgraph-media-token';
const CUSTOMER = '16505551234';

let sandbox: GraphSandbox;
let engine: TestEngine;
let ownPortUrl: string;
const tokens = new Map<string, string>();

/** A small PNG-looking file, distinct per call. */
const png = (seed: number) => Buffer.concat([Buffer.from('89504e470d0a1a0a', 'hex'), Buffer.alloc(4096, seed)]);

async function instance(id: string, tenantId: string, phone: string) {
  await routeTestInstance(engine, {
    id,
    tenantId,
    webhookUrl: 'http://127.0.0.1:9/hook',
    channels: [{ platform: 'whatsapp', channelId: phone }],
  });
  const issued = await engine.app.inject({
    method: 'POST',
    url: `/internal/v1/instances/${id}/credentials`,
    headers: engine.auth,
  });
  tokens.set(id, issued.json<{ apiToken: string }>().apiToken);
}

/** The unmodified client library, pointed at the engine (or its own port) with the instance's engine token. */
const clientOf = (instanceId: string, baseUrl = `${engine.url}/graph`) =>
  new WhatsAppClient({ baseUrl, accessToken: tokens.get(instanceId)!, graphVersion: 'v21.0' });

async function graphError(promise: Promise<unknown>): Promise<GraphApiError> {
  const error = await promise.then(
    () => undefined,
    (e: unknown) => e,
  );
  expect(error).toBeInstanceOf(GraphApiError);
  return error as GraphApiError;
}

async function rawUpload(instanceId: string, phone: string, parts: { type?: string; file?: Blob; filename?: string }) {
  const form = new FormData();
  if (parts.file) form.set('file', parts.file, parts.filename ?? 'file.bin');
  if (parts.type) form.set('type', parts.type);
  form.set('messaging_product', 'whatsapp');
  const res = await fetch(`${engine.url}/graph/v21.0/${phone}/media`, {
    method: 'POST',
    headers: { authorization: `Bearer ${tokens.get(instanceId)!}` },
    body: form,
  });
  return { status: res.status, body: (await res.json()) as { id?: string; error?: Record<string, unknown> } };
}

beforeAll(async () => {
  sandbox = await startGraphSandbox({
    objects: [PHONE_A, PHONE_B].map((id) => ({ id, kind: 'whatsapp-phone-number' as const, token: TOKEN })),
  });
  const port = await freePort();
  engine = await startTestEngine({
    META_APP_SECRET: APP_SECRET,
    META_GRAPH_URL: sandbox.url,
    OUTBOUND_POLL_INTERVAL: '50ms',
    OUTBOUND_HORIZON: '50ms',
    GRAPH_API_WAIT: '1500ms',
    GRAPH_API_PORT: String(port),
  });
  ownPortUrl = `http://127.0.0.1:${port}`;
  for (const phone of [PHONE_A, PHONE_B]) {
    await engine.app.secrets.put(channelTokenRef('whatsapp', phone), 'meta-access-token', TOKEN);
  }
  await instance('ins_a', 'ten_a', PHONE_A);
  await instance('ins_b', 'ten_b', PHONE_B);
});
afterAll(async () => {
  await engine?.stop();
  await sandbox?.stop();
});

describe('WhatsApp media through the Graph-compatible API', () => {
  it('uploads with the unmodified client, looks up a URL on the engine, downloads the same bytes, then deletes', async () => {
    const client = clientOf('ins_a');
    const file = png(1);
    const { id } = await client.media.upload({
      phoneNumberId: PHONE_A,
      type: 'image/png',
      file,
      fileName: 'pedido.png',
    });
    const atMeta = sandbox.media({ objectId: PHONE_A }).find((m) => m.id === id);
    expect(atMeta).toMatchObject({ mimeType: 'image/png', size: file.length, filename: 'pedido.png' });

    const info = await client.media.get({ mediaId: id, phoneNumberId: PHONE_A });
    expect(info).toMatchObject({
      messagingProduct: 'whatsapp',
      mimeType: 'image/png',
      sha256: createHash('sha256').update(file).digest('hex'),
      fileSize: String(file.length),
      id,
    });
    // Meta's URL needs Meta's token: the instance gets the engine's proxy instead.
    expect(info.url).toBe(`${engine.url}/graph/media/${id}/download`);

    // Meta's media URL needs the token too, so the client is told to send it (`auth: 'always'`).
    const bytes = (await client.media.download({ mediaId: id, phoneNumberId: PHONE_A, auth: 'always' })) as ArrayBuffer;
    expect(Buffer.from(bytes)).toEqual(file);
    const anonymous = await fetch(info.url);
    expect(anonymous.status).toBe(401);
    expect(((await anonymous.json()) as { error: { code: number } }).error.code).toBe(190);

    expect(await client.media.delete({ mediaId: id })).toEqual({ success: true });
    expect(sandbox.media({ objectId: PHONE_A }).some((m) => m.id === id)).toBe(false);
    const gone = await graphError(client.media.get({ mediaId: id }));
    expect(gone).toMatchObject({ httpStatus: 400, code: 100, errorSubcode: 33 });

    const calls = await engine.app.db.orm.select().from(graphMediaCalls).where(eq(graphMediaCalls.instanceId, 'ins_a'));
    expect(calls.filter((c) => c.mediaId === id).map((c) => [c.action, c.status, c.tenantId])).toEqual([
      ['upload', 200, 'ten_a'],
      ['lookup', 200, 'ten_a'],
      ['lookup', 200, 'ten_a'],
      ['download', 200, 'ten_a'],
      ['delete', 200, 'ten_a'],
      ['lookup', 400, 'ten_a'],
    ]);
    expect(calls.find((c) => c.action === 'download' && c.mediaId === id)?.bytes).toBe(file.length);
  });

  it("refuses another tenant's media as Meta refuses an unknown id, and another tenant's number with a 403", async () => {
    const { id } = await clientOf('ins_a').media.upload({ phoneNumberId: PHONE_A, type: 'image/png', file: png(2) });
    const intruder = clientOf('ins_b');
    for (const call of [
      () => intruder.media.get({ mediaId: id }),
      () => intruder.media.get({ mediaId: id, phoneNumberId: PHONE_A }),
      () => intruder.media.delete({ mediaId: id }),
      () => intruder.media.get({ mediaId: '1234567890123456' }),
    ]) {
      expect(await graphError(call())).toMatchObject({ httpStatus: 400, code: 100, errorSubcode: 33 });
    }
    const download = await fetch(`${engine.url}/graph/media/${id}/download`, {
      headers: { authorization: `Bearer ${tokens.get('ins_b')!}` },
    });
    expect(download.status).toBe(400);
    expect(((await download.json()) as { error: { code: number; error_subcode: number } }).error).toMatchObject({
      code: 100,
      error_subcode: 33,
    });
    const before = sandbox.media().length;
    const foreignNumber = await graphError(
      intruder.media.upload({ phoneNumberId: PHONE_A, type: 'image/png', file: png(3) }),
    );
    expect(foreignNumber).toMatchObject({ httpStatus: 403, code: 200 });
    expect(sandbox.media()).toHaveLength(before);
    // Still there for its owner.
    expect((await clientOf('ins_a').media.get({ mediaId: id })).id).toBe(id);
  });

  it("applies Meta's limits per type before anything reaches Meta, with Meta's errors", async () => {
    const before = sandbox.media().length;
    const tooBig = await rawUpload('ins_a', PHONE_A, {
      type: 'image/jpeg',
      file: new Blob([Buffer.alloc(5 * 1024 * 1024 + 1)]),
    });
    expect(tooBig.status).toBe(400);
    expect(tooBig.body.error).toMatchObject({ code: 131053, type: 'OAuthException' });
    expect(JSON.stringify(tooBig.body.error)).toContain('5MB');

    const unsupported = await rawUpload('ins_a', PHONE_A, { type: 'application/zip', file: new Blob(['PK']) });
    expect(unsupported.status).toBe(400);
    expect(unsupported.body.error).toMatchObject({ code: 100 });
    expect(String(unsupported.body.error?.message)).toContain("Received file of type 'application/zip'");

    const noFile = await rawUpload('ins_a', PHONE_A, { type: 'image/png' });
    expect(noFile.body.error).toMatchObject({ code: 100, message: '(#100) The parameter file is required.' });

    // A document may be much larger than an image: 6 MB of PDF goes through.
    const pdf = await rawUpload('ins_a', PHONE_A, {
      type: 'application/pdf',
      file: new Blob([Buffer.alloc(6 * 1024 * 1024, 1)]),
      filename: 'factura.pdf',
    });
    expect(pdf.status).toBe(200);
    expect(sandbox.media()).toHaveLength(before + 1);
    expect(sandbox.mediaContent(pdf.body.id!)?.length).toBe(6 * 1024 * 1024);
  });

  it('lets an instance download the media of the messages routed to it, and no other instance', async () => {
    const photo = png(4);
    const { id } = sandbox.addMedia(PHONE_A, photo, 'image/jpeg');
    const raw = JSON.stringify({
      object: 'whatsapp_business_account',
      entry: [
        {
          id: '1098765432100',
          changes: [
            {
              field: 'messages',
              value: {
                messaging_product: 'whatsapp',
                metadata: { display_phone_number: '15550001111', phone_number_id: PHONE_A },
                contacts: [{ wa_id: CUSTOMER, profile: { name: 'Ana' } }],
                messages: [
                  {
                    from: CUSTOMER,
                    id: 'wamid.graph-media-inbound',
                    timestamp: '1764140000',
                    type: 'image',
                    image: { id, mime_type: 'image/jpeg', sha256: 'x', caption: 'mi pedido' },
                  },
                ],
              },
            },
          ],
        },
      ],
    });
    const res = await fetch(`${engine.url}/meta/webhook`, {
      method: 'POST',
      headers: { 'content-type': 'application/json', 'x-hub-signature-256': signMetaBody(raw, APP_SECRET) },
      body: raw,
    });
    expect(res.status).toBe(200);
    await eventually(async () => {
      const [row] = await engine.app.db.orm.select().from(graphMedia).where(eq(graphMedia.mediaId, id));
      return row;
    });

    const bytes = await clientOf('ins_a').media.download({ mediaId: id, auth: 'always' });
    expect(Buffer.from(bytes as ArrayBuffer)).toEqual(photo);
    expect(await graphError(clientOf('ins_b').media.get({ mediaId: id }))).toMatchObject({
      code: 100,
      errorSubcode: 33,
    });
  });

  it('answers the same routes at the root of GRAPH_API_PORT, with Graph errors for any other path', async () => {
    const client = clientOf('ins_a', ownPortUrl);
    const sent = await client.messages.sendText({
      phoneNumberId: PHONE_A,
      to: CUSTOMER,
      body: 'Hola por el puerto propio',
    });
    expect(sent.messages[0]!.id).toBe(sandbox.sends({ objectId: PHONE_A }).at(-1)!.messageId);

    const { id } = await client.media.upload({ phoneNumberId: PHONE_A, type: 'image/png', file: png(5) });
    const info = await client.media.get({ mediaId: id });
    expect(info.url).toBe(`${ownPortUrl}/media/${id}/download`);
    const bytes = await client.media.download({ mediaId: id, auth: 'always' });
    expect(Buffer.from(bytes as ArrayBuffer)).toEqual(png(5));

    // Only the Graph API is there: the engine's other routes are not reachable on this port.
    const auth = { authorization: `Bearer ${tokens.get('ins_a')!}` };
    for (const path of ['/health/api', '/v1/messages', '/internal/v1/instances']) {
      const res = await fetch(`${ownPortUrl}${path}`, { headers: auth });
      expect(res.status).toBe(400);
      const body = (await res.json()) as { error: { code: number; type: string; fbtrace_id: string } };
      expect(body.error.type).toBe('OAuthException');
      expect(typeof body.error.code).toBe('number');
      expect(body.error.fbtrace_id).toEqual(expect.any(String));
    }
    const unknown = await fetch(`${ownPortUrl}/v21.0/${PHONE_A}/unknown_edge`, { headers: auth });
    expect(unknown.status).toBe(400);
    expect(((await unknown.json()) as { error: object }).error).toMatchObject({
      code: 2500,
      message: `Unknown path components: /v21.0/${PHONE_A}/unknown_edge`,
    });
    const denied = await graphError(
      clientOf('ins_b', ownPortUrl).messages.sendText({ phoneNumberId: PHONE_A, to: CUSTOMER, body: 'Not mine' }),
    );
    expect(denied).toMatchObject({ httpStatus: 403, code: 200 });
  });
});
