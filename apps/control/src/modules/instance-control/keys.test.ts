import { generateKeyPairSync } from 'node:crypto';
import { chmodSync, mkdtempSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { verifyControlCommand } from '@mic/nexus-sdk';
import { CommandSigningKey } from './keys.ts';

let dir: string | undefined;
afterEach(() => {
  if (dir) rmSync(dir, { recursive: true, force: true });
  dir = undefined;
});
const keyFile = () => {
  dir = mkdtempSync(join(tmpdir(), 'mic-keys-'));
  return join(dir, 'keys', 'instance-control-ed25519.pem');
};

describe('CommandSigningKey', () => {
  it('generates the key file once, owner-only, and loads the same key afterwards', () => {
    const path = keyFile();
    const first = CommandSigningKey.load({ kind: 'file', path, env: 'MIC_DATA_DIR' });
    expect(statSync(path).mode & 0o777).toBe(0o600);
    expect(readFileSync(path, 'utf8')).toContain('PRIVATE KEY');
    const again = CommandSigningKey.load({ kind: 'file', path, env: 'MIC_DATA_DIR' });
    expect(again.keyId).toBe(first.keyId);
    expect(again.publicKey()).toEqual(first.publicKey());
    expect(first.describe()).toBe(path);
  });

  it('signs what the SDK verifies with the public key, in PEM or raw form', () => {
    const key = CommandSigningKey.load({ kind: 'memory' });
    const body = JSON.stringify({
      id: '0190a4b0-0000-7000-8000-000000000001',
      instanceId: 'ins_1',
      command: 'health',
      args: {},
      issuedAt: new Date().toISOString(),
    });
    const timestamp = Math.floor(Date.now() / 1000);
    const headers = {
      'mic-command-id': '0190a4b0-0000-7000-8000-000000000001',
      'mic-timestamp': String(timestamp),
      'mic-key-id': key.keyId,
      'mic-signature': key.sign('0190a4b0-0000-7000-8000-000000000001', timestamp, body),
    };
    const { publicKeyPem, publicKey } = key.publicKey();
    expect(verifyControlCommand(body, headers, [publicKeyPem]).keyId).toBe(key.keyId);
    expect(verifyControlCommand(body, headers, [publicKey]).keyId).toBe(key.keyId);
  });

  it('refuses a key file others can read, or one that is not an ed25519 private key', () => {
    const path = keyFile();
    CommandSigningKey.load({ kind: 'file', path, env: 'MIC_DATA_DIR' });
    chmodSync(path, 0o644);
    expect(() => CommandSigningKey.load({ kind: 'file', path, env: 'MIC_DATA_DIR' })).toThrow(/chmod 600/);
    const rsa = generateKeyPairSync('rsa', { modulusLength: 1024 }).privateKey.export({ format: 'pem', type: 'pkcs8' });
    writeFileSync(path, rsa, { mode: 0o600 });
    chmodSync(path, 0o600);
    expect(() => CommandSigningKey.load({ kind: 'file', path, env: 'INSTANCE_CONTROL_KEY_FILE' })).toThrow(
      /INSTANCE_CONTROL_KEY_FILE: .* is not an ed25519 key/,
    );
    writeFileSync(path, 'garbage');
    expect(() => CommandSigningKey.load({ kind: 'file', path, env: 'MIC_DATA_DIR' })).toThrow(/not a PEM private key/);
  });
});
