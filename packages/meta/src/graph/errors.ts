import { randomBytes } from 'node:crypto';
/**
 * Graph API errors and what to do about them. Meta answers a failed call with
 * `{ "error": { "message", "type", "code", "error_subcode", "fbtrace_id", ... } }`; the code (not the
 * HTTP status, not the message) says how to recover. Sources: the Graph API section of
 * src/webhooks/fixtures/SOURCES.md.
 */

/**
 * - `transient`: Meta's side failed (codes 1, 2, WhatsApp 131000/131016/133004, 5xx, no answer):
 *   retry with backoff.
 * - `rate-limited`: throttled (4, 17, 32, 341, 613, 80000-80014, WhatsApp 130429/131048/131056/
 *   133016): retry later, slower.
 * - `auth`: the token is expired, revoked or invalid (190 with any subcode, 102, 104, WhatsApp 0):
 *   retrying cannot help; the channel must be reauthorized.
 * - `permission`: the token lacks a permission or the app a capability (3, 10, 200-299, 131005).
 * - `invalid-request`: the request itself is wrong (100, WhatsApp 131008/131009/131051-131053,
 *   template errors 132xxx, …).
 * - `permanent`: anything else Meta refuses (policy blocks, undeliverable 131026, outside the 24 h
 *   window: WhatsApp 131047, Messenger 10 with subcode 2018278; unknown codes).
 *
 * Sends (`GraphClient.send`): 130429 (the number's throughput) and 131048 (spam rate) concern the
 * whole lane; 131056 (pair rate) only one recipient. All three are `rate-limited`; the code says
 * which.
 */
export const GRAPH_ERROR_CLASSIFICATIONS = [
  'transient',
  'rate-limited',
  'auth',
  'permission',
  'invalid-request',
  'permanent',
] as const;
export type GraphErrorClassification = (typeof GRAPH_ERROR_CLASSIFICATIONS)[number];

const AUTH_CODES = new Set([0, 102, 104, 190]);
const RATE_LIMIT_CODES = new Set([4, 17, 32, 341, 613, 130429, 131048, 131056, 133016]);
const TRANSIENT_CODES = new Set([1, 2, 131000, 131016, 133004]);
const PERMISSION_CODES = new Set([3, 10, 131005]);
const INVALID_REQUEST_CODES = new Set([100, 131008, 131009, 131021, 131051, 131052, 131053, 135000]);
/** Messenger's "outside of allowed window": code 10 (a permission code) with this subcode. */
const MESSENGER_OUTSIDE_WINDOW_SUBCODE = 2018278;

export interface GraphErrorFields {
  /** The HTTP status; 0 when Meta never answered (refused, reset, timed out). */
  status: number;
  code: number | null;
  subcode: number | null;
  /** Meta's own hint, sent on some errors (`is_transient`). */
  isTransient?: boolean | undefined;
}

export function classifyGraphError(error: GraphErrorFields): GraphErrorClassification {
  const { status, code } = error;
  if (status === 0) return 'transient';
  if (code !== null) {
    if (AUTH_CODES.has(code)) return 'auth';
    if (RATE_LIMIT_CODES.has(code) || (code >= 80000 && code <= 80014)) return 'rate-limited';
    if (TRANSIENT_CODES.has(code)) return 'transient';
    if (code === 10 && error.subcode === MESSENGER_OUTSIDE_WINDOW_SUBCODE) return 'permanent';
    if (PERMISSION_CODES.has(code) || (code >= 200 && code <= 299)) return 'permission';
    if (error.isTransient === true) return 'transient';
    if (INVALID_REQUEST_CODES.has(code) || (code >= 132000 && code <= 132999)) return 'invalid-request';
    return 'permanent';
  }
  // No Graph error body (a proxy's page, an empty answer): the status is all there is.
  if (status === 429) return 'rate-limited';
  if (status >= 500 || error.isTransient === true) return 'transient';
  if (status === 401) return 'auth';
  if (status === 403) return 'permission';
  return status >= 400 && status < 500 ? 'invalid-request' : 'permanent';
}

/** A failed Graph API call. Carries Meta's fields, never the request's token or URL query. */
export class GraphError extends Error {
  readonly status: number;
  readonly code: number | null;
  readonly subcode: number | null;
  readonly type: string | null;
  readonly fbtraceId: string | null;
  /** WhatsApp's `error_data.details`: the likely reason, in words. */
  readonly details: string | null;
  readonly classification: GraphErrorClassification;
  /**
   * The call may have reached Meta without an answer coming back (a timeout, a connection lost
   * mid-call): a send may have gone out, and repeating it may deliver the message twice.
   */
  readonly isOutcomeUnknown: boolean;

  constructor(init: {
    status: number;
    message: string;
    code?: number | null;
    subcode?: number | null;
    type?: string | null;
    fbtraceId?: string | null;
    details?: string | null;
    isTransient?: boolean;
    isOutcomeUnknown?: boolean;
    cause?: unknown;
  }) {
    super(init.message, init.cause === undefined ? undefined : { cause: init.cause });
    this.name = 'GraphError';
    this.status = init.status;
    this.code = init.code ?? null;
    this.subcode = init.subcode ?? null;
    this.type = init.type ?? null;
    this.fbtraceId = init.fbtraceId ?? null;
    this.details = init.details ?? null;
    this.isOutcomeUnknown = init.isOutcomeUnknown ?? false;
    this.classification = classifyGraphError({
      status: init.status,
      code: this.code,
      subcode: this.subcode,
      isTransient: init.isTransient,
    });
  }

  /** True when the same call may succeed later without anyone doing anything. */
  get isRetryable(): boolean {
    return this.classification === 'transient' || this.classification === 'rate-limited';
  }

  toJSON() {
    return {
      status: this.status,
      code: this.code,
      subcode: this.subcode,
      type: this.type,
      fbtraceId: this.fbtraceId,
      message: this.message,
      classification: this.classification,
      isOutcomeUnknown: this.isOutcomeUnknown,
    };
  }
}

const int = (v: unknown): number | null => (typeof v === 'number' && Number.isInteger(v) ? v : null);
const str = (v: unknown): string | null => (typeof v === 'string' && v !== '' ? v : null);

/** The GraphError for an answer that is not a success; `body` is the parsed JSON, or text, or null. */
export function graphErrorFromResponse(status: number, body: unknown): GraphError {
  const error =
    body && typeof body === 'object' && 'error' in body && body.error && typeof body.error === 'object'
      ? (body.error as Record<string, unknown>)
      : null;
  if (!error) {
    return new GraphError({ status, message: `Graph API answered HTTP ${status} without an error body` });
  }
  const data =
    error.error_data && typeof error.error_data === 'object' ? (error.error_data as Record<string, unknown>) : {};
  return new GraphError({
    status,
    message: str(error.message) ?? `Graph API error (HTTP ${status})`,
    code: int(error.code),
    subcode: int(error.error_subcode),
    type: str(error.type),
    fbtraceId: str(error.fbtrace_id),
    details: str(data.details),
    ...(typeof error.is_transient === 'boolean' ? { isTransient: error.is_transient } : {}),
  });
}

/** Failures before the request could leave: Meta cannot have seen it. */
const NOT_SENT_CODES = new Set([
  'ECONNREFUSED',
  'ENOTFOUND',
  'EAI_AGAIN',
  'ENETUNREACH',
  'EHOSTUNREACH',
  'UND_ERR_CONNECT_TIMEOUT',
]);

/**
 * The GraphError for a call Meta never answered: always transient; `isOutcomeUnknown` unless the
 * connection was never made.
 */
export function graphErrorFromNetwork(error: unknown, timeoutMs: number): GraphError {
  const name = (error as { name?: unknown } | null)?.name;
  const cause = (error as { cause?: { code?: unknown; message?: unknown } } | null)?.cause;
  const reason =
    name === 'TimeoutError'
      ? `no answer within ${timeoutMs} ms`
      : typeof cause?.code === 'string'
        ? cause.code
        : typeof cause?.message === 'string'
          ? cause.message
          : error instanceof Error
            ? error.message
            : String(error);
  const isNotSent = typeof cause?.code === 'string' && NOT_SENT_CODES.has(cause.code);
  return new GraphError({
    status: 0,
    message: `Graph API unreachable: ${reason}`,
    isOutcomeUnknown: !isNotSent,
    cause: error,
  });
}

/** What Meta's error body says; a GraphError has every field. */
export interface GraphErrorBodyFields {
  message: string;
  code: number | null;
  subcode?: number | null;
  type?: string | null;
  /** WhatsApp's `error_data.details`. */
  details?: string | null;
  fbtraceId?: string | null;
  isTransient?: boolean;
}

/**
 * Meta's error body (`{ "error": { message, type, code, error_subcode, error_data, fbtrace_id } }`),
 * for an error Meta gave or one the engine gives in Meta's terms: a client library written for
 * Meta's API reads it unchanged.
 */
export function graphErrorBody(error: GraphErrorBodyFields): { error: Record<string, unknown> } {
  return {
    error: {
      message: error.message,
      type: error.type ?? 'OAuthException',
      code: error.code ?? 1,
      ...(error.subcode === null || error.subcode === undefined ? {} : { error_subcode: error.subcode }),
      ...(error.isTransient === undefined ? {} : { is_transient: error.isTransient }),
      ...(error.details ? { error_data: { messaging_product: 'whatsapp', details: error.details } } : {}),
      fbtrace_id: error.fbtraceId ?? `A${randomBytes(16).toString('base64url').slice(0, 22)}`,
    },
  };
}
