import { randomBytes } from 'node:crypto';
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';

/**
 * The Graph API side of the sandbox: answers `POST|GET|DELETE /{version}/{id}/subscribed_apps` the
 * way Meta does, for the WhatsApp Business Accounts and pages registered with their tokens, with
 * failures injected on demand; and an inspection API under `/_sandbox/` for tests and operators.
 */

/** What a Graph object id stands for: a WhatsApp Business Account, or a Facebook page. */
export type GraphObjectKind = 'whatsapp-business-account' | 'page';

export interface GraphSandboxObject {
  id: string;
  kind: GraphObjectKind;
  /** The access token Meta would accept for this object (a system user's or the page's). */
  token: string;
  /** Answer this object's token as expired (190, subcode 463) instead of accepting it. */
  isExpired?: boolean;
}

/** A Graph error the sandbox answers with instead of doing the call. */
export interface GraphFailure {
  status: number;
  code: number;
  subcode?: number;
  type?: string;
  message?: string;
  isTransient?: boolean;
}

/** Failures by name, for the CLI and for brevity: each as Meta sends it. */
export const GRAPH_FAILURES = {
  'server-error': {
    status: 500,
    code: 2,
    type: 'OAuthException',
    message: 'An unexpected error has occurred. Please retry your request later.',
    isTransient: true,
  },
  'unknown-error': { status: 500, code: 1, type: 'OAuthException', message: 'An unknown error occurred' },
  'rate-limit': {
    status: 400,
    code: 4,
    type: 'OAuthException',
    message: '(#4) Application request limit reached',
    isTransient: true,
  },
  'invalid-token': {
    status: 400,
    code: 190,
    type: 'OAuthException',
    message: 'Invalid OAuth access token - Cannot parse access token',
  },
  'expired-token': {
    status: 400,
    code: 190,
    subcode: 463,
    type: 'OAuthException',
    message: 'Error validating access token: Session has expired.',
  },
  'permission-denied': { status: 403, code: 200, type: 'OAuthException', message: '(#200) Permissions error' },
} as const satisfies Record<string, GraphFailure>;
export type GraphFailureName = keyof typeof GRAPH_FAILURES;

/** One Graph API call as the sandbox saw it. Never the token. */
export interface GraphCall {
  method: string;
  path: string;
  version: string | null;
  objectId: string | null;
  /** `subscribed_fields`, split; null when not given. */
  fields: string[] | null;
  /** What the sandbox answered. */
  status: number;
  /** The Graph error code answered, or null for a success. */
  code: number | null;
  at: string;
}

interface PendingFailure {
  remaining: number;
  failure: GraphFailure;
  objectId: string | undefined;
}

export interface GraphSandboxOptions {
  host?: string;
  /** 0 (the default) picks a free port. */
  port?: number;
  objects?: readonly GraphSandboxObject[];
  /** The Meta app that subscribes (as subscribed_apps lists it). */
  app?: { id: string; name: string };
}

const VERSION = /^v\d+\.\d+$/;
const ID = /^[A-Za-z0-9_-]{1,64}$/;

const fbtraceId = () => randomBytes(8).toString('base64url');

function bearer(req: IncomingMessage, url: URL): string | null {
  const header = req.headers.authorization;
  const match = header ? /^Bearer\s+(\S+)$/i.exec(header) : null;
  return match?.[1] ?? url.searchParams.get('access_token');
}

async function readJson(req: IncomingMessage): Promise<unknown> {
  const chunks: Buffer[] = [];
  for await (const chunk of req) chunks.push(chunk as Buffer);
  const text = Buffer.concat(chunks).toString('utf8');
  return text === '' ? {} : JSON.parse(text);
}

function send(res: ServerResponse, status: number, body: unknown): void {
  const text = JSON.stringify(body);
  res.writeHead(status, { 'content-type': 'application/json; charset=UTF-8', 'x-fb-trace-id': fbtraceId() });
  res.end(text);
}

function graphError(failure: GraphFailure) {
  return {
    error: {
      message: failure.message ?? `(#${failure.code}) Error`,
      type: failure.type ?? 'OAuthException',
      ...(failure.isTransient === undefined ? {} : { is_transient: failure.isTransient }),
      code: failure.code,
      ...(failure.subcode === undefined ? {} : { error_subcode: failure.subcode }),
      fbtrace_id: fbtraceId(),
    },
  };
}

export function isGraphFailureName(name: string): name is GraphFailureName {
  return Object.hasOwn(GRAPH_FAILURES, name);
}

/** A running Graph API sandbox. */
export class GraphSandbox {
  readonly #server: Server;
  readonly #objects = new Map<string, GraphSandboxObject>();
  readonly #subscriptions = new Map<string, { fields: string[] | null; at: string }>();
  readonly #calls: GraphCall[] = [];
  readonly #failures: PendingFailure[] = [];
  readonly #app: { id: string; name: string };
  #url = '';

  constructor(options: GraphSandboxOptions = {}) {
    this.#app = options.app ?? { id: '1234567890123456', name: 'MIC Sandbox App' };
    for (const object of options.objects ?? []) this.addObject(object);
    this.#server = createServer((req, res) => {
      this.#handle(req, res).catch((error: unknown) => {
        if (!res.headersSent) send(res, 400, graphError({ status: 400, code: 100, message: (error as Error).message }));
      });
    });
  }

  /** The base URL to use as the Graph API's (`META_GRAPH_URL`). */
  get url(): string {
    return this.#url;
  }

  async listen(port = 0, host = '127.0.0.1'): Promise<string> {
    await new Promise<void>((resolve, reject) => {
      this.#server.once('error', reject);
      this.#server.listen(port, host, () => resolve());
    });
    const address = this.#server.address() as AddressInfo;
    this.#url = `http://${address.family === 'IPv6' ? `[${address.address}]` : address.address}:${address.port}`;
    return this.#url;
  }

  async stop(): Promise<void> {
    this.#server.closeAllConnections();
    await new Promise<void>((resolve) => this.#server.close(() => resolve()));
  }

  /** Registers (or replaces) an object and the token Meta accepts for it. */
  addObject(object: GraphSandboxObject): void {
    if (!ID.test(object.id)) throw new TypeError(`not a Graph object id: ${object.id}`);
    if (object.token === '') throw new TypeError('the token is empty');
    this.#objects.set(object.id, { ...object });
  }

  /** The next `count` Graph calls (to `objectId` only, when given) answer `failure` instead. */
  failNext(count: number, failure: GraphFailure | GraphFailureName, options: { objectId?: string } = {}): void {
    if (!Number.isInteger(count) || count < 1) throw new RangeError('count must be a whole number of at least 1');
    this.#failures.push({
      remaining: count,
      failure: typeof failure === 'string' ? GRAPH_FAILURES[failure] : failure,
      objectId: options.objectId,
    });
  }

  /** Every Graph call so far (oldest first), optionally only those to one object. */
  calls(filter: { objectId?: string; method?: string } = {}): GraphCall[] {
    return this.#calls.filter(
      (c) =>
        (filter.objectId === undefined || c.objectId === filter.objectId) &&
        (filter.method === undefined || c.method === filter.method.toUpperCase()),
    );
  }

  clearCalls(): void {
    this.#calls.length = 0;
  }

  /** Whether this app is subscribed to the object's webhooks now, and with which fields. */
  subscription(objectId: string): { fields: string[] | null; at: string } | null {
    return this.#subscriptions.get(objectId) ?? null;
  }

  #takeFailure(objectId: string | null): GraphFailure | null {
    const index = this.#failures.findIndex((f) => f.objectId === undefined || f.objectId === objectId);
    if (index < 0) return null;
    const pending = this.#failures[index]!;
    pending.remaining -= 1;
    if (pending.remaining === 0) this.#failures.splice(index, 1);
    return pending.failure;
  }

  async #handle(req: IncomingMessage, res: ServerResponse): Promise<void> {
    const url = new URL(req.url ?? '/', 'http://sandbox');
    const parts = url.pathname.split('/').filter(Boolean);
    if (parts[0] === '_sandbox') return this.#inspect(req, res, parts.slice(1));

    const method = (req.method ?? 'GET').toUpperCase();
    // Meta takes an unversioned path too (its oldest available version).
    const version = parts[0] && VERSION.test(parts[0]) ? parts.shift()! : null;
    const objectId = parts.length === 2 && parts[1] === 'subscribed_apps' ? parts[0]! : null;
    const fieldsParam = url.searchParams.get('subscribed_fields');
    const fields =
      fieldsParam === null
        ? null
        : fieldsParam
            .split(',')
            .map((f) => f.trim())
            .filter(Boolean);
    const answer = (status: number, body: unknown) => {
      const code = (body as { error?: { code?: number } }).error?.code ?? null;
      this.#calls.push({
        method,
        path: url.pathname,
        version,
        objectId,
        fields,
        status,
        code,
        at: new Date().toISOString(),
      });
      send(res, status, body);
    };

    if (objectId === null || !ID.test(objectId)) {
      return answer(400, graphError({ status: 400, code: 100, message: `Unknown path components: ${url.pathname}` }));
    }
    const failure = this.#takeFailure(objectId);
    if (failure) return answer(failure.status, graphError(failure));

    const token = bearer(req, url);
    if (!token) {
      return answer(
        400,
        graphError({ status: 400, code: 104, message: 'An access token is required to request this resource.' }),
      );
    }
    const owner = [...this.#objects.values()].find((o) => o.token === token);
    if (!owner) return answer(400, graphError(GRAPH_FAILURES['invalid-token']));
    if (owner.isExpired) return answer(400, graphError(GRAPH_FAILURES['expired-token']));
    const object = this.#objects.get(objectId);
    if (!object || owner.id !== objectId) {
      return answer(
        400,
        graphError({
          status: 400,
          code: 100,
          subcode: 33,
          type: 'GraphMethodException',
          message: `Unsupported ${method.toLowerCase()} request. Object with ID '${objectId}' does not exist, cannot be loaded due to missing permissions, or does not support this operation. Please read the Graph API documentation at https://developers.facebook.com/docs/graph-api`,
        }),
      );
    }

    if (method === 'POST') {
      if (object.kind === 'page' && (fields === null || fields.length === 0)) {
        return answer(
          400,
          graphError({ status: 400, code: 100, message: '(#100) The parameter subscribed_fields is required.' }),
        );
      }
      this.#subscriptions.set(objectId, {
        fields: object.kind === 'page' ? fields : null,
        at: new Date().toISOString(),
      });
      // Meta's page example answers the string "true"; WhatsApp answers the boolean.
      return answer(200, { success: object.kind === 'page' ? 'true' : true });
    }
    if (method === 'DELETE') {
      this.#subscriptions.delete(objectId);
      return answer(200, { success: true });
    }
    if (method === 'GET') {
      const subscription = this.#subscriptions.get(objectId);
      const link = `https://sandbox.mic.invalid/apps/${this.#app.id}`;
      if (!subscription) return answer(200, { data: [] });
      if (object.kind === 'whatsapp-business-account') {
        return answer(200, {
          data: [{ whatsapp_business_api_data: { id: this.#app.id, link, name: this.#app.name } }],
        });
      }
      return answer(200, {
        data: [
          {
            category: 'Business',
            link,
            name: this.#app.name,
            id: this.#app.id,
            subscribed_fields: subscription.fields ?? [],
          },
        ],
      });
    }
    return answer(400, graphError({ status: 400, code: 100, message: `Unsupported ${method} request.` }));
  }

  /**
   * `GET /_sandbox/calls[?objectId=]`, `DELETE /_sandbox/calls`, `PUT /_sandbox/objects/{id}`
   * `{ kind, token, isExpired? }`, `POST /_sandbox/failures` `{ count, failure, objectId? }`,
   * `GET /_sandbox/subscriptions/{id}`.
   */
  async #inspect(req: IncomingMessage, res: ServerResponse, parts: string[]): Promise<void> {
    const method = (req.method ?? 'GET').toUpperCase();
    const url = new URL(req.url ?? '/', 'http://sandbox');
    const [resource, id] = parts;
    const problem = (status: number, detail: string) => send(res, status, { error: detail });
    try {
      if (resource === 'calls' && method === 'GET') {
        const objectId = url.searchParams.get('objectId');
        return send(res, 200, this.calls(objectId ? { objectId } : {}));
      }
      if (resource === 'calls' && method === 'DELETE') {
        this.clearCalls();
        return send(res, 200, { cleared: true });
      }
      if (resource === 'objects' && id && method === 'PUT') {
        const body = (await readJson(req)) as Partial<GraphSandboxObject>;
        if (body.kind !== 'page' && body.kind !== 'whatsapp-business-account') {
          return problem(400, 'kind must be page or whatsapp-business-account');
        }
        if (typeof body.token !== 'string') return problem(400, 'token is required');
        this.addObject({ id, kind: body.kind, token: body.token, isExpired: body.isExpired === true });
        return send(res, 200, { id, kind: body.kind });
      }
      if (resource === 'failures' && method === 'POST') {
        const body = (await readJson(req)) as { count?: number; failure?: string | GraphFailure; objectId?: string };
        const failure = body.failure ?? 'server-error';
        if (typeof failure === 'string' && !isGraphFailureName(failure)) {
          return problem(400, `failure must be one of ${Object.keys(GRAPH_FAILURES).join(', ')} or an object`);
        }
        this.failNext(body.count ?? 1, failure, body.objectId ? { objectId: body.objectId } : {});
        return send(res, 200, { pending: this.#failures.reduce((n, f) => n + f.remaining, 0) });
      }
      if (resource === 'subscriptions' && id && method === 'GET') {
        return send(res, 200, { objectId: id, subscription: this.subscription(id) });
      }
      return problem(404, `no sandbox route ${method} ${url.pathname}`);
    } catch (error) {
      return problem(400, (error as Error).message);
    }
  }
}

/** Starts a Graph API sandbox on `host:port` (a free port by default); `stop()` when done. */
export async function startGraphSandbox(options: GraphSandboxOptions = {}): Promise<GraphSandbox> {
  const sandbox = new GraphSandbox(options);
  await sandbox.listen(options.port ?? 0, options.host ?? '127.0.0.1');
  return sandbox;
}
