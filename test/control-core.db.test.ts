import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Channel, CreatedInstance, Tenant } from '@mic/contracts';
import { sendWebhooks, startGraphSandbox, whatsappTextMessage, type GraphSandbox } from '@mic/meta-sandbox';
import { startNexusSim, type NexusSim } from '@mic/nexus-sim';
import { eventually } from '@mic/platform/testing';
import { startTestPlanes, type TestPlanes } from './planes.ts';

/**
 * Control and engine as the operator uses them: everything goes through control's API, and the
 * engine follows from control's config snapshot.
 */
const APP_SECRET = 'control-core-app-secret';
let planes: TestPlanes;
let graph: GraphSandbox;
const sims: NexusSim[] = [];

beforeAll(async () => {
  graph = await startGraphSandbox();
  planes = await startTestPlanes({
    control: { INSTANCE_URL_ALLOW_PRIVATE: 'true', INSTANCE_PROBE_INTERVAL: '1s' },
    engine: {
      META_APP_SECRET: APP_SECRET,
      META_GRAPH_URL: graph.url,
      CONFIG_SYNC_INTERVAL: '1s',
      QUEUE_POLLING_INTERVAL: '300ms',
    },
  });
});
afterAll(async () => {
  for (const sim of sims) await sim.stop();
  await planes?.stop();
  await graph?.stop();
});

const api = async <T>(method: 'GET' | 'POST' | 'PUT' | 'PATCH' | 'DELETE', url: string, payload?: object) => {
  const res = await planes.control.app.inject({
    method,
    url,
    headers: planes.control.operator,
    ...(payload ? { payload } : {}),
  });
  return { status: res.statusCode, body: (res.body ? res.json() : undefined) as T };
};

let number = 1_065_400_000;
async function onboard(tenantId: string, name: string) {
  const created = await api<CreatedInstance>('POST', `/v1/tenants/${tenantId}/instances`, {
    name,
    webhookUrl: 'http://127.0.0.1:9/placeholder',
  });
  expect(created.status).toBe(201);
  const { instance, credentials } = created.body;
  expect(credentials?.signingSecret).toMatch(/^whsec_/);
  const key = await api<{ publicKeyPem: string }>('GET', '/v1/instance-control/public-key');
  const sim = await startNexusSim({
    secrets: [credentials!.signingSecret],
    controlPublicKey: key.body.publicKeyPem,
    instanceId: instance.id,
    version: '3.4.1',
  });
  sims.push(sim);
  await api('PATCH', `/v1/instances/${instance.id}`, {
    webhookUrl: `${sim.url}/hooks`,
    controlUrl: `${sim.url}/control`,
  });
  const phoneNumberId = String((number += 1));
  const wabaId = `waba${phoneNumberId}`;
  graph.addObject({ id: wabaId, kind: 'whatsapp-business-account', token: `EAAG-token-${phoneNumberId}` });
  const channel = await api<Channel>('POST', `/v1/instances/${instance.id}/channels`, {
    platform: 'whatsapp',
    channelId: phoneNumberId,
    wabaId,
    accessToken: `EAAG-token-${phoneNumberId}`,
  });
  expect(channel.status).toBe(201);
  return { instance, sim, phoneNumberId, channel: channel.body };
}

const inbound = (phoneNumberId: string, texts: string[]) =>
  sendWebhooks({
    url: `${planes.engine.url}/meta/webhook`,
    appSecret: APP_SECRET,
    bodies: texts.map((text) => whatsappTextMessage({ phoneNumberId, from: '5215550199', text })),
  });

const bodies = (sim: NexusSim) => sim.received().map((d) => (d.event.data as { text?: string }).text);

describe('control is the source of truth, and the engine follows', () => {
  it("routes a channel's webhooks to its instance within seconds of its creation through the API", async () => {
    const tenant = await api<Tenant>('POST', '/v1/tenants', { name: 'Panadería Luna' });
    const { instance, sim, phoneNumberId, channel } = await onboard(tenant.body.id, 'main');
    expect(channel.connection).toMatchObject({ state: 'subscribed', error: null });
    expect(graph.calls({ method: 'POST' }).some((c) => c.objectId === `waba${phoneNumberId}`)).toBe(true);

    await eventually(async () => {
      const report = await inbound(phoneNumberId, ['hola']);
      return report.results.every((r) => r.status === 200) ? true : undefined;
    });
    await sim.waitFor((r) => r.some((d) => d.event.channel.id === phoneNumberId));
    // Control's health probes answer with the version the instance runs.
    await eventually(async () => {
      const shown = await api<{ version: string | null }>('GET', `/v1/instances/${instance.id}`);
      return shown.body.version === '3.4.1' ? true : undefined;
    });
  });

  it('refuses a channel id that another instance owns, before its token goes anywhere', async () => {
    const tenant = await api<Tenant>('POST', '/v1/tenants', { name: 'Dos dueños' });
    const first = await onboard(tenant.body.id, 'first');
    const other = await api<CreatedInstance>('POST', `/v1/tenants/${tenant.body.id}/instances`, {
      name: 'other',
      webhookUrl: 'http://127.0.0.1:9/other',
    });
    const before = graph.calls().length;
    const res = await api('POST', `/v1/instances/${other.body.instance.id}/channels`, {
      platform: 'whatsapp',
      channelId: first.phoneNumberId,
      wabaId: `waba${first.phoneNumberId}`,
      accessToken: 'EAAG-stolen-number-token',
    });
    expect(res.status).toBe(409);
    expect(res.body).toMatchObject({ type: '/problems/conflict', ownerInstanceId: first.instance.id });
    expect(graph.calls().length).toBe(before);
  });

  it('shows a failed subscription with Meta code, and removing the channel unsubscribes it', async () => {
    const tenant = await api<Tenant>('POST', '/v1/tenants', { name: 'Token vencido' });
    const { instance } = await onboard(tenant.body.id, 'main');
    graph.addObject({
      id: 'waba-expired',
      kind: 'whatsapp-business-account',
      token: 'EAAG-expired-token',
      isExpired: true,
    });
    const failed = await api<Channel>('POST', `/v1/instances/${instance.id}/channels`, {
      platform: 'whatsapp',
      channelId: '1065499999',
      wabaId: 'waba-expired',
      accessToken: 'EAAG-expired-token',
    });
    expect(failed.status).toBe(201);
    expect(failed.body.connection).toMatchObject({ state: 'failed', error: expect.stringContaining('190') as string });

    expect((await api('DELETE', '/v1/channels/whatsapp/1065499999')).status).toBe(204);
    expect(
      (await api<Channel[]>('GET', `/v1/channels?instanceId=${instance.id}`)).body.map((c) => c.channelId),
    ).not.toContain('1065499999');
    // The engine forgets the token through control's outbox (and would, had it been down).
    await eventually(async () => {
      const connection = await planes.engine.app.inject({
        method: 'GET',
        url: '/internal/v1/channels/whatsapp/1065499999/connection',
        headers: planes.engine.auth,
      });
      return connection.json<{ state: string }>().state === 'unsubscribed' ? true : undefined;
    });
    const secrets = await planes.engine.app.inject({
      method: 'GET',
      url: '/internal/v1/secrets',
      headers: planes.engine.auth,
    });
    expect(secrets.body).not.toContain('channel/whatsapp/1065499999');
  });

  it('holds a paused instance events while another instance of the tenant keeps working, and drains them in order on resume', async () => {
    const tenant = await api<Tenant>('POST', '/v1/tenants', { name: 'Pausa' });
    const paused = await onboard(tenant.body.id, 'paused');
    const other = await onboard(tenant.body.id, 'other');
    expect((await api('POST', `/v1/instances/${paused.instance.id}/pause`, { reason: 'invoice overdue' })).status).toBe(
      200,
    );
    await eventually(async () =>
      planes.engine.app.configSync.instance(paused.instance.id)?.state === 'paused' ? true : undefined,
    );

    await inbound(paused.phoneNumberId, ['uno', 'dos', 'tres']);
    await inbound(other.phoneNumberId, ['sigue']);
    await other.sim.waitFor((r) => r.length === 1);
    expect(paused.sim.received()).toHaveLength(0);
    // The instance itself was told, with control's signed command.
    await paused.sim.waitForCommands((c) => c.some((x) => x.command === 'pause' && x.executed));
    expect(paused.sim.instance()).toMatchObject({ state: 'paused', stateReason: 'invoice overdue' });
    expect(other.sim.commands().filter((c) => c.command !== 'health')).toEqual([]);

    expect((await api('POST', `/v1/instances/${paused.instance.id}/resume`, { reason: 'paid' })).status).toBe(200);
    await paused.sim.waitFor((r) => r.length === 3);
    expect(bodies(paused.sim)).toEqual(['uno', 'dos', 'tres']);
    await paused.sim.waitForCommands((c) => c.some((x) => x.command === 'resume' && x.executed));
    const commands = await api<{ command: string; state: string }[]>(
      'GET',
      `/v1/instances/${paused.instance.id}/commands`,
    );
    expect(commands.body.map((c) => [c.command, c.state])).toEqual(
      expect.arrayContaining([
        ['pause', 'succeeded'],
        ['resume', 'succeeded'],
      ]),
    );

    const audit = await api<{ items: { action: string; targetId: string | null }[] }>(
      'GET',
      '/v1/audit?action=instance.*',
    );
    const steps = audit.body.items.filter((e) => e.targetId === paused.instance.id).map((e) => e.action);
    expect(steps).toEqual(
      expect.arrayContaining(['instance.create', 'instance.update', 'instance.pause', 'instance.resume']),
    );
    expect((await api('GET', '/v1/audit/verify')).body).toMatchObject({ ok: true });
  });

  it("delivers the hub's own channels to control itself, with the service token (tenant zero)", async () => {
    graph.addObject({ id: 'waba-hub', kind: 'whatsapp-business-account', token: 'EAAG-hub-token' });
    const channel = await api<Channel>('POST', '/v1/instances/ins_hub/channels', {
      platform: 'whatsapp',
      channelId: '1065411111',
      wabaId: 'waba-hub',
      accessToken: 'EAAG-hub-token',
    });
    expect(channel.status).toBe(201);
    await eventually(async () => ((await inbound('1065411111', ['hola hub'])).summary.ok === 1 ? true : undefined));
    const events = await eventually(async () => {
      const list = await api<{ type: string; tenantId: string; channel: { id: string }; data: { text?: string } }[]>(
        'GET',
        '/v1/hub/events',
      );
      return list.body.find((e) => e.channel.id === '1065411111') ? list.body : undefined;
    });
    expect(events.find((e) => e.channel.id === '1065411111')).toMatchObject({
      type: 'whatsapp.message.received',
      tenantId: 'ten_hub',
      data: { text: 'hola hub' },
    });
  });

  it('stops every delivery while engine.enabled is off, keeps ingress answering 200, and drains when it is on again', async () => {
    const tenant = await api<Tenant>('POST', '/v1/tenants', { name: 'Interruptor' });
    const { sim, phoneNumberId } = await onboard(tenant.body.id, 'main');
    await api('PUT', '/v1/flags/engine.enabled', { enabled: false });
    await eventually(async () =>
      planes.engine.app.configSync.globalFlags()['engine.enabled'] === false ? true : undefined,
    );
    const report = await inbound(phoneNumberId, ['apagado']);
    expect(report.results.map((r) => r.status)).toEqual([200]);
    await new Promise((r) => setTimeout(r, 1_500));
    expect(sim.received()).toHaveLength(0);
    await api('PUT', '/v1/flags/engine.enabled', { enabled: true });
    await sim.waitFor((r) => r.length === 1);
  });
});
