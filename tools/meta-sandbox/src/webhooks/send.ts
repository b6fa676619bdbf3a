import { setTimeout as sleep } from 'node:timers/promises';
import { SIGNATURE_HEADER, signMetaBody } from '@mic/meta';
import type { MetaWebhookBody } from './bodies.ts';

export interface SendWebhooksOptions {
  /** Where Meta would POST: the engine's webhook URL for one Meta app. */
  url: string;
  /** The Meta app secret the bodies are signed with (`X-Hub-Signature-256`). */
  appSecret: string;
  /** The bodies to send, in order (an object is serialized once; a string is sent as it is). */
  bodies?: readonly (MetaWebhookBody | string)[];
  /** Or a generator: called with 0, 1, 2, … for each new body. */
  generator?: (index: number) => MetaWebhookBody | string;
  /** Requests to schedule, duplicates included (retries are extra). Default: one per body. */
  count?: number;
  /** Requests started per second; 0 (the default) starts them as fast as `concurrency` allows. */
  rate?: number;
  /** Requests in flight at most. Default 16. */
  concurrency?: number;
  /**
   * Every `duplicateEvery`-th request re-sends the latest body instead of a new one, byte for
   * byte with the same signature, as Meta does when it delivers an event twice.
   */
  duplicateEvery?: number;
  /** A body that gets no 2xx is sent again, up to this many more times (as Meta retries). Default 0. */
  retries?: number;
  /** The wait before each retry, in ms. Default 100. */
  retryDelayMs?: number;
  /** Per request, in ms (status 0 when it passes). Default 10 s. */
  timeoutMs?: number;
  /** Extra headers on every request. */
  headers?: Readonly<Record<string, string>>;
  signal?: AbortSignal;
  fetch?: typeof globalThis.fetch;
}

/** One request: a new body (`original`), a deliberate `duplicate` of an earlier one, or a `retry`. */
export interface WebhookSendResult {
  /** Position in the schedule (0-based); a retry has the index of the request it retries. */
  index: number;
  kind: 'original' | 'duplicate' | 'retry';
  /** Which body was sent: 0 for the first new body, 1 for the next, … (duplicates repeat one). */
  body: number;
  /** 1 for the first send of a scheduled request, 2 for its first retry, … */
  attempt: number;
  /** The HTTP status; 0 when there was no answer (refused, reset, timed out). */
  status: number;
  latencyMs: number;
  /** When the request started, in ms since the run started. */
  startedMs: number;
  error?: string;
}

export interface SendSummary {
  requests: number;
  originals: number;
  duplicates: number;
  retries: number;
  /** Requests answered 2xx. */
  ok: number;
  /** Scheduled requests (originals and duplicates) whose last attempt got no 2xx. */
  undelivered: number;
  /** Requests by status, `0` for no answer. */
  byStatus: Record<string, number>;
  /** Requests without an answer, by why (`ECONNREFUSED`, `no answer within 10000 ms`, …). */
  errors: Record<string, number>;
  durationMs: number;
  /** Requests per second achieved. */
  ratePerSecond: number;
  latencyMs: { p50: number; p95: number; p99: number; max: number };
}

export interface SendReport {
  results: WebhookSendResult[];
  summary: SendSummary;
}

const DEFAULT_CONCURRENCY = 16;

/** A counting semaphore for the requests in flight. */
class Slots {
  #free: number;
  readonly #waiting: (() => void)[] = [];
  constructor(size: number) {
    this.#free = size;
  }
  async acquire(): Promise<void> {
    if (this.#free > 0) {
      this.#free -= 1;
      return;
    }
    await new Promise<void>((resolve) => this.#waiting.push(resolve));
  }
  release(): void {
    const next = this.#waiting.shift();
    if (next) next();
    else this.#free += 1;
  }
}

const percentile = (sorted: readonly number[], p: number) =>
  sorted.length === 0 ? 0 : (sorted[Math.min(sorted.length - 1, Math.ceil((p / 100) * sorted.length) - 1)] ?? 0);

const round = (ms: number) => Math.round(ms * 100) / 100;

export function summarize(results: readonly WebhookSendResult[], durationMs: number): SendSummary {
  const byStatus: Record<string, number> = {};
  const errors: Record<string, number> = {};
  for (const result of results) {
    byStatus[result.status] = (byStatus[result.status] ?? 0) + 1;
    if (result.error !== undefined) errors[result.error] = (errors[result.error] ?? 0) + 1;
  }
  const latencies = results.map((r) => r.latencyMs).sort((a, b) => a - b);
  const last = new Map<number, WebhookSendResult>();
  for (const result of results) {
    const seen = last.get(result.index);
    if (!seen || result.attempt > seen.attempt) last.set(result.index, result);
  }
  return {
    requests: results.length,
    originals: results.filter((r) => r.kind === 'original').length,
    duplicates: results.filter((r) => r.kind === 'duplicate').length,
    retries: results.filter((r) => r.kind === 'retry').length,
    ok: results.filter((r) => r.status >= 200 && r.status < 300).length,
    undelivered: [...last.values()].filter((r) => r.status < 200 || r.status >= 300).length,
    byStatus,
    errors,
    durationMs: round(durationMs),
    ratePerSecond: durationMs > 0 ? round((results.length * 1000) / durationMs) : 0,
    latencyMs: {
      p50: round(percentile(latencies, 50)),
      p95: round(percentile(latencies, 95)),
      p99: round(percentile(latencies, 99)),
      max: round(latencies.at(-1) ?? 0),
    },
  };
}

function positiveInteger(name: string, value: number | undefined, min: number): void {
  if (value !== undefined && (!Number.isInteger(value) || value < min)) {
    throw new RangeError(`${name} must be an integer of at least ${min}`);
  }
}

/**
 * Posts Meta webhook bodies to `url` as Meta would: JSON signed with `X-Hub-Signature-256` under
 * `appSecret`, at `rate` requests per second with at most `concurrency` in flight, with deliberate
 * duplicates (`duplicateEvery`) and retries of bodies that got no 2xx (`retries`). Resolves with
 * every request's status and latency once all are answered; it never throws for a failed request.
 */
export async function sendWebhooks(options: SendWebhooksOptions): Promise<SendReport> {
  const { bodies, generator } = options;
  if ((bodies === undefined) === (generator === undefined)) throw new TypeError('give either bodies or a generator');
  const count = options.count ?? bodies?.length;
  if (count === undefined) throw new TypeError('count is required with a generator');
  positiveInteger('count', count, 0);
  positiveInteger('concurrency', options.concurrency, 1);
  positiveInteger('duplicateEvery', options.duplicateEvery, 2);
  const originals = count - (options.duplicateEvery ? Math.floor(count / options.duplicateEvery) : 0);
  if (bodies && originals > bodies.length) {
    throw new RangeError(`${count} requests need ${originals} bodies; ${bodies.length} given`);
  }
  positiveInteger('retries', options.retries, 0);
  const rate = options.rate ?? 0;
  if (!Number.isFinite(rate) || rate < 0)
    throw new RangeError('rate must be a number of requests per second, 0 or more');
  if (options.appSecret === '') throw new TypeError('appSecret is empty');
  const url = new URL(options.url);
  const doFetch = options.fetch ?? globalThis.fetch;
  const timeoutMs = options.timeoutMs ?? 10_000;
  const retries = options.retries ?? 0;
  const retryDelayMs = options.retryDelayMs ?? 100;
  const slots = new Slots(options.concurrency ?? DEFAULT_CONCURRENCY);

  const results: WebhookSendResult[] = [];
  const started = performance.now();

  /** One body, serialized and signed once: duplicates and retries send these very bytes. */
  const prepare = (body: MetaWebhookBody | string) => {
    const text = typeof body === 'string' ? body : JSON.stringify(body);
    return { text, signature: signMetaBody(text, options.appSecret) };
  };

  async function post(prepared: { text: string; signature: string }) {
    const startedMs = performance.now();
    try {
      const response = await doFetch(url, {
        method: 'POST',
        body: prepared.text,
        headers: {
          'content-type': 'application/json',
          'user-agent': 'facebookexternalua',
          ...options.headers,
          [SIGNATURE_HEADER]: prepared.signature,
        },
        signal: options.signal
          ? AbortSignal.any([options.signal, AbortSignal.timeout(timeoutMs)])
          : AbortSignal.timeout(timeoutMs),
      });
      await response.arrayBuffer();
      return { status: response.status, startedMs, latencyMs: performance.now() - startedMs };
    } catch (error) {
      // fetch says only "fetch failed"; the reason (ECONNREFUSED, bad port, …) is its cause.
      const cause = (error as { cause?: { code?: unknown; message?: unknown } }).cause;
      const reason =
        typeof cause?.code === 'string' ? cause.code : typeof cause?.message === 'string' ? cause.message : undefined;
      const message =
        (error as Error).name === 'TimeoutError'
          ? `no answer within ${timeoutMs} ms`
          : (reason ?? (error as Error).message);
      return { status: 0, startedMs, latencyMs: performance.now() - startedMs, error: message };
    }
  }

  async function run(
    index: number,
    kind: 'original' | 'duplicate',
    body: number,
    prepared: { text: string; signature: string },
  ) {
    for (let attempt = 1; ; attempt += 1) {
      if (attempt > 1) {
        await sleep(retryDelayMs);
        await slots.acquire();
      }
      let outcome: Awaited<ReturnType<typeof post>>;
      try {
        outcome = await post(prepared);
      } finally {
        slots.release();
      }
      results.push({
        index,
        kind: attempt === 1 ? kind : 'retry',
        body,
        attempt,
        status: outcome.status,
        latencyMs: round(outcome.latencyMs),
        startedMs: round(outcome.startedMs - started),
        ...(outcome.error ? { error: outcome.error } : {}),
      });
      const isAccepted = outcome.status >= 200 && outcome.status < 300;
      if (isAccepted || attempt > retries || options.signal?.aborted) return;
    }
  }

  const tasks: Promise<void>[] = [];
  let latest: { body: number; prepared: { text: string; signature: string } } | undefined;
  let nextBody = 0;
  for (let index = 0; index < count; index += 1) {
    if (options.signal?.aborted) break;
    if (rate > 0) {
      const wait = started + (index * 1000) / rate - performance.now();
      if (wait >= 1) await sleep(wait);
    }
    const isDuplicate =
      latest !== undefined && options.duplicateEvery !== undefined && (index + 1) % options.duplicateEvery === 0;
    if (!isDuplicate || latest === undefined) {
      const source = bodies ? bodies[nextBody] : generator?.(nextBody);
      if (source === undefined) throw new RangeError(`no body ${nextBody}`);
      latest = { body: nextBody, prepared: prepare(source) };
      nextBody += 1;
    }
    await slots.acquire();
    tasks.push(run(index, isDuplicate ? 'duplicate' : 'original', latest.body, latest.prepared));
  }
  await Promise.all(tasks);
  results.sort((a, b) => a.index - b.index || a.attempt - b.attempt);
  return { results, summary: summarize(results, performance.now() - started) };
}
