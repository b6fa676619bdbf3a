import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { sql } from 'drizzle-orm';
import type { InjectOptions } from 'fastify';
import { ManualClock } from '@mic/platform';
import type { OperatorSession, RecoveryCodes, SecondFactorChallenge, TotpEnrolment } from '@mic/contracts';
import { startTestControl, type OperatorHeaders, type TestControl } from '../../testing.ts';
import { totpCode } from './index.ts';

const clock = new ManualClock('2026-11-26T10:00:00Z');
let control: TestControl;

beforeAll(async () => {
  control = await startTestControl({ OPERATOR_SECOND_FACTOR_REQUIRED: 'true', LOGIN_FAILURE_WINDOW: '1m' }, clock);
});
afterAll(() => control?.stop());

const PASSWORD = 'correct horse battery staple';
let seq = 0;
let address = 0;

const call = (options: InjectOptions) => control.app.inject({ remoteAddress: `10.8.0.${++address}`, ...options });
const login = (email: string, password = PASSWORD) =>
  call({ method: 'POST', url: '/v1/auth/login', payload: { email, password } });
const answer = (challenge: string, payload: { code?: string; recoveryCode?: string }) =>
  call({ method: 'POST', url: '/v1/auth/login/second-factor', payload: { challenge, ...payload } });

function headersOf(res: Awaited<ReturnType<typeof login>>): OperatorHeaders {
  const cookie = res.cookies.find((c) => c.name === 'mic_session')!;
  return { cookie: `mic_session=${cookie.value}`, 'x-csrf-token': res.json<OperatorSession>().csrfToken };
}

async function newOperator(role: 'owner' | 'admin' | 'support') {
  const email = `guarded${++seq}@example.com`;
  const { operator } = await control.app.operators.create(
    { email, name: `Guarded ${seq}`, role, password: PASSWORD },
    { actor: { type: 'system', id: null, label: 'test' } },
  );
  return { id: operator.id, email };
}

/** The code the operator's authenticator shows now; the clock moves on a step so the next one differs. */
function codeNow(secret: string): string {
  const code = totpCode(secret, clock.now());
  clock.advance(30_000);
  return code;
}

/** An operator of `role` with a confirmed second factor, signed in with it. */
async function enrolled(role: 'owner' | 'admin') {
  const { id, email } = await newOperator(role);
  const headers = headersOf(await login(email));
  const enrolment = (
    await call({ method: 'POST', url: '/v1/auth/second-factor/enrolment', headers })
  ).json<TotpEnrolment>();
  const confirmed = await call({
    method: 'POST',
    url: '/v1/auth/second-factor/confirm',
    headers,
    payload: { code: codeNow(enrolment.secret) },
  });
  expect(confirmed.statusCode).toBe(200);
  return { id, email, headers, secret: enrolment.secret, recoveryCodes: confirmed.json<RecoveryCodes>().recoveryCodes };
}

async function challengeFor(email: string): Promise<string> {
  const res = await login(email);
  expect(res.statusCode).toBe(202);
  return res.json<SecondFactorChallenge>().challenge;
}

describe('second factor', () => {
  it('an owner without one gets a session that can only enrol; confirming a code turns it on', async () => {
    const { id, email } = await newOperator('owner');
    const res = await login(email);
    expect(res.statusCode).toBe(200);
    expect(res.json<OperatorSession>().scope).toBe('enrolment');
    const headers = headersOf(res);
    const operators = await call({ method: 'GET', url: '/v1/operators', headers });
    expect(operators.json()).toMatchObject({ status: 403, type: '/problems/second-factor-enrolment-required' });
    expect((await call({ method: 'GET', url: '/v1/auth/second-factor', headers })).json()).toEqual({
      enabled: false,
      enabledAt: null,
      required: true,
      recoveryCodesLeft: 0,
    });

    const enrolment = (
      await call({ method: 'POST', url: '/v1/auth/second-factor/enrolment', headers })
    ).json<TotpEnrolment>();
    expect(enrolment.otpauthUrl).toMatch(/^otpauth:\/\/totp\/MIC:guarded\d+%40example\.com\?/);
    expect(enrolment.qrCode).toMatch(/^data:image\/svg\+xml;base64,/);
    expect(Buffer.from(enrolment.qrCode.split(',')[1]!, 'base64').toString()).toContain('<svg');

    // Stored encrypted: neither the secret nor anything that decodes to it without control's key.
    const stored = await control.app.db.orm.execute<{ totp_secret: string }>(
      sql`select totp_secret from operators where id = ${id}`,
    );
    expect(stored.rows[0]!.totp_secret).toMatch(/^v1:/);
    expect(stored.rows[0]!.totp_secret).not.toContain(enrolment.secret);

    // Not on until a code from it is confirmed.
    expect((await login(email)).statusCode).toBe(200);
    const wrong = await call({
      method: 'POST',
      url: '/v1/auth/second-factor/confirm',
      headers,
      payload: { code: totpCode(enrolment.secret, new Date(clock.now().getTime() - 600_000)) },
    });
    expect(wrong.statusCode).toBe(400);
    const confirmed = await call({
      method: 'POST',
      url: '/v1/auth/second-factor/confirm',
      headers,
      payload: { code: codeNow(enrolment.secret) },
    });
    const { recoveryCodes } = confirmed.json<RecoveryCodes>();
    expect(recoveryCodes).toHaveLength(10);
    expect(new Set(recoveryCodes).size).toBe(10);
    expect((await call({ method: 'GET', url: '/v1/operators', headers })).statusCode).toBe(200);
    const codes = await control.app.db.orm.execute(sql`select * from operator_recovery_codes`);
    for (const code of recoveryCodes) expect(JSON.stringify(codes.rows)).not.toContain(code);
  });

  it('an owner with one cannot sign in without a valid, unused code', async () => {
    const owner = await enrolled('owner');
    const res = await login(owner.email);
    expect(res.statusCode).toBe(202);
    expect(res.cookies.find((c) => c.name === 'mic_session')).toBeUndefined();
    const { challenge, methods } = res.json<SecondFactorChallenge>();
    expect(methods).toEqual(['totp', 'recovery-code']);

    expect((await answer(challenge, { code: '000000' })).json()).toMatchObject({
      status: 401,
      type: '/problems/invalid-second-factor',
    });
    // The code that confirmed the enrolment is spent, even within its window.
    const spent = totpCode(owner.secret, new Date(clock.now().getTime() - 30_000));
    expect((await answer(challenge, { code: spent })).statusCode).toBe(401);
    expect((await answer('not-a-challenge', { code: totpCode(owner.secret, clock.now()) })).statusCode).toBe(401);

    const ok = await answer(challenge, { code: codeNow(owner.secret) });
    expect(ok.statusCode).toBe(200);
    expect(ok.json<OperatorSession>().scope).toBe('full');
    expect((await call({ method: 'GET', url: '/v1/operators', headers: headersOf(ok) })).statusCode).toBe(200);
    // A challenge signs in once.
    expect((await answer(challenge, { code: codeNow(owner.secret) })).statusCode).toBe(401);
    // And it expires.
    const late = await challengeFor(owner.email);
    clock.advance(5 * 60_000 + 1_000);
    expect((await answer(late, { code: totpCode(owner.secret, clock.now()) })).statusCode).toBe(401);
  });

  it('rate-limits wrong codes like wrong passwords', async () => {
    const owner = await enrolled('owner');
    const challenge = await challengeFor(owner.email);
    const statuses: number[] = [];
    for (let i = 0; i < 6; i++) statuses.push((await answer(challenge, { code: '123456' })).statusCode);
    expect(statuses).toEqual([401, 401, 401, 401, 401, 429]);
    const right = await answer(challenge, { code: totpCode(owner.secret, clock.now()) });
    expect(right.statusCode).toBe(429);
    expect(Number(right.headers['retry-after'])).toBeGreaterThan(0);
    clock.advance(61_000);
  });

  it('a recovery code signs in once, in place of a code', async () => {
    const owner = await enrolled('owner');
    const [code] = owner.recoveryCodes;
    const ok = await answer(await challengeFor(owner.email), { recoveryCode: code!.toUpperCase() });
    expect(ok.statusCode).toBe(200);
    const again = await answer(await challengeFor(owner.email), { recoveryCode: code! });
    expect(again.statusCode).toBe(401);
    const status = await call({ method: 'GET', url: '/v1/auth/second-factor', headers: headersOf(ok) });
    expect(status.json()).toMatchObject({ enabled: true, recoveryCodesLeft: 9 });
    const audit = await control.app.audit.list({
      filters: { action: 'operator.recovery-code-used', targetId: owner.id },
    });
    expect(audit.items).toHaveLength(1);
    expect(audit.items[0]).toMatchObject({ after: { recoveryCodesLeft: 9 } });
    expect(JSON.stringify(audit.items)).not.toContain(code);
  });

  it('another owner resets it (audited), which signs the operator out; an admin cannot, nor anyone their own', async () => {
    const lost = await enrolled('owner');
    const other = await enrolled('owner');
    const admin = await enrolled('admin');
    const url = `/v1/operators/${lost.id}/second-factor`;

    const byAdmin = await call({ method: 'DELETE', url, headers: admin.headers });
    expect(byAdmin.json()).toMatchObject({ status: 403, permission: 'operators.second-factor' });
    const own = await call({ method: 'DELETE', url, headers: lost.headers });
    expect(own.json()).toMatchObject({ status: 409, type: '/problems/own-second-factor' });

    const reset = await call({ method: 'DELETE', url, headers: other.headers });
    expect(reset.json()).toMatchObject({ id: lost.id, secondFactorEnabled: false });
    expect((await call({ method: 'GET', url: '/v1/auth/session', headers: lost.headers })).statusCode).toBe(401);
    const audit = await control.app.audit.list({
      filters: { action: 'operator.second-factor-reset', targetId: lost.id },
    });
    expect(audit.items).toHaveLength(1);
    expect(audit.items[0]).toMatchObject({ actorId: other.id, before: { secondFactorEnabled: true } });

    // Back to a session that can only enrol a new one; the old recovery codes are gone.
    const again = await login(lost.email);
    expect(again.statusCode).toBe(200);
    expect(again.json<OperatorSession>().scope).toBe('enrolment');
  });

  it('is not required of support, whose password alone signs in', async () => {
    const { email } = await newOperator('support');
    const res = await login(email);
    expect(res.json<OperatorSession>().scope).toBe('full');
    expect((await call({ method: 'GET', url: '/v1/tenants', headers: headersOf(res) })).statusCode).toBe(200);
  });
});
