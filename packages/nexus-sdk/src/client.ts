import { randomUUID } from 'node:crypto';
import { STATUS_CODES } from 'node:http';
import { setTimeout as sleep } from 'node:timers/promises';
import pRetry, { AbortError } from 'p-retry';
import type { Static, TSchema } from 'typebox';
import Value from 'typebox/value';
import { InstanceIdentity, MessageStatus, SendAccepted, type SendMessageRequest } from '@mic/contracts';
import type { ProblemDetails } from '@mic/contracts';

export interface EngineClientOptions {
  /** The engine's base URL, e.g. `https://engine.example.com` (a path prefix is kept). */
  baseUrl: string;
  /** The instance API token (`mic_it_…`); a function, so a rotated token is picked up without a new client. */
  token: string | (() => string);
  /** A fetch implementation; the global one by default. */
  fetch?: typeof globalThis.fetch;
  /** How long one call may take before it fails with a `timeout` EngineError. Default 10 s. */
  timeoutMs?: number;
  /** How `sendMessage` retries a send that may not have arrived. */
  retry?: SendRetryOptions;
}

export interface SendRetryOptions {
  /** Calls after the first. Default 6. */
  retries?: number;
  /** The first wait, doubled after each failure (with jitter). Default 500 ms. */
  minDelayMs?: number;
  /** The longest wait between two calls. Default 15 s. */
  maxDelayMs?: number;
  /** Gives up once this long has passed since the first call. Default 2 minutes. */
  maxRetryTimeMs?: number;
}

export interface SendOptions {
  /**
   * Names this send: the engine sends a message once per key, however often it is called. By
   * default a new key per `sendMessage` call, kept across its retries. Pass your own (your
   * message's id) so that a send repeated after your process restarts is still sent once.
   */
  idempotencyKey?: string;
  signal?: AbortSignal;
}

/**
 * Why a call failed: the engine answered an error (`problem`, its problem details in `problem` when
 * it sent them), it could not be reached (`unreachable`) or did not answer in time (`timeout`), or
 * it answered 2xx with something this SDK does not understand (`invalid-response`).
 */
export type EngineErrorKind = 'problem' | 'unreachable' | 'timeout' | 'invalid-response';

/** A call to the engine that did not succeed. */
export class EngineError extends Error {
  readonly kind: EngineErrorKind;
  /** The HTTP status; 0 when there was no answer. */
  readonly status: number;
  /** The engine's RFC 9457 problem details, when it sent them. */
  readonly problem: ProblemDetails | undefined;
  /** `Retry-After` in seconds, on a 429 or 503 that carried one. */
  readonly retryAfterSeconds: number | undefined;

  constructor(
    kind: EngineErrorKind,
    message: string,
    init: { status?: number; problem?: ProblemDetails; retryAfterSeconds?: number; cause?: unknown } = {},
  ) {
    super(message, init.cause === undefined ? undefined : { cause: init.cause });
    this.name = 'EngineError';
    this.kind = kind;
    this.status = init.status ?? 0;
    this.problem = init.problem;
    this.retryAfterSeconds = init.retryAfterSeconds;
  }

  /** The problem type, e.g. `/problems/invalid-instance-token`. */
  get type(): string | undefined {
    return this.problem?.type;
  }

  /** True when the same call may succeed later: no answer, 408, 429 or a 5xx. */
  get isRetryable(): boolean {
    return (
      this.kind === 'unreachable' || this.kind === 'timeout' || [408, 429].includes(this.status) || this.status >= 500
    );
  }
}

/** What a request may carry besides its method and path. */
export interface EngineRequest {
  body?: unknown;
  /** Sent as `Idempotency-Key`: the send API answers a repeated key with the first call's result. */
  idempotencyKey?: string;
  headers?: Readonly<Record<string, string>>;
  signal?: AbortSignal;
}

const DEFAULT_TIMEOUT_MS = 10_000;
const DEFAULT_RETRY: Required<SendRetryOptions> = {
  retries: 6,
  minDelayMs: 500,
  maxDelayMs: 15_000,
  maxRetryTimeMs: 120_000,
};

/**
 * Whether a send may be repeated with its key: no answer or 5xx (the engine restarting), 408, and
 * 429 with `Retry-After` (a rate). A 429 without one is a quota, which waiting does not fix.
 */
const isWorthRetrying = (error: EngineError) =>
  error.isRetryable && !(error.status === 429 && error.retryAfterSeconds === undefined);

/** Problem details from an error answer's JSON: RFC 9457 lets `type` and `title` be absent. */
function problemFrom(payload: unknown, status: number): ProblemDetails | undefined {
  if (typeof payload !== 'object' || payload === null || Array.isArray(payload)) return undefined;
  const fields = payload as Record<string, unknown>;
  if (typeof fields.type !== 'string' && typeof fields.title !== 'string') return undefined;
  return {
    ...fields,
    type: typeof fields.type === 'string' ? fields.type : 'about:blank',
    title: typeof fields.title === 'string' ? fields.title : (STATUS_CODES[status] ?? 'Error'),
    status: typeof fields.status === 'number' ? fields.status : status,
  };
}

/** `Retry-After` in seconds: a number of seconds or an HTTP date. */
function retryAfterSeconds(value: string | null): number | undefined {
  if (value === null) return undefined;
  if (/^\d+$/.test(value.trim())) return Number(value.trim());
  const at = Date.parse(value);
  return Number.isNaN(at) ? undefined : Math.max(0, Math.ceil((at - Date.now()) / 1000));
}

/**
 * The engine's instance API, as a Nexus instance calls it with its API token: typed answers, and
 * every failure an EngineError. Each endpoint is one method, declared with its contract schema from
 * @mic/contracts and going through `request`.
 */
export class EngineClient {
  readonly #baseUrl: string;
  readonly #token: () => string;
  readonly #fetch: typeof globalThis.fetch;
  readonly #timeoutMs: number;
  readonly #retry: Required<SendRetryOptions>;

  constructor(options: EngineClientOptions) {
    let url: URL;
    try {
      url = new URL(options.baseUrl);
    } catch {
      throw new TypeError(`baseUrl is not a URL: ${options.baseUrl}`);
    }
    if (url.protocol !== 'http:' && url.protocol !== 'https:') throw new TypeError('baseUrl must be http(s)');
    this.#baseUrl = options.baseUrl.replace(/\/+$/, '');
    const token = options.token;
    this.#token = typeof token === 'function' ? token : () => token;
    if (typeof token === 'string' && token.trim() === '') throw new TypeError('token is empty');
    this.#fetch = options.fetch ?? globalThis.fetch;
    this.#timeoutMs = options.timeoutMs ?? DEFAULT_TIMEOUT_MS;
    this.#retry = { ...DEFAULT_RETRY, ...options.retry };
  }

  /** Which instance the API token belongs to (`GET /v1/instance`): a cheap check of the token and the URL. */
  async whoAmI(): Promise<Static<typeof InstanceIdentity>> {
    return this.request('GET', '/v1/instance', InstanceIdentity);
  }

  /**
   * Sends a message (`POST /v1/messages`): the engine queues it on its channel's lane and answers
   * its id. A call that gets no answer, a 5xx (an engine restarting) or a rate limit is repeated
   * with the same `Idempotency-Key`, so the message is queued once; other refusals (400 naming
   * the field, 403, 423 paused, 429 quota) throw at once.
   */
  async sendMessage(message: SendMessageRequest, options: SendOptions = {}): Promise<SendAccepted> {
    const idempotencyKey = options.idempotencyKey ?? randomUUID();
    const { retries, minDelayMs, maxDelayMs, maxRetryTimeMs } = this.#retry;
    return pRetry(
      async () => {
        try {
          return await this.request('POST', '/v1/messages', SendAccepted, {
            body: message,
            idempotencyKey,
            ...(options.signal ? { signal: options.signal } : {}),
          });
        } catch (error) {
          if (error instanceof EngineError && isWorthRetrying(error)) throw error;
          throw new AbortError(error instanceof Error ? error : String(error));
        }
      },
      {
        retries,
        minTimeout: minDelayMs,
        maxTimeout: maxDelayMs,
        maxRetryTime: maxRetryTimeMs,
        randomize: true,
        ...(options.signal ? { signal: options.signal } : {}),
        onFailedAttempt: async ({ error, retriesLeft }) => {
          const wait = error instanceof EngineError ? error.retryAfterSeconds : undefined;
          if (wait !== undefined && retriesLeft > 0) await sleep(Math.min(wait * 1000, maxDelayMs));
        },
      },
    );
  }

  /** A message's state and timeline (`GET /v1/messages/{id}`): queued, sent, delivered, read or failed. */
  async getMessage(id: string, options: { signal?: AbortSignal } = {}): Promise<MessageStatus> {
    return this.request('GET', `/v1/messages/${encodeURIComponent(id)}`, MessageStatus, options);
  }

  /**
   * One call to the engine, its 2xx answer checked against `response` (a schema from
   * @mic/contracts). The building block of every endpoint method; a subclass may add its own.
   */
  protected async request<S extends TSchema>(
    method: 'GET' | 'POST' | 'PUT' | 'PATCH' | 'DELETE',
    path: string,
    response: S,
    init: EngineRequest = {},
  ): Promise<Static<S>> {
    const headers: Record<string, string> = {
      accept: 'application/json, application/problem+json',
      ...init.headers,
      authorization: `Bearer ${this.#token()}`,
    };
    if (init.body !== undefined) headers['content-type'] = 'application/json';
    if (init.idempotencyKey !== undefined) headers['idempotency-key'] = init.idempotencyKey;
    const timeout = AbortSignal.timeout(this.#timeoutMs);
    const signal = init.signal ? AbortSignal.any([init.signal, timeout]) : timeout;
    const what = `${method} ${path}`;

    const noAnswer = (error: unknown) => {
      if (timeout.aborted) {
        return new EngineError('timeout', `${what}: no answer from the engine within ${this.#timeoutMs} ms`, {
          cause: error,
        });
      }
      // The caller's own abort is theirs to handle, as fetch reports it.
      if (init.signal?.aborted) return error;
      return new EngineError('unreachable', `${what}: the engine cannot be reached`, { cause: error });
    };
    let answer: Response;
    let text: string;
    try {
      answer = await this.#fetch(`${this.#baseUrl}${path}`, {
        method,
        headers,
        signal,
        ...(init.body === undefined ? {} : { body: JSON.stringify(init.body) }),
      });
      text = await answer.text();
    } catch (error) {
      throw noAnswer(error);
    }
    let payload: unknown;
    try {
      payload = text === '' ? undefined : JSON.parse(text);
    } catch {
      payload = undefined;
    }

    if (!answer.ok) {
      const problem = problemFrom(payload, answer.status);
      const retryAfter = retryAfterSeconds(answer.headers.get('retry-after'));
      throw new EngineError(
        'problem',
        `${what}: the engine answered ${answer.status}${problem ? ` ${problem.title}${problem.detail ? `: ${problem.detail}` : ''}` : ''}`,
        {
          status: answer.status,
          ...(problem ? { problem } : {}),
          ...(retryAfter === undefined ? {} : { retryAfterSeconds: retryAfter }),
        },
      );
    }
    if (!Value.Check(response, payload)) {
      throw new EngineError('invalid-response', `${what}: the engine's answer does not match the contract`, {
        status: answer.status,
      });
    }
    return payload;
  }
}
