import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startTestControl, type TestControl } from '../../testing.ts';

let parent: string;
let built: string;
let empty: string;
let control: TestControl;
let unbuilt: TestControl;

const INDEX = '<!doctype html><title>MIC</title><div id="root"></div>';

beforeAll(async () => {
  parent = mkdtempSync(join(tmpdir(), 'console-'));
  built = join(parent, 'dist');
  mkdirSync(join(built, 'assets'), { recursive: true });
  writeFileSync(join(parent, 'secret.txt'), 'TOP-SECRET');
  writeFileSync(join(built, 'index.html'), INDEX);
  writeFileSync(join(built, 'assets', 'index-abc123.js'), 'console.log("mic")');
  empty = mkdtempSync(join(tmpdir(), 'console-empty-'));
  [control, unbuilt] = await Promise.all([
    startTestControl({ CONSOLE_DIR: built }),
    startTestControl({ CONSOLE_DIR: empty }),
  ]);
});

afterAll(async () => {
  await Promise.all([control?.stop(), unbuilt?.stop()]);
  rmSync(parent, { recursive: true, force: true });
  rmSync(empty, { recursive: true, force: true });
});

const get = (plane: TestControl, url: string) => plane.app.inject({ method: 'GET', url });

describe('the console, served by control', () => {
  it('answers / and every page address with index.html, never cached', async () => {
    for (const url of ['/', '/tenants', '/tenants/ten_abc?tab=channels', '/reset-password?token=x']) {
      const res = await get(control, url);
      expect(res.statusCode, url).toBe(200);
      expect(res.headers['content-type']).toContain('text/html');
      expect(res.headers['cache-control']).toBe('no-cache');
      expect(res.body).toBe(INDEX);
    }
  });

  it('serves hashed assets for a year, and a missing asset is a 404 problem', async () => {
    const asset = await get(control, '/assets/index-abc123.js');
    expect(asset.statusCode).toBe(200);
    expect(asset.headers['content-type']).toContain('javascript');
    expect(asset.headers['cache-control']).toBe('public, max-age=31536000, immutable');
    const missing = await get(control, '/assets/index-gone.js');
    expect(missing.statusCode).toBe(404);
    expect(missing.headers['content-type']).toContain('application/problem+json');
  });

  it('leaves the API, health, docs and metrics to the plane', async () => {
    const api = await get(control, '/v1/no-such-route');
    expect(api.statusCode).toBe(404);
    expect(api.json()).toMatchObject({ type: '/problems/not-found', detail: 'no route GET /v1/no-such-route' });
    expect((await get(control, '/v1/tenants')).statusCode).toBe(401);
    expect((await get(control, '/health/api')).headers['content-type']).toContain('application/health+json');
    expect((await get(control, '/internal/v1/nothing')).statusCode).toBe(401);
    expect((await get(control, '/metrics')).headers['content-type']).toContain('text/plain');
    expect((await get(control, '/docs/json')).json()).toHaveProperty('openapi');
  });

  it('never serves a file outside its folder', async () => {
    for (const url of ['/../secret.txt', '/%2e%2e/secret.txt', '/assets/..%2f..%2fsecret.txt', '/..%5csecret.txt']) {
      const res = await get(control, url);
      expect(res.body, url).not.toContain('TOP-SECRET');
    }
  });

  it('says how to build the console when it is not built, and keeps the API up', async () => {
    const res = await get(unbuilt, '/tenants');
    expect(res.statusCode).toBe(503);
    expect(res.json()).toMatchObject({ type: '/problems/console-not-built', title: 'The console is not built' });
    expect(res.json<{ detail: string }>().detail).toContain('npm run build -w apps/console');
    expect((await get(unbuilt, '/health/api')).statusCode).toBe(200);
  });
});
