import { randomBytes } from 'node:crypto';
import { existsSync, mkdirSync, readFileSync, renameSync, writeFileSync } from 'node:fs';
import { dirname } from 'node:path';
import { StartupError, assertOwnerOnly } from '@mic/platform';

/**
 * The engine's key-encryption keys (KEKs). Versions only grow; `active` wraps new data keys, older
 * versions stay to unwrap what was wrapped with them until it is re-wrapped. The keyring lives
 * outside the plane's data folder, so a backup of the database never contains it.
 */
export interface KeyringFile {
  format: 'mic-engine-keyring/1';
  active: number;
  keys: Record<string, string>;
  /** Keys the fingerprints of secret values (HMAC), so a fingerprint reveals nothing guessable. */
  fingerprintKey: string;
}

export type KeyringSource = { kind: 'env'; value: string } | { kind: 'file'; path: string } | { kind: 'memory' };

const KEY_BYTES = 32;

function newKey(): string {
  return randomBytes(KEY_BYTES).toString('base64');
}

function parseKeyring(text: string, where: string): KeyringFile {
  let value: Partial<KeyringFile>;
  try {
    value = JSON.parse(text) as Partial<KeyringFile>;
  } catch {
    throw new StartupError(`${where} is not a keyring (not JSON)`, true);
  }
  const keys = value.keys ?? {};
  const isValidKey = (k: unknown) => typeof k === 'string' && Buffer.from(k, 'base64').length === KEY_BYTES;
  if (
    value.format !== 'mic-engine-keyring/1' ||
    typeof value.active !== 'number' ||
    !isValidKey(keys[String(value.active)]) ||
    !Object.values(keys).every(isValidKey) ||
    !isValidKey(value.fingerprintKey)
  ) {
    throw new StartupError(`${where} is not a valid keyring (format mic-engine-keyring/1 with 32-byte keys)`, true);
  }
  return value as KeyringFile;
}

export class Keyring {
  readonly #source: KeyringSource;
  #file: KeyringFile;

  private constructor(source: KeyringSource, file: KeyringFile) {
    this.#source = source;
    this.#file = file;
  }

  /** Loads the keyring, generating it on first start when it comes from a file that is not there. */
  static load(source: KeyringSource): Keyring {
    if (source.kind === 'env') return new Keyring(source, parseKeyring(source.value, 'ENGINE_KEYRING'));
    if (source.kind === 'memory') return new Keyring(source, Keyring.generate());
    if (!existsSync(source.path)) {
      mkdirSync(dirname(source.path), { recursive: true, mode: 0o700 });
      writeFileSync(source.path, JSON.stringify(Keyring.generate(), null, 2), { mode: 0o600, flag: 'wx' });
    }
    assertOwnerOnly(source.path, 'ENGINE_KEYRING_FILE');
    return new Keyring(source, parseKeyring(readFileSync(source.path, 'utf8'), source.path));
  }

  static generate(): KeyringFile {
    return { format: 'mic-engine-keyring/1', active: 1, keys: { '1': newKey() }, fingerprintKey: newKey() };
  }

  get activeVersion(): number {
    return this.#file.active;
  }

  get versions(): number[] {
    return Object.keys(this.#file.keys)
      .map(Number)
      .sort((a, b) => a - b);
  }

  get fingerprintKey(): Buffer {
    return Buffer.from(this.#file.fingerprintKey, 'base64');
  }

  get source(): KeyringSource['kind'] {
    return this.#source.kind;
  }

  /** Where the keyring is, for the operator (never its content). */
  describe(): string {
    if (this.#source.kind === 'file') return this.#source.path;
    return this.#source.kind === 'env' ? 'the ENGINE_KEYRING environment variable' : 'memory (tests only)';
  }

  /** The key of `version`; re-reads the file once if another replica rotated since we loaded it. */
  key(version: number): Buffer {
    let value = this.#file.keys[String(version)];
    if (!value && this.#source.kind === 'file') {
      this.#file = parseKeyring(readFileSync(this.#source.path, 'utf8'), this.#source.path);
      value = this.#file.keys[String(version)];
    }
    if (!value) throw new Error(`key-encryption key version ${version} is not in the keyring (${this.describe()})`);
    return Buffer.from(value, 'base64');
  }

  /** Adds a new key version and makes it active; the file is replaced atomically. */
  rotate(): number {
    if (this.#source.kind === 'env') {
      throw new Error('the keyring comes from ENGINE_KEYRING: add a new key version there and restart the engine');
    }
    const next: KeyringFile = {
      ...this.#file,
      active: Math.max(...this.versions) + 1,
      keys: { ...this.#file.keys, [String(Math.max(...this.versions) + 1)]: newKey() },
    };
    if (this.#source.kind === 'file') {
      const tmp = `${this.#source.path}.${process.pid}.tmp`;
      writeFileSync(tmp, JSON.stringify(next, null, 2), { mode: 0o600 });
      renameSync(tmp, this.#source.path);
    }
    this.#file = next;
    return next.active;
  }
}
