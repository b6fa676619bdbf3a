import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createServer, type Server } from 'node:http';
import { eventually, freePort, TEST_DATABASE_URL } from '@mic/platform/testing';
import { startTestControl, type TestControl } from '../../testing.ts';

let control: TestControl;
let fakeEngine: Server;
let engineAnswer: 'pass' | 'hang' | 'garbage' = 'pass';

beforeAll(async () => {
  const enginePort = await freePort();
  fakeEngine = createServer((_req, res) => {
    if (engineAnswer === 'hang') return; // never answers
    res.writeHead(200, { 'content-type': 'application/health+json' });
    res.end(engineAnswer === 'pass' ? JSON.stringify({ status: 'pass', checks: {} }) : '<html>proxy error</html>');
  });
  await new Promise<void>((r) => fakeEngine.listen(enginePort, '127.0.0.1', r));
  control = await startTestControl({
    ENGINE_URL: `http://127.0.0.1:${enginePort}`,
    ENGINE_HEALTH_TIMEOUT: '300ms',
    QUEUE_HEARTBEAT_INTERVAL: '500ms',
  });
});

afterAll(async () => {
  await control?.stop();
  fakeEngine?.closeAllConnections();
  fakeEngine?.close();
});

async function health(path: string) {
  const res = await fetch(`${control.url}${path}`);
  return {
    status: res.status,
    type: res.headers.get('content-type'),
    body: (await res.json()) as Record<string, unknown>,
  };
}

describe('control health', () => {
  it('reports its API, its database and its queue in application/health+json', async () => {
    const api = await health('/health/api');
    expect(api).toMatchObject({ status: 200, body: { status: 'pass', serviceId: 'mic-control' } });
    expect(api.type).toContain('application/health+json');
    const db = await eventually(async () => {
      const h = await health('/health/db');
      return h.body.status === 'pass' ? h : undefined;
    });
    expect(Object.keys(db.body.checks as object).sort()).toEqual(
      ['pglite:responseTime', 'queue:roundTrip']
        .map((k) => (TEST_DATABASE_URL ? k.replace('pglite', 'postgres') : k))
        .sort(),
    );
  });

  it('passes /health/engine and its alias /health/motor while the engine says pass', async () => {
    engineAnswer = 'pass';
    for (const path of ['/health/engine', '/health/motor']) {
      expect(await health(path)).toMatchObject({ status: 200, body: { status: 'pass' } });
    }
  });

  it('fails /health/engine within its deadline when the engine hangs, and /health/api stays pass', async () => {
    engineAnswer = 'hang';
    const started = Date.now();
    const engine = await health('/health/engine');
    expect(Date.now() - started).toBeLessThan(2_000);
    expect(engine).toMatchObject({ status: 503, body: { status: 'fail' } });
    expect(engine.body.output).toContain('no answer within 300 ms');
    expect((await health('/health/api')).body.status).toBe('pass');
  });

  it('fails /health/engine when the engine answers something that is not a health report', async () => {
    engineAnswer = 'garbage';
    const engine = await health('/health/engine');
    expect(engine).toMatchObject({ status: 503, body: { status: 'fail' } });
    expect(engine.body.output).toContain('without a health report');
  });

  it('fails /health/engine when nothing listens at the engine address', async () => {
    fakeEngine.closeAllConnections();
    await new Promise((r) => fakeEngine.close(r));
    const engine = await health('/health/engine');
    expect(engine).toMatchObject({ status: 503, body: { status: 'fail' } });
    expect(engine.body.output).toContain('engine unreachable');
    expect((await health('/health/api')).status).toBe(200);
  });

  it('answers /livez, /readyz and /metrics', async () => {
    expect((await fetch(`${control.url}/livez`)).status).toBe(200);
    expect((await fetch(`${control.url}/readyz`)).status).toBe(200);
    const metrics = await (await fetch(`${control.url}/metrics`)).text();
    expect(metrics).toContain('http_request_duration_seconds_bucket');
    expect(metrics).toContain('queue_jobs{queue="system.heartbeat",state="queued",plane="control"}');
    expect(metrics).toContain('process_resident_memory_bytes');
  });
});
