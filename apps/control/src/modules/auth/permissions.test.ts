import { describe, expect, it } from 'vitest';
import { accessOf } from './access.ts';
import { PERMISSIONS, ROLE_PERMISSIONS, roleHas, type Permission } from './permissions.ts';

const all = Object.keys(PERMISSIONS) as Permission[];

describe('roles', () => {
  it("give the owner everything and the admin everything but managing owners and others' second factors", () => {
    expect([...ROLE_PERMISSIONS.owner].sort()).toEqual([...all].sort());
    expect(all.filter((p) => !roleHas('admin', p))).toEqual(['operators.owners', 'operators.second-factor']);
  });

  it('give every role every read, but read-only no secrets', () => {
    for (const p of all.filter((name) => name.endsWith('.read'))) {
      for (const role of ['support', 'billing'] as const) expect(roleHas(role, p)).toBe(true);
      expect(roleHas('read-only', p)).toBe(p !== 'secrets.read');
    }
  });

  it('let support and billing write only what their work needs', () => {
    const writes = (role: 'support' | 'billing' | 'read-only') =>
      [...ROLE_PERMISSIONS[role]].filter((p) => !p.endsWith('.read')).sort();
    expect(writes('support')).toEqual([
      'alerts.acknowledge',
      'crm.write',
      'deliveries.replay',
      'instances.command',
      'instances.password-reset',
      'instances.pause',
    ]);
    expect(writes('billing')).toEqual(['billing.write', 'crm.write']);
    expect(writes('read-only')).toEqual([]);
  });

  it('describe every permission in one line', () => {
    for (const [name, description] of Object.entries(PERMISSIONS)) {
      expect(name).toMatch(/^[a-z]+\.[a-z-]+$/);
      expect(description).not.toContain('\n');
    }
  });
});

describe('a route declaration', () => {
  const route = (url: string, config: object | undefined) => ({ method: 'GET', url, config }) as never;

  it('names a known permission, or is authenticated, or is a public /v1/auth/ route', () => {
    expect(accessOf(route('/v1/x', { permission: 'tenants.read' }))).toEqual({ permission: 'tenants.read' });
    expect(accessOf(route('/v1/x', { authenticated: true }))).toEqual({ authenticated: true });
    expect(accessOf(route('/v1/auth/login', { public: true }))).toEqual({ public: true });
  });

  it.each([
    [undefined, 'must declare exactly one of config.permission'],
    [{}, 'must declare exactly one of config.permission'],
    [{ permission: 'tenants.read', public: true }, 'must declare exactly one'],
    [{ permission: 'tenants.delete-all' }, 'unknown permission "tenants.delete-all"; add it to'],
  ])('stops the boot for %j', (config, message) => {
    expect(() => accessOf(route('/v1/x', config))).toThrow(message);
  });

  it('is public only under /v1/auth/', () => {
    expect(() => accessOf(route('/v1/tenants', { public: true }))).toThrow('only /v1/auth/ routes may be public');
  });
});
