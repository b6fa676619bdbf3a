import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { TestPlane } from '@mic/platform/testing';
import { startTestControl } from '../apps/control/src/testing.ts';
import { startTestEngine } from '../apps/engine/src/testing.ts';

const planes: Record<string, TestPlane> = {};

beforeAll(async () => {
  planes.control = await startTestControl();
  planes.engine = await startTestEngine();
});
afterAll(async () => {
  await planes.control?.stop();
  await planes.engine?.stop();
});

const SAMPLE_ID = '0190a4b0-0000-7000-8000-000000000000';

function internalRoutes(plane: TestPlane) {
  return plane.app.registeredRoutes
    .filter((r) => r.url.startsWith('/internal/'))
    .map((r) => ({ method: r.method, url: r.url.replace(/:[a-zA-Z]+/g, SAMPLE_ID) }));
}

describe.each(['control', 'engine'])('every internal route of %s', (name) => {
  it('has internal routes to walk', () => {
    expect(internalRoutes(planes[name]!).length).toBeGreaterThanOrEqual(5);
  });

  it.each([
    ['no token', {}],
    ['a malformed header', { authorization: 'Basic dXNlcjpwYXNz' }],
    ['a wrong token', { authorization: 'Bearer mic_st_wrongwrongwrongwrongwrongwrongwrongwrongwro' }],
  ])('answers 401 to %s', async (_what, headers: Record<string, string>) => {
    const plane = planes[name]!;
    for (const route of internalRoutes(plane)) {
      const hasBody = route.method !== 'GET' && route.method !== 'DELETE';
      const res = await plane.app.inject({
        method: route.method as 'GET',
        url: route.url,
        headers,
        ...(hasBody ? { payload: {} } : {}),
      });
      expect({ route, status: res.statusCode }).toEqual({ route, status: 401 });
      expect(res.json()).toMatchObject({ type: '/problems/unauthorized', status: 401 });
      expect(res.headers['www-authenticate']).toContain('Bearer');
    }
  });

  it('refuses a revoked token and an expired one, and accepts a fresh one', async () => {
    const plane = planes[name]!;
    const system = (authorization: string) =>
      plane.app.inject({ method: 'GET', url: '/internal/v1/system', headers: { authorization } });
    const issued = await plane.app.inject({
      method: 'POST',
      url: '/internal/v1/service-tokens',
      headers: plane.auth,
      payload: { caller: 'ops-tool' },
    });
    expect(issued.statusCode).toBe(201);
    const { id, token, last4 } = issued.json<{ id: string; token: string; last4: string }>();
    expect(token.endsWith(last4)).toBe(true);
    expect((await system(`Bearer ${token}`)).statusCode).toBe(200);

    // The list never shows a token's value.
    const list = await plane.app.inject({ method: 'GET', url: '/internal/v1/service-tokens', headers: plane.auth });
    expect(list.body).not.toContain(token);

    // Rotation: a new token retires the one that asked for it, after a grace of 0 s.
    const rotated = await plane.app.inject({
      method: 'POST',
      url: '/internal/v1/service-tokens',
      headers: { authorization: `Bearer ${token}` },
      payload: { caller: 'ops-tool', retireCurrent: true, graceSeconds: 0 },
    });
    const fresh = rotated.json<{ token: string; id: string }>().token;
    expect((await system(`Bearer ${token}`)).statusCode).toBe(401);
    expect((await system(`Bearer ${fresh}`)).statusCode).toBe(200);

    const revoke = await plane.app.inject({
      method: 'DELETE',
      url: `/internal/v1/service-tokens/${rotated.json<{ id: string }>().id}`,
      headers: plane.auth,
    });
    expect(revoke.statusCode).toBe(204);
    expect((await system(`Bearer ${fresh}`)).statusCode).toBe(401);
    expect(id).not.toBe(rotated.json<{ id: string }>().id);
  });

  it('leaves health unauthenticated', async () => {
    const plane = planes[name]!;
    expect((await plane.app.inject({ method: 'GET', url: '/health/api' })).statusCode).toBe(200);
    expect((await plane.app.inject({ method: 'GET', url: '/livez' })).statusCode).toBe(200);
  });
});
