import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Readable } from 'node:stream';
import { TEST_DATABASE_URL, dropSchemas, uniqueName } from '@mic/platform/testing';
import { adminCreate, auditVerify } from './admin.ts';

/**
 * The commands on a control database that no control holds: they open it themselves (migrating a
 * fresh one first). The path through a running control is exercised by test/e2e/secrets.test.ts.
 */
const dataDir = mkdtempSync(join(tmpdir(), 'mic-admin-'));
const schema = uniqueName('admin');
const saved = { ...process.env };

beforeAll(() => {
  Object.assign(process.env, {
    MIC_DATA_DIR: dataDir,
    CONTROL_DATABASE_SCHEMA: schema,
    ...(TEST_DATABASE_URL ? { CONTROL_DATABASE_URL: TEST_DATABASE_URL } : {}),
  });
});
afterAll(async () => {
  process.env = saved;
  rmSync(dataDir, { recursive: true, force: true });
  if (TEST_DATABASE_URL) await dropSchemas(TEST_DATABASE_URL, [schema]);
});

async function run(command: () => Promise<number>) {
  const out: string[] = [];
  const err: string[] = [];
  const stdout = vi.spyOn(process.stdout, 'write').mockImplementation((s) => out.push(String(s)) > 0);
  const stderr = vi.spyOn(process.stderr, 'write').mockImplementation((s) => err.push(String(s)) > 0);
  try {
    return { code: await command(), out: out.join(''), err: err.join('') };
  } finally {
    stdout.mockRestore();
    stderr.mockRestore();
  }
}

const create = (args: string[], password = 'a long enough password\n') =>
  run(() => adminCreate(args, Readable.from([password])));

describe('mic admin create and mic audit verify', () => {
  it('create the first owner on a fresh database, and the audit chain holds it', async () => {
    const created = await create(['--email', 'Owner@Example.com', '--name', 'Owner', '--password-stdin']);
    expect(created).toMatchObject({ code: 0, err: '' });
    expect(created.out).toMatch(/^operator owner@example\.com \(owner\) created: op_[0-9a-f]{32}\n$/);

    const support = await create(['--email', 's@example.com', '--name', 'S', '--role', 'support', '--password-stdin']);
    expect(support.out).toContain('(support)');

    expect(await run(() => auditVerify())).toEqual({ code: 0, out: 'audit chain OK: 2 rows\n', err: '' });
  });

  it.each([
    [
      ['--email', 'owner@example.com', '--name', 'Again', '--password-stdin'],
      'owner@example.com already has an account',
    ],
    [['--name', 'No email', '--password-stdin'], '--email is required'],
    [['--email', 'x@example.com', '--password-stdin'], '--name is required'],
    [['--email', 'x@example.com', '--name', 'X', '--role', 'king', '--password-stdin'], '--role must be one of'],
    [['--email', 'x@example.com', '--name', 'X', '--colour', 'red'], "Unknown option '--colour'"],
    [['--email', 'not-an-email', '--name', 'X', '--password-stdin'], 'body.email: is not an email address'],
  ])('refuses %j in one line, exit 1', async (args, message) => {
    const result = await create(args);
    expect(result.code).toBe(1);
    expect(result.err).toContain(message);
    expect(result.err.trim().split('\n')).toHaveLength(1);
  });

  it('refuses a short password and an empty one', async () => {
    const args = ['--email', 'y@example.com', '--name', 'Y', '--password-stdin'];
    expect((await create(args, 'short\n')).err).toBe(
      'mic admin create: body.password: must be at least 12 characters\n',
    );
    expect((await create(args, '\n')).err).toBe('mic admin create: the password is empty\n');
  });
});
