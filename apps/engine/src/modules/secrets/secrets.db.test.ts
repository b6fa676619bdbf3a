import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { sql } from 'drizzle-orm';
import type { SecretInfo } from '@mic/contracts';
import { startTestEngine, type TestEngine } from '../../testing.ts';

let engine: TestEngine;
const APP_SECRET = 'seeded-app-secret-0f9a8b7c';

beforeAll(async () => {
  engine = await startTestEngine({ META_APP_SECRET: APP_SECRET, META_VERIFY_TOKEN: 'seeded-verify-token-1234' });
});
afterAll(() => engine?.stop());

const put = (ref: string, body: object) =>
  engine.app.inject({ method: 'PUT', url: `/internal/v1/secrets/${ref}`, headers: engine.auth, payload: body });

/** Every column of every engine table, as text: where a clear value would show if it leaked. */
async function everyStoredValue(): Promise<string> {
  const rows = await engine.app.db.orm.execute<{ row: string }>(
    sql`select row_to_json(t)::text as row from (select * from secrets) t union all select row_to_json(t)::text from (select * from secret_versions) t union all select row_to_json(t)::text from (select * from instance_tokens) t`,
  );
  return rows.rows.map((r) => r.row).join('\n');
}

describe('secret store', () => {
  it('keeps a value that no route gives back: only its fingerprint and last 4', async () => {
    const value = 'EAAGm0PX4ZCpsBAKZCbZA-very-secret-token-WXYZ';
    const res = await put('channel/123456/access-token', { kind: 'meta-access-token', value });
    expect(res.statusCode).toBe(200);
    const info = res.json<SecretInfo>();
    expect(info).toMatchObject({
      ref: 'channel/123456/access-token',
      kind: 'meta-access-token',
      current: { version: 1, last4: 'WXYZ' },
      previous: null,
    });
    expect(info.current.fingerprint).toMatch(/^fp_[0-9a-f]{16}$/);
    for (const url of ['/internal/v1/secrets', '/internal/v1/secrets/channel/123456/access-token']) {
      const got = await engine.app.inject({ method: 'GET', url, headers: engine.auth });
      expect(got.statusCode).toBe(200);
      expect(got.body).not.toContain(value);
    }
    expect(res.body).not.toContain(value);
    expect(await everyStoredValue()).not.toContain(value);
    expect(await engine.app.secrets.reveal('channel/123456/access-token')).toBe(value);
  });

  it('seeds the default Meta app from META_APP_SECRET and META_VERIFY_TOKEN', async () => {
    expect(await engine.app.secrets.reveal('meta-app/default/app-secret')).toBe(APP_SECRET);
    const info = await engine.app.inject({
      method: 'GET',
      url: '/internal/v1/secrets/meta-app/default/app-secret',
      headers: engine.auth,
    });
    expect(info.json()).toMatchObject({ kind: 'meta-app-secret', current: { last4: '8b7c' } });
    expect(await everyStoredValue()).not.toContain(APP_SECRET);
  });

  it('adds more Meta apps, each with its own secret', async () => {
    const res = await engine.app.inject({
      method: 'PUT',
      url: '/internal/v1/meta-apps/second',
      headers: engine.auth,
      payload: { appSecret: 'second-app-secret-1', verifyToken: 'second-verify-2' },
    });
    expect(res.statusCode).toBe(200);
    expect(res.body).not.toContain('second-app-secret-1');
    expect(await engine.app.secrets.reveal('meta-app/second/app-secret')).toBe('second-app-secret-1');
  });

  it('rotates a value, keeping the previous one readable for the grace period only', async () => {
    await put('channel/777/access-token', { kind: 'meta-access-token', value: 'old-token-0001' });
    const rotated = await put('channel/777/access-token', {
      kind: 'meta-access-token',
      value: 'new-token-0002',
      graceSeconds: 3600,
    });
    expect(rotated.json()).toMatchObject({
      current: { version: 2, last4: '0002' },
      previous: { version: 1, last4: '0001' },
    });
    expect(await engine.app.secrets.revealValid('channel/777/access-token')).toEqual([
      'new-token-0002',
      'old-token-0001',
    ]);
    expect(await engine.app.secrets.reveal('channel/777/access-token')).toBe('new-token-0002');
    await put('channel/777/access-token', { kind: 'meta-access-token', value: 'newest-token-0003' });
    expect(await engine.app.secrets.revealValid('channel/777/access-token')).toEqual(['newest-token-0003']);
  });

  it('refuses a value of another kind under an existing name, and bad input, with problems naming the field', async () => {
    await put('channel/888/access-token', { kind: 'meta-access-token', value: 'token-8888' });
    const clash = await put('channel/888/access-token', { kind: 'meta-app-secret', value: 'x' });
    expect(clash.statusCode).toBe(409);
    expect(clash.json()).toMatchObject({ type: '/problems/secret-kind-mismatch' });
    const bad = await put('channel/888/access-token', { kind: 'password', value: '' });
    expect(bad.statusCode).toBe(400);
    expect(bad.json<{ errors: { field: string }[] }>().errors.map((e) => e.field)).toEqual(
      expect.arrayContaining(['body.value']),
    );
    const badRef = await put('Not A Ref', { kind: 'meta-access-token', value: 'v' });
    expect(badRef.statusCode).toBe(400);
  });

  it('deletes a secret', async () => {
    await put('channel/999/access-token', { kind: 'meta-access-token', value: 'gone-9999' });
    expect(
      (
        await engine.app.inject({
          method: 'DELETE',
          url: '/internal/v1/secrets/channel/999/access-token',
          headers: engine.auth,
        })
      ).statusCode,
    ).toBe(204);
    expect(await engine.app.secrets.reveal('channel/999/access-token')).toBeNull();
    expect(
      (
        await engine.app.inject({
          method: 'DELETE',
          url: '/internal/v1/secrets/channel/999/access-token',
          headers: engine.auth,
        })
      ).statusCode,
    ).toBe(404);
  });
});

describe('key-encryption key rotation', () => {
  it('re-wraps every secret while reads, writes and signatures go on, with no failure', async () => {
    const values = new Map<string, string>();
    for (let i = 0; i < 150; i++) values.set(`load/${i}/access-token`, `value-${i}-${'x'.repeat(20)}`);
    for (const [ref, value] of values) await engine.app.secrets.put(ref, 'meta-access-token', value);
    const { apiToken } = await engine.app.credentials.issue('ins-rotation');
    expect(apiToken).toMatch(/^mic_it_/);

    let stop = false;
    const failures: unknown[] = [];
    let operations = 0;
    const traffic = (async () => {
      let i = 0;
      while (!stop) {
        i += 1;
        // PGlite answers in-process, in microtasks only: yield so the rotation request can progress.
        await new Promise((resolve) => setImmediate(resolve));
        try {
          const ref = `load/${i % 150}/access-token`;
          expect(await engine.app.secrets.reveal(ref)).toBe(values.get(ref));
          await engine.app.credentials.signDelivery('ins-rotation', `msg_${i}`, new Date(), '{"n":1}');
          if (i % 10 === 0)
            await engine.app.secrets.put(`load/new-${i}/access-token`, 'meta-access-token', `fresh-${i}`);
          operations += 1;
        } catch (error) {
          failures.push(error);
        }
      }
    })();

    const rotation = await engine.app.inject({
      method: 'POST',
      url: '/internal/v1/secrets/rotate-key',
      headers: engine.auth,
    });
    stop = true;
    await traffic;
    expect(rotation.statusCode).toBe(200);
    expect(rotation.json()).toMatchObject({ kekVersion: 2, keyring: 'memory (tests only)' });
    expect(rotation.json<{ rewrapped: number }>().rewrapped).toBeGreaterThanOrEqual(150);
    expect(failures).toEqual([]);
    expect(operations).toBeGreaterThan(0);

    const left = await engine.app.db.orm.execute<{ n: number }>(
      sql`select count(*)::int as n from secret_versions where kek_version <> 2`,
    );
    expect(left.rows[0]?.n).toBe(0);
    for (const [ref, value] of values) expect(await engine.app.secrets.reveal(ref)).toBe(value);
  });
});
