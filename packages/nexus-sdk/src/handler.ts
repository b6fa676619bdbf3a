import { STATUS_CODES, type IncomingHttpHeaders, type IncomingMessage, type ServerResponse } from 'node:http';
import type { DeliveredEvent } from '@mic/contracts';
import { PROBLEM_CONTENT_TYPE, type ProblemDetails } from '@mic/contracts';
import {
  DeliveryVerificationError,
  signingKeys,
  verifyDeliveryWithKeys,
  type VerifiedDelivery,
  type VerifyDeliveryOptions,
} from './verify.ts';

/** What the listener learns besides the event. */
export interface DeliveryContext {
  /** The `webhook-id` header: the delivery id, the same on every attempt (equal to `event.id`). */
  webhookId: string;
  /** When the engine signed this attempt. */
  signedAt: Date;
  headers: IncomingHttpHeaders;
  request: IncomingMessage;
}

/**
 * An answer other than the default 204, for a listener that cannot take the event now: for example
 * `{ status: 503, headers: { 'retry-after': '30' } }` asks the engine to try again in 30 s, and 410
 * tells it to stop delivering to this endpoint. Without a body, a 4xx or 5xx gets problem details.
 */
export interface DeliveryReply {
  status: number;
  headers?: Readonly<Record<string, string>>;
  body?: unknown;
}

/**
 * Handles one verified event. Returning (or resolving) without a reply answers 204; throwing
 * answers 500, and the engine retries later. Deliveries are at least once: deduplicate on `event.id`.
 */
export type DeliveryListener = (
  event: DeliveredEvent,
  context: DeliveryContext,
) => DeliveryReply | void | Promise<DeliveryReply | void>;

export interface DeliveryHandlerOptions {
  /** How far `webhook-timestamp` may be from now, in seconds. Default 300. */
  toleranceSeconds?: number;
  /** The clock to check timestamps against; the system clock by default. */
  now?: () => Date;
  /** Largest body accepted, in bytes (413 above it). Default 1 MiB. */
  maxBodyBytes?: number;
  /** Told of every refused delivery (401 or 400), e.g. to log or count it. */
  onRejected?: (error: DeliveryVerificationError, request: IncomingMessage) => void;
  /** Told when the listener throws; `console.error` by default. */
  onError?: (error: unknown, event: DeliveredEvent) => void;
}

/** A node:http request listener: `http.createServer(handler)`, or call it from any router. */
export type DeliveryHandler = (request: IncomingMessage, response: ServerResponse) => void;

const DEFAULT_MAX_BODY_BYTES = 1_048_576;

export function send(
  response: ServerResponse,
  status: number,
  headers: Readonly<Record<string, string>>,
  body?: string,
) {
  // The engine may have given up (timeout) while the listener ran: there is no one to answer.
  if (response.headersSent || response.destroyed || response.writableEnded) return;
  response.writeHead(status, body === undefined ? headers : { ...headers, 'content-length': Buffer.byteLength(body) });
  response.end(body);
}

export function sendProblem(
  response: ServerResponse,
  problem: ProblemDetails,
  headers: Readonly<Record<string, string>> = {},
): void {
  send(response, problem.status, { ...headers, 'content-type': PROBLEM_CONTENT_TYPE }, JSON.stringify(problem));
}

function sendReply(response: ServerResponse, reply: DeliveryReply, instance: string | undefined): void {
  const headers = reply.headers ?? {};
  if (reply.body !== undefined) {
    const text = typeof reply.body === 'string' ? reply.body : JSON.stringify(reply.body);
    const contentType = Object.keys(headers).some((name) => name.toLowerCase() === 'content-type')
      ? {}
      : { 'content-type': typeof reply.body === 'string' ? 'text/plain; charset=utf-8' : 'application/json' };
    send(response, reply.status, { ...contentType, ...headers }, text);
  } else if (reply.status >= 400) {
    // RFC 9457: `about:blank` with the status phrase as title when there is nothing more to say.
    const title = STATUS_CODES[reply.status] ?? 'Error';
    sendProblem(
      response,
      { type: 'about:blank', title, status: reply.status, ...(instance ? { instance } : {}) },
      headers,
    );
  } else {
    send(response, reply.status, headers);
  }
}

/**
 * The body of a POST, or null when the request was answered already: another method (405, with
 * `what` in the title: "Deliveries are POSTed"), a body over `limit` (413) or a client gone away.
 */
export async function readPostedBody(
  request: IncomingMessage,
  response: ServerResponse,
  limit: number,
  what: string,
): Promise<Buffer | null> {
  if (request.method !== 'POST') {
    request.resume();
    sendProblem(
      response,
      {
        type: '/problems/method-not-allowed',
        title: `${what} are POSTed`,
        status: 405,
        detail: `${request.method ?? 'this method'} is not allowed here`,
      },
      { allow: 'POST' },
    );
    return null;
  }
  return readBody(request, response, limit);
}

/**
 * The whole body, or null when there is nothing more to do: it was larger than `limit` (413
 * answered) or the client went away before sending all of it.
 */
function readBody(request: IncomingMessage, response: ServerResponse, limit: number): Promise<Buffer | null> {
  return new Promise((resolve) => {
    const declared = Number(request.headers['content-length']);
    const tooLarge = () => {
      sendProblem(
        response,
        {
          type: '/problems/payload-too-large',
          title: 'The request body is too large',
          status: 413,
          detail: `at most ${limit} bytes`,
        },
        { connection: 'close' },
      );
      request.resume();
      resolve(null);
    };
    if (Number.isFinite(declared) && declared > limit) return tooLarge();
    const chunks: Buffer[] = [];
    let size = 0;
    let isOverLimit = false;
    request.on('data', (chunk: Buffer) => {
      if (isOverLimit) return;
      size += chunk.length;
      if (size > limit) {
        isOverLimit = true;
        tooLarge();
      } else chunks.push(chunk);
    });
    request.on('end', () => {
      if (!isOverLimit) resolve(Buffer.concat(chunks, size));
    });
    request.on('error', () => resolve(null));
  });
}

/**
 * A request listener that takes the engine's deliveries: it reads the raw body, verifies it (see
 * `verifyDelivery`), hands the event to `onEvent` and answers 204. Refused deliveries get RFC 9457
 * problem details: 401 (headers, timestamp or signature) or 400 (a body that is not a delivered
 * event); a listener that throws gets 500, which the engine retries. Any path is accepted: mount it
 * where the instance's delivery URL points.
 *
 * `secrets` may be a function, so a rotated secret is picked up without a restart; the secrets are
 * checked here, at creation, and a bad one throws at once.
 */
export function createDeliveryHandler(
  secrets: readonly string[] | (() => readonly string[]),
  onEvent: DeliveryListener,
  options: DeliveryHandlerOptions = {},
): DeliveryHandler {
  const secretsNow = typeof secrets === 'function' ? secrets : () => secrets;
  let cached = { secrets: secretsNow(), keys: signingKeys(secretsNow()) };
  const keys = () => {
    const current = secretsNow();
    if (current !== cached.secrets) cached = { secrets: current, keys: signingKeys(current) };
    return cached.keys;
  };
  const maxBodyBytes = options.maxBodyBytes ?? DEFAULT_MAX_BODY_BYTES;
  const onError =
    options.onError ??
    ((error: unknown, event: DeliveredEvent) =>
      console.error(`nexus-sdk: the listener failed on delivery ${event.id} (${event.type}):`, error));

  async function handle(request: IncomingMessage, response: ServerResponse): Promise<void> {
    const instance = request.url?.split('?')[0];
    const body = await readPostedBody(request, response, maxBodyBytes, 'Deliveries');
    if (body === null) return;

    let verified: VerifiedDelivery;
    try {
      const verifyOptions: VerifyDeliveryOptions = {};
      if (options.toleranceSeconds !== undefined) verifyOptions.toleranceSeconds = options.toleranceSeconds;
      if (options.now) verifyOptions.now = options.now();
      verified = verifyDeliveryWithKeys(body, request.headers, keys(), verifyOptions);
    } catch (error) {
      if (!(error instanceof DeliveryVerificationError)) throw error;
      options.onRejected?.(error, request);
      return sendProblem(response, {
        type: `/problems/delivery-${error.reason}`,
        title: error.status === 400 ? 'The delivery body is not a delivered event' : 'The delivery is not authentic',
        status: error.status,
        detail: error.message,
        reason: error.reason,
        ...(error.errors.length ? { errors: error.errors } : {}),
        ...(instance ? { instance } : {}),
      });
    }

    const { event, webhookId, signedAt } = verified;
    let reply: DeliveryReply | void;
    try {
      reply = await onEvent(event, { webhookId, signedAt, headers: request.headers, request });
    } catch (error) {
      onError(error, event);
      return sendProblem(response, {
        type: '/problems/delivery-not-processed',
        title: 'The instance could not process the delivery',
        status: 500,
        ...(instance ? { instance } : {}),
      });
    }
    sendReply(response, reply ?? { status: 204 }, instance);
  }

  return (request, response) => {
    handle(request, response).catch((error: unknown) => {
      console.error('nexus-sdk: delivery handler failed:', error);
      sendProblem(response, { type: '/problems/internal', title: 'Internal error', status: 500 });
    });
  };
}
