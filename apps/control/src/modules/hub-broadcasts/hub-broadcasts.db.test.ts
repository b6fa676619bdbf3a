import { createServer, type Server } from 'node:http';
import { randomUUID } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { eventually } from '@mic/platform/testing';
import type { Broadcast, Contact, DeliveredEvent, HubBroadcast, Segment } from '@mic/contracts';
import { startTestControl, type TestControl } from '../../testing.ts';

/** A stand-in for the engine's internal hub broadcast API: records what control asks. */
interface EngineCall {
  method: string;
  path: string;
  body: unknown;
}

let control: TestControl;
let engine: Server;
const calls: EngineCall[] = [];
/** The engine answers PUTs with this status (a problem body) instead of taking the broadcast. */
let refuseWith: number | null = null;
/** The engine answers every request with this status (an engine failing, or restarting). */
let failWith: number | null = null;

const totals = {
  recipients: 2,
  duplicates: 0,
  pending: 2,
  suppressed: 0,
  skipped: 0,
  queued: 0,
  sent: 0,
  delivered: 0,
  read: 0,
  failed: 0,
  cancelled: 0,
};
const engineBroadcast = (id: string, state: Broadcast['state'] = 'scheduled'): Broadcast => ({
  id,
  name: null,
  channel: { kind: 'whatsapp', id: '1065400001' },
  state,
  waitingReason: null,
  waitingUntil: null,
  scheduledAt: new Date().toISOString(),
  createdAt: new Date().toISOString(),
  startedAt: null,
  finishedAt: null,
  totals,
});

async function api<T>(method: 'GET' | 'POST', url: string, payload?: object) {
  const res = await control.app.inject({ method, url, headers: control.operator, ...(payload ? { payload } : {}) });
  return { status: res.statusCode, body: res.json<T>() };
}

const template = { type: 'template', template: { name: 'hello_world', language: { code: 'en_US' } } };

beforeAll(async () => {
  engine = createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => {
      const text = Buffer.concat(chunks).toString('utf8');
      const path = req.url ?? '';
      calls.push({ method: req.method ?? '', path, body: text ? (JSON.parse(text) as unknown) : null });
      const status = failWith ?? (req.method === 'PUT' ? refuseWith : null);
      if (status !== null) {
        res.writeHead(status, { 'content-type': 'application/problem+json' });
        res.end(
          JSON.stringify({
            type: 'about:blank',
            title: 'The template does not exist',
            status,
            detail: 'no template hello_world',
          }),
        );
        return;
      }
      const key = /\/internal\/v1\/hub\/broadcasts\/([^/]+)/.exec(path)?.[1] ?? 'x';
      const state = path.endsWith('/pause') ? 'paused' : 'scheduled';
      res.writeHead(req.method === 'PUT' ? 201 : 200, { 'content-type': 'application/json' });
      res.end(JSON.stringify(engineBroadcast(key.startsWith('eng-') ? key : `eng-${key}`, state)));
    });
  });
  await new Promise<void>((r) => engine.listen(0, '127.0.0.1', r));
  const port = (engine.address() as { port: number }).port;
  control = await startTestControl({ ENGINE_URL: `http://127.0.0.1:${port}`, ENGINE_TOKEN: 'engine-token-for-tests' });
}, 60_000);

afterAll(async () => {
  await control?.stop();
  engine?.close();
});

describe('hub broadcasts', () => {
  it('hands a broadcast to a list to the engine through the outbox, keyed by its own id, and follows its events', async () => {
    const created = await api<HubBroadcast>('POST', '/v1/hub/broadcasts', {
      name: 'Hub news',
      channel: { kind: 'whatsapp', id: '1065400001' },
      message: template,
      recipients: [{ to: '+5215550401' }, { to: '+5215550402' }],
    });
    expect(created.status).toBe(202);
    expect(created.body).toMatchObject({ state: 'pending', recipients: 2, engineBroadcastId: null });
    const id = created.body.id;

    const taken = await eventually(async () => {
      const body = (await api<HubBroadcast>('GET', `/v1/hub/broadcasts/${id}`)).body;
      expect(body.engineBroadcastId).toBe(`eng-${id}`);
      return body;
    });
    expect(taken).toMatchObject({ state: 'scheduled', totals: { recipients: 2 } });
    const put = calls.find((c) => c.method === 'PUT' && c.path === `/internal/v1/hub/broadcasts/${id}`);
    expect(put?.body).toEqual({
      name: 'Hub news',
      channel: { kind: 'whatsapp', id: '1065400001' },
      message: template,
      recipients: [{ to: '+5215550401' }, { to: '+5215550402' }],
    });

    const event: DeliveredEvent = {
      id: randomUUID(),
      type: 'whatsapp.broadcast.completed',
      tenantId: 'ten_hub',
      instanceId: 'ins_hub',
      channel: { kind: 'whatsapp', id: '1065400001' },
      conversation: { id: `broadcast:eng-${id}`, seq: 3 },
      occurredAt: new Date().toISOString(),
      receivedAt: new Date().toISOString(),
      data: {
        broadcastId: `eng-${id}`,
        name: 'Hub news',
        state: 'completed',
        waitingReason: null,
        totals: { ...totals, pending: 0, read: 2 },
      },
      raw: {},
    };
    const res = await control.app.inject({
      method: 'POST',
      url: '/internal/v1/hub/events',
      headers: control.auth,
      payload: event,
    });
    expect(res.statusCode).toBe(204);
    const listed = (await api<HubBroadcast[]>('GET', '/v1/hub/broadcasts')).body.find((b) => b.id === id);
    expect(listed).toMatchObject({ state: 'completed', totals: { read: 2, pending: 0 } });

    const paused = await api<HubBroadcast>('POST', `/v1/hub/broadcasts/${id}/pause`);
    expect(paused.body.state).toBe('paused');
    expect(calls.some((c) => c.method === 'POST' && c.path === `/internal/v1/hub/broadcasts/eng-${id}/pause`)).toBe(
      true,
    );
  });

  it('resolves a CRM segment to its contacts’ WhatsApp ids or first phones', async () => {
    const tag = `bc-${randomUUID().slice(0, 8)}`;
    await api<Contact>('POST', '/v1/crm/contacts', { name: 'Con WhatsApp', tags: [tag], whatsappId: '5215550501' });
    await api<Contact>('POST', '/v1/crm/contacts', { name: 'Con teléfono', tags: [tag], phones: ['+5215550502'] });
    await api<Contact>('POST', '/v1/crm/contacts', { name: 'Sin nada', tags: [tag] });
    const segment = (
      await api<Segment>('POST', '/v1/crm/segments', {
        name: tag,
        filter: { subject: 'contacts', match: 'all', conditions: [{ field: 'tag', op: 'has', value: tag }] },
      })
    ).body;
    const created = await api<HubBroadcast>('POST', '/v1/hub/broadcasts', {
      channel: { kind: 'whatsapp', id: '1065400001' },
      message: template,
      segmentId: segment.id,
    });
    expect(created.status).toBe(202);
    expect(created.body).toMatchObject({ segmentId: segment.id, recipients: 2 });
    await eventually(async () => {
      const put = calls.find((c) => c.method === 'PUT' && c.path === `/internal/v1/hub/broadcasts/${created.body.id}`);
      expect((put?.body as { recipients: { to: string }[] }).recipients.map((r) => r.to).sort()).toEqual([
        '+5215550502',
        '5215550501',
      ]);
      return true;
    });
  });

  it('keeps handing a broadcast over while the engine fails, and shows control’s copy while it cannot answer', async () => {
    failWith = 503;
    try {
      const created = await api<HubBroadcast>('POST', '/v1/hub/broadcasts', {
        channel: { kind: 'whatsapp', id: '1065400001' },
        message: template,
        recipients: [{ to: '+5215550701' }],
      });
      const id = created.body.id;
      const isPut = (c: EngineCall) => c.method === 'PUT' && c.path === `/internal/v1/hub/broadcasts/${id}`;
      await eventually(async () => calls.some(isPut) || undefined);
      // A 503 is not a refusal: the broadcast still waits in control, and its job tries again.
      expect((await api<HubBroadcast>('GET', `/v1/hub/broadcasts/${id}`)).body).toMatchObject({
        state: 'pending',
        engineBroadcastId: null,
        error: null,
      });
      failWith = null;
      await eventually(async () => {
        const body = (await api<HubBroadcast>('GET', `/v1/hub/broadcasts/${id}`)).body;
        expect(body).toMatchObject({ state: 'scheduled', engineBroadcastId: `eng-${id}` });
        return body;
      });
      expect(calls.filter(isPut).length).toBeGreaterThan(1);

      failWith = 500;
      const shown = await api<HubBroadcast>('GET', `/v1/hub/broadcasts/${id}`);
      expect(shown.status).toBe(200);
      expect(shown.body).toMatchObject({ state: 'scheduled', engineBroadcastId: `eng-${id}` });
      expect(calls.at(-1)).toMatchObject({ method: 'GET', path: `/internal/v1/hub/broadcasts/eng-${id}` });
    } finally {
      failWith = null;
    }
  });

  it('records the engine’s refusal and refuses a broadcast with neither list nor segment', async () => {
    const neither = await api<{ errors: { field: string }[] }>('POST', '/v1/hub/broadcasts', {
      channel: { kind: 'whatsapp', id: '1065400001' },
      message: template,
    });
    expect(neither.status).toBe(400);
    expect(neither.body.errors[0]!.field).toBe('recipients');

    refuseWith = 422;
    try {
      const created = await api<HubBroadcast>('POST', '/v1/hub/broadcasts', {
        channel: { kind: 'whatsapp', id: '1065400001' },
        message: template,
        recipients: [{ to: '+5215550601' }],
      });
      const refused = await eventually(async () => {
        const body = (await api<HubBroadcast>('GET', `/v1/hub/broadcasts/${created.body.id}`)).body;
        expect(body.state).toBe('refused');
        return body;
      });
      expect(refused.error).toEqual({ title: 'The template does not exist', message: 'no template hello_world' });
      const cannot = await api<{ type: string }>('POST', `/v1/hub/broadcasts/${created.body.id}/cancel`);
      expect(cannot.status).toBe(409);
    } finally {
      refuseWith = null;
    }
  });
});
