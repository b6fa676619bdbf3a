import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { ConfigSnapshot, Instance, Tenant } from '@mic/contracts';
import { startTestControl, type TestControl } from '../../testing.ts';

let control: TestControl;
let strict: TestControl;

beforeAll(async () => {
  control = await startTestControl({ INSTANCE_URL_ALLOW_PRIVATE: 'true' });
  strict = await startTestControl();
});
afterAll(async () => {
  await control?.stop();
  await strict?.stop();
});

const api = (plane: TestControl, method: 'GET' | 'POST' | 'PATCH' | 'PUT' | 'DELETE', url: string, payload?: object) =>
  plane.app.inject({ method, url, headers: plane.operator, ...(payload ? { payload } : {}) });

const snapshot = async (headers: Record<string, string> = {}) =>
  control.app.inject({ method: 'GET', url: '/internal/v1/config/snapshot', headers: { ...control.auth, ...headers } });

async function tenantWithInstance(name: string) {
  const tenant = (await api(control, 'POST', '/v1/tenants', { name })).json<Tenant>();
  const created = await api(control, 'POST', `/v1/tenants/${tenant.id}/instances`, {
    name: `${name} main`,
    webhookUrl: 'http://127.0.0.1:9/hooks',
    controlUrl: 'http://127.0.0.1:9/control',
  });
  expect(created.statusCode).toBe(201);
  return { tenant, instance: created.json<{ instance: Instance }>().instance };
}

describe('tenants', () => {
  it('creates a tenant with default modules and limits, and changes them', async () => {
    const res = await api(control, 'POST', '/v1/tenants', { name: 'Ferretería Díaz', limits: { sendsPerSecond: 20 } });
    expect(res.statusCode).toBe(201);
    const tenant = res.json<Tenant>();
    expect(tenant).toMatchObject({
      id: expect.stringMatching(/^ten_[0-9a-f]{32}$/) as string,
      status: 'active',
      modules: { whatsapp: true, messenger: true, instagram: true, marketing: false, publishing: false },
      limits: { sendsPerSecond: 20, messagesPerMonth: null },
    });
    const patched = await api(control, 'PATCH', `/v1/tenants/${tenant.id}`, { modules: { marketing: true } });
    expect(patched.json<Tenant>().modules).toMatchObject({ marketing: true, whatsapp: true });
    expect(await control.app.flags.isEnabled('tenant.module.marketing', tenant.id)).toBe(true);
    expect(await control.app.flags.isEnabled('tenant.module.publishing', tenant.id)).toBe(false);
  });

  it('answers a clear problem for an unknown tenant and for a bad body', async () => {
    const missing = await api(control, 'GET', '/v1/tenants/ten_nothere');
    expect(missing.statusCode).toBe(404);
    expect(missing.json()).toMatchObject({ type: '/problems/not-found' });
    const bad = await api(control, 'POST', '/v1/tenants', { name: '', surprise: 1 });
    expect(bad.statusCode).toBe(400);
    expect(bad.headers['content-type']).toContain('application/problem+json');
  });
});

describe('instances', () => {
  it('creates an instance and says why its credentials are missing while the engine is down', async () => {
    const tenant = (await api(control, 'POST', '/v1/tenants', { name: 'Sin motor' })).json<Tenant>();
    const res = await api(control, 'POST', `/v1/tenants/${tenant.id}/instances`, {
      name: 'main',
      webhookUrl: 'http://127.0.0.1:9/hooks',
    });
    expect(res.statusCode).toBe(201);
    expect(res.headers['cache-control']).toBe('no-store');
    expect(res.json()).toMatchObject({
      instance: { tenantId: tenant.id, state: 'active', kind: 'nexus' },
      credentials: null,
      credentialsError: expect.stringContaining('/credentials') as string,
    });
  });

  it('refuses instance URLs into private networks unless configured (SSRF)', async () => {
    const tenant = (await api(strict, 'POST', '/v1/tenants', { name: 'SSRF' })).json<Tenant>();
    for (const webhookUrl of ['http://127.0.0.1:8080/hooks', 'http://169.254.169.254/latest', 'http://[::1]/x']) {
      const res = await api(strict, 'POST', `/v1/tenants/${tenant.id}/instances`, { name: 'x', webhookUrl });
      expect(res.statusCode).toBe(400);
      expect(res.json()).toMatchObject({
        errors: [{ field: 'body.webhookUrl', message: expect.stringContaining('private') as string }],
      });
    }
    expect((await api(strict, 'GET', `/v1/instances?tenantId=${tenant.id}`)).json()).toEqual([]);
  });

  it('pauses and resumes an instance, and a tenant pause holds every instance of it', async () => {
    const { tenant, instance } = await tenantWithInstance('Pausas');
    const second = (
      await api(control, 'POST', `/v1/tenants/${tenant.id}/instances`, {
        name: 'second',
        webhookUrl: 'http://127.0.0.1:9/b',
      })
    ).json<{ instance: Instance }>().instance;

    const paused = await api(control, 'POST', `/v1/instances/${instance.id}/pause`, { reason: 'maintenance' });
    expect(paused.json<Instance>()).toMatchObject({ state: 'paused', stateReason: 'maintenance' });
    const again = await api(control, 'POST', `/v1/instances/${instance.id}/pause`, { reason: 'twice' });
    expect(again.json<Instance>().stateReason).toBe('maintenance');
    expect((await api(control, 'POST', `/v1/instances/${instance.id}/pause`, {})).statusCode).toBe(400);

    const held = await api(control, 'POST', `/v1/tenants/${tenant.id}/pause`, { reason: 'dunning' });
    expect(held.json<{ instances: Instance[] }>().instances.map((i) => i.id)).toEqual([second.id]);
    const refused = await api(control, 'POST', `/v1/instances/${second.id}/resume`, { reason: 'try' });
    expect(refused.statusCode).toBe(409);
    await api(control, 'POST', `/v1/tenants/${tenant.id}/resume`, { reason: 'paid' });
    const states = (await api(control, 'GET', `/v1/instances?tenantId=${tenant.id}`)).json<Instance[]>();
    // The tenant resume brings back what the tenant pause held; the instance paused on its own stays paused.
    expect(Object.fromEntries(states.map((i) => [i.id, i.state]))).toEqual({
      [instance.id]: 'paused',
      [second.id]: 'active',
    });

    const audit = await api(control, 'GET', `/v1/audit?action=instance.*`);
    const actions = audit
      .json<{ items: { action: string; targetId: string }[] }>()
      .items.filter((r) => [instance.id, second.id].includes(r.targetId))
      .map((r) => r.action);
    expect(actions.sort()).toEqual(
      ['instance.create', 'instance.create', 'instance.pause', 'instance.pause', 'instance.resume'].sort(),
    );
    expect(await control.app.audit.verify()).toMatchObject({ ok: true });
  });

  it('keeps the hub instance, tenant zero, whose addresses are not editable', async () => {
    const hub = await api(control, 'GET', '/v1/instances/ins_hub');
    expect(hub.json<Instance>()).toMatchObject({ kind: 'hub', tenantId: 'ten_hub', webhookUrl: null });
    const edit = await api(control, 'PATCH', '/v1/instances/ins_hub', { webhookUrl: 'https://example.com/x' });
    expect(edit.statusCode).toBe(409);
  });
});

describe('channels', () => {
  it('refuses a channel while the engine cannot store its token, and keeps nothing', async () => {
    const { instance } = await tenantWithInstance('Canales');
    const res = await api(control, 'POST', `/v1/instances/${instance.id}/channels`, {
      platform: 'whatsapp',
      channelId: '1065000001',
      wabaId: '2000001',
      accessToken: 'EAAG-secret-token-value',
    });
    expect(res.statusCode).toBe(503);
    expect(res.body).not.toContain('EAAG-secret-token-value');
    expect((await api(control, 'GET', `/v1/channels?instanceId=${instance.id}`)).json()).toEqual([]);
  });

  it('needs the business account of a WhatsApp number and the linked page of an Instagram account', async () => {
    const { instance } = await tenantWithInstance('Faltan ids');
    const whatsapp = await api(control, 'POST', `/v1/instances/${instance.id}/channels`, {
      platform: 'whatsapp',
      channelId: '1065000002',
      accessToken: 'EAAG-another-token',
    });
    expect(whatsapp.json()).toMatchObject({ status: 400, errors: [{ field: 'body.wabaId' }] });
    const instagram = await api(control, 'POST', `/v1/instances/${instance.id}/channels`, {
      platform: 'instagram',
      channelId: '1784000001',
      accessToken: 'EAAG-another-token',
    });
    expect(instagram.json()).toMatchObject({ status: 400, errors: [{ field: 'body.pageId' }] });
  });
});

describe('config snapshot', () => {
  it('raises its version with every change, answers 304 to the current ETag, and never carries a secret', async () => {
    const first = await snapshot();
    expect(first.statusCode).toBe(200);
    const etag = first.headers.etag as string;
    expect(etag).toBe(`"v${first.json<ConfigSnapshot>().version}"`);
    expect((await snapshot({ 'if-none-match': etag })).statusCode).toBe(304);

    const { instance } = await tenantWithInstance('Snapshot');
    const second = await snapshot({ 'if-none-match': etag });
    expect(second.statusCode).toBe(200);
    const body = second.json<ConfigSnapshot>();
    expect(body.version).toBeGreaterThan(first.json<ConfigSnapshot>().version);
    expect(body.instances.find((i) => i.id === instance.id)).toMatchObject({
      state: 'active',
      kind: 'nexus',
      webhookUrl: 'http://127.0.0.1:9/hooks',
    });
    expect(body.instances.find((i) => i.id === 'ins_hub')).toMatchObject({ kind: 'hub', webhookUrl: null });
    expect(JSON.stringify(body)).not.toMatch(/token|secret|password/i);
  });

  it('carries global flags; an unknown flag is a 404 problem', async () => {
    const off = await api(control, 'PUT', '/v1/flags/engine.enabled', { enabled: false });
    expect(off.json()).toMatchObject({ key: 'engine.enabled', enabled: false });
    expect((await snapshot()).json<ConfigSnapshot>().flags).toMatchObject({ 'engine.enabled': false });
    expect(await control.app.flags.isEnabled('engine.enabled')).toBe(false);
    await api(control, 'PUT', '/v1/flags/engine.enabled', { enabled: true });
    expect(await control.app.flags.isEnabled('engine.enabled')).toBe(true);
    expect((await api(control, 'PUT', '/v1/flags/engine.turbo', { enabled: true })).statusCode).toBe(404);
    const flags = (await api(control, 'GET', '/v1/flags')).json<{ key: string }[]>().map((f) => f.key);
    expect(flags).toContain('module.marketing.enabled');
  });

  it('moves an instance endpoint revision when its webhook URL changes or the operator re-enables it', async () => {
    const { instance } = await tenantWithInstance('Revision');
    const revision = async () =>
      (await snapshot()).json<ConfigSnapshot>().instances.find((i) => i.id === instance.id)!.endpointRevision;
    const before = await revision();
    await api(control, 'PATCH', `/v1/instances/${instance.id}`, { name: 'renamed' });
    expect(await revision()).toBe(before);
    await api(control, 'PATCH', `/v1/instances/${instance.id}`, { webhookUrl: 'http://127.0.0.1:9/new' });
    expect(await revision()).toBe(before + 1);
    await api(control, 'POST', `/v1/instances/${instance.id}/endpoint/enable`);
    expect(await revision()).toBe(before + 2);
  });
});
