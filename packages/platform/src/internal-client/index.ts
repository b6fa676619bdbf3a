import { isProblemDetails, type ProblemDetails } from '@mic/contracts';
import { Problem } from '../http/index.ts';

/** A call to the other plane that did not get a 2xx: its problem details, or why there were none. */
export class PeerError extends Error {
  readonly status: number;
  readonly problem: ProblemDetails | undefined;
  constructor(message: string, status: number, problem?: ProblemDetails) {
    super(message);
    this.name = 'PeerError';
    this.status = status;
    this.problem = problem;
  }

  /** True when the peer was not reached at all (down, refused, timed out). */
  get isUnreachable(): boolean {
    return this.status === 0;
  }
}

export interface InternalClientOptions {
  /** The peer's base URL, e.g. http://127.0.0.1:3100 */
  baseUrl: string;
  /** The service token to present; a function so a rotated token is picked up. */
  token: () => string;
  timeoutMs: number;
  peer: string;
}

/**
 * The planes' only way to reach each other: HTTP with a service token and a deadline, answers
 * typed by the caller from packages/contracts.
 */
export class InternalClient {
  readonly #options: InternalClientOptions;

  constructor(options: InternalClientOptions) {
    this.#options = options;
  }

  /** 204 and 304 (a conditional GET whose `if-none-match` matched) resolve to undefined. */
  async request<T>(
    method: 'GET' | 'POST' | 'PUT' | 'DELETE',
    path: string,
    body?: unknown,
    headers: Readonly<Record<string, string>> = {},
  ): Promise<T> {
    let response: Response;
    try {
      response = await fetch(`${this.#options.baseUrl}${path}`, {
        method,
        headers: {
          ...headers,
          authorization: `Bearer ${this.#options.token()}`,
          ...(body === undefined ? {} : { 'content-type': 'application/json' }),
        },
        ...(body === undefined ? {} : { body: JSON.stringify(body) }),
        signal: AbortSignal.timeout(this.#options.timeoutMs),
      });
    } catch (error) {
      const reason =
        (error as Error).name === 'TimeoutError' ? `no answer within ${this.#options.timeoutMs} ms` : 'unreachable';
      throw new PeerError(`${this.#options.peer} ${reason}`, 0);
    }
    if (response.status === 204 || response.status === 304) return undefined as T;
    const payload: unknown = await response.json().catch(() => undefined);
    if (!response.ok) {
      const problem = isProblemDetails(payload) ? payload : undefined;
      throw new PeerError(
        `${this.#options.peer} answered ${response.status}${problem?.detail ? `: ${problem.detail}` : ''}`,
        response.status,
        problem,
      );
    }
    return payload as T;
  }
}

/**
 * What an operator sees when a call to the other plane fails: the peer's own 4xx problem as it
 * is, 503 when the peer is down, 502 for anything else it answered.
 */
export function peerProblem(error: unknown, peer: string): Problem {
  if (!(error instanceof PeerError)) throw error;
  if (error.isUnreachable) {
    return new Problem({
      status: 503,
      type: `${peer}-unavailable`,
      title: `The ${peer} cannot be reached`,
      detail: error.message,
    });
  }
  if (error.problem && error.status >= 400 && error.status < 500 && error.status !== 401) {
    const { type, title, status, detail, ...rest } = error.problem;
    return new Problem({ ...rest, status, type, title, ...(detail ? { detail } : {}) });
  }
  return new Problem({
    status: 502,
    type: `${peer}-error`,
    title: `The ${peer} could not do it`,
    detail: error.message,
  });
}
