import { randomBytes } from 'node:crypto';
import type { Clock } from '@mic/platform';
import { startTestPlane, type ReceivedMail, type TestPlane } from '@mic/platform/testing';
import { loadControlConfig } from './config.ts';
import { CONTROL_MIGRATIONS, startControl } from './server.ts';
import { SESSION_COOKIE, type Role } from './modules/auth/index.ts';

/** What a signed-in operator sends: the session cookie and the session's CSRF token. */
export interface OperatorHeaders {
  cookie: string;
  'x-csrf-token': string;
  [header: string]: string;
}

export type TestControl = TestPlane & {
  /** Creates an operator with `role` (random email and password) and signs them in. */
  loginAs(role: Role): Promise<OperatorHeaders>;
  /** An owner's headers, for tests that call `/v1/` routes: `headers: control.operator`. */
  operator: OperatorHeaders;
};

/** A control plane on a test database of its own; the engine address points nowhere unless given. */
export async function startTestControl(env: Record<string, string> = {}, clock?: Clock): Promise<TestControl> {
  const plane = await startTestPlane({
    prefix: 'CONTROL',
    migrations: CONTROL_MIGRATIONS,
    loadConfig: loadControlConfig,
    start: startControl,
    ...(clock ? { clock } : {}),
    env: { ENGINE_URL: 'http://127.0.0.1:9', ...env },
  });
  const loginAs = async (role: Role): Promise<OperatorHeaders> => {
    const email = `${role}-${randomBytes(6).toString('hex')}@test.invalid`;
    const password = randomBytes(18).toString('base64url');
    await plane.app.operators.create(
      { email, name: `Test ${role}`, role, password },
      { actor: { type: 'system', id: null, label: 'test' } },
    );
    return signIn(plane, email, password);
  };
  try {
    return Object.assign(plane, { loginAs, operator: await loginAs('owner') });
  } catch (error) {
    await plane.stop();
    throw error;
  }
}

/** Signs in through the API and returns the headers the session needs. */
export async function signIn(plane: TestPlane, email: string, password: string): Promise<OperatorHeaders> {
  const res = await plane.app.inject({ method: 'POST', url: '/v1/auth/login', payload: { email, password } });
  if (res.statusCode !== 200) throw new Error(`login of ${email}: ${res.statusCode} ${res.body}`);
  const cookie = res.cookies.find((c) => c.name === SESSION_COOKIE);
  if (!cookie) throw new Error(`login of ${email} set no ${SESSION_COOKIE} cookie`);
  return { cookie: `${SESSION_COOKIE}=${cookie.value}`, 'x-csrf-token': res.json<{ csrfToken: string }>().csrfToken };
}

/** The text of a received e-mail as its reader sees it (nodemailer writes non-ASCII or long lines quoted-printable). */
export function mailText(mail: ReceivedMail): string {
  const split = mail.raw.indexOf('\r\n\r\n');
  const headers = mail.raw.slice(0, split);
  const body = mail.raw.slice(split + 4);
  if (/content-transfer-encoding: quoted-printable/i.test(headers)) {
    const bytes = body
      .replace(/=\r?\n/g, '')
      .replace(/=([0-9A-F]{2})/g, (_, hex: string) => String.fromCharCode(parseInt(hex, 16)));
    return Buffer.from(bytes, 'latin1').toString('utf8');
  }
  if (/content-transfer-encoding: base64/i.test(headers)) return Buffer.from(body, 'base64').toString('utf8');
  return body;
}
