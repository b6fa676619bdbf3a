import { createHash, createPrivateKey, createPublicKey, generateKeyPairSync, sign, type KeyObject } from 'node:crypto';
import { closeSync, mkdirSync, openSync, readFileSync, writeSync } from 'node:fs';
import { dirname } from 'node:path';
import { CONTROL_SIGNATURE_VERSION, controlKeyId, controlSignedContent, type ControlPublicKey } from '@mic/contracts';
import { StartupError, assertOwnerOnly } from '@mic/platform';

/** Where control's command signing key lives: a PEM file beside the data folders, or memory (tests). */
export type SigningKeySource = { kind: 'file'; path: string; env: string } | { kind: 'memory' };

/**
 * Control's ed25519 key for instance commands. Instances hold only its public key, so control keeps
 * no per-instance secret; the private key never leaves this file (nor enters a database backup).
 */
export class CommandSigningKey {
  readonly keyId: string;
  readonly #privateKey: KeyObject;
  readonly #publicKey: KeyObject;
  readonly #where: string;

  private constructor(privateKey: KeyObject, where: string) {
    this.#privateKey = privateKey;
    this.#publicKey = createPublicKey(privateKey);
    this.#where = where;
    this.keyId = controlKeyId(
      createHash('sha256')
        .update(this.#publicKey.export({ format: 'der', type: 'spki' }))
        .digest(),
    );
  }

  /** Loads the key, generating it on first start; a file readable by others stops the boot. */
  static load(source: SigningKeySource): CommandSigningKey {
    if (source.kind === 'memory') return new CommandSigningKey(generateKeyPairSync('ed25519').privateKey, 'memory');
    mkdirSync(dirname(source.path), { recursive: true, mode: 0o700 });
    try {
      // `wx`: when two processes start at once, one writes and the other reads what it wrote.
      const fd = openSync(source.path, 'wx', 0o600);
      const pem = generateKeyPairSync('ed25519').privateKey.export({ format: 'pem', type: 'pkcs8' });
      writeSync(fd, pem.toString());
      closeSync(fd);
    } catch (error) {
      if ((error as NodeJS.ErrnoException).code !== 'EEXIST') throw error;
    }
    assertOwnerOnly(source.path, source.env);
    let key: KeyObject;
    try {
      key = createPrivateKey(readFileSync(source.path, 'utf8'));
    } catch {
      throw new StartupError(`${source.env}: ${source.path} is not a PEM private key`, true);
    }
    if (key.asymmetricKeyType !== 'ed25519') {
      throw new StartupError(`${source.env}: ${source.path} is not an ed25519 key`, true);
    }
    return new CommandSigningKey(key, source.path);
  }

  /** `v1,<base64 signature>` of one attempt, for the `mic-signature` header. */
  sign(id: string, timestamp: number, body: string): string {
    const content = Buffer.from(controlSignedContent(id, timestamp, body), 'utf8');
    return `${CONTROL_SIGNATURE_VERSION},${sign(null, content, this.#privateKey).toString('base64')}`;
  }

  publicKey(): ControlPublicKey {
    const spki = this.#publicKey.export({ format: 'der', type: 'spki' });
    return {
      algorithm: 'ed25519',
      keyId: this.keyId,
      publicKeyPem: this.#publicKey.export({ format: 'pem', type: 'spki' }).toString(),
      // An ed25519 SPKI is a fixed 12-byte header followed by the raw key.
      publicKey: spki.subarray(spki.length - 32).toString('base64'),
    };
  }

  /** Where the key is, for the operator (never its content). */
  describe(): string {
    return this.#where === 'memory' ? 'memory (tests only)' : this.#where;
  }
}
