import { describe, expect, it } from 'vitest';
import { GraphMediaClient, checkMediaUpload, isAnimatedWebp, whatsappMediaLimit } from './media.ts';

const webpHead = (flags: number) => {
  const head = new Uint8Array(32);
  head.set(new TextEncoder().encode('RIFF'), 0);
  head.set(new TextEncoder().encode('WEBPVP8X'), 8);
  head[20] = flags;
  return head;
};

describe('WhatsApp media types and limits', () => {
  it("gives each of Meta's types its kind and limit, a sticker's by whether it is animated", () => {
    expect(whatsappMediaLimit('image/jpeg')).toEqual({ kind: 'image', maxBytes: 5 * 1024 * 1024 });
    expect(whatsappMediaLimit('Audio/OGG; codecs=opus')).toEqual({ kind: 'audio', maxBytes: 16 * 1024 * 1024 });
    expect(whatsappMediaLimit('application/pdf')?.maxBytes).toBe(100 * 1024 * 1024);
    expect(whatsappMediaLimit('image/webp', webpHead(0))?.maxBytes).toBe(100 * 1024);
    expect(whatsappMediaLimit('image/webp', webpHead(0x02))?.maxBytes).toBe(500 * 1024);
    expect(whatsappMediaLimit('image/gif')).toBeUndefined();
    expect(isAnimatedWebp(new Uint8Array(8))).toBe(false);
  });

  it('checks the parameters first, then the type, then the size for that type', () => {
    const parts = { messagingProduct: 'whatsapp', type: 'image/png', fileType: undefined, size: 10 };
    expect(checkMediaUpload(parts)).toMatchObject({ ok: true, mimeType: 'image/png' });
    expect(checkMediaUpload({ ...parts, messagingProduct: undefined })).toMatchObject({
      ok: false,
      refusal: {
        status: 400,
        body: { error: { code: 100, message: '(#100) The parameter messaging_product is required.' } },
      },
    });
    // Without `type`, the file part's own content type is taken.
    expect(checkMediaUpload({ ...parts, type: undefined, fileType: 'video/mp4' })).toMatchObject({ ok: true });
    expect(checkMediaUpload({ ...parts, type: 'text/html' })).toMatchObject({
      ok: false,
      refusal: { body: { error: { code: 100 } } },
    });
    expect(checkMediaUpload({ ...parts, size: 5 * 1024 * 1024 + 1 })).toMatchObject({
      ok: false,
      refusal: {
        body: { error: { code: 131053, error_data: { details: expect.stringContaining('5MB') as unknown } } },
      },
    });
  });
});

describe('GraphMediaClient', () => {
  it("sends the token to Meta's media hosts and the Graph URL's origin only", async () => {
    const seen: string[] = [];
    const fetch: typeof globalThis.fetch = async (input) => {
      seen.push(input instanceof Request ? input.url : input.toString());
      return new Response('bytes');
    };
    const media = new GraphMediaClient({ baseUrl: 'http://127.0.0.1:4000', fetch });
    await media.download('https://lookaside.fbsbx.com/whatsapp_business/attachments/?mid=1', 'EAAtoken');
    await media.download('http://127.0.0.1:4000/whatsapp_business/attachments/?mid=1', 'EAAtoken');
    for (const url of [
      'https://evil.example/steal',
      'http://lookaside.fbsbx.com/plain-http',
      'https://fbsbx.com.evil.example/x',
      'not a url',
    ]) {
      await expect(media.download(url, 'EAAtoken')).rejects.toThrow(TypeError);
    }
    expect(seen).toHaveLength(2);
  });

  it("answers Meta's status and body as they are, and puts phone_number_id in the query", async () => {
    const requests: string[] = [];
    const fetch: typeof globalThis.fetch = async (input, init) => {
      requests.push(`${init?.method} ${input instanceof Request ? input.url : input.toString()}`);
      return new Response('{"error":{"code":100,"error_subcode":33}}', { status: 400 });
    };
    const media = new GraphMediaClient({ baseUrl: 'https://graph.example', version: 'v22.0', fetch });
    expect(await media.retrieve('123', 'EAAtoken', '456')).toEqual({
      status: 400,
      body: { error: { code: 100, error_subcode: 33 } },
    });
    await media.remove('123', 'EAAtoken');
    expect(requests).toEqual([
      'GET https://graph.example/v22.0/123?phone_number_id=456',
      'DELETE https://graph.example/v22.0/123',
    ]);
  });
});
