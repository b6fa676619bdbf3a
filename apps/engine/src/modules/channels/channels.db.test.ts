import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { MESSENGER_PAGE_FIELDS } from '@mic/meta';
import { startGraphSandbox, type GraphSandbox } from '@mic/meta-sandbox';
import { createLogger } from '@mic/platform';
import { eventually, startTestPlane, type TestPlane } from '@mic/platform/testing';
import type { ChannelConnection } from '@mic/contracts';
import { loadEngineConfig } from '../../config.ts';
import { ENGINE_MIGRATIONS, startEngine } from '../../server.ts';

const WABA = '102290129340398';
const PAGE = '106540352242922';
const IG_PAGE = '106540352249999';
const TOKENS = {
  waba: 'EAAGwaba-system-user-token-0001',
  page: 'EAAGpage-access-token-0002',
  igPage: 'EAAGinstagram-page-token-0003',
  flaky: 'EAAGflaky-waba-token-0004',
  unknown: 'EAAGnot-known-to-meta-0005',
  throttled: 'EAAGthrottled-0006',
};
const FLAKY_WABA = '555000111222333';

let sandbox: GraphSandbox;
let engine: TestPlane;
const logLines: string[] = [];
const failed: ChannelConnection[] = [];

beforeAll(async () => {
  sandbox = await startGraphSandbox({
    objects: [
      { id: WABA, kind: 'whatsapp-business-account', token: TOKENS.waba },
      { id: PAGE, kind: 'page', token: TOKENS.page },
      { id: IG_PAGE, kind: 'page', token: TOKENS.igPage },
      { id: FLAKY_WABA, kind: 'whatsapp-business-account', token: TOKENS.flaky },
    ],
  });
  const logger = createLogger({
    name: 'engine',
    level: 'debug',
    destination: { write: (line) => logLines.push(line) },
  });
  engine = await startTestPlane({
    prefix: 'ENGINE',
    migrations: ENGINE_MIGRATIONS,
    loadConfig: loadEngineConfig,
    start: (config, _quiet, overrides) => startEngine(config, logger, overrides),
    env: {
      CONTROL_URL: 'http://127.0.0.1:9',
      META_GRAPH_URL: sandbox.url,
      META_GRAPH_VERSION: 'v21.0',
      META_GRAPH_TIMEOUT: '2s',
      CHANNEL_SUBSCRIBE_RETRY_SCHEDULE: '300ms,300ms,300ms,300ms,300ms',
      QUEUE_POLLING_INTERVAL: '500ms',
    },
  });
  engine.app.channelConnections.onConnectionFailed((connection) => {
    failed.push(connection);
  });
});
afterAll(async () => {
  await engine?.stop();
  await sandbox?.stop();
});

const connection = (platform: string, channelId: string) => `/internal/v1/channels/${platform}/${channelId}/connection`;
const call = (method: 'GET' | 'PUT' | 'POST' | 'DELETE', url: string, payload?: object) =>
  engine.app.inject({ method, url, headers: engine.auth, ...(payload ? { payload } : {}) });
const secretInfo = (ref: string) => call('GET', `/internal/v1/secrets/${ref}`);

function expectNoToken(text: string): void {
  for (const token of Object.values(TOKENS)) expect(text).not.toContain(token);
}

describe('channel connections', () => {
  it('unsubscribes the old business account when a number moves to another one', async () => {
    const movedFrom = '777000111222001';
    const movedTo = '777000111222002';
    sandbox.addObject({ id: movedFrom, kind: 'whatsapp-business-account', token: 'EAAGmove-token-0007' });
    sandbox.addObject({ id: movedTo, kind: 'whatsapp-business-account', token: 'EAAGmove-token-0008' });
    await call('PUT', connection('whatsapp', '1234500099'), {
      accessToken: 'EAAGmove-token-0007',
      objectId: movedFrom,
    });
    const moved = await call('PUT', connection('whatsapp', '1234500099'), {
      accessToken: 'EAAGmove-token-0008',
      objectId: movedTo,
    });
    expect(moved.json<ChannelConnection>()).toMatchObject({ objectId: movedTo, state: 'subscribed' });
    expect(sandbox.calls({ objectId: movedFrom }).map((c) => c.method)).toEqual(['POST', 'DELETE']);
  });

  it('store the token, subscribe the WhatsApp Business Account at Meta and show the result', async () => {
    const put = await call('PUT', connection('whatsapp', '1234567890'), { accessToken: TOKENS.waba, objectId: WABA });
    expect(put.statusCode).toBe(200);
    expectNoToken(put.body);
    const body = put.json<ChannelConnection>();
    expect(body).toMatchObject({
      platform: 'whatsapp',
      channelId: '1234567890',
      objectId: WABA,
      metaApp: 'default',
      state: 'subscribed',
      retrying: false,
      error: null,
      tokenRef: 'channel/whatsapp/1234567890/access-token',
      tokenLast4: TOKENS.waba.slice(-4),
    });
    expect(body.subscribedAt).not.toBeNull();

    const secret = await secretInfo('channel/whatsapp/1234567890/access-token');
    expect(secret.statusCode).toBe(200);
    expect(secret.json()).toMatchObject({ kind: 'meta-access-token', current: { fingerprint: body.tokenFingerprint } });
    expect(await engine.app.channelConnections.accessToken('whatsapp', '1234567890')).toBe(TOKENS.waba);

    const calls = sandbox.calls({ objectId: WABA });
    expect(calls).toHaveLength(1);
    expect(calls[0]).toMatchObject({ method: 'POST', version: 'v21.0', objectId: WABA, fields: null, status: 200 });
    expect(sandbox.subscription(WABA)).not.toBeNull();

    const get = await call('GET', connection('whatsapp', '1234567890'));
    expect(get.json()).toEqual(body);
  });

  it('subscribe a Messenger page with the messaging fields, and an Instagram account through its page', async () => {
    const messenger = await call('PUT', connection('messenger', PAGE), { accessToken: TOKENS.page, objectId: PAGE });
    expect(messenger.json()).toMatchObject({ state: 'subscribed' });
    expect(sandbox.subscription(PAGE)?.fields).toEqual([...MESSENGER_PAGE_FIELDS]);
    const instagram = await call('PUT', connection('instagram', '17841400000000001'), {
      accessToken: TOKENS.igPage,
      objectId: IG_PAGE,
      metaApp: 'instagram-app',
    });
    expect(instagram.json()).toMatchObject({ state: 'subscribed', objectId: IG_PAGE, metaApp: 'instagram-app' });
    expect(sandbox.subscription(IG_PAGE)?.fields).toEqual(['feed']);
  });

  it('keep a token Meta refuses as failed with classification auth, tell the listeners, and resubscribe later', async () => {
    const put = await call('PUT', connection('whatsapp', '2222'), {
      accessToken: TOKENS.unknown,
      objectId: '777888999',
    });
    expect(put.statusCode).toBe(200);
    expectNoToken(put.body);
    expect(put.json()).toMatchObject({
      state: 'failed',
      retrying: false,
      subscribedAt: null,
      error: { code: 190, classification: 'auth' },
      tokenLast4: TOKENS.unknown.slice(-4),
    });
    expect(failed.map((c) => [c.channelId, c.error?.classification])).toEqual([['2222', 'auth']]);
    expect((await secretInfo('channel/whatsapp/2222/access-token')).statusCode).toBe(200);

    // The customer fixes the token at Meta's side; a resubscribe uses the stored one.
    sandbox.addObject({ id: '777888999', kind: 'whatsapp-business-account', token: TOKENS.unknown });
    const again = await call('POST', `${connection('whatsapp', '2222')}/resubscribe`);
    expect(again.statusCode).toBe(200);
    expect(again.json()).toMatchObject({ state: 'subscribed', error: null });
  });

  it('retry in the background while Meta fails transiently, then subscribe', async () => {
    sandbox.failNext(3, 'server-error', { objectId: FLAKY_WABA });
    const put = await call('PUT', connection('whatsapp', '3333'), { accessToken: TOKENS.flaky, objectId: FLAKY_WABA });
    expect(put.json()).toMatchObject({
      state: 'failed',
      retrying: true,
      error: { code: 2, classification: 'transient' },
    });
    const done = await eventually(async () => {
      const got = (await call('GET', connection('whatsapp', '3333'))).json<ChannelConnection>();
      return got.state === 'subscribed' ? got : undefined;
    }, 20_000);
    expect(done).toMatchObject({ retrying: false, error: null });
    expect(sandbox.calls({ objectId: FLAKY_WABA }).map((c) => c.status)).toEqual([500, 500, 500, 200]);
    expect(failed.map((c) => c.channelId)).not.toContain('3333');
  });

  it('give up when the retries run out, and tell the listeners', async () => {
    sandbox.addObject({ id: '444000', kind: 'whatsapp-business-account', token: TOKENS.throttled });
    sandbox.failNext(6, 'rate-limit', { objectId: '444000' });
    const put = await call('PUT', connection('whatsapp', '4444'), {
      accessToken: TOKENS.throttled,
      objectId: '444000',
    });
    expect(put.json()).toMatchObject({ state: 'failed', retrying: true, error: { classification: 'rate-limited' } });
    const given = await eventually(async () => failed.find((c) => c.channelId === '4444'), 20_000);
    expect(given).toMatchObject({
      state: 'failed',
      retrying: false,
      error: { code: 4, classification: 'rate-limited' },
    });
    // The caller's attempt and one per step of the five-step schedule.
    expect(sandbox.calls({ objectId: '444000' })).toHaveLength(6);
  });

  it('unsubscribe at Meta and delete the token on removal', async () => {
    const removed = await call('DELETE', connection('whatsapp', '1234567890'));
    expect(removed.statusCode).toBe(200);
    expect(removed.json()).toMatchObject({
      state: 'unsubscribed',
      subscribedAt: null,
      error: null,
      tokenRef: null,
      tokenFingerprint: null,
      tokenLast4: null,
    });
    expect(sandbox.calls({ objectId: WABA, method: 'DELETE' })).toHaveLength(1);
    expect(sandbox.subscription(WABA)).toBeNull();
    expect((await secretInfo('channel/whatsapp/1234567890/access-token')).statusCode).toBe(404);
    expect(await engine.app.channelConnections.accessToken('whatsapp', '1234567890')).toBeNull();
    expect((await call('GET', connection('whatsapp', '1234567890'))).json()).toMatchObject({ state: 'unsubscribed' });
    const resubscribe = await call('POST', `${connection('whatsapp', '1234567890')}/resubscribe`);
    expect(resubscribe.statusCode).toBe(409);
    expect(resubscribe.json()).toMatchObject({ type: '/problems/channel-token-missing' });
  });

  it('delete the token even when Meta refuses the unsubscription, and say so', async () => {
    sandbox.addObject({ id: PAGE, kind: 'page', token: TOKENS.page, isExpired: true });
    const removed = await call('DELETE', connection('messenger', PAGE));
    expect(removed.statusCode).toBe(200);
    expect(removed.json()).toMatchObject({
      state: 'unsubscribed',
      tokenRef: null,
      error: { code: 190, subcode: 463, classification: 'auth' },
    });
    expect((await secretInfo(`channel/messenger/${PAGE}/access-token`)).statusCode).toBe(404);
  });

  it('refuse to unsubscribe while Meta is down, keeping the token for another try', async () => {
    sandbox.failNext(1, 'server-error', { objectId: IG_PAGE });
    const refused = await call('DELETE', connection('instagram', '17841400000000001'));
    expect(refused.statusCode).toBe(503);
    expect(refused.json()).toMatchObject({ type: '/problems/meta-unavailable', classification: 'transient' });
    expect((await call('GET', connection('instagram', '17841400000000001'))).json()).toMatchObject({
      state: 'subscribed',
      tokenLast4: TOKENS.igPage.slice(-4),
    });
    expect((await call('DELETE', connection('instagram', '17841400000000001'))).json()).toMatchObject({
      state: 'unsubscribed',
      error: null,
    });
  });

  it('answer bad requests and unknown channels with problems', async () => {
    const platform = await call('PUT', connection('telegram', '1'), { accessToken: TOKENS.waba, objectId: WABA });
    expect(platform.statusCode).toBe(400);
    const objectId = await call('PUT', connection('whatsapp', '1'), { accessToken: TOKENS.waba, objectId: '../me' });
    expect(objectId.statusCode).toBe(400);
    expectNoToken(objectId.body);
    expect((await call('GET', connection('whatsapp', 'nope'))).statusCode).toBe(404);
    expect((await call('DELETE', connection('whatsapp', 'nope'))).statusCode).toBe(404);
    expect((await call('POST', `${connection('whatsapp', 'nope')}/resubscribe`)).statusCode).toBe(404);
  });

  it('never write a token to the logs', () => {
    expect(logLines.length).toBeGreaterThan(10);
    expect(logLines.some((line) => line.includes('channel subscribed to Meta webhooks'))).toBe(true);
    expectNoToken(logLines.join('\n'));
  });
});
