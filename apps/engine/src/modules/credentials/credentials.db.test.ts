import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { Webhook } from 'standardwebhooks';
import { ManualClock } from '@mic/platform';
import { startTestEngine, type TestEngine } from '../../testing.ts';

let engine: TestEngine;
const clock = new ManualClock('2026-11-26T10:00:00Z');

beforeAll(async () => {
  engine = await startTestEngine({ CREDENTIAL_GRACE: '1h' }, clock);
});
afterAll(() => engine?.stop());

const call = (method: 'GET' | 'POST' | 'DELETE', url: string, payload?: object) =>
  engine.app.inject({ method, url, headers: engine.auth, ...(payload ? { payload } : {}) });
const whoAmI = (token: string) =>
  engine.app.inject({ method: 'GET', url: '/v1/instance', headers: { authorization: `Bearer ${token}` } });

describe('instance credentials', () => {
  it('are shown once at creation and never again', async () => {
    const created = await call('POST', '/internal/v1/instances/ins-a/credentials');
    expect(created.statusCode).toBe(201);
    expect(created.headers['cache-control']).toBe('no-store');
    const { apiToken, signingSecret } = created.json<{ apiToken: string; signingSecret: string }>();
    expect(apiToken).toMatch(/^mic_it_[A-Za-z0-9_-]{43}$/);
    expect(signingSecret).toMatch(/^whsec_[A-Za-z0-9+/=]{32}$/);

    const again = await call('POST', '/internal/v1/instances/ins-a/credentials');
    expect(again.statusCode).toBe(409);
    const described = await call('GET', '/internal/v1/instances/ins-a/credentials');
    expect(described.statusCode).toBe(200);
    expect(described.body).not.toContain(apiToken);
    expect(described.body).not.toContain(signingSecret);
    expect(described.json()).toMatchObject({
      instanceId: 'ins-a',
      apiToken: { last4: apiToken.slice(-4), previous: null },
    });

    expect((await whoAmI(apiToken)).json()).toEqual({ instanceId: 'ins-a' });
    const wrong = await whoAmI('mic_it_not-a-real-token');
    expect(wrong.statusCode).toBe(401);
    expect(wrong.json()).toMatchObject({ type: '/problems/invalid-instance-token' });
  });

  it('keep a rotated API token valid for the grace period, then refuse it', async () => {
    const { apiToken: first } = (await call('POST', '/internal/v1/instances/ins-b/credentials')).json<{
      apiToken: string;
    }>();
    const rotated = await call('POST', '/internal/v1/instances/ins-b/credentials/api-token/rotate', {});
    expect(rotated.statusCode).toBe(200);
    const { apiToken: second } = rotated.json<{ apiToken: string }>();
    expect(rotated.json()).toMatchObject({
      info: { apiToken: { previous: { last4: first.slice(-4), expiresAt: '2026-11-26T11:00:00.000Z' } } },
    });
    expect((await whoAmI(first)).statusCode).toBe(200);
    expect((await whoAmI(second)).statusCode).toBe(200);
    clock.advance(3_600_001);
    expect((await whoAmI(first)).statusCode).toBe(401);
    expect((await whoAmI(second)).statusCode).toBe(200);
  });

  it('sign deliveries with both secrets during a rotation, each verifiable by Standard Webhooks', async () => {
    const { signingSecret: oldSecret } = (await call('POST', '/internal/v1/instances/ins-c/credentials')).json<{
      signingSecret: string;
    }>();
    const rotated = await call('POST', '/internal/v1/instances/ins-c/credentials/signing-secret/rotate', {
      graceSeconds: 600,
    });
    const { signingSecret: newSecret } = rotated.json<{ signingSecret: string }>();
    expect(newSecret).not.toBe(oldSecret);

    const payload = JSON.stringify({ type: 'whatsapp.message.received' });
    const timestamp = clock.now();
    const header = await engine.app.credentials.signDelivery('ins-c', 'msg_1', timestamp, payload);
    expect(header.split(' ')).toHaveLength(2);
    const headers = {
      'webhook-id': 'msg_1',
      'webhook-timestamp': String(Math.floor(Date.now() / 1000)),
      'webhook-signature': '',
    };
    // The library checks the timestamp against the real clock, so sign at real time for verification.
    const live = await engine.app.credentials.signDelivery(
      'ins-c',
      'msg_1',
      new Date(Number(headers['webhook-timestamp']) * 1000),
      payload,
    );
    for (const secret of [oldSecret, newSecret]) {
      expect(() => new Webhook(secret).verify(payload, { ...headers, 'webhook-signature': live })).not.toThrow();
    }

    clock.advance(600_001);
    const after = await engine.app.credentials.signDelivery(
      'ins-c',
      'msg_2',
      new Date(Number(headers['webhook-timestamp']) * 1000),
      payload,
    );
    expect(after.split(' ')).toHaveLength(1);
    expect(() =>
      new Webhook(oldSecret).verify(payload, { ...headers, 'webhook-id': 'msg_2', 'webhook-signature': after }),
    ).toThrow();
    expect(() =>
      new Webhook(newSecret).verify(payload, { ...headers, 'webhook-id': 'msg_2', 'webhook-signature': after }),
    ).not.toThrow();
  });

  it('are revoked all at once', async () => {
    const { apiToken } = (await call('POST', '/internal/v1/instances/ins-d/credentials')).json<{ apiToken: string }>();
    expect((await call('DELETE', '/internal/v1/instances/ins-d/credentials')).statusCode).toBe(204);
    expect((await whoAmI(apiToken)).statusCode).toBe(401);
    expect((await call('GET', '/internal/v1/instances/ins-d/credentials')).statusCode).toBe(404);
  });
});
