import { afterEach, describe, expect, it } from 'vitest';
import { chmodSync, mkdtempSync, readFileSync, rmSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Keyring } from './keyring.ts';

const dirs: string[] = [];
function tmpPath(): string {
  const dir = mkdtempSync(join(tmpdir(), 'mic-keyring-'));
  dirs.push(dir);
  return join(dir, 'keys', 'engine-keyring.json');
}
afterEach(() => dirs.splice(0).forEach((d) => rmSync(d, { recursive: true, force: true })));

describe('keyring', () => {
  it('is generated once, owner-only, and read back the same', () => {
    const path = tmpPath();
    const first = Keyring.load({ kind: 'file', path });
    expect(statSync(path).mode & 0o777).toBe(0o600);
    const again = Keyring.load({ kind: 'file', path });
    expect(again.key(1).equals(first.key(1))).toBe(true);
  });

  it('refuses a keyring file readable by others', () => {
    const path = tmpPath();
    Keyring.load({ kind: 'file', path });
    chmodSync(path, 0o644);
    expect(() => Keyring.load({ kind: 'file', path })).toThrow(/readable by others \(mode 644\); run chmod 600/);
  });

  it('rotates to a new active version, keeps the old ones, and persists it', () => {
    const path = tmpPath();
    const keyring = Keyring.load({ kind: 'file', path });
    const old = keyring.key(1);
    expect(keyring.rotate()).toBe(2);
    expect(keyring.activeVersion).toBe(2);
    expect(keyring.key(1).equals(old)).toBe(true);
    expect(Keyring.load({ kind: 'file', path }).activeVersion).toBe(2);
    expect(statSync(path).mode & 0o777).toBe(0o600);
  });

  it('finds a version another replica added by re-reading the file', () => {
    const path = tmpPath();
    const mine = Keyring.load({ kind: 'file', path });
    Keyring.load({ kind: 'file', path }).rotate();
    expect(mine.key(2)).toHaveLength(32);
  });

  it('takes a keyring from the environment, and refuses to rotate it there', () => {
    const value = JSON.stringify(Keyring.generate());
    const keyring = Keyring.load({ kind: 'env', value });
    expect(keyring.describe()).toBe('the ENGINE_KEYRING environment variable');
    expect(() => keyring.rotate()).toThrow(/add a new key version there/);
  });

  it('refuses a malformed keyring with one line', () => {
    expect(() =>
      Keyring.load({ kind: 'env', value: '{"format":"mic-engine-keyring/1","active":1,"keys":{"1":"c2hvcnQ="}}' }),
    ).toThrow('ENGINE_KEYRING is not a valid keyring (format mic-engine-keyring/1 with 32-byte keys)');
    const path = tmpPath();
    Keyring.load({ kind: 'file', path });
    expect(readFileSync(path, 'utf8')).toContain('mic-engine-keyring/1');
  });
});
