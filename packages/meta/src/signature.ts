import { createHmac, timingSafeEqual } from 'node:crypto';

/**
 * Meta signs every webhook with `X-Hub-Signature-256: sha256=<hex>`, the HMAC-SHA256 of the raw
 * request body keyed with the app secret. Verify the bytes as received: a body parsed and
 * re-serialized (key order, spacing, `\/` and unicode escapes) no longer matches.
 */
export const SIGNATURE_HEADER = 'x-hub-signature-256';

const SIGNATURE_FORMAT = /^sha256=([0-9a-f]{64})$/i;

export type SignedBody = string | Uint8Array;

const digest = (body: SignedBody, secret: string): Buffer =>
  createHmac('sha256', secret)
    .update(typeof body === 'string' ? Buffer.from(body, 'utf8') : body)
    .digest();

/** The `X-Hub-Signature-256` value Meta would send for this body; for test tools and the sandbox. */
export function signMetaBody(body: SignedBody, appSecret: string): string {
  return `sha256=${digest(body, appSecret).toString('hex')}`;
}

/**
 * True when `header` is a valid signature of `rawBody` under one of the app secrets (several
 * while a secret is being rotated). Missing, malformed or wrong signatures, and empty secrets,
 * are false; it never throws, and the comparison takes the same time wherever the bytes differ.
 */
export function verifyMetaSignature(
  rawBody: SignedBody,
  header: unknown,
  appSecret: string | readonly string[],
): boolean {
  if (typeof header !== 'string') return false;
  const match = SIGNATURE_FORMAT.exec(header.trim());
  if (match?.[1] === undefined) return false;
  const given = Buffer.from(match[1], 'hex');
  const secrets = typeof appSecret === 'string' ? [appSecret] : appSecret;
  let valid = false;
  for (const secret of secrets) {
    if (typeof secret !== 'string' || secret === '') continue;
    const expected = digest(rawBody, secret);
    // Both are 32 bytes here (the format check fixes the length), as timingSafeEqual requires.
    if (expected.length === given.length && timingSafeEqual(expected, given)) valid = true;
  }
  return valid;
}
