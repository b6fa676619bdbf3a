import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { signMetaBody } from '@mic/meta';
import { startNexusSim, type NexusSim } from '@mic/nexus-sim';
import { eventually } from '@mic/platform/testing';
import { configSnapshots } from './schema.ts';
import { applyTestConfig, routeTestInstance, startTestEngine, type TestEngine } from '../../testing.ts';

const APP_SECRET = 'config-sync-test-app-secret';
let engine: TestEngine;

beforeAll(async () => {
  engine = await startTestEngine({
    META_APP_SECRET: APP_SECRET,
    QUEUE_POLLING_INTERVAL: '300ms',
    CONFIG_SYNC_STALE_AFTER: '1s',
  });
});
afterAll(() => engine?.stop());

let phone = 300_000_000;
let wamid = 0;

async function simInstance(id: string, tenantId?: string) {
  const created = await engine.app.inject({
    method: 'POST',
    url: `/internal/v1/instances/${id}/credentials`,
    headers: engine.auth,
  });
  const sim = await startNexusSim({ secrets: [created.json<{ signingSecret: string }>().signingSecret] });
  const phoneNumberId = String((phone += 1));
  await routeTestInstance(engine, {
    id,
    ...(tenantId ? { tenantId } : {}),
    webhookUrl: `${sim.url}/hooks`,
    channels: [{ platform: 'whatsapp', channelId: phoneNumberId }],
  });
  return { sim, phoneNumberId };
}

/** Meta sends a text from `from` to the number; the engine answers 200 once it is stored. */
async function inbound(phoneNumberId: string, from: string, text: string) {
  wamid += 1;
  const body = JSON.stringify({
    object: 'whatsapp_business_account',
    entry: [
      {
        id: 'WABA-CS',
        changes: [
          {
            field: 'messages',
            value: {
              messaging_product: 'whatsapp',
              metadata: { display_phone_number: '15550001111', phone_number_id: phoneNumberId },
              contacts: [{ profile: { name: 'Ana' }, wa_id: from }],
              messages: [{ from, id: `wamid.CS${wamid}`, timestamp: '1732600000', type: 'text', text: { body: text } }],
            },
          },
        ],
      },
    ],
  });
  const res = await engine.app.inject({
    method: 'POST',
    url: '/meta/webhook',
    headers: { 'content-type': 'application/json', 'x-hub-signature-256': signMetaBody(body, APP_SECRET) },
    payload: body,
  });
  expect(res.statusCode).toBe(200);
}

const texts = (sim: NexusSim) => sim.received().map((d) => (d.event.data as { text?: string }).text);

const setState = (id: string, state: 'active' | 'paused') =>
  applyTestConfig(engine, (s) => {
    s.instances.find((i) => i.id === id)!.state = state;
  });

/** Waits long enough for a held delivery to have gone out had it not been held. */
const settle = () => new Promise((r) => setTimeout(r, 1_200));

describe('running from the config snapshot', () => {
  it('holds a paused instance deliveries, keeps another instance of the tenant flowing, and drains in order on resume', async () => {
    const paused = await simInstance('ins_cspaused', 'ten_cs1');
    const other = await simInstance('ins_csother', 'ten_cs1');
    await setState('ins_cspaused', 'paused');

    for (const word of ['uno', 'dos', 'tres']) await inbound(paused.phoneNumberId, '5215550100', word);
    await inbound(other.phoneNumberId, '5215550101', 'sigue');
    await other.sim.waitFor((r) => r.length === 1);
    await settle();
    expect(paused.sim.received()).toHaveLength(0);

    await setState('ins_cspaused', 'active');
    await paused.sim.waitFor((r) => r.length === 3);
    expect(texts(paused.sim)).toEqual(['uno', 'dos', 'tres']);
    await paused.sim.stop();
    await other.sim.stop();
  });

  it('delivers nothing while engine.enabled is off, stores what arrives, and drains when it is back on', async () => {
    const { sim, phoneNumberId } = await simInstance('ins_csflag');
    await applyTestConfig(engine, (s) => {
      s.flags['engine.enabled'] = false;
    });
    await inbound(phoneNumberId, '5215550102', 'apagado');
    await settle();
    expect(sim.received()).toHaveLength(0);
    expect((await engine.app.deliveries.list({ instanceId: 'ins_csflag' }))[0]).toMatchObject({
      state: 'pending',
      attempts: 0,
    });

    await applyTestConfig(engine, (s) => {
      s.flags['engine.enabled'] = true;
    });
    await sim.waitFor((r) => r.length === 1);
    expect(texts(sim)).toEqual(['apagado']);
    await sim.stop();
  });

  it("holds a platform's events while its module is off for the tenant, or switched off for everyone", async () => {
    const { sim, phoneNumberId } = await simInstance('ins_csmodule', 'ten_csmodule');
    await applyTestConfig(engine, (s) => {
      s.tenants.find((t) => t.id === 'ten_csmodule')!.modules.whatsapp = false;
    });
    await inbound(phoneNumberId, '5215550103', 'modulo');
    await settle();
    expect(sim.received()).toHaveLength(0);
    await applyTestConfig(engine, (s) => {
      s.tenants.find((t) => t.id === 'ten_csmodule')!.modules.whatsapp = true;
      s.flags['module.whatsapp.enabled'] = false;
    });
    await settle();
    expect(sim.received()).toHaveLength(0);
    await applyTestConfig(engine, (s) => {
      s.flags['module.whatsapp.enabled'] = true;
    });
    await sim.waitFor((r) => r.length === 1);
    await sim.stop();
  });

  it('refuses the sends of a paused instance with 423, of a module that is off with 403', async () => {
    await routeTestInstance(engine, {
      id: 'ins_cssend',
      tenantId: 'ten_cssend',
      webhookUrl: 'https://nexus.example.com/hooks',
    });
    const refusal = async (platform?: 'whatsapp') => {
      try {
        await engine.app.assertInstanceMaySend('ins_cssend', platform);
        return null;
      } catch (error) {
        return error as { status: number; type: string };
      }
    };
    expect(await refusal('whatsapp')).toBeNull();
    await setState('ins_cssend', 'paused');
    expect(await refusal('whatsapp')).toMatchObject({ status: 423, type: '/problems/instance-paused' });
    await setState('ins_cssend', 'active');
    await applyTestConfig(engine, (s) => {
      s.tenants.find((t) => t.id === 'ten_cssend')!.modules.whatsapp = false;
    });
    expect(await refusal('whatsapp')).toMatchObject({ status: 403, type: '/problems/module-disabled' });
    expect(await refusal()).toBeNull();
  });

  it('keeps an older snapshot from replacing a newer one, and stores the one it runs from', async () => {
    const current = engine.app.configSync.snapshot!;
    await engine.app.configSync.apply({ ...current, version: current.version - 1, instances: [] });
    expect(engine.app.configSync.snapshot!.version).toBe(current.version);
    expect((await engine.app.routingTable.instances()).length).toBeGreaterThan(0);
    const [stored] = await engine.app.db.orm.select({ version: configSnapshots.version }).from(configSnapshots);
    expect(stored?.version).toBe(current.version);
  });

  it('reports warn with the age of its snapshot while control does not answer', async () => {
    await engine.app.configSync.pull(); // control's address points nowhere in this test
    await eventually(async () => {
      const res = await engine.app.inject({ method: 'GET', url: '/health/api' });
      const check = res.json<{ checks: Record<string, { status: string; output?: string }[]> }>().checks[
        'config:snapshot'
      ]?.[0];
      return check?.status === 'warn' && check.output?.includes(`snapshot v`) ? true : undefined;
    }, 5_000);
    const status = await engine.app.inject({ method: 'GET', url: '/internal/v1/config', headers: engine.auth });
    expect(status.json()).toMatchObject({
      version: engine.app.configSync.snapshot!.version,
      lastError: expect.stringContaining('control') as string,
    });
  });
});
