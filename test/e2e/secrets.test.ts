import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import {
  dumpPlaneDatabase,
  internalAuth,
  micEnv,
  operatorLogin,
  runMic,
  waitForHealth,
  type MicEnv,
  type MicProcess,
  type OperatorSession,
} from './harness.ts';

/**
 * A full scenario with known secrets: no log line, no API answer (but the one that shows a new
 * credential once) and no column of control's database may contain any of them; in the engine's
 * database they exist only encrypted (tokens only as hashes).
 */
const KNOWN = {
  appSecret: 'known-app-secret-AAAA1111',
  verifyToken: 'known-verify-token-BBBB2222',
  accessToken: 'EAAKnownAccessTokenCCCC3333',
};

let env: MicEnv;
let mic: MicProcess;
let operator: OperatorSession;
const answers: string[] = [];
const shownOnce: string[] = [];

async function call(base: string, method: string, path: string, headers: Record<string, string>, body?: object) {
  const res = await fetch(`${base}${path}`, {
    method,
    headers: { ...headers, ...(body ? { 'content-type': 'application/json' } : {}) },
    ...(body ? { body: JSON.stringify(body) } : {}),
  });
  const text = await res.text();
  return { status: res.status, text, json: () => JSON.parse(text) as Record<string, unknown> };
}

beforeAll(async () => {
  env = await micEnv({ LOG_LEVEL: 'trace', META_APP_SECRET: KNOWN.appSecret, META_VERIFY_TOKEN: KNOWN.verifyToken });
  mic = runMic(['start'], env);
  await waitForHealth(`${mic.controlUrl}/health/engine`, 'pass');
  operator = await operatorLogin(mic, env);
  // The operator's password and session token are secrets too.
  shownOnce.push(operator.password, operator.token);
});

afterAll(async () => {
  await mic?.stop();
  await env?.cleanup();
});

describe('secrets never leak', () => {
  it('runs the scenario: set a channel token, create and rotate instance credentials, rotate the key', async () => {
    const set = await call(mic.controlUrl, 'PUT', '/v1/secrets/channel/5550001/access-token', operator.headers, {
      kind: 'meta-access-token',
      value: KNOWN.accessToken,
    });
    expect(set.status).toBe(200);
    expect(set.json()).toMatchObject({ ref: 'channel/5550001/access-token', last4: '3333' });
    answers.push(set.text);

    const created = await call(mic.controlUrl, 'POST', '/v1/instances/ins-e2e/credentials', operator.headers);
    expect(created.status).toBe(201);
    const { apiToken, signingSecret } = created.json() as { apiToken: string; signingSecret: string };
    shownOnce.push(apiToken, signingSecret);

    const rotatedToken = await call(
      mic.controlUrl,
      'POST',
      '/v1/instances/ins-e2e/credentials/api-token/rotate',
      operator.headers,
      {},
    );
    const rotatedSecret = await call(
      mic.controlUrl,
      'POST',
      '/v1/instances/ins-e2e/credentials/signing-secret/rotate',
      operator.headers,
      {},
    );
    const newToken = (rotatedToken.json() as { apiToken: string }).apiToken;
    shownOnce.push(newToken, (rotatedSecret.json() as { signingSecret: string }).signingSecret);

    // The instance reaches the engine with either token during the grace period.
    for (const token of [apiToken, newToken]) {
      const me = await call(mic.engineUrl, 'GET', '/v1/instance', { authorization: `Bearer ${token}` });
      expect(me.json()).toEqual({ instanceId: 'ins-e2e' });
      answers.push(me.text);
    }

    const rotation = runMic(['secrets', 'rotate-key'], env);
    expect((await rotation.exited).code).toBe(0);
    expect(rotation.output()).toContain('key-encryption key v2 is active');
    expect(rotation.output()).toContain(join(env.dataDir, 'keys', 'engine-keyring.json'));
    const keyring = JSON.parse(readFileSync(join(env.dataDir, 'keys', 'engine-keyring.json'), 'utf8')) as {
      active: number;
    };
    expect(keyring.active).toBe(2);

    // Everything still reads after the re-wrap.
    const after = await call(mic.engineUrl, 'GET', '/v1/instance', { authorization: `Bearer ${newToken}` });
    expect(after.status).toBe(200);

    const engineAuth = internalAuth(env.dataDir, 'engine');
    const controlAuth = internalAuth(env.dataDir, 'control');
    for (const [base, path, headers] of [
      [mic.controlUrl, '/v1/secrets', operator.headers],
      [mic.controlUrl, '/v1/instances/ins-e2e/credentials', operator.headers],
      [mic.controlUrl, '/v1/audit', operator.headers],
      [mic.controlUrl, '/internal/v1/service-tokens', controlAuth],
      [mic.controlUrl, '/metrics', {}],
      [mic.controlUrl, '/docs/json', {}],
      [mic.engineUrl, '/internal/v1/secrets', engineAuth],
      [mic.engineUrl, '/internal/v1/secrets/meta-app/default/app-secret', engineAuth],
      [mic.engineUrl, '/internal/v1/instances/ins-e2e/credentials', engineAuth],
      [mic.engineUrl, '/internal/v1/service-tokens', engineAuth],
      [mic.engineUrl, '/metrics', {}],
      [mic.engineUrl, '/docs/json', {}],
    ] as const) {
      const res = await call(base, 'GET', path, headers);
      expect({ path, status: res.status }).toEqual({ path, status: 200 });
      answers.push(res.text);
    }

    // The running control checks its audit chain for the command.
    const verify = runMic(['audit', 'verify'], env);
    expect((await verify.exited).code).toBe(0);
    expect(verify.output()).toMatch(/audit chain OK: \d+ rows/);
  });

  it('shows no secret in any answer but the one that issued it', () => {
    const secrets = [...Object.values(KNOWN), ...shownOnce];
    for (const answer of answers) for (const secret of secrets) expect(answer.includes(secret)).toBe(false);
  });

  it('writes no secret to any log line', async () => {
    expect((await mic.stop()).code).toBe(0);
    const output = mic.output();
    expect(output.split('\n').length).toBeGreaterThan(20);
    for (const secret of [...Object.values(KNOWN), ...shownOnce]) expect(output.includes(secret)).toBe(false);
  });

  it("keeps no secret in control's database, and only encrypted or hashed ones in the engine's", async () => {
    const serviceTokens = Object.values(
      JSON.parse(readFileSync(join(env.dataDir, 'keys', 'service-tokens.json'), 'utf8')) as Record<string, string>,
    );
    const secrets = [...Object.values(KNOWN), ...shownOnce, ...serviceTokens];
    const control = await dumpPlaneDatabase(env, 'control');
    const engine = await dumpPlaneDatabase(env, 'engine');
    expect(control).toContain('channel/5550001/access-token');
    expect(engine).toContain('meta-app/default/app-secret');
    for (const secret of secrets) {
      expect(control.includes(secret)).toBe(false);
      expect(engine.includes(secret)).toBe(false);
    }
  });
});
