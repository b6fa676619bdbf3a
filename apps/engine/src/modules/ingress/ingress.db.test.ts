import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { sql } from 'drizzle-orm';
import { signMetaBody } from '@mic/meta';
import { applyTestConfig, routeTestInstance, startTestEngine, type TestEngine } from '../../testing.ts';

const APP_SECRET = 'ingress-test-app-secret';
const VERIFY_TOKEN = 'ingress-test-verify-token';
const FIXTURES = join(
  import.meta.dirname,
  '..',
  '..',
  '..',
  '..',
  '..',
  'packages',
  'meta',
  'src',
  'webhooks',
  'fixtures',
);
const fixture = (name: string) => readFileSync(join(FIXTURES, `${name}.json`), 'utf8');

let engine: TestEngine;

beforeAll(async () => {
  engine = await startTestEngine({
    META_APP_SECRET: APP_SECRET,
    META_VERIFY_TOKEN: VERIFY_TOKEN,
    ENGINE_BODY_LIMIT: '65536',
  });
});
afterAll(() => engine?.stop());

function post(body: string, options: { secret?: string; url?: string; signature?: string; contentType?: string } = {}) {
  return engine.app.inject({
    method: 'POST',
    url: options.url ?? '/meta/webhook',
    headers: {
      'content-type': options.contentType ?? 'application/json',
      'x-hub-signature-256': options.signature ?? signMetaBody(body, options.secret ?? APP_SECRET),
    },
    payload: body,
  });
}

async function counts(): Promise<{ receipts: number; events: number }> {
  const rows = await engine.app.db.orm.execute<{ receipts: number; events: number }>(
    sql`select (select count(*)::int from webhook_receipts) as receipts, (select count(*)::int from inbound_events) as events`,
  );
  return rows.rows[0]!;
}

describe('webhook verification (GET)', () => {
  it("answers Meta's challenge for the right verify token, and 403 otherwise", async () => {
    const ok = await engine.app.inject({
      method: 'GET',
      url: `/meta/webhook?hub.mode=subscribe&hub.verify_token=${VERIFY_TOKEN}&hub.challenge=1158201444`,
    });
    expect(ok.statusCode).toBe(200);
    expect(ok.body).toBe('1158201444');
    const wrong = await engine.app.inject({
      method: 'GET',
      url: '/meta/webhook?hub.mode=subscribe&hub.verify_token=nope&hub.challenge=1',
    });
    expect(wrong.statusCode).toBe(403);
    const otherApp = await engine.app.inject({
      method: 'GET',
      url: `/meta/webhook/unknown-app?hub.mode=subscribe&hub.verify_token=${VERIFY_TOKEN}&hub.challenge=1`,
    });
    expect(otherApp.statusCode).toBe(403);
  });
});

describe('webhook intake (POST)', () => {
  it('stores a signed body and its events, then answers 200', async () => {
    const res = await post(fixture('whatsapp-text'));
    expect(res.statusCode).toBe(200);
    expect(res.body).toBe('EVENT_RECEIVED');
    const stored = await engine.app.ingress.list({ platform: 'whatsapp', limit: 10 });
    expect(stored.map((e) => e.type)).toContain('whatsapp.message.received');
  });

  it('stores a body delivered twice by Meta once: one set of events', async () => {
    const body = fixture('whatsapp-image');
    await post(body);
    const after = await counts();
    expect((await post(body)).statusCode).toBe(200);
    const again = await counts();
    expect(again.events).toBe(after.events);
    expect(again.receipts).toBe(after.receipts + 1); // every accepted body is kept, its repeats add no event
  });

  it("keeps a message's sent, delivered and read statuses as three events", async () => {
    for (const status of ['sent', 'delivered', 'read'])
      expect((await post(fixture(`whatsapp-status-${status}`))).statusCode).toBe(200);
    const statuses = await engine.app.ingress.list({ platform: 'whatsapp', limit: 500 });
    const keys = statuses.filter((e) => e.type === 'whatsapp.message.status').map((e) => e.dedupKey);
    expect(keys.filter((k) => /:(sent|delivered|read)$/.test(k))).toHaveLength(3);
  });

  it('keeps react, unreact and react again on one message as three events', async () => {
    const reacted = JSON.parse(fixture('whatsapp-reaction')) as {
      entry: { changes: { value: { messages: { reaction: { emoji: string }; timestamp: string }[] } }[] }[];
    };
    const variant = (emoji: string, timestamp: string) => {
      const copy = structuredClone(reacted);
      const message = copy.entry[0]!.changes[0]!.value.messages[0]!;
      message.reaction.emoji = emoji;
      message.timestamp = timestamp;
      return JSON.stringify(copy);
    };
    const before = (await engine.app.ingress.list({ limit: 500 })).filter(
      (e) => e.type === 'whatsapp.reaction.received',
    ).length;
    for (const [emoji, ts] of [
      ['👍', '1700000001'],
      ['', '1700000002'],
      ['👍', '1700000003'],
    ] as const) {
      expect((await post(variant(emoji, ts))).statusCode).toBe(200);
    }
    const after = (await engine.app.ingress.list({ limit: 500 })).filter(
      (e) => e.type === 'whatsapp.reaction.received',
    ).length;
    expect(after - before).toBe(3);
  });

  it('stores webhooks that arrive together in shared transactions, each event once', async () => {
    const before = await counts();
    const bodies = Array.from({ length: 40 }, (_, i) => {
      const text = JSON.parse(fixture('messenger-text')) as { entry: { messaging: { message: { mid: string } }[] }[] };
      text.entry[0]!.messaging[0]!.message.mid = `m_together_${i}`;
      return JSON.stringify(text);
    });
    const sends = [...bodies, ...bodies.slice(0, 10)].map((body) => post(body));
    const answers = await Promise.all(sends);
    expect(answers.every((a) => a.statusCode === 200)).toBe(true);
    const after = await counts();
    expect(after.events - before.events).toBe(40);
    expect(after.receipts - before.receipts).toBe(50);
  });

  it.each([
    ['a forged signature', () => post(fixture('messenger-text'), { secret: 'not-the-app-secret' }), 401],
    ['no signature', () => post(fixture('messenger-text'), { signature: '' }), 401],
    [
      'a changed byte',
      () =>
        post(fixture('messenger-text').replace('"text"', '"texT"'), {
          signature: signMetaBody(fixture('messenger-text'), APP_SECRET),
        }),
      401,
    ],
    ['a body over the limit', () => post(JSON.stringify({ object: 'page', padding: 'x'.repeat(70_000) })), 413],
    ['a signed body that is not JSON', () => post('{"object": "page", "entry": [', {}), 400],
  ])('refuses %s with a problem and stores nothing', async (_what, send, status) => {
    const before = await counts();
    const res = await send();
    expect(res.statusCode).toBe(status);
    expect(res.headers['content-type']).toContain('application/problem+json');
    expect(await counts()).toEqual(before);
    expect((await engine.app.inject({ method: 'GET', url: '/livez' })).statusCode).toBe(200);
  });

  it('keeps a valid JSON body of an unknown shape as an unknown, unrouted event', async () => {
    const res = await post(JSON.stringify({ object: 'something_new', entry: [{ id: '1', surprise: true }] }));
    expect(res.statusCode).toBe(200);
    const unknown = (await engine.app.ingress.list({ routeState: 'unrouted', limit: 500 })).filter(
      (e) => e.type === 'unknown',
    );
    expect(unknown.length).toBeGreaterThanOrEqual(1);
  });

  it("checks each Meta app's webhooks with that app's own secret", async () => {
    await engine.app.inject({
      method: 'PUT',
      url: '/internal/v1/meta-apps/second',
      headers: engine.auth,
      payload: { appSecret: 'second-app-secret', verifyToken: 'second-verify-token' },
    });
    const body = fixture('instagram-text');
    expect((await post(body, { url: '/meta/webhook/second', secret: APP_SECRET })).statusCode).toBe(401);
    expect((await post(body, { url: '/meta/webhook/second', secret: 'second-app-secret' })).statusCode).toBe(200);
  });
});

describe('routing', () => {
  it('keeps events of a channel without an instance as unrouted, and routes them once the channel gets one', async () => {
    await post(fixture('messenger-postback'));
    const waiting = await engine.app.ingress.list({ platform: 'messenger', routeState: 'unrouted', limit: 500 });
    const postback = waiting.find((e) => e.type === 'messenger.postback.received');
    expect(postback).toBeDefined();

    await routeTestInstance(engine, {
      id: 'ins-r1',
      tenantId: 'ten-1',
      webhookUrl: 'https://nexus.example.com/hooks/mic',
      channels: [{ platform: 'messenger', channelId: postback!.channelId! }],
    });

    const routed = await engine.app.ingress.list({
      platform: 'messenger',
      channelId: postback!.channelId!,
      limit: 500,
    });
    expect(routed.every((e) => e.routeState === 'routed' && e.instanceId === 'ins-r1')).toBe(true);

    // New events of that channel are routed as they arrive.
    const text = JSON.parse(fixture('messenger-text')) as {
      entry: { id: string; messaging: { recipient: { id: string }; message: { mid: string } }[] }[];
    };
    text.entry[0]!.id = postback!.channelId!;
    text.entry[0]!.messaging[0]!.recipient.id = postback!.channelId!;
    text.entry[0]!.messaging[0]!.message.mid = 'm_arrives_after_routing';
    expect((await post(JSON.stringify(text))).statusCode).toBe(200);
    const arrived = (await engine.app.ingress.list({ platform: 'messenger', limit: 500 })).find((e) =>
      e.dedupKey.includes('m_arrives_after_routing'),
    );
    expect(arrived).toMatchObject({ routeState: 'routed', instanceId: 'ins-r1', tenantId: 'ten-1' });
  });

  it('routes every event that arrives while its channel is getting its instance', async () => {
    const template = JSON.parse(fixture('messenger-text')) as {
      entry: { id: string; messaging: { recipient: { id: string }; message: { mid: string } }[] }[];
    };
    const pages = Array.from({ length: 30 }, (_, i) => `7730000${String(i).padStart(4, '0')}`);
    for (const page of pages) {
      const body = structuredClone(template);
      body.entry[0]!.id = page;
      body.entry[0]!.messaging[0]!.recipient.id = page;
      body.entry[0]!.messaging[0]!.message.mid = `m_race_${page}`;
      const [res] = await Promise.all([
        post(JSON.stringify(body)),
        applyTestConfig(engine, (snapshot) => {
          snapshot.channels.push({ platform: 'messenger', channelId: page, instanceId: 'ins-r1' });
        }),
      ]);
      expect(res.statusCode).toBe(200);
    }
    const stored = (await engine.app.ingress.list({ platform: 'messenger', limit: 1000 })).filter((e) =>
      pages.includes(e.channelId ?? ''),
    );
    expect(stored).toHaveLength(pages.length);
    expect(stored.filter((e) => e.routeState !== 'routed').map((e) => e.channelId)).toEqual([]);
  });

  it('keeps events unrouted when the snapshot gives their channel to an instance it does not list', async () => {
    await applyTestConfig(engine, (snapshot) => {
      snapshot.channels.push({ platform: 'whatsapp', channelId: '106540352242922', instanceId: 'nobody' });
    });
    expect(await engine.app.routingTable.routeOf('whatsapp', '106540352242922')).toBeNull();
  });
});

describe('GET /internal/v1/events', () => {
  it('lists unrouted events by type and shows one with what Meta sent; an unknown id is 404', async () => {
    expect((await post(fixture('instagram-text'))).statusCode).toBe(200);
    const list = await engine.app.inject({
      method: 'GET',
      url: '/internal/v1/events?routeState=unrouted&type=instagram.message.received',
      headers: engine.auth,
    });
    expect(list.statusCode).toBe(200);
    const events = list.json<{ id: string; type: string; routeState: string }[]>();
    expect(events.length).toBeGreaterThanOrEqual(1);
    expect(events.every((e) => e.type === 'instagram.message.received' && e.routeState === 'unrouted')).toBe(true);

    const one = await engine.app.inject({
      method: 'GET',
      url: `/internal/v1/events/${events[0]!.id}`,
      headers: engine.auth,
    });
    expect(one.statusCode).toBe(200);
    const detail = one.json<{ event: { id: string }; data: unknown; raw: unknown }>();
    expect(detail.event.id).toBe(events[0]!.id);
    expect(JSON.stringify(detail.raw)).toContain('"text"');

    const missing = await engine.app.inject({
      method: 'GET',
      url: '/internal/v1/events/00000000-0000-7000-8000-000000000000',
      headers: engine.auth,
    });
    expect(missing.statusCode).toBe(404);
    expect(missing.headers['content-type']).toContain('application/problem+json');
  });
});
