import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  eventually,
  planeTestEnv,
  planeTestOverrides,
  testDatabase,
  testLogger,
  type TestDatabase,
} from '@mic/platform/testing';
import type { StartedPlane } from '@mic/platform';
import type { Heartbeat, SystemStatus } from '@mic/contracts';
import { loadControlConfig } from '../../config.ts';
import { CONTROL_MIGRATIONS, startControl } from '../../server.ts';

let control: StartedPlane;
let test: TestDatabase;

beforeAll(async () => {
  test = testDatabase(CONTROL_MIGRATIONS, 'control');
  const config = loadControlConfig({
    ...planeTestEnv('CONTROL', test),
    CONTROL_PORT: '0',
    ENGINE_URL: 'http://127.0.0.1:9',
  });
  control = await startControl(config, testLogger(), planeTestOverrides(test));
});

afterAll(async () => {
  await control?.service.stop();
  await test?.drop();
});

describe('system module', () => {
  it('describes the plane: database kind, schema, no pending migrations', async () => {
    const res = await control.app.inject({ method: 'GET', url: '/v1/system' });
    expect(res.statusCode).toBe(200);
    const status = res.json<SystemStatus>();
    expect(status).toMatchObject({
      plane: 'control',
      database: { kind: test.options.url ? 'postgres' : 'pglite', schema: test.options.schema, pendingMigrations: [] },
    });
  });

  it('sends a heartbeat through the queue and shows it processed by a worker', async () => {
    const sent = await control.app.inject({ method: 'POST', url: '/v1/system/heartbeats' });
    expect(sent.statusCode).toBe(202);
    const { id } = sent.json<Heartbeat>();
    const processed = await eventually(async () => {
      const h = (await control.app.inject({ method: 'GET', url: `/v1/system/heartbeats/${id}` })).json<Heartbeat>();
      return h.processedAt ? h : undefined;
    });
    expect(processed.roundTripMs).toBeGreaterThanOrEqual(0);
  });

  it('answers an unknown heartbeat with a 404 problem and a malformed id with a 400 naming the field', async () => {
    const missing = await control.app.inject({
      method: 'GET',
      url: '/v1/system/heartbeats/0190a4b0-0000-7000-8000-000000000000',
    });
    expect(missing.statusCode).toBe(404);
    expect(missing.headers['content-type']).toContain('application/problem+json');
    const bad = await control.app.inject({ method: 'GET', url: '/v1/system/heartbeats/not-a-uuid' });
    expect(bad.statusCode).toBe(400);
    expect(bad.json()).toMatchObject({ type: '/problems/validation', errors: [{ field: 'params.id' }] });
  });
});
