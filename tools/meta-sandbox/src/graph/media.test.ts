import { createHash } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { GraphMediaClient, type MetaAnswer } from '@mic/meta';
import { startGraphSandbox, type GraphSandbox } from './server.ts';

const PHONE = '106540352242001';
const OTHER_PHONE = '106540352242002';
const TOKEN = 'EAAmedia-token';
const OTHER_TOKEN = 'EAAother-token';
let nowMs = Date.parse('2026-05-04T10:00:00Z');
let sandbox: GraphSandbox;
let media: GraphMediaClient;

const PNG = Buffer.concat([Buffer.from('89504e470d0a1a0a', 'hex'), Buffer.alloc(2048, 7)]);
/** A WebP header with the VP8X animation flag (bit 1 of the flags byte). */
const webp = (size: number, isAnimated: boolean) => {
  const bytes = Buffer.alloc(size);
  bytes.write('RIFF', 0, 'ascii');
  bytes.write('WEBP', 8, 'ascii');
  bytes.write('VP8X', 12, 'ascii');
  bytes[20] = isAnimated ? 0x02 : 0;
  return bytes;
};

const idOf = (answer: MetaAnswer) => (answer.body as { id: string }).id;
const errorOf = (answer: MetaAnswer) =>
  (
    answer.body as {
      error: { code: number; error_subcode?: number; message: string; error_data?: { details: string } };
    }
  ).error;

beforeAll(async () => {
  sandbox = await startGraphSandbox({
    objects: [
      { id: PHONE, kind: 'whatsapp-phone-number', token: TOKEN },
      { id: OTHER_PHONE, kind: 'whatsapp-phone-number', token: OTHER_TOKEN },
    ],
    now: () => nowMs,
  });
  media = new GraphMediaClient({ baseUrl: sandbox.url, version: 'v21.0', timeoutMs: 2_000 });
});
afterAll(() => sandbox?.stop());

describe('Graph API sandbox: WhatsApp media', () => {
  it('uploads, looks up and downloads a file with the number token, then deletes it', async () => {
    const uploaded = await media.upload(
      PHONE,
      { blob: new Blob([PNG]), type: 'image/png', filename: 'pedido.png' },
      TOKEN,
    );
    expect(uploaded.status).toBe(200);
    const id = idOf(uploaded);
    expect(id).toMatch(/^\d{16}$/);

    const lookup = await media.retrieve(id, TOKEN, PHONE);
    const url = (lookup.body as { url: string }).url;
    expect(url.startsWith(`${sandbox.url}/whatsapp_business/attachments/?mid=${id}&ext=`)).toBe(true);
    expect(lookup).toEqual({
      status: 200,
      body: {
        messaging_product: 'whatsapp',
        url,
        mime_type: 'image/png',
        sha256: createHash('sha256').update(PNG).digest('hex'),
        file_size: String(PNG.length),
        id,
      },
    });

    const download = await media.download(url, TOKEN);
    expect(download.status).toBe(200);
    expect(download.headers.get('content-type')).toBe('image/png');
    expect(Buffer.from(await download.arrayBuffer())).toEqual(PNG);

    // Meta's media URL is useless without the token of the number it belongs to.
    expect((await fetch(url)).status).toBe(401);
    expect((await media.download(url, OTHER_TOKEN)).status).toBe(401);

    expect(await media.remove(id, TOKEN)).toEqual({ status: 200, body: { success: true } });
    expect(errorOf(await media.retrieve(id, TOKEN))).toMatchObject({ code: 100, error_subcode: 33 });
    expect((await media.download(url, TOKEN)).status).toBe(404);
  });

  it('expires a download URL after 5 minutes, as Meta does', async () => {
    const { id } = sandbox.addMedia(PHONE, Buffer.from('voice note'), 'audio/ogg');
    const url = ((await media.retrieve(id, TOKEN)).body as { url: string }).url;
    nowMs += 5 * 60 * 1000 + 1_000;
    try {
      const expired = await media.download(url, TOKEN);
      expect(expired.status).toBe(404);
      const fresh = ((await media.retrieve(id, TOKEN)).body as { url: string }).url;
      expect(Buffer.from(await (await media.download(fresh, TOKEN)).arrayBuffer()).toString()).toBe('voice note');
    } finally {
      nowMs -= 5 * 60 * 1000 + 1_000;
    }
  });

  it("refuses another number's token and a phone_number_id the media does not belong to with Meta's 100/33", async () => {
    const { id } = sandbox.addMedia(PHONE, Buffer.from('%PDF-1.7'), 'application/pdf', 'factura.pdf');
    for (const answer of [
      await media.retrieve(id, OTHER_TOKEN),
      await media.retrieve(id, TOKEN, OTHER_PHONE),
      await media.remove(id, OTHER_TOKEN),
      await media.retrieve('1234567890123456', TOKEN),
    ]) {
      expect(answer.status).toBe(400);
      expect(errorOf(answer)).toMatchObject({ code: 100, error_subcode: 33 });
    }
    expect(errorOf(await media.retrieve(id, 'EAAunknown'))).toMatchObject({ code: 190 });
    expect(sandbox.media({ objectId: PHONE }).map((m) => m.id)).toContain(id);
  });

  it("refuses what Meta refuses: a type it does not take, a file over its type's limit, a missing parameter", async () => {
    const unsupported = await media.upload(PHONE, { blob: new Blob(['x']), type: 'application/zip' }, TOKEN);
    expect(unsupported.status).toBe(400);
    expect(errorOf(unsupported).code).toBe(100);
    expect(errorOf(unsupported).message).toContain("Received file of type 'application/zip'");

    const big = await media.upload(
      PHONE,
      { blob: new Blob([Buffer.alloc(5 * 1024 * 1024 + 1)]), type: 'image/jpeg' },
      TOKEN,
    );
    expect(big.status).toBe(400);
    expect(errorOf(big)).toMatchObject({ code: 131053 });
    expect(errorOf(big).error_data?.details).toContain('5MB');

    // A static sticker takes 100 KB, an animated one 500 KB.
    const staticSticker = await media.upload(
      PHONE,
      { blob: new Blob([webp(200 * 1024, false)]), type: 'image/webp' },
      TOKEN,
    );
    expect(errorOf(staticSticker)).toMatchObject({ code: 131053 });
    const animated = await media.upload(PHONE, { blob: new Blob([webp(200 * 1024, true)]), type: 'image/webp' }, TOKEN);
    expect(animated.status).toBe(200);

    const form = new FormData();
    form.set('type', 'image/png');
    form.set('file', new Blob([PNG]), 'a.png');
    const missing = await fetch(`${sandbox.url}/v21.0/${PHONE}/media`, {
      method: 'POST',
      headers: { authorization: `Bearer ${TOKEN}` },
      body: form,
    });
    expect(missing.status).toBe(400);
    expect(((await missing.json()) as { error: { message: string } }).error.message).toBe(
      '(#100) The parameter messaging_product is required.',
    );
  });

  it('uploads only to a phone number the token is for', async () => {
    const answer = await media.upload(OTHER_PHONE, { blob: new Blob([PNG]), type: 'image/png' }, TOKEN);
    expect(answer.status).toBe(400);
    expect(errorOf(answer)).toMatchObject({ code: 100, error_subcode: 33 });
  });
});
