import { afterAll, describe, expect, it } from 'vitest';
import { Type } from 'typebox';
import { Registry } from 'prom-client';
import { createHttpServer, Problem } from './index.ts';
import { testLogger } from '../testing/index.ts';

const app = await createHttpServer({
  logger: testLogger(),
  metrics: new Registry(),
  title: 't',
  version: '1',
  description: 'd',
  bodyLimit: 1024,
});
app.post(
  '/things',
  {
    schema: {
      security: [{ bearer: [] }],
      body: Type.Object({ name: Type.String({ minLength: 1 }), count: Type.Integer() }),
    },
  },
  async (req) => req.body,
);
app.get('/paused', async () => {
  throw new Problem({
    status: 423,
    type: 'instance-paused',
    title: 'The instance is paused',
    detail: 'resume it first',
    instanceId: 'ins_1',
  });
});
app.get('/boom', async () => {
  throw new Error('database password is hunter2');
});
await app.ready();
afterAll(() => app.close());

describe('problem details', () => {
  it('names each invalid field', async () => {
    const res = await app.inject({ method: 'POST', url: '/things', payload: { name: '' } });
    expect(res.statusCode).toBe(400);
    expect(res.headers['content-type']).toContain('application/problem+json');
    const body = res.json<{ type: string; errors: { field: string }[] }>();
    expect(body.type).toBe('/problems/validation');
    expect(body.errors.map((e) => e.field).sort()).toEqual(['body.count', 'body.name']);
  });

  it('answers 400 for a body that is not JSON', async () => {
    const res = await app.inject({
      method: 'POST',
      url: '/things',
      headers: { 'content-type': 'application/json' },
      payload: '{"name":',
    });
    expect(res.statusCode).toBe(400);
    expect(res.json()).toMatchObject({ type: '/problems/invalid-json', status: 400 });
  });

  it('answers 413 for a body over the limit', async () => {
    const res = await app.inject({ method: 'POST', url: '/things', payload: { name: 'x'.repeat(2048), count: 1 } });
    expect(res.statusCode).toBe(413);
    expect(res.json()).toMatchObject({ type: '/problems/payload-too-large' });
  });

  it('keeps a thrown Problem and its extension fields', async () => {
    const res = await app.inject({ method: 'GET', url: '/paused' });
    expect(res.statusCode).toBe(423);
    expect(res.json()).toEqual({
      type: '/problems/instance-paused',
      title: 'The instance is paused',
      status: 423,
      detail: 'resume it first',
      instanceId: 'ins_1',
      instance: '/paused',
    });
  });

  it('never reveals the message of an unexpected error', async () => {
    const res = await app.inject({ method: 'GET', url: '/boom' });
    expect(res.statusCode).toBe(500);
    expect(res.body).not.toContain('hunter2');
    expect(res.json()).toMatchObject({ type: '/problems/internal', title: 'Internal error' });
  });

  it('answers unknown routes with a 404 problem', async () => {
    const res = await app.inject({ method: 'GET', url: '/nothing-here' });
    expect(res.statusCode).toBe(404);
    expect(res.json()).toMatchObject({ type: '/problems/not-found', detail: 'no route GET /nothing-here' });
  });

  it('echoes a sane request id and makes one otherwise', async () => {
    const given = await app.inject({ method: 'GET', url: '/paused', headers: { 'x-request-id': 'abc-123' } });
    expect(given.headers['x-request-id']).toBe('abc-123');
    const made = await app.inject({ method: 'GET', url: '/paused', headers: { 'x-request-id': 'bad id with spaces' } });
    expect(made.headers['x-request-id']).toMatch(/^[0-9a-f-]{36}$/);
  });

  it('serves the OpenAPI document at /docs', async () => {
    const res = await app.inject({ method: 'GET', url: '/docs/json' });
    expect(res.statusCode).toBe(200);
    const doc = res.json<{ paths: Record<string, unknown>; components: { securitySchemes: object } }>();
    expect(doc.paths).toHaveProperty('/things');
    expect(doc.components.securitySchemes).toHaveProperty('bearer');
  });
});

describe('behind a reverse proxy', () => {
  async function clientSeen(trustProxy?: boolean | string[]) {
    const server = await createHttpServer({
      logger: testLogger(),
      metrics: new Registry(),
      title: 't',
      version: '1',
      description: 'd',
      ...(trustProxy === undefined ? {} : { trustProxy }),
    });
    server.get('/who', async (req) => ({ ip: req.ip, protocol: req.protocol }));
    const res = await server.inject({
      method: 'GET',
      url: '/who',
      headers: { 'x-forwarded-for': '203.0.113.7', 'x-forwarded-proto': 'https' },
    });
    await server.close();
    return res.json<{ ip: string; protocol: string }>();
  }

  it('ignores X-Forwarded-* unless told which proxies to believe', async () => {
    expect(await clientSeen()).toEqual({ ip: '127.0.0.1', protocol: 'http' });
    expect(await clientSeen(['10.0.0.0/8'])).toEqual({ ip: '127.0.0.1', protocol: 'http' });
    expect(await clientSeen(['127.0.0.1'])).toEqual({ ip: '203.0.113.7', protocol: 'https' });
  });
});
