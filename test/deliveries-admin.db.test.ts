import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startTestPlanes, type TestPlanes } from './planes.ts';
import { startTestControl, type TestControl } from '../apps/control/src/testing.ts';

let planes: TestPlanes;
let alone: TestControl;

beforeAll(async () => {
  [planes, alone] = await Promise.all([startTestPlanes(), startTestControl()]);
});

afterAll(async () => {
  await Promise.all([planes?.stop(), alone?.stop()]);
});

describe("deliveries through control's admin API", () => {
  it("lists the engine's dead letters to an operator allowed to see them", async () => {
    const { control } = planes;
    const res = await control.app.inject({
      method: 'GET',
      url: '/v1/deliveries?state=dead',
      headers: control.operator,
    });
    expect(res.statusCode).toBe(200);
    expect(res.json()).toEqual([]);
    const anonymous = await control.app.inject({ method: 'GET', url: '/v1/deliveries' });
    expect(anonymous.statusCode).toBe(401);
  });

  it("passes on the engine's 404 for a delivery it does not have", async () => {
    const { control } = planes;
    const id = '0190a4b0-0000-7000-8000-000000000000';
    const detail = await control.app.inject({ method: 'GET', url: `/v1/deliveries/${id}`, headers: control.operator });
    expect(detail.statusCode).toBe(404);
    const replay = await control.app.inject({
      method: 'POST',
      url: `/v1/deliveries/${id}/replay`,
      headers: control.operator,
    });
    expect(replay.statusCode).toBe(404);
    expect(replay.headers['content-type']).toContain('application/problem+json');
  });

  it('replays what matches a filter, refuses a role without the permission, and audits the replay', async () => {
    const { control } = planes;
    const readOnly = await control.loginAs('read-only');
    const refused = await control.app.inject({
      method: 'POST',
      url: '/v1/deliveries/replay',
      headers: readOnly,
      payload: { instanceId: 'ins_none' },
    });
    expect(refused.statusCode).toBe(403);
    const res = await control.app.inject({
      method: 'POST',
      url: '/v1/deliveries/replay',
      headers: control.operator,
      payload: { instanceId: 'ins_none' },
    });
    expect(res.statusCode).toBe(200);
    expect(res.json()).toEqual({ replayed: 0 });
    const audit = await control.app.inject({
      method: 'GET',
      url: '/v1/audit?action=delivery.replay',
      headers: control.operator,
    });
    expect(audit.json<{ items: { action: string; after: unknown }[] }>().items).toMatchObject([
      { action: 'delivery.replay', after: { replayed: 0 } },
    ]);
  });

  it('answers 503 with a problem while the engine is unreachable', async () => {
    const res = await alone.app.inject({ method: 'GET', url: '/v1/deliveries', headers: alone.operator });
    expect(res.statusCode).toBe(503);
    expect(res.json()).toMatchObject({ type: '/problems/engine-unavailable' });
  });
});
