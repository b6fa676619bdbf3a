import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { sql } from 'drizzle-orm';
import type { CreatedOperator } from '@mic/contracts';
import { ManualClock } from '@mic/platform';
import { eventually, startTestMailbox, type ReceivedMail, type TestMailbox } from '@mic/platform/testing';
import { mailText, signIn, startTestControl, type TestControl } from '../../testing.ts';

const clock = new ManualClock('2026-11-26T10:00:00Z');
const CONSOLE = 'https://console.example.com';
let control: TestControl;
let mailbox: TestMailbox;

beforeAll(async () => {
  mailbox = await startTestMailbox();
  control = await startTestControl(
    { ACCOUNT_SMTP_URL: mailbox.url, CONSOLE_URL: CONSOLE, PASSWORD_RESET_MAX_PER_IP: '4' },
    clock,
  );
});
afterAll(async () => {
  await control?.stop();
  await mailbox?.stop();
});

const PASSWORD = 'correct horse battery staple';
let seq = 0;

async function newOperator(locale: 'es' | 'en' = 'es') {
  const email = `forgetful${++seq}@example.com`;
  await control.app.operators.create(
    { email, name: `Forgetful ${seq}`, role: 'admin', password: PASSWORD, locale },
    { actor: { type: 'system', id: null, label: 'test' } },
  );
  return email;
}

let address = 0;
/** Each test asks from addresses of its own, so the per-address limit only bites where it is tested. */
const nextAddress = () => `10.9.0.${++address}`;

const forgot = (email: string, remoteAddress = nextAddress()) =>
  control.app.inject({ method: 'POST', url: '/v1/auth/password-reset/request', payload: { email }, remoteAddress });
const reset = (token: string, newPassword: string) =>
  control.app.inject({ method: 'POST', url: '/v1/auth/password-reset', payload: { token, newPassword } });
const session = (headers: Record<string, string>) =>
  control.app.inject({ method: 'GET', url: '/v1/auth/session', headers });

const mailsTo = (email: string) => mailbox.mails.filter((m) => m.to.includes(email));
const tokenIn = (mail: ReceivedMail) => {
  const match = /https:\/\/console\.example\.com\/#\/reset\?token=([A-Za-z0-9_-]+)/.exec(mailText(mail));
  if (!match) throw new Error(`no reset link in: ${mailText(mail)}`);
  return match[1]!;
};
const mailTo = (email: string, n = 1) => eventually(async () => mailsTo(email)[n - 1]);

/**
 * E-mails leave after the answer: to show that one was *not* sent, ask for another account's link
 * after it and wait for that one (sent later, on the same server).
 */
async function barrier(): Promise<void> {
  const email = await newOperator();
  await forgot(email);
  await mailTo(email);
}

describe('forgot password', () => {
  it('e-mails a link (in Spanish by default) that sets a new password once and ends every session', async () => {
    const email = await newOperator();
    const first = await signIn(control, email, PASSWORD);
    const second = await signIn(control, email, PASSWORD);

    const asked = await forgot(email);
    expect(asked.statusCode).toBe(202);
    const mail = await mailTo(email);
    const text = mailText(mail);
    expect(text).toContain('Abre este enlace para elegir una nueva');
    expect(text).toContain('caduca en 30 minutos');
    const token = tokenIn(mail);

    // Only a hash of the token is kept.
    const stored = await control.app.db.orm.execute(sql`select * from operator_password_resets`);
    expect(JSON.stringify(stored.rows)).not.toContain(token);

    const done = await reset(token, 'a brand new password');
    expect(done.statusCode).toBe(204);
    expect((await session(first)).statusCode).toBe(401);
    expect((await session(second)).statusCode).toBe(401);
    expect(
      (await control.app.inject({ method: 'POST', url: '/v1/auth/login', payload: { email, password: PASSWORD } }))
        .statusCode,
    ).toBe(401);
    await signIn(control, email, 'a brand new password');

    const again = await reset(token, 'yet another password');
    expect(again.json()).toMatchObject({ status: 400, type: '/problems/invalid-reset-token' });
    await signIn(control, email, 'a brand new password');

    const audit = await control.app.audit.list({ filters: { action: 'operator.*', actor: email } });
    const actions = audit.items.map((i) => i.action);
    expect(actions).toEqual(expect.arrayContaining(['operator.password-reset-request', 'operator.password-reset']));
    expect(JSON.stringify(audit.items)).not.toContain(token);
  });

  it('refuses a link past its 30 minutes, and a short password, and writes English for an English operator', async () => {
    const email = await newOperator('en');
    await forgot(email);
    const mail = await mailTo(email);
    expect(mailText(mail)).toContain('It works once and expires in 30 minutes');
    const token = tokenIn(mail);

    expect((await reset(token, 'short')).statusCode).toBe(400);
    clock.advance(30 * 60_000 + 1_000);
    expect((await reset(token, 'a brand new password')).json()).toMatchObject({
      status: 400,
      type: '/problems/invalid-reset-token',
    });
    await signIn(control, email, PASSWORD);
  });

  it('sends nothing for a second request within 60 s, and a new link (the old one dead) after it', async () => {
    const email = await newOperator();
    await forgot(email);
    const firstToken = tokenIn(await mailTo(email));

    clock.advance(30_000);
    expect((await forgot(email)).statusCode).toBe(202);
    await barrier();
    expect(mailsTo(email)).toHaveLength(1);

    clock.advance(31_000);
    await forgot(email);
    const secondToken = tokenIn(await mailTo(email, 2));
    expect(secondToken).not.toBe(firstToken);
    expect((await reset(firstToken, 'a brand new password')).statusCode).toBe(400);
    expect((await reset(secondToken, 'a brand new password')).statusCode).toBe(204);
  });

  it('answers an unknown address exactly like a known one, and e-mails nobody', async () => {
    const known = await newOperator();
    const answers = await Promise.all([forgot(known), forgot('nobody-here@example.com')]);
    expect(answers[1].statusCode).toBe(answers[0].statusCode);
    expect(answers[1].body).toBe(answers[0].body);
    await mailTo(known);
    await barrier();
    expect(mailbox.mails.filter((m) => m.to.includes('nobody-here@example.com'))).toEqual([]);
  });

  it('limits the requests of one client address', async () => {
    const from = nextAddress();
    const statuses: number[] = [];
    for (let i = 0; i < 6; i++) statuses.push((await forgot(`guess${i}@example.com`, from)).statusCode);
    expect(statuses).toEqual([202, 202, 202, 202, 429, 429]);
    const limited = await forgot('guess@example.com', from);
    expect(limited.json()).toMatchObject({ type: '/problems/too-many-password-reset-requests' });
    expect(Number(limited.headers['retry-after'])).toBeGreaterThan(0);
    expect((await forgot('guess@example.com')).statusCode).toBe(202);
    clock.advance(3_600_000);
    expect((await forgot('guess@example.com', from)).statusCode).toBe(202);
  });
});

describe('operator invitations', () => {
  const invite = async (headers: Record<string, string>, payload: Record<string, unknown>) =>
    control.app.inject({ method: 'POST', url: '/v1/operators', headers, payload: { role: 'support', ...payload } });

  it('e-mails a new operator a link to choose their password, in their language, and shows no password', async () => {
    const headers = await signIn(control, await newOperator(), PASSWORD);
    const email = 'invited1@example.com';
    const res = await invite(headers, { email, name: 'Invited One', locale: 'en', invite: true });
    expect(res.statusCode, res.body).toBe(201);
    const body = res.json<CreatedOperator>();
    expect(body.generatedPassword).toBeUndefined();
    expect(body.invitation).toEqual({
      to: email,
      expiresAt: new Date(clock.now().getTime() + 72 * 3_600_000).toISOString(),
      emailed: true,
    });
    const text = mailText(await mailTo(email));
    expect(text).toContain('has created a MIC operator account for you (invited1@example.com)');
    const token = tokenIn(await mailTo(email));

    // No password works until they choose theirs; the link works once.
    expect(
      (await control.app.inject({ method: 'POST', url: '/v1/auth/login', payload: { email, password: PASSWORD } }))
        .statusCode,
    ).toBe(401);
    expect((await reset(token, 'my very own passphrase')).statusCode).toBe(204);
    await signIn(control, email, 'my very own passphrase');
    expect((await reset(token, 'another passphrase here')).statusCode).toBe(400);
  });

  it('refuses an invitation with a password, and a link past OPERATOR_INVITE_TTL (72 h)', async () => {
    const headers = await signIn(control, await newOperator(), PASSWORD);
    const both = await invite(headers, {
      email: 'invited2@example.com',
      name: 'Two',
      invite: true,
      password: PASSWORD,
    });
    expect(both.statusCode).toBe(400);
    expect(both.json<{ errors: { field: string }[] }>().errors[0]!.field).toBe('body.invite');

    const email = 'invited3@example.com';
    expect((await invite(headers, { email, name: 'Tres', invite: true })).statusCode).toBe(201);
    const mail = await mailTo(email);
    expect(mailText(mail)).toContain('te ha creado una cuenta de operador de MIC');
    clock.advance(72 * 3_600_000 + 1_000);
    expect((await reset(tokenIn(mail), 'too late a passphrase')).statusCode).toBe(400);
  });
});
