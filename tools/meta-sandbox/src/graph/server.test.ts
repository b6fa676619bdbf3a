import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { GraphClient, GraphError, MESSENGER_PAGE_FIELDS } from '@mic/meta';
import { startGraphSandbox, type GraphSandbox } from './server.ts';

const WABA = '102290129340398';
const PAGE = '106540352242922';
let sandbox: GraphSandbox;
let graph: GraphClient;

beforeAll(async () => {
  sandbox = await startGraphSandbox({
    objects: [
      { id: WABA, kind: 'whatsapp-business-account', token: 'EAAwaba-token' },
      { id: PAGE, kind: 'page', token: 'EAApage-token' },
      { id: '777', kind: 'page', token: 'EAAexpired', isExpired: true },
    ],
  });
  graph = new GraphClient({ baseUrl: sandbox.url, version: 'v21.0', timeoutMs: 2_000 });
});
afterAll(() => sandbox?.stop());

async function failure(call: Promise<unknown>): Promise<GraphError> {
  const error = await call.then(
    () => null,
    (e: unknown) => e,
  );
  expect(error).toBeInstanceOf(GraphError);
  return error as GraphError;
}

describe('Graph API sandbox', () => {
  it('subscribes, lists and unsubscribes a WhatsApp Business Account, recording every call but no token', async () => {
    sandbox.clearCalls();
    expect(await graph.subscribedApps(WABA, 'EAAwaba-token')).toEqual([]);
    await graph.subscribeApp(WABA, 'EAAwaba-token');
    expect(await graph.subscribedApps(WABA, 'EAAwaba-token')).toEqual([
      {
        id: '1234567890123456',
        name: 'MIC Sandbox App',
        link: 'https://sandbox.mic.invalid/apps/1234567890123456',
        subscribedFields: null,
      },
    ]);
    await graph.unsubscribeApp(WABA, 'EAAwaba-token');
    expect(sandbox.subscription(WABA)).toBeNull();
    const calls = sandbox.calls({ objectId: WABA });
    expect(calls.map((c) => [c.method, c.path, c.status])).toEqual([
      ['GET', `/v21.0/${WABA}/subscribed_apps`, 200],
      ['POST', `/v21.0/${WABA}/subscribed_apps`, 200],
      ['GET', `/v21.0/${WABA}/subscribed_apps`, 200],
      ['DELETE', `/v21.0/${WABA}/subscribed_apps`, 200],
    ]);
    expect(JSON.stringify(sandbox.calls())).not.toContain('EAAwaba-token');
  });

  it('subscribes a page with its fields, and refuses a page subscription without fields', async () => {
    await graph.subscribeApp(PAGE, 'EAApage-token', MESSENGER_PAGE_FIELDS);
    expect(sandbox.subscription(PAGE)?.fields).toEqual([...MESSENGER_PAGE_FIELDS]);
    const [app] = await graph.subscribedApps(PAGE, 'EAApage-token');
    expect(app?.subscribedFields).toEqual([...MESSENGER_PAGE_FIELDS]);
    const noFields = await failure(graph.subscribeApp(PAGE, 'EAApage-token'));
    expect(noFields).toMatchObject({ status: 400, code: 100, classification: 'invalid-request' });
  });

  it('answers an unknown, expired or foreign token as Meta does', async () => {
    expect(await failure(graph.subscribeApp(WABA, 'EAAnot-a-token'))).toMatchObject({
      status: 400,
      code: 190,
      classification: 'auth',
      type: 'OAuthException',
    });
    expect(await failure(graph.subscribeApp('777', 'EAAexpired'))).toMatchObject({
      code: 190,
      subcode: 463,
      classification: 'auth',
    });
    expect(await failure(graph.subscribeApp(WABA, 'EAApage-token'))).toMatchObject({
      code: 100,
      subcode: 33,
      classification: 'invalid-request',
    });
    const [last] = sandbox.calls({ objectId: WABA }).slice(-1);
    expect(last).toMatchObject({ method: 'POST', status: 400, code: 100 });
  });

  it('fails the next calls as told, per object or for all, then answers normally again', async () => {
    sandbox.failNext(2, 'server-error', { objectId: WABA });
    sandbox.failNext(1, 'rate-limit');
    expect(await failure(graph.subscribeApp(WABA, 'EAAwaba-token'))).toMatchObject({
      status: 500,
      code: 2,
      classification: 'transient',
    });
    // The WABA-only failure is still pending, but the page's call takes the general one.
    expect(await failure(graph.subscribeApp(PAGE, 'EAApage-token', ['messages']))).toMatchObject({
      code: 4,
      classification: 'rate-limited',
    });
    expect((await failure(graph.unsubscribeApp(WABA, 'EAAwaba-token'))).code).toBe(2);
    await graph.subscribeApp(WABA, 'EAAwaba-token');
    expect(sandbox.subscription(WABA)).not.toBeNull();
  });

  it('is driven and inspected over HTTP too', async () => {
    const put = await fetch(`${sandbox.url}/_sandbox/objects/555`, {
      method: 'PUT',
      body: JSON.stringify({ kind: 'whatsapp-business-account', token: 'EAAhttp' }),
    });
    expect(put.status).toBe(200);
    const fail = await fetch(`${sandbox.url}/_sandbox/failures`, {
      method: 'POST',
      body: JSON.stringify({ count: 1, failure: 'unknown-error', objectId: '555' }),
    });
    expect(await fail.json()).toEqual({ pending: 1 });
    expect((await failure(graph.subscribeApp('555', 'EAAhttp'))).code).toBe(1);
    await graph.subscribeApp('555', 'EAAhttp');
    const calls = (await (await fetch(`${sandbox.url}/_sandbox/calls?objectId=555`)).json()) as { status: number }[];
    expect(calls.map((c) => c.status)).toEqual([500, 200]);
    const subscription = (await (await fetch(`${sandbox.url}/_sandbox/subscriptions/555`)).json()) as {
      subscription: unknown;
    };
    expect(subscription.subscription).toMatchObject({ fields: null });
    const bad = await fetch(`${sandbox.url}/_sandbox/failures`, {
      method: 'POST',
      body: JSON.stringify({ failure: 'meteor' }),
    });
    expect(bad.status).toBe(400);
  });

  it('makes a call to a sandbox that is gone a transient failure', async () => {
    const gone = await startGraphSandbox();
    const url = gone.url;
    await gone.stop();
    const error = await failure(new GraphClient({ baseUrl: url, timeoutMs: 1_000 }).subscribeApp(WABA, 'x'));
    expect(error).toMatchObject({ status: 0, classification: 'transient' });
    expect(error.message).toMatch(/^Graph API unreachable: /);
  });
});
