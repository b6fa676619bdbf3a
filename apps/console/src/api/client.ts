import type { ProblemDetails } from '@mic/contracts';

/** An answer of the admin API that was not a 2xx, carrying its RFC 9457 problem when it sent one. */
export class ApiError extends Error {
  readonly status: number;
  readonly problem: ProblemDetails | undefined;
  constructor(status: number, problem: ProblemDetails | undefined, fallback: string) {
    super(problem?.detail ?? problem?.title ?? fallback);
    this.name = 'ApiError';
    this.status = status;
    this.problem = problem;
  }

  /** The network failed or the server did not answer: not a refusal by the API. */
  get isNetwork(): boolean {
    return this.status === 0;
  }
}

type Method = 'GET' | 'POST' | 'PUT' | 'PATCH' | 'DELETE';
type Query = Record<string, string | number | boolean | undefined | null>;

export interface RequestOptions {
  query?: Query;
  body?: unknown;
  signal?: AbortSignal;
}

const isProblem = (value: unknown): value is ProblemDetails =>
  typeof value === 'object' &&
  value !== null &&
  typeof (value as ProblemDetails).title === 'string' &&
  typeof (value as ProblemDetails).status === 'number';

export function withQuery(path: string, query: Query = {}): string {
  const params = new URLSearchParams();
  for (const [key, value] of Object.entries(query)) {
    if (value !== undefined && value !== null && value !== '') params.set(key, String(value));
  }
  const text = params.toString();
  return text ? `${path}?${text}` : path;
}

/**
 * The console's only way to the control plane: same-origin fetch with the session cookie, the
 * session's CSRF token on every unsafe request, and one hook for a session that has ended.
 */
export class ApiClient {
  #csrfToken: string | null = null;
  #onSessionEnded: (() => void) | null = null;

  setCsrfToken(token: string | null): void {
    this.#csrfToken = token;
  }

  onSessionEnded(listener: (() => void) | null): void {
    this.#onSessionEnded = listener;
  }

  async request<T>(method: Method, path: string, options: RequestOptions = {}): Promise<T> {
    const response = await this.#fetch(method, path, options);
    if (response.status === 204) return undefined as T;
    return (await response.json()) as T;
  }

  /** For answers that are files (PDF, CSV): the body as a Blob. */
  async blob(path: string, query?: Query): Promise<Blob> {
    const response = await this.#fetch('GET', path, query ? { query } : {});
    return response.blob();
  }

  get<T>(path: string, query?: Query, signal?: AbortSignal): Promise<T> {
    return this.request<T>('GET', path, { ...(query ? { query } : {}), ...(signal ? { signal } : {}) });
  }

  post<T>(path: string, body?: unknown): Promise<T> {
    return this.request<T>('POST', path, { body: body ?? {} });
  }

  put<T>(path: string, body: unknown): Promise<T> {
    return this.request<T>('PUT', path, { body });
  }

  patch<T>(path: string, body: unknown): Promise<T> {
    return this.request<T>('PATCH', path, { body });
  }

  delete<T>(path: string): Promise<T> {
    return this.request<T>('DELETE', path);
  }

  async #fetch(method: Method, path: string, options: RequestOptions): Promise<Response> {
    const headers: Record<string, string> = { accept: 'application/json, application/problem+json, */*' };
    if (options.body !== undefined) headers['content-type'] = 'application/json';
    if (method !== 'GET' && this.#csrfToken) headers['x-csrf-token'] = this.#csrfToken;
    let response: Response;
    try {
      response = await fetch(withQuery(path, options.query), {
        method,
        headers,
        credentials: 'same-origin',
        ...(options.body !== undefined ? { body: JSON.stringify(options.body) } : {}),
        ...(options.signal ? { signal: options.signal } : {}),
      });
    } catch (error) {
      if ((error as Error).name === 'AbortError') throw error;
      throw new ApiError(0, undefined, 'network');
    }
    if (response.ok) return response;
    const payload: unknown = await response.json().catch(() => undefined);
    const problem = isProblem(payload) ? payload : undefined;
    // A 401 on anything but signing in means the session expired or was revoked.
    if (response.status === 401 && !path.startsWith('/v1/auth/login')) this.#onSessionEnded?.();
    throw new ApiError(response.status, problem, `HTTP ${response.status}`);
  }
}

export const api = new ApiClient();
