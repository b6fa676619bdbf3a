import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { eventually, TEST_DATABASE_URL } from '@mic/platform/testing';
import type { Heartbeat, SystemStatus } from '@mic/contracts';
import { startTestControl, type TestControl } from '../../testing.ts';

let control: TestControl;

beforeAll(async () => {
  control = await startTestControl();
});

afterAll(() => control?.stop());

describe('system module', () => {
  it('describes the plane: database kind, schema, no pending migrations', async () => {
    const res = await control.app.inject({ method: 'GET', url: '/internal/v1/system', headers: control.auth });
    expect(res.statusCode).toBe(200);
    const status = res.json<SystemStatus>();
    expect(status).toMatchObject({
      plane: 'control',
      database: { kind: TEST_DATABASE_URL ? 'postgres' : 'pglite', pendingMigrations: [] },
    });
  });

  it('sends a heartbeat through the queue and shows it processed by a worker', async () => {
    const sent = await control.app.inject({
      method: 'POST',
      url: '/internal/v1/system/heartbeats',
      headers: control.auth,
    });
    expect(sent.statusCode).toBe(202);
    const { id } = sent.json<Heartbeat>();
    const processed = await eventually(async () => {
      const h = (
        await control.app.inject({ method: 'GET', url: `/internal/v1/system/heartbeats/${id}`, headers: control.auth })
      ).json<Heartbeat>();
      return h.processedAt ? h : undefined;
    });
    expect(processed.roundTripMs).toBeGreaterThanOrEqual(0);
  });

  it('answers an unknown heartbeat with a 404 problem and a malformed id with a 400 naming the field', async () => {
    const missing = await control.app.inject({
      method: 'GET',
      url: '/internal/v1/system/heartbeats/0190a4b0-0000-7000-8000-000000000000',
      headers: control.auth,
    });
    expect(missing.statusCode).toBe(404);
    expect(missing.headers['content-type']).toContain('application/problem+json');
    const bad = await control.app.inject({
      method: 'GET',
      url: '/internal/v1/system/heartbeats/not-a-uuid',
      headers: control.auth,
    });
    expect(bad.statusCode).toBe(400);
    expect(bad.json()).toMatchObject({ type: '/problems/validation', errors: [{ field: 'params.id' }] });
  });
});
