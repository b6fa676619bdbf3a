import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { sql } from 'drizzle-orm';
import { ManualClock } from '@mic/platform';
import { signIn, startTestControl, type OperatorHeaders, type TestControl } from '../../testing.ts';

const clock = new ManualClock('2026-11-26T10:00:00Z');
let control: TestControl;

beforeAll(async () => {
  control = await startTestControl(
    { OPERATOR_SESSION_IDLE: '1h', OPERATOR_SESSION_MAX: '3h', LOGIN_FAILURE_WINDOW: '1m' },
    clock,
  );
});
afterAll(() => control?.stop());

const PASSWORD = 'correct horse battery staple';
let seq = 0;

async function newOperator(role: 'owner' | 'admin' | 'support' = 'support', password = PASSWORD) {
  const email = `person${++seq}@example.com`;
  const { operator } = await control.app.operators.create(
    { email, name: `Person ${seq}`, role, password },
    { actor: { type: 'system', id: null, label: 'test' } },
  );
  return { id: operator.id, email };
}

const login = (email: string, password: string, remoteAddress = '10.0.0.1') =>
  control.app.inject({ method: 'POST', url: '/v1/auth/login', payload: { email, password }, remoteAddress });
const session = (headers: Record<string, string>) =>
  control.app.inject({ method: 'GET', url: '/v1/auth/session', headers });
const call = (method: 'POST' | 'PATCH', url: string, headers: OperatorHeaders, payload: object) =>
  control.app.inject({ method, url, headers, payload });

function headersOf(res: Awaited<ReturnType<typeof login>>): OperatorHeaders {
  const cookie = res.cookies.find((c) => c.name === 'mic_session')!;
  return { cookie: `mic_session=${cookie.value}`, 'x-csrf-token': res.json<{ csrfToken: string }>().csrfToken };
}

describe('signing in', () => {
  it('sets an HttpOnly, SameSite=Strict session cookie and returns the CSRF token and permissions', async () => {
    const { email } = await newOperator('support');
    const res = await login(email.toUpperCase(), PASSWORD);
    expect(res.statusCode).toBe(200);
    expect(res.headers['cache-control']).toBe('no-store');
    const cookie = res.cookies.find((c) => c.name === 'mic_session')!;
    expect(cookie).toMatchObject({ httpOnly: true, sameSite: 'Strict', path: '/' });
    expect(cookie.secure).toBeFalsy();
    const body = res.json<{ operator: { email: string; role: string }; permissions: string[]; csrfToken: string }>();
    expect(body.operator).toMatchObject({ email, role: 'support' });
    expect(body.permissions).toContain('instances.pause');
    expect(body.permissions).not.toContain('operators.manage');
    expect(body.csrfToken.length).toBeGreaterThan(30);
    expect(JSON.stringify(body)).not.toContain('hash');

    // The database keeps a hash of the session token, never the token.
    const rows = await control.app.db.orm.execute<{ id: string }>(sql`select id from operator_sessions`);
    expect(rows.rows.map((r) => r.id)).not.toContain(cookie.value);
    expect((await session(headersOf(res))).json()).toMatchObject({ operator: { email } });
  });

  it('answers a wrong password, an unknown email and a disabled account alike', async () => {
    const { email, id } = await newOperator();
    const disabled = await newOperator();
    await control.app.operators.update(
      disabled.id,
      { disabled: true },
      { actor: { type: 'system', id: null, label: 't' } },
    );
    const answers = [
      await login(email, 'wrong password!!', '10.0.1.1'),
      await login('nobody@example.com', PASSWORD, '10.0.1.2'),
      await login(disabled.email, PASSWORD, '10.0.1.3'),
    ].map((r) => ({ status: r.statusCode, body: { ...r.json<object>(), instance: undefined } }));
    expect(answers[0]).toEqual({
      status: 401,
      body: { type: '/problems/invalid-credentials', title: expect.any(String) as string, status: 401 },
    });
    expect(answers[1]).toEqual(answers[0]);
    expect(answers[2]).toEqual(answers[0]);

    // Audited, without the password.
    const audit = await control.app.audit.list({ filters: { action: 'operator.login-failed', targetId: id } });
    expect(audit.items[0]).toMatchObject({ actorLabel: email, after: { reason: 'wrong password' }, ip: '10.0.1.1' });
    expect(JSON.stringify(audit.items)).not.toContain('wrong password!!');
  });

  it('rate-limits 20 wrong passwords in a minute, refuses the right one meanwhile, and lets it in once the window passes', async () => {
    const { email } = await newOperator();
    const statuses: number[] = [];
    let limited: Awaited<ReturnType<typeof login>> | undefined;
    for (let i = 0; i < 20; i++) {
      const res = await login(email, `wrong password ${i}`, '10.0.2.1');
      statuses.push(res.statusCode);
      if (res.statusCode === 429) limited = res;
      clock.advance(1_000);
    }
    expect(statuses.slice(0, 5)).toEqual([401, 401, 401, 401, 401]);
    expect(statuses.slice(5)).toEqual(Array(15).fill(429));
    expect(limited!.json()).toMatchObject({ type: '/problems/too-many-login-attempts', status: 429 });
    const retryAfter = Number(limited!.headers['retry-after']);
    expect(retryAfter).toBeGreaterThan(0);
    expect(retryAfter).toBeLessThanOrEqual(60);

    const right = await login(email, PASSWORD, '10.0.2.2');
    expect(right.statusCode).toBe(429);
    expect(Number(right.headers['retry-after'])).toBeGreaterThan(0);

    clock.advance(Number(right.headers['retry-after']) * 1000);
    const after = await login(email, PASSWORD, '10.0.2.2');
    expect(after.statusCode).toBe(200);
    // A success resets the account's count: four more mistakes are still answered 401.
    for (let i = 0; i < 4; i++) expect((await login(email, 'wrong again!!', '10.0.2.3')).statusCode).toBe(401);
  });

  it('rate-limits an address that tries many accounts', async () => {
    for (let i = 0; i < 20; i++) expect((await login(`guess${i}@example.com`, 'x', '10.0.3.1')).statusCode).toBe(401);
    const { email } = await newOperator();
    expect((await login(email, PASSWORD, '10.0.3.1')).statusCode).toBe(429);
    expect((await login(email, PASSWORD, '10.0.3.2')).statusCode).toBe(200);
    clock.advance(61_000);
  });
});

describe('sessions', () => {
  it('end after the idle timeout, move with use, and end at the absolute maximum anyway', async () => {
    const { email } = await newOperator();
    const idle = headersOf(await login(email, PASSWORD));
    const used = headersOf(await login(email, PASSWORD));
    for (let i = 0; i < 5; i++) {
      clock.advance(50 * 60_000); // 50 min, below the 1 h idle timeout
      const res = await session(used);
      if (i < 3) expect(res.statusCode).toBe(200);
      else expect(res.statusCode).toBe(401); // past 3 h since sign-in
      if (i === 1) expect((await session(idle)).statusCode).toBe(401);
    }
  });

  it('end at logout, and a logged-out cookie is refused', async () => {
    const { email } = await newOperator();
    const headers = headersOf(await login(email, PASSWORD));
    const out = await control.app.inject({ method: 'POST', url: '/v1/auth/logout', headers });
    expect(out.statusCode).toBe(204);
    expect(out.cookies.find((c) => c.name === 'mic_session')?.value).toBe('');
    expect((await session(headers)).statusCode).toBe(401);
  });

  it('a password change needs the current one, refuses a short one or the email, and ends the other sessions', async () => {
    const { email } = await newOperator();
    const mine = headersOf(await login(email, PASSWORD));
    const other = headersOf(await login(email, PASSWORD));
    const change = (payload: object) => call('POST', '/v1/auth/password', mine, payload);

    expect(
      (await change({ currentPassword: 'not it at all', newPassword: 'a new long password' })).json(),
    ).toMatchObject({ status: 400, errors: [{ field: 'body.currentPassword' }] });
    expect((await change({ currentPassword: PASSWORD, newPassword: 'short' })).statusCode).toBe(400);
    expect((await change({ currentPassword: PASSWORD, newPassword: email })).json()).toMatchObject({
      errors: [{ field: 'body.newPassword', message: 'must not be the email address' }],
    });
    expect((await change({ currentPassword: PASSWORD, newPassword: 'a new long password' })).statusCode).toBe(204);

    expect((await session(mine)).statusCode).toBe(200);
    expect((await session(other)).statusCode).toBe(401);
    expect((await login(email, PASSWORD)).statusCode).toBe(401);
    expect((await login(email, 'a new long password')).statusCode).toBe(200);
  });
});

describe('operator accounts', () => {
  it('are created with a given or a generated password (shown once), never twice for one email', async () => {
    const owner = await control.loginAs('owner');
    const given = await call('POST', '/v1/operators', owner, {
      email: 'Given@Example.com',
      name: 'Given',
      role: 'billing',
      password: 'a long enough password',
    });
    expect(given.statusCode).toBe(201);
    expect(given.json()).toEqual({
      operator: expect.objectContaining({ email: 'given@example.com', role: 'billing' }) as object,
    });
    expect(given.json<{ operator: { id: string } }>().operator.id).toMatch(/^op_[0-9a-f]{32}$/);

    const generated = await call('POST', '/v1/operators', owner, {
      email: 'gen@example.com',
      name: 'Gen',
      role: 'support',
    });
    const { generatedPassword } = generated.json<{ generatedPassword: string }>();
    expect(generatedPassword.length).toBeGreaterThanOrEqual(24);
    expect((await login('gen@example.com', generatedPassword)).statusCode).toBe(200);

    const again = await call('POST', '/v1/operators', owner, {
      email: 'gen@example.com',
      name: 'Gen',
      role: 'support',
    });
    expect(again.json()).toMatchObject({ status: 409, type: '/problems/operator-exists' });
    // No SMTP server here: an invitation could not reach them, so none is made (nor the operator).
    const invited = await call('POST', '/v1/operators', owner, {
      email: 'invited@example.com',
      name: 'Invited',
      role: 'support',
      invite: true,
    });
    expect(invited.json()).toMatchObject({ status: 409, type: '/problems/account-mail-not-configured' });
    const list = await control.app.inject({ method: 'GET', url: '/v1/operators', headers: owner });
    expect(list.body).toContain('gen@example.com');
    expect(list.body).not.toContain('argon2');
    expect(list.body).not.toContain('invited@example.com');
  });

  it('an admin manages everyone but owners; an owner can; the last active owner stays', async () => {
    const admin = await control.loginAs('admin');
    const owner = await newOperator('owner');
    const support = await newOperator('support');

    const makeOwner = await call('POST', '/v1/operators', admin, { email: 'o2@example.com', name: 'O', role: 'owner' });
    expect(makeOwner.json()).toMatchObject({
      status: 403,
      type: '/problems/forbidden',
      permission: 'operators.owners',
    });
    const promote = await call('PATCH', `/v1/operators/${support.id}`, admin, { role: 'owner' });
    expect(promote.statusCode).toBe(403);
    const disableOwner = await call('PATCH', `/v1/operators/${owner.id}`, admin, { disabled: true });
    expect(disableOwner.statusCode).toBe(403);
    const rename = await call('PATCH', `/v1/operators/${support.id}`, admin, { name: 'Renamed', role: 'billing' });
    expect(rename.json()).toMatchObject({ name: 'Renamed', role: 'billing' });

    // Disabling signs the operator out.
    const supportSession = headersOf(await login(support.email, PASSWORD));
    const disabled = await call('PATCH', `/v1/operators/${support.id}`, admin, { disabled: true });
    expect(disabled.json<{ disabledAt: string | null }>().disabledAt).not.toBeNull();
    expect((await session(supportSession)).statusCode).toBe(401);

    // Every other owner can be demoted; the last active one cannot be demoted or disabled.
    const me = await control.loginAs('owner');
    const myId = (await session(me)).json<{ operator: { id: string } }>().operator.id;
    for (const o of await control.app.operators.list()) {
      if (o.role !== 'owner' || o.disabledAt || o.id === myId) continue;
      expect((await call('PATCH', `/v1/operators/${o.id}`, me, { role: 'admin' })).statusCode).toBe(200);
    }
    for (const patch of [{ role: 'admin' }, { disabled: true }]) {
      const res = await call('PATCH', `/v1/operators/${myId}`, me, patch);
      expect(res.json()).toMatchObject({ status: 409, type: '/problems/last-owner' });
    }
    const audit = await control.app.audit.list({ filters: { action: 'operator.*' } });
    expect(audit.items.map((i) => i.action)).toEqual(
      expect.arrayContaining(['operator.create', 'operator.update', 'operator.disable', 'operator.login']),
    );
  });

  it('signs the test helper in like anyone else', async () => {
    const { email } = await newOperator('admin');
    const headers = await signIn(control, email, PASSWORD);
    expect((await session(headers)).statusCode).toBe(200);
  });
});
