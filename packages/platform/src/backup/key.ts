import { createHash, randomBytes } from 'node:crypto';
import { existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { dirname } from 'node:path';
import { assertOwnerOnly } from '../service-auth/index.ts';

const KEY_BYTES = 32;

interface BackupKeyFile {
  format: 'mic-backup-key/1';
  key: string;
}

/**
 * The key every backup is encrypted with (AES-256-GCM). It lives in a file outside the data
 * folders and the backup folder, so no backup ever carries the key that opens it.
 */
export class BackupKey {
  readonly path: string;
  readonly #key: Buffer;

  private constructor(path: string, key: Buffer) {
    this.path = path;
    this.#key = key;
  }

  /** Reads the key file, generating it (mode 0600) on first use. */
  static load(path: string): BackupKey {
    if (!existsSync(path)) {
      mkdirSync(dirname(path), { recursive: true, mode: 0o700 });
      const file: BackupKeyFile = { format: 'mic-backup-key/1', key: randomBytes(KEY_BYTES).toString('base64') };
      try {
        writeFileSync(path, JSON.stringify(file, null, 2), { mode: 0o600, flag: 'wx' });
      } catch (error) {
        // Both planes may take their first backup at the same moment: the other one wrote it.
        if ((error as NodeJS.ErrnoException).code !== 'EEXIST') throw error;
      }
    }
    assertOwnerOnly(path, 'BACKUP_KEY_FILE');
    let parsed: Partial<BackupKeyFile>;
    try {
      parsed = JSON.parse(readFileSync(path, 'utf8')) as Partial<BackupKeyFile>;
    } catch {
      throw new Error(`${path} is not a backup key file (not JSON)`);
    }
    const key = Buffer.from(parsed.key ?? '', 'base64');
    if (parsed.format !== 'mic-backup-key/1' || key.length !== KEY_BYTES) {
      throw new Error(`${path} is not a backup key file (format mic-backup-key/1 with a 32-byte key)`);
    }
    return new BackupKey(path, key);
  }

  /** Names the key in manifests without revealing it: a restore tells a wrong key at once. */
  get id(): string {
    return createHash('sha256').update('mic-backup-key-id').update(this.#key).digest('hex').slice(0, 16);
  }

  get bytes(): Buffer {
    return this.#key;
  }
}
