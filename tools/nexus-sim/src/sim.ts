import { createServer, type IncomingHttpHeaders, type IncomingMessage, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import Value from 'typebox/value';
import {
  createDeliveryHandler,
  PROBLEM_CONTENT_TYPE,
  type DeliveredEvent,
  type DeliveryReply,
  type DeliveryRejectionReason,
  type ProblemDetails,
} from '@mic/nexus-sdk';
import { SimModeRequest, effectiveMode, type SimMode, type SimModeName } from './modes.ts';

export interface NexusSimOptions {
  /** Port to listen on; 0 (the default) picks a free one. */
  port?: number;
  /** Address to listen on; 127.0.0.1 by default. */
  host?: string;
  /** The instance's delivery signing secrets (`whsec_…`), several during a rotation. */
  secrets: readonly string[];
  /** The mode to start in; `ok` by default. */
  mode?: SimModeRequest;
  /** How far `webhook-timestamp` may be from now, in seconds (default 300). */
  toleranceSeconds?: number;
  /** The clock for timestamps checks, arrival times and `fail-for`; the system clock by default. */
  now?: () => Date;
  /** Told of every delivery, refusal and mode change, for a log line. */
  log?: (entry: Record<string, unknown>) => void;
}

/** One verified delivery attempt, as the simulator received it. */
export interface ReceivedDelivery {
  /** The `webhook-id` header (equal to `id`). */
  webhookId: string;
  id: string;
  type: string;
  conversation: { id: string; seq: number } | null;
  /** 1 for the first attempt of this webhook-id, 2 for the next, … */
  attempt: number;
  /** When the attempt arrived (ISO 8601). */
  receivedAt: string;
  headers: Record<string, string>;
  /** The mode in force when it arrived. */
  mode: SimModeName;
  /** What the simulator answered; null while it has not answered (slow, or hang). */
  status: number | null;
  event: DeliveredEvent;
}

/** A delivery that failed verification (answered 401 or 400). */
export interface RejectedDelivery {
  webhookId: string | null;
  reason: DeliveryRejectionReason;
  detail: string;
  receivedAt: string;
  headers: Record<string, string>;
}

/** What `GET /sim/received` answers. */
export interface SimReport {
  mode: SimMode;
  deliveries: ReceivedDelivery[];
  /** Attempts per webhook-id. */
  attempts: Record<string, number>;
  rejected: RejectedDelivery[];
}

export interface NexusSim {
  /** Base URL, e.g. `http://127.0.0.1:4317`; deliveries are accepted on any path outside `/sim/`. */
  url: string;
  port: number;
  /** Every verified delivery attempt, in order of arrival. */
  received: () => ReceivedDelivery[];
  /** Verified attempts per webhook-id. */
  attempts: () => Record<string, number>;
  rejected: () => RejectedDelivery[];
  /** Forgets everything received (deliveries, attempts, rejections). */
  clear: () => void;
  mode: () => SimMode;
  setMode: (mode: SimModeRequest) => SimMode;
  /** Resolves with the received attempts once `until` holds for them; rejects after `timeoutMs` (default 10 s). */
  waitFor: (
    until: (received: readonly ReceivedDelivery[]) => boolean,
    timeoutMs?: number,
  ) => Promise<ReceivedDelivery[]>;
  /** Stops listening and ends every connection, hanging ones included. */
  stop: () => Promise<void>;
}

const flatHeaders = (headers: IncomingHttpHeaders): Record<string, string> =>
  Object.fromEntries(
    Object.entries(headers)
      .filter((entry): entry is [string, string | string[]] => entry[1] !== undefined)
      .map(([name, value]) => [name, Array.isArray(value) ? value.join(', ') : value]),
  );

function sendJson(response: ServerResponse, status: number, body?: unknown, contentType = 'application/json') {
  if (body === undefined) {
    response.writeHead(status).end();
    return;
  }
  const text = JSON.stringify(body);
  response.writeHead(status, { 'content-type': contentType, 'content-length': Buffer.byteLength(text) }).end(text);
}

const sendProblem = (response: ServerResponse, problem: ProblemDetails) =>
  sendJson(response, problem.status, problem, PROBLEM_CONTENT_TYPE);

async function readJson(request: IncomingMessage, limit = 16_384): Promise<unknown> {
  const chunks: Buffer[] = [];
  let size = 0;
  for await (const chunk of request as AsyncIterable<Buffer>) {
    size += chunk.length;
    if (size > limit) throw new SyntaxError('body too large');
    chunks.push(chunk);
  }
  return JSON.parse(Buffer.concat(chunks).toString('utf8'));
}

/**
 * A reference Nexus instance: it takes the engine's deliveries with @mic/nexus-sdk, records each
 * attempt, and answers as its mode says, so tests can make an instance slow, failing, rate
 * limited, gone or silent. Control API: `GET /sim/received`, `DELETE /sim/received`,
 * `GET /sim/mode`, `POST /sim/mode`; `GET /livez` for a process supervisor.
 */
export async function startNexusSim(options: NexusSimOptions): Promise<NexusSim> {
  const now = options.now ?? (() => new Date());
  const log = options.log ?? (() => undefined);
  let mode: SimMode = effectiveMode(options.mode ?? { mode: 'ok' }, now());
  let deliveries: ReceivedDelivery[] = [];
  let attempts = new Map<string, number>();
  let rejected: RejectedDelivery[] = [];
  const watchers = new Set<() => void>();
  const notify = () => watchers.forEach((watcher) => watcher());
  // Aborted on stop: ends `slow` waits and `hang`s so nothing outlives the simulator.
  const stopping = new AbortController();
  const waitUnlessStopped = (ms: number) =>
    new Promise<void>((resolve) => {
      if (stopping.signal.aborted) return resolve();
      const timer = ms === Infinity ? undefined : setTimeout(resolve, ms);
      stopping.signal.addEventListener(
        'abort',
        () => {
          clearTimeout(timer);
          resolve();
        },
        { once: true },
      );
    });

  const setMode = (request: SimModeRequest): SimMode => {
    mode = effectiveMode(request, now());
    log({ msg: 'mode', ...mode });
    return mode;
  };

  /** The answer the current mode gives, once it is due. */
  async function answer(current: SimMode): Promise<DeliveryReply | null> {
    switch (current.mode) {
      case 'ok':
        return { status: 204 };
      case 'slow':
        await waitUnlessStopped(current.delayMs);
        return { status: 204 };
      case 'fail-500':
        return { status: 500 };
      case 'rate-limited':
        return { status: 429, headers: { 'retry-after': String(current.retryAfterSeconds) } };
      case 'unavailable':
        return { status: 503, headers: { 'retry-after': String(current.retryAfterSeconds) } };
      case 'gone':
        return { status: 410 };
      case 'hang':
        await waitUnlessStopped(Infinity);
        return null;
      case 'fail-for':
        return now().getTime() < Date.parse(current.until) ? { status: 500 } : { status: 204 };
    }
  }

  const deliveryHandler = createDeliveryHandler(
    options.secrets,
    async (event, context) => {
      const attempt = (attempts.get(context.webhookId) ?? 0) + 1;
      attempts.set(context.webhookId, attempt);
      const current = mode;
      const record: ReceivedDelivery = {
        webhookId: context.webhookId,
        id: event.id,
        type: event.type,
        conversation: event.conversation,
        attempt,
        receivedAt: now().toISOString(),
        headers: flatHeaders(context.headers),
        mode: current.mode,
        status: null,
        event,
      };
      deliveries.push(record);
      notify();
      const reply = await answer(current);
      record.status = reply?.status ?? null;
      notify();
      log({ msg: 'delivery', id: event.id, type: event.type, attempt, mode: current.mode, status: record.status });
      // A hang ended by stop: the connection is being destroyed, there is no one to answer.
      return reply ?? { status: 503 };
    },
    {
      ...(options.toleranceSeconds === undefined ? {} : { toleranceSeconds: options.toleranceSeconds }),
      now,
      onRejected: (error, request) => {
        rejected.push({
          webhookId: error.webhookId ?? null,
          reason: error.reason,
          detail: error.message,
          receivedAt: now().toISOString(),
          headers: flatHeaders(request.headers),
        });
        log({ msg: 'rejected', webhookId: error.webhookId, reason: error.reason, detail: error.message });
      },
    },
  );

  const report = (): SimReport => ({
    mode,
    deliveries: deliveries.map((d) => ({ ...d })),
    attempts: Object.fromEntries(attempts),
    rejected: rejected.map((r) => ({ ...r })),
  });
  const clear = () => {
    deliveries = [];
    attempts = new Map();
    rejected = [];
  };

  async function control(request: IncomingMessage, response: ServerResponse, path: string): Promise<void> {
    const route = `${request.method} ${path}`;
    if (route === 'GET /sim/received') return sendJson(response, 200, report());
    if (route === 'DELETE /sim/received') {
      clear();
      return sendJson(response, 204);
    }
    if (route === 'GET /sim/mode') return sendJson(response, 200, mode);
    if (route === 'POST /sim/mode') {
      let body: unknown;
      try {
        body = await readJson(request);
      } catch {
        return sendProblem(response, {
          type: '/problems/invalid-json',
          title: 'The body is not valid JSON',
          status: 400,
        });
      }
      if (!Value.Check(SimModeRequest, body)) {
        return sendProblem(response, {
          type: '/problems/validation',
          title: 'The request is not valid',
          status: 400,
          detail:
            'expected {"mode":"ok"|"fail-500"|"gone"|"hang"}, {"mode":"slow","delayMs":n}, ' +
            '{"mode":"rate-limited"|"unavailable","retryAfterSeconds"?:n} or {"mode":"fail-for","durationMs":n}',
        });
      }
      return sendJson(response, 200, setMode(body));
    }
    return sendProblem(response, { type: '/problems/not-found', title: 'Not found', status: 404, detail: route });
  }

  const server = createServer((request, response) => {
    const path = new URL(request.url ?? '/', 'http://sim').pathname;
    if (path === '/livez' && request.method === 'GET') return sendJson(response, 200, { status: 'pass' });
    if (path === '/sim' || path.startsWith('/sim/')) {
      control(request, response, path).catch(() => {
        if (!response.headersSent)
          sendProblem(response, { type: '/problems/internal', title: 'Internal error', status: 500 });
      });
      return;
    }
    deliveryHandler(request, response);
  });

  const host = options.host ?? '127.0.0.1';
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(options.port ?? 0, host, () => {
      server.off('error', reject);
      resolve();
    });
  });
  const { port } = server.address() as AddressInfo;
  const urlHost = host === '0.0.0.0' || host === '::' ? '127.0.0.1' : host.includes(':') ? `[${host}]` : host;

  let stopped: Promise<void> | undefined;
  return {
    url: `http://${urlHost}:${port}`,
    port,
    received: () => report().deliveries,
    attempts: () => report().attempts,
    rejected: () => report().rejected,
    clear,
    mode: () => mode,
    setMode,
    waitFor: (until, timeoutMs = 10_000) => {
      return new Promise((resolve, reject) => {
        const check = () => {
          if (!until(deliveries)) return;
          cleanup();
          resolve(report().deliveries);
        };
        const timer = setTimeout(() => {
          cleanup();
          reject(new Error(`nexus-sim: not satisfied within ${timeoutMs} ms (${deliveries.length} received)`));
        }, timeoutMs);
        const cleanup = () => {
          clearTimeout(timer);
          watchers.delete(check);
        };
        watchers.add(check);
        check();
      });
    },
    stop: () => {
      stopped ??= new Promise<void>((resolve) => {
        stopping.abort();
        server.close(() => resolve());
        server.closeAllConnections();
      });
      return stopped;
    },
  };
}
