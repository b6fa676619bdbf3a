import { createCipheriv, createDecipheriv, createHash, randomBytes, randomInt } from 'node:crypto';
import { closeSync, mkdirSync, openSync, readFileSync, writeSync } from 'node:fs';
import { dirname } from 'node:path';
import { Secret, TOTP } from 'otpauth';
import QRCode from 'qrcode';
import { StartupError, assertOwnerOnly, keysPath } from '@mic/platform';

/** Where the key that encrypts TOTP secrets lives: a file of its own beside the data folders, or memory (tests). */
export type SecondFactorKeySource = { kind: 'file'; path: string; env: string } | { kind: 'memory' };

/** OPERATOR_SECOND_FACTOR_KEY_FILE, else the keys folder, else memory (tests). */
export function secondFactorKeySource(keyFile: string | undefined, dataDir: string): SecondFactorKeySource {
  const path = keyFile ?? keysPath(dataDir, 'operator-second-factor.key');
  return path
    ? { kind: 'file', path, env: keyFile ? 'OPERATOR_SECOND_FACTOR_KEY_FILE' : 'MIC_DATA_DIR' }
    : { kind: 'memory' };
}

const CIPHER = 'aes-256-gcm';
const VERSION = 'v1';

/**
 * AES-256-GCM over operators' TOTP secrets. The key is a file (0600) outside the database, so a
 * copy of the database or of its backups does not give anyone the secrets; the operator id is the
 * associated data, so a ciphertext moved to another operator's row does not decrypt.
 */
export class SecondFactorKey {
  readonly #key: Buffer;

  private constructor(key: Buffer) {
    this.#key = key;
  }

  /** Loads the key, generating it on first start; a file readable by others stops the boot. */
  static load(source: SecondFactorKeySource): SecondFactorKey {
    if (source.kind === 'memory') return new SecondFactorKey(randomBytes(32));
    mkdirSync(dirname(source.path), { recursive: true, mode: 0o700 });
    try {
      // `wx`: when two processes start at once, one writes and the other reads what it wrote.
      const fd = openSync(source.path, 'wx', 0o600);
      writeSync(fd, `${randomBytes(32).toString('base64')}\n`);
      closeSync(fd);
    } catch (error) {
      if ((error as NodeJS.ErrnoException).code !== 'EEXIST') throw error;
    }
    assertOwnerOnly(source.path, source.env);
    const key = Buffer.from(readFileSync(source.path, 'utf8').trim(), 'base64');
    if (key.length !== 32) throw new StartupError(`${source.env}: ${source.path} is not a base64 32-byte key`, true);
    return new SecondFactorKey(key);
  }

  encrypt(plain: string, operatorId: string): string {
    const iv = randomBytes(12);
    const cipher = createCipheriv(CIPHER, this.#key, iv);
    cipher.setAAD(Buffer.from(operatorId, 'utf8'));
    const sealed = Buffer.concat([cipher.update(plain, 'utf8'), cipher.final()]);
    return [VERSION, iv, cipher.getAuthTag(), sealed]
      .map((p) => (typeof p === 'string' ? p : p.toString('base64')))
      .join(':');
  }

  decrypt(stored: string, operatorId: string): string {
    const [version, iv, tag, sealed] = stored.split(':');
    if (version !== VERSION || !iv || !tag || !sealed) throw new Error('not a second-factor ciphertext');
    const decipher = createDecipheriv(CIPHER, this.#key, Buffer.from(iv, 'base64'));
    decipher.setAAD(Buffer.from(operatorId, 'utf8'));
    decipher.setAuthTag(Buffer.from(tag, 'base64'));
    return Buffer.concat([decipher.update(Buffer.from(sealed, 'base64')), decipher.final()]).toString('utf8');
  }
}

const PERIOD_S = 30;

function totpOf(base32: string, email: string): TOTP {
  return new TOTP({
    issuer: 'MIC',
    label: email,
    algorithm: 'SHA1',
    digits: 6,
    period: PERIOD_S,
    secret: Secret.fromBase32(base32),
  });
}

/** A new TOTP secret (160 bits, base32) and what an authenticator app needs to take it. */
export async function newTotp(email: string): Promise<{ secret: string; otpauthUrl: string; qrCode: string }> {
  const secret = new Secret({ size: 20 }).base32;
  const otpauthUrl = totpOf(secret, email).toString();
  const svg = await QRCode.toString(otpauthUrl, { type: 'svg', errorCorrectionLevel: 'M', margin: 2 });
  return { secret, otpauthUrl, qrCode: `data:image/svg+xml;base64,${Buffer.from(svg).toString('base64')}` };
}

/**
 * The 30 s step `code` belongs to (now, or one step either side for clock drift), or null. The
 * caller refuses a step not after the last accepted one, so a code is good once.
 */
export function totpStep(base32: string, code: string, now: Date): number | null {
  const delta = totpOf(base32, '').validate({ token: code, timestamp: now.getTime(), window: 1 });
  if (delta === null) return null;
  return TOTP.counter({ period: PERIOD_S, timestamp: now.getTime() }) + delta;
}

/** The code an authenticator would show at `at` (tests and the CLI's diagnostics). */
export function totpCode(base32: string, at: Date): string {
  return totpOf(base32, '').generate({ timestamp: at.getTime() });
}

export const RECOVERY_CODE_COUNT = 10;
const RECOVERY_ALPHABET = 'abcdefghjkmnpqrstuvwxyz23456789';

/**
 * Ten codes of 12 characters from 31 (about 59 bits each), written `xxxx-xxxx-xxxx`. Random enough
 * that a fast hash (SHA-256) is safe to store: there is nothing to brute-force from the hash.
 */
export function newRecoveryCodes(): string[] {
  return Array.from({ length: RECOVERY_CODE_COUNT }, () => {
    const chars = Array.from({ length: 12 }, () => RECOVERY_ALPHABET[randomInt(RECOVERY_ALPHABET.length)]!).join('');
    return `${chars.slice(0, 4)}-${chars.slice(4, 8)}-${chars.slice(8, 12)}`;
  });
}

/** What is stored of a recovery code; spaces, dashes and case do not matter when it is typed. */
export function hashRecoveryCode(code: string): string {
  const normal = code.toLowerCase().replace(/[^a-z0-9]/g, '');
  return createHash('sha256').update(`mic-recovery:${normal}`, 'utf8').digest('hex');
}
