import { createCipheriv, createDecipheriv, createHmac, randomBytes } from 'node:crypto';

/**
 * Envelope encryption: each secret value is encrypted (AES-256-GCM) with a data key of its own,
 * and the data key is encrypted (wrapped) with the keyring's active key-encryption key. Re-keying
 * re-wraps data keys only. The associated data binds each ciphertext to its row, so a value moved
 * to another secret's row does not decrypt.
 */
const ALGORITHM = 'aes-256-gcm';
const IV_BYTES = 12;
const TAG_BYTES = 16;

/** `base64(iv | tag | ciphertext)` */
function encrypt(key: Buffer, plaintext: Buffer, aad: string): string {
  const iv = randomBytes(IV_BYTES);
  const cipher = createCipheriv(ALGORITHM, key, iv);
  cipher.setAAD(Buffer.from(aad, 'utf8'));
  const body = Buffer.concat([cipher.update(plaintext), cipher.final()]);
  return Buffer.concat([iv, cipher.getAuthTag(), body]).toString('base64');
}

function decrypt(key: Buffer, sealed: string, aad: string): Buffer {
  const raw = Buffer.from(sealed, 'base64');
  const decipher = createDecipheriv(ALGORITHM, key, raw.subarray(0, IV_BYTES));
  decipher.setAAD(Buffer.from(aad, 'utf8'));
  decipher.setAuthTag(raw.subarray(IV_BYTES, IV_BYTES + TAG_BYTES));
  return Buffer.concat([decipher.update(raw.subarray(IV_BYTES + TAG_BYTES)), decipher.final()]);
}

export interface Sealed {
  ciphertext: string;
  wrappedKey: string;
  kekVersion: number;
}

export function seal(value: string, aad: string, kek: { version: number; key: Buffer }): Sealed {
  const dataKey = randomBytes(32);
  try {
    return {
      ciphertext: encrypt(dataKey, Buffer.from(value, 'utf8'), aad),
      wrappedKey: encrypt(kek.key, dataKey, `${aad}|kek:${kek.version}`),
      kekVersion: kek.version,
    };
  } finally {
    dataKey.fill(0);
  }
}

export function open(sealed: Sealed, aad: string, kek: Buffer): string {
  const dataKey = decrypt(kek, sealed.wrappedKey, `${aad}|kek:${sealed.kekVersion}`);
  try {
    return decrypt(dataKey, sealed.ciphertext, aad).toString('utf8');
  } finally {
    dataKey.fill(0);
  }
}

/** Re-wraps the data key under another key-encryption key; the value itself is not touched. */
export function rewrap(sealed: Sealed, aad: string, from: Buffer, to: { version: number; key: Buffer }): Sealed {
  const dataKey = decrypt(from, sealed.wrappedKey, `${aad}|kek:${sealed.kekVersion}`);
  try {
    return {
      ciphertext: sealed.ciphertext,
      wrappedKey: encrypt(to.key, dataKey, `${aad}|kek:${to.version}`),
      kekVersion: to.version,
    };
  } finally {
    dataKey.fill(0);
  }
}

/** A stable, non-reversible name for a value: what control and operators see instead of it. */
export function fingerprint(value: string, key: Buffer): string {
  return `fp_${createHmac('sha256', key).update(value, 'utf8').digest('hex').slice(0, 16)}`;
}
