import { parseArgs } from 'node:util';
import { WEBHOOK_KINDS, bodyGenerator, type GeneratorOptions, type WebhookKind } from './webhooks/bodies.ts';
import { sendWebhooks, type SendSummary, type SendWebhooksOptions } from './webhooks/send.ts';
import {
  GRAPH_FAILURES,
  isGraphFailureName,
  startGraphSandbox,
  type GraphFailureName,
  type GraphSandboxObject,
} from './graph/server.ts';

export const USAGE = `usage: meta-sandbox send --url <webhook URL> --secret <app secret> [options]

Posts Meta webhook bodies signed with X-Hub-Signature-256, as Meta would.

  --url <url>              where to POST (the engine's webhook URL for a Meta app)
  --secret <secret>        the Meta app secret (or set META_SANDBOX_APP_SECRET)
  --kind <kind>            ${WEBHOOK_KINDS.join(', ')} (default whatsapp-text)
  --count <n>              requests to send, duplicates included (default 100)
  --rate <n>               requests per second; 0 = as fast as --concurrency allows (default 0)
  --concurrency <n>        requests in flight at most (default 16)
  --duplicate-every <n>    every n-th request re-sends the previous body, byte for byte
  --retries <n>            re-send a body that gets no 2xx up to n more times (default 0)
  --retry-delay-ms <n>     wait before a retry (default 100)
  --timeout-ms <n>         per request (default 10000)
  --channel <id>           phone_number_id, Page id or Instagram account id
  --customer <id>          the first customer's wa_id, PSID or IGSID
  --customers <n>          spread the bodies over n customers (default 1)
  --json                   print the summary as JSON instead of one line of text

Exit code: 0 when every body got a 2xx, 1 when some did not, 2 for bad arguments.

usage: meta-sandbox graph [options]

Answers Graph API calls (POST|GET|DELETE /{version}/{id}/subscribed_apps) as Meta would, until
stopped (Ctrl-C). Inspect and drive it under /_sandbox/ (calls, objects, failures, subscriptions).

  --host <address>         where to listen (default 127.0.0.1)
  --port <n>               port (default 3200; 0 picks a free one)
  --waba <id>=<token>      a WhatsApp Business Account and the token it accepts (repeatable)
  --page <id>=<token>      a Facebook page and its page token (repeatable)
  --fail-next <n>          the first n Graph calls fail
  --fail-with <failure>    how: ${Object.keys(GRAPH_FAILURES).join(', ')} (default server-error)`;

export interface CliOutput {
  stdout: (line: string) => void;
  stderr: (line: string) => void;
}

/** A mistake in the arguments: one line, and exit code 2. */
class UsageError extends Error {}

function integer(name: string, value: string | undefined, fallback: number, min: number): number {
  if (value === undefined) return fallback;
  if (!/^\d+$/.test(value.trim()) || Number(value) < min) {
    throw new UsageError(`--${name} must be a whole number of at least ${min}, not "${value}"`);
  }
  return Number(value);
}

function number(name: string, value: string | undefined, fallback: number): number {
  if (value === undefined) return fallback;
  const parsed = Number(value);
  if (value.trim() === '' || !Number.isFinite(parsed) || parsed < 0) {
    throw new UsageError(`--${name} must be a number of at least 0, not "${value}"`);
  }
  return parsed;
}

const options = {
  url: { type: 'string' },
  secret: { type: 'string' },
  kind: { type: 'string' },
  count: { type: 'string' },
  rate: { type: 'string' },
  concurrency: { type: 'string' },
  'duplicate-every': { type: 'string' },
  retries: { type: 'string' },
  'retry-delay-ms': { type: 'string' },
  'timeout-ms': { type: 'string' },
  channel: { type: 'string' },
  customer: { type: 'string' },
  customers: { type: 'string' },
  json: { type: 'boolean' },
  help: { type: 'boolean', short: 'h' },
} as const;

/** The `send` command's arguments as `sendWebhooks` options; throws a UsageError for a bad one. */
export function parseSendArgs(
  args: readonly string[],
  env: NodeJS.ProcessEnv = {},
): SendWebhooksOptions & { json: boolean } {
  let values;
  try {
    ({ values } = parseArgs({ args: [...args], options, strict: true, allowPositionals: false }));
  } catch (error) {
    // parseArgs explains itself in one sentence (unknown option, missing value).
    throw new UsageError((error as Error).message.split('\n')[0] ?? 'bad arguments');
  }
  const url = values.url;
  if (!url) throw new UsageError('--url is required');
  let parsed: URL;
  try {
    parsed = new URL(url);
  } catch {
    throw new UsageError(`--url is not a URL: "${url}"`);
  }
  if (parsed.protocol !== 'http:' && parsed.protocol !== 'https:') throw new UsageError('--url must be http or https');
  const appSecret = values.secret ?? env.META_SANDBOX_APP_SECRET;
  if (!appSecret) throw new UsageError('--secret (or META_SANDBOX_APP_SECRET) is required');
  const kind = (values.kind ?? 'whatsapp-text') as WebhookKind;
  if (!WEBHOOK_KINDS.includes(kind)) {
    throw new UsageError(`--kind must be one of ${WEBHOOK_KINDS.join(', ')}, not "${values.kind}"`);
  }
  const generatorOptions: GeneratorOptions = { customers: integer('customers', values.customers, 1, 1) };
  if (values.channel) generatorOptions.channelId = values.channel;
  if (values.customer) generatorOptions.customer = values.customer;
  const duplicateEvery = values['duplicate-every'];
  return {
    url,
    appSecret,
    generator: bodyGenerator(kind, generatorOptions),
    count: integer('count', values.count, 100, 1),
    rate: number('rate', values.rate, 0),
    concurrency: integer('concurrency', values.concurrency, 16, 1),
    ...(duplicateEvery === undefined ? {} : { duplicateEvery: integer('duplicate-every', duplicateEvery, 0, 2) }),
    retries: integer('retries', values.retries, 0, 0),
    retryDelayMs: integer('retry-delay-ms', values['retry-delay-ms'], 100, 0),
    timeoutMs: integer('timeout-ms', values['timeout-ms'], 10_000, 1),
    json: values.json ?? false,
  };
}

/** The `graph` command's arguments; throws a UsageError for a bad one. */
export function parseGraphArgs(args: readonly string[]): {
  host: string;
  port: number;
  objects: GraphSandboxObject[];
  failNext: number;
  failWith: GraphFailureName;
} {
  let values;
  try {
    ({ values } = parseArgs({
      args: [...args],
      options: {
        host: { type: 'string' },
        port: { type: 'string' },
        waba: { type: 'string', multiple: true },
        page: { type: 'string', multiple: true },
        'fail-next': { type: 'string' },
        'fail-with': { type: 'string' },
      },
      strict: true,
      allowPositionals: false,
    }));
  } catch (error) {
    throw new UsageError((error as Error).message.split('\n')[0] ?? 'bad arguments');
  }
  const object = (kind: GraphSandboxObject['kind'], flag: string) => (pair: string) => {
    const match = /^([A-Za-z0-9_-]{1,64})=(\S+)$/.exec(pair);
    if (!match) throw new UsageError(`--${flag} must be <id>=<token>, not "${pair}"`);
    return { id: match[1]!, kind, token: match[2]! };
  };
  const failWith = values['fail-with'] ?? 'server-error';
  if (!isGraphFailureName(failWith)) {
    throw new UsageError(`--fail-with must be one of ${Object.keys(GRAPH_FAILURES).join(', ')}, not "${failWith}"`);
  }
  const port = integer('port', values.port, 3200, 0);
  if (port > 65535) throw new UsageError(`--port must be at most 65535, not "${values.port}"`);
  return {
    host: values.host ?? '127.0.0.1',
    port,
    objects: [
      ...(values.waba ?? []).map(object('whatsapp-business-account', 'waba')),
      ...(values.page ?? []).map(object('page', 'page')),
    ],
    failNext: integer('fail-next', values['fail-next'], 0, 0),
    failWith,
  };
}

async function serveGraph(args: readonly string[], out: CliOutput, stop: AbortSignal): Promise<number> {
  const options = parseGraphArgs(args);
  const sandbox = await startGraphSandbox({ host: options.host, port: options.port, objects: options.objects });
  if (options.failNext > 0) sandbox.failNext(options.failNext, options.failWith);
  out.stdout(`graph sandbox listening on ${sandbox.url} (${options.objects.length} objects)`);
  if (!stop.aborted) await new Promise((resolve) => stop.addEventListener('abort', resolve, { once: true }));
  await sandbox.stop();
  return 0;
}

/** `sent 1000 requests (…) in 5.01 s, 199.6/s: 200 ×1000; latency ms p50 … max …` */
export function summaryLine(summary: SendSummary): string {
  const statuses = Object.entries(summary.byStatus)
    .sort(([a], [b]) => Number(a) - Number(b))
    .map(([status, n]) => `${status === '0' ? 'no answer' : status} ×${n}`)
    .join(', ');
  const errors = Object.entries(summary.errors)
    .map(([error, n]) => `${error} ×${n}`)
    .join(', ');
  const { p50, p95, p99, max } = summary.latencyMs;
  return (
    `sent ${summary.requests} requests (${summary.originals} new, ${summary.duplicates} duplicates, ` +
    `${summary.retries} retries) in ${(summary.durationMs / 1000).toFixed(2)} s, ${summary.ratePerSecond}/s: ` +
    `${statuses || 'nothing'}; ${summary.undelivered} undelivered; latency ms p50 ${p50} p95 ${p95} p99 ${p99} max ${max}` +
    (errors ? `; errors: ${errors}` : '')
  );
}

/** Runs the CLI and resolves with its exit code; every failure is one line on stderr, never a stack trace. */
export async function runCli(
  argv: readonly string[],
  out: CliOutput,
  env: NodeJS.ProcessEnv = {},
  /** Ends a long-running command (`graph`): SIGINT and SIGTERM in main.ts. */
  stop: AbortSignal = new AbortController().signal,
): Promise<number> {
  const [command, ...args] = argv;
  if (command === undefined || command === '--help' || command === '-h' || command === 'help') {
    out.stdout(USAGE);
    return command === undefined ? 2 : 0;
  }
  try {
    if (command !== 'send' && command !== 'graph')
      throw new UsageError(`unknown command "${command}" (try: send, graph)`);
    if (args.includes('--help') || args.includes('-h')) {
      out.stdout(USAGE);
      return 0;
    }
    if (command === 'graph') return await serveGraph(args, out, stop);
    const { json, ...sendOptions } = parseSendArgs(args, env);
    const { summary } = await sendWebhooks(sendOptions);
    out.stdout(json ? JSON.stringify(summary) : summaryLine(summary));
    return summary.undelivered === 0 ? 0 : 1;
  } catch (error) {
    const message = error instanceof Error ? error.message : String(error);
    out.stderr(`meta-sandbox: ${message.split('\n')[0]}`);
    return error instanceof UsageError ? 2 : 1;
  }
}
