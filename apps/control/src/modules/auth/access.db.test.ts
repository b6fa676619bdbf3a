import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startTestControl, type OperatorHeaders, type TestControl } from '../../testing.ts';
import { ROLES, roleHas, type Role } from './permissions.ts';
import type { RouteAccess } from './access.ts';

/**
 * Every `/v1/` route × every role, from what the routes declared when they were registered: new
 * modules' routes are walked without a change here.
 */
let control: TestControl;
const sessions = {} as Record<Role, OperatorHeaders>;

beforeAll(async () => {
  control = await startTestControl();
  for (const role of ROLES) sessions[role] = role === 'owner' ? control.operator : await control.loginAs(role);
});
afterAll(() => control?.stop());

const SAMPLE = 'x0190a4b0';
const UNSAFE = new Set(['POST', 'PUT', 'PATCH', 'DELETE']);

function call(route: RouteAccess, headers: Record<string, string>) {
  const url = route.url.replace(/:[A-Za-z]+/g, SAMPLE).replace('*', `${SAMPLE}/${SAMPLE}`);
  return control.app.inject({
    method: route.method as 'GET',
    url,
    headers,
    ...(UNSAFE.has(route.method) ? { payload: {} } : {}),
  });
}

const guarded = () => control.app.routeAccess.filter((r) => !('public' in r.access));

describe('access to the operator API', () => {
  it('knows every /v1/ route with what it requires', () => {
    const v1 = control.app.registeredRoutes.filter((r) => r.url.startsWith('/v1/'));
    expect(control.app.routeAccess.map((r) => `${r.method} ${r.url}`).sort()).toEqual(
      v1.map((r) => `${r.method} ${r.url}`).sort(),
    );
    expect(control.app.routeAccess).toContainEqual({
      method: 'GET',
      url: '/v1/secrets',
      access: { permission: 'secrets.read' },
    });
  });

  it.each(ROLES)('gives %s exactly what its role allows, on every route', async (role) => {
    for (const route of guarded()) {
      // Signing out ends the session: that route gets a session of its own.
      const headers = route.url === '/v1/auth/logout' ? await control.loginAs(role) : sessions[role];
      const res = await call(route, headers);
      const needed = 'permission' in route.access ? route.access.permission : undefined;
      const allowed = !needed || roleHas(role, needed);
      const seen = { route: `${route.method} ${route.url}`, role, status: res.statusCode };
      if (allowed) {
        expect(seen.status === 401 || seen.status === 403 ? { ...seen, body: res.body } : seen).toEqual(seen);
      } else {
        expect(seen).toEqual({ ...seen, status: 403 });
        expect(res.json()).toMatchObject({ type: '/problems/forbidden', permission: needed });
      }
    }
  });

  it('answers 401 to every guarded route without a session, or with an unknown one', async () => {
    for (const route of guarded()) {
      for (const headers of [{}, { cookie: 'mic_session=not-a-session', 'x-csrf-token': 'x' }]) {
        const res = await call(route, headers);
        expect({ route: route.url, status: res.statusCode }).toEqual({ route: route.url, status: 401 });
        expect(res.json()).toMatchObject({ type: '/problems/unauthorized' });
      }
    }
  });

  it('answers 403 to every unsafe request whose CSRF token is missing or wrong', async () => {
    const unsafe = guarded().filter((r) => UNSAFE.has(r.method));
    expect(unsafe.length).toBeGreaterThan(3);
    for (const route of unsafe) {
      for (const csrf of [undefined, 'wrong']) {
        const res = await call(route, {
          cookie: control.operator.cookie,
          ...(csrf ? { 'x-csrf-token': csrf } : {}),
        });
        expect({ route: route.url, status: res.statusCode }).toEqual({ route: route.url, status: 403 });
        expect(res.json()).toMatchObject({ type: '/problems/csrf' });
      }
    }
  });

  it('leaves health, metrics and the docs open, and /internal/ to service tokens', async () => {
    for (const url of ['/health/api', '/livez', '/metrics', '/docs/json']) {
      expect((await control.app.inject({ method: 'GET', url })).statusCode).toBe(200);
    }
    const internal = await control.app.inject({ method: 'GET', url: '/internal/v1/system', headers: control.operator });
    expect(internal.statusCode).toBe(401);
  });
});
