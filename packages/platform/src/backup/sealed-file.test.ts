import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Readable } from 'node:stream';
import { afterAll, describe, expect, it } from 'vitest';
import { BackupKey } from './key.ts';
import { openSealedFile, readBlob, sealToFile, sha256File } from './sealed-file.ts';

const dir = mkdtempSync(join(tmpdir(), 'mic-sealed-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

describe('sealed backup files', () => {
  const key = BackupKey.load(join(dir, 'backup.key'));
  const dump = Buffer.from('a dump '.repeat(10_000));

  it('round-trips a dump, compressed, with the SHA-256 of what was written', async () => {
    const path = join(dir, 'a.mic-backup');
    const sealed = await sealToFile(Readable.from([dump]), path, key);
    expect(sealed.dumpBytes).toBe(dump.length);
    expect(sealed.sizeBytes).toBeLessThan(dump.length / 10);
    expect(sealed.sha256).toBe(await sha256File(path));
    expect(Buffer.from(await (await readBlob(await openSealedFile(path, key))).arrayBuffer())).toEqual(dump);
  });

  it('refuses an altered file and another key when the stream ends', async () => {
    const path = join(dir, 'b.mic-backup');
    await sealToFile(Readable.from([dump]), path, key);
    const other = BackupKey.load(join(dir, 'other.key'));
    await expect(readBlob(await openSealedFile(path, other))).rejects.toThrow(/does not decrypt/);

    const bytes = readFileSync(path);
    bytes[bytes.length - 20]! ^= 0x01;
    writeFileSync(path, bytes);
    await expect(readBlob(await openSealedFile(path, key))).rejects.toThrow(
      /does not decrypt|incorrect header|invalid/,
    );
  });
});
