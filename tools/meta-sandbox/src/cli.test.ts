import { spawn } from 'node:child_process';
import { once } from 'node:events';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { verifyMetaSignature } from '@mic/meta';
import { runCli, type CliOutput } from './cli.ts';

const secret = 'cli-app-secret';
let server: Server;
let url: string;
let bodies: string[] = [];

beforeAll(async () => {
  server = createServer((request, response) => {
    const chunks: Buffer[] = [];
    request.on('data', (chunk: Buffer) => chunks.push(chunk));
    request.on('end', () => {
      const raw = Buffer.concat(chunks);
      bodies.push(raw.toString('utf8'));
      response.writeHead(verifyMetaSignature(raw, request.headers['x-hub-signature-256'], secret) ? 200 : 401).end();
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  url = `http://127.0.0.1:${(server.address() as AddressInfo).port}/webhooks/meta/main`;
});
afterAll(async () => {
  server.closeAllConnections();
  await new Promise((resolve) => server.close(resolve));
});

async function cli(argv: string[], env: NodeJS.ProcessEnv = {}) {
  const stdout: string[] = [];
  const stderr: string[] = [];
  const out: CliOutput = { stdout: (line) => stdout.push(line), stderr: (line) => stderr.push(line) };
  const code = await runCli(argv, out, env);
  return { code, stdout, stderr };
}

describe('meta-sandbox CLI', () => {
  it('sends, and prints a one-line summary', async () => {
    bodies = [];
    const run = await cli([
      'send',
      '--url',
      url,
      '--secret',
      secret,
      '--kind',
      'whatsapp-status',
      '--count',
      '12',
      '--rate',
      '500',
      '--duplicate-every',
      '4',
    ]);
    expect(run.stderr).toEqual([]);
    expect(run.code).toBe(0);
    expect(run.stdout).toHaveLength(1);
    expect(run.stdout[0]).toMatch(
      /^sent 12 requests \(9 new, 3 duplicates, 0 retries\) in \d+\.\d\d s, [\d.]+\/s: 200 ×12; 0 undelivered; latency ms p50 [\d.]+ p95 [\d.]+ p99 [\d.]+ max [\d.]+$/,
    );
    expect(bodies).toHaveLength(12);
    expect(new Set(bodies).size).toBe(9);
  });

  it('prints the summary as JSON, takes the secret from the environment, and exits 1 when bodies are refused', async () => {
    const run = await cli(['send', '--url', url, '--count', '3', '--json'], { META_SANDBOX_APP_SECRET: 'wrong' });
    expect(run.code).toBe(1);
    expect(JSON.parse(run.stdout[0] ?? '')).toMatchObject({ requests: 3, undelivered: 3, byStatus: { 401: 3 } });
  });

  it('answers bad arguments with one line and exit code 2', async () => {
    const cases: [string[], RegExp][] = [
      [['deploy'], /unknown command "deploy"/],
      [['send', '--secret', secret], /--url is required/],
      [['send', '--url', 'ftp://x', '--secret', secret], /--url must be http or https/],
      [['send', '--url', url], /--secret \(or META_SANDBOX_APP_SECRET\) is required/],
      [['send', '--url', url, '--secret', secret, '--kind', 'sms'], /--kind must be one of whatsapp-text, /],
      [['send', '--url', url, '--secret', secret, '--rate', 'fast'], /--rate must be a number/],
      [['send', '--url', url, '--secret', secret, '--count', '0'], /--count must be a whole number of at least 1/],
      [['send', '--url', url, '--secret', secret, '--duplicate-every', '1'], /--duplicate-every .* at least 2/],
      [['send', '--url', url, '--secret', secret, '--bogus'], /Unknown option '--bogus'/],
      [['send', '--url'], /--url/],
    ];
    for (const [argv, message] of cases) {
      const run = await cli(argv);
      expect(run.code, argv.join(' ')).toBe(2);
      expect(run.stderr, argv.join(' ')).toHaveLength(1);
      expect(run.stderr[0]).toMatch(/^meta-sandbox: /);
      expect(run.stderr[0]).toMatch(message);
      expect(run.stdout).toEqual([]);
    }
  });

  it('prints usage for --help', async () => {
    const run = await cli(['send', '--help']);
    expect(run.code).toBe(0);
    expect(run.stdout[0]).toMatch(/^usage: meta-sandbox send/);
  });

  it('runs as a process: a summary line on stdout, a bad argument as one line on stderr', async () => {
    const main = join(import.meta.dirname, 'main.ts');
    const run = async (args: string[]) => {
      const child = spawn(process.execPath, [main, ...args], { stdio: ['ignore', 'pipe', 'pipe'] });
      let stdout = '';
      let stderr = '';
      child.stdout.on('data', (chunk: Buffer) => (stdout += chunk.toString()));
      child.stderr.on('data', (chunk: Buffer) => (stderr += chunk.toString()));
      const [code] = (await once(child, 'exit')) as [number | null];
      return { code, stdout, stderr };
    };
    const ok = await run(['send', '--url', url, '--secret', secret, '--count', '5', '--kind', 'mixed']);
    expect(ok.code).toBe(0);
    expect(ok.stdout.trim().split('\n')).toHaveLength(1);
    expect(ok.stdout).toMatch(/^sent 5 requests/);

    const bad = await run(['send', '--url', 'http://127.0.0.1:1/', '--secret', secret, '--count', 'many']);
    expect(bad.code).toBe(2);
    expect(bad.stderr).toBe('meta-sandbox: --count must be a whole number of at least 1, not "many"\n');
  });
});

describe('meta-sandbox graph', () => {
  it('serves the Graph API side until stopped', async () => {
    const stop = new AbortController();
    const stdout: string[] = [];
    const stderr: string[] = [];
    const running = runCli(
      ['graph', '--port', '0', '--waba', '1029=EAAcli', '--page', '2048=EAApage', '--fail-next', '1'],
      { stdout: (line) => stdout.push(line), stderr: (line) => stderr.push(line) },
      {},
      stop.signal,
    );
    while (stdout.length === 0 && stderr.length === 0) await new Promise((r) => setTimeout(r, 10));
    expect(stderr).toEqual([]);
    const base = /listening on (\S+) \(2 objects\)$/.exec(stdout[0] ?? '')?.[1];
    expect(base).toMatch(/^http:\/\/127\.0\.0\.1:\d+$/);
    const subscribe = () =>
      fetch(`${base}/v21.0/1029/subscribed_apps`, { method: 'POST', headers: { authorization: 'Bearer EAAcli' } });
    expect((await subscribe()).status).toBe(500);
    expect(await (await subscribe()).json()).toEqual({ success: true });
    stop.abort();
    expect(await running).toBe(0);
  });

  it('answers bad graph arguments with one line and exit code 2', async () => {
    for (const [argv, message] of [
      [['graph', '--waba', 'nope'], /--waba must be <id>=<token>/],
      [['graph', '--fail-with', 'meteor'], /--fail-with must be one of server-error, /],
      [['graph', '--port', '70000'], /--port must be at most 65535/],
    ] as [string[], RegExp][]) {
      const run = await cli(argv);
      expect(run.code).toBe(2);
      expect(run.stderr[0]).toMatch(message);
    }
  });
});
