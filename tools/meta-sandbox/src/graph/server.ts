import { randomBytes } from 'node:crypto';
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { setTimeout as sleep } from 'node:timers/promises';
import {
  DEFAULT_PAIR_RATE,
  DEFAULT_RATE_PER_SECOND,
  PairBuckets,
  SendWindow,
  maxInAnySecond,
  parseSendBody,
  perSecond,
  sendAnswer,
  type GraphSend,
  type PairRate,
  type SendPlatform,
} from './sends.ts';
import {
  DELIVERY_FAILURES,
  StatusReporter,
  type DeliveryFailure,
  type DeliveryFailureName,
  type StatusScope,
  type StatusWebhook,
  type StatusWebhooksConfig,
} from './statuses.ts';
import {
  GraphPublishing,
  isPublishingEdge,
  publishingEdgeOf,
  readParams,
  type PublishingEdge,
  type PublishingOptions,
} from './publishing.ts';
import { MEDIA_DOWNLOAD_PATH, SandboxMedia, unsupportedRequest, type SandboxMediaInfo } from './media.ts';
import { BusinessAccounts, MESSAGING_TIERS, isMessagingTier, type TemplateStatus } from './accounts.ts';
import { sendWebhooks } from '../webhooks/send.ts';

/**
 * The Graph API side of the sandbox: answers `POST|GET|DELETE /{version}/{id}/subscribed_apps` and
 * the send endpoint `POST /{version}/{id}/messages` (WhatsApp Cloud API, Messenger, Instagram) the
 * way Meta does, for the objects registered with their tokens: a per-number rate cap (130429), a
 * pair rate (131056), failures and latency injected on demand, and the status webhooks Meta sends
 * afterwards; and an inspection API under `/_sandbox/` for tests and operators.
 */

/**
 * What a Graph object id stands for: a WhatsApp Business Account, a WhatsApp business phone number
 * (sends), a Facebook page (subscriptions, Messenger sends) or an Instagram account (sends).
 */
export type GraphObjectKind = 'whatsapp-business-account' | 'whatsapp-phone-number' | 'page' | 'instagram-account';
export const GRAPH_OBJECT_KINDS: readonly GraphObjectKind[] = [
  'whatsapp-business-account',
  'whatsapp-phone-number',
  'page',
  'instagram-account',
];

const SEND_PLATFORMS: Partial<Record<GraphObjectKind, SendPlatform>> = {
  'whatsapp-phone-number': 'whatsapp',
  page: 'messenger',
  'instagram-account': 'instagram',
};

export interface GraphSandboxObject {
  id: string;
  kind: GraphObjectKind;
  /** The access token Meta would accept for this object (a system user's or the page's). */
  token: string;
  /** Answer this object's token as expired (190, subcode 463) instead of accepting it. */
  isExpired?: boolean;
  /** Sends: accepted messages per sliding second before 130429. Default the sandbox's (80). */
  ratePerSecond?: number;
  /** Sends: the pair rate per recipient before 131056. Default the sandbox's. */
  pairRate?: PairRate;
  /** WhatsApp numbers: the account and display number the status webhooks carry. */
  businessAccountId?: string;
  displayPhoneNumber?: string;
}

/** A Graph error the sandbox answers with instead of doing the call. */
export interface GraphFailure {
  /** 0: no answer at all; the connection is held `hangMs`, then closed. */
  status: number;
  code: number;
  subcode?: number;
  type?: string;
  message?: string;
  isTransient?: boolean;
  /** WhatsApp's `error_data.details`. */
  details?: string;
  /** Hold the request this long before answering (or, with status 0, before closing). */
  hangMs?: number;
  /** Sends: the message goes out anyway (recorded, status webhooks) though the answer fails or never comes. */
  isSent?: boolean;
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
  /** No answer: longer than any client's timeout. The message is not sent. */
  timeout: { status: 0, code: 0, hangMs: 30_000 },
  /** No answer, but Meta sent the message: the outcome the caller cannot know. */
  'timeout-sent': { status: 0, code: 0, hangMs: 30_000, isSent: true },
  throughput: {
    status: 400,
    code: 130429,
    subcode: 2494055,
    type: 'OAuthException',
    message: '(#130429) Rate limit hit',
    details:
      'Message failed to send because there were too many messages sent from this phone number in a short period of time',
  },
  'pair-rate': {
    status: 400,
    code: 131056,
    type: 'OAuthException',
    message: '(#131056) (Business Account, Consumer Account) pair rate limit hit',
    details:
      'Message failed to send because there were too many messages sent from this phone number to the same phone number in a short period of time',
  },
  'spam-rate': {
    status: 400,
    code: 131048,
    type: 'OAuthException',
    message: '(#131048) Spam rate limit hit',
    details:
      'Message failed to send because there are restrictions on how many messages can be sent from this phone number. This may be because too many previous messages were blocked or flagged as spam.',
  },
  'outside-window': {
    status: 400,
    code: 131047,
    type: 'OAuthException',
    message: '(#131047) Re-engagement message',
    details:
      'Message failed to send because more than 24 hours have passed since the customer last replied to this number.',
  },
  'template-missing': {
    status: 404,
    code: 132001,
    type: 'OAuthException',
    message: '(#132001) Template name does not exist in the translation',
    details: 'template name does not exist in the translation',
  },
  'template-params': {
    status: 400,
    code: 132000,
    type: 'OAuthException',
    message: '(#132000) Number of parameters does not match the expected number of params',
    details: 'body: number of localizable_params does not match the expected number of params',
  },
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

/** A WhatsApp mark-as-read call the sandbox answered: it moves no message and counts towards no rate. */
export interface GraphRead {
  at: string;
  objectId: string;
  messageId: string;
  body: unknown;
}

/** The Graph edges the sandbox answers. */
export type GraphEdge = 'subscribed_apps' | 'messages' | 'account' | 'media' | PublishingEdge;

interface PendingFailure {
  remaining: number;
  failure: GraphFailure;
  objectId: string | undefined;
  edge: GraphEdge | undefined;
}

interface PendingDeliveryFailure {
  remaining: number;
  failure: DeliveryFailure;
  objectId: string | undefined;
}

/** Accepted sends of one object: how many, and the most in any sliding second. */
export interface SendRate {
  objectId: string;
  total: number;
  maxPerSecond: number;
  /** The object's cap. */
  ratePerSecond: number;
  /** Sends per wall-clock second, oldest first. */
  perSecond: { second: string; count: number }[];
}

export interface GraphSandboxOptions {
  host?: string;
  /** 0 (the default) picks a free port. */
  port?: number;
  objects?: readonly GraphSandboxObject[];
  /** The Meta app that subscribes (as subscribed_apps lists it). */
  app?: { id: string; name: string };
  /** The default per-object send cap, per sliding second. Default 80 (Meta's default throughput). */
  ratePerSecond?: number;
  /** The default pair rate. Default a burst of 45, then one per 6 s. */
  pairRate?: PairRate;
  /** Added before every Graph answer, in ms. Default 0. */
  latencyMs?: number;
  /** Post the status webhooks Meta would send after each accepted message. Default none. */
  statusWebhooks?: StatusWebhooksConfig;
  /** The clock of the rate limits, in ms. Default Date.now. */
  now?: () => number;
  /** Page posts and Instagram containers: container delays, the publishing limit (see `publishing`). */
  publishing?: PublishingOptions;
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
      ...(failure.details === undefined
        ? {}
        : { error_data: { messaging_product: 'whatsapp', details: failure.details } }),
      ...(failure.subcode === undefined ? {} : { error_subcode: failure.subcode }),
      fbtrace_id: fbtraceId(),
    },
  };
}

export function isGraphFailureName(name: string): name is GraphFailureName {
  return Object.hasOwn(GRAPH_FAILURES, name);
}

export function isDeliveryFailureName(name: string): name is DeliveryFailureName {
  return Object.hasOwn(DELIVERY_FAILURES, name);
}

const positive = (name: string, value: number | undefined) => {
  if (value !== undefined && !(Number.isFinite(value) && value > 0)) throw new RangeError(`${name} must be above 0`);
};

/** A running Graph API sandbox. */
export class GraphSandbox {
  readonly #server: Server;
  readonly #objects = new Map<string, GraphSandboxObject>();
  readonly #subscriptions = new Map<string, { fields: string[] | null; at: string }>();
  readonly #calls: GraphCall[] = [];
  readonly #failures: PendingFailure[] = [];
  readonly #deliveryFailures: PendingDeliveryFailure[] = [];
  readonly #app: { id: string; name: string };
  readonly #sends: GraphSend[] = [];
  readonly #reads: GraphRead[] = [];
  readonly #windows = new Map<string, SendWindow>();
  readonly #pairs = new Map<string, PairBuckets>();
  readonly #statuses = new StatusReporter();
  readonly #media: SandboxMedia;
  /** WhatsApp Business Accounts: templates, owner portfolios, messaging limits and the users reached. */
  readonly accounts = new BusinessAccounts();
  readonly #ratePerSecond: number;
  readonly #pairRate: PairRate;
  readonly #now: () => number;
  readonly #publishing: GraphPublishing;
  #statusWebhooks: StatusWebhooksConfig | null;
  #latencyMs: number;
  #lifetime = new AbortController();
  #url = '';

  constructor(options: GraphSandboxOptions = {}) {
    this.#app = options.app ?? { id: '1234567890123456', name: 'MIC Sandbox App' };
    positive('ratePerSecond', options.ratePerSecond);
    this.#ratePerSecond = options.ratePerSecond ?? DEFAULT_RATE_PER_SECOND;
    this.#pairRate = options.pairRate ?? DEFAULT_PAIR_RATE;
    this.#now = options.now ?? Date.now;
    this.#publishing = new GraphPublishing(options.publishing, this.#now);
    this.#media = new SandboxMedia(() => this.#now());
    this.#latencyMs = options.latencyMs ?? 0;
    this.#statusWebhooks = options.statusWebhooks ?? null;
    for (const object of options.objects ?? []) this.addObject(object);
    this.#server = createServer((req, res) => {
      this.#handle(req, res).catch((error: unknown) => {
        if (!res.headersSent) send(res, 400, graphError({ status: 400, code: 100, message: (error as Error).message }));
      });
    });
  }

  /** Page posts and Instagram publishing: what was published, containers, limits. */
  get publishing(): GraphPublishing {
    return this.#publishing;
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
    this.#statuses.stop();
    this.#lifetime.abort();
    this.#lifetime = new AbortController();
    this.#server.closeAllConnections();
    await new Promise<void>((resolve) => this.#server.close(() => resolve()));
  }

  /** Registers (or replaces) an object and the token Meta accepts for it. */
  addObject(object: GraphSandboxObject): void {
    if (!ID.test(object.id)) throw new TypeError(`not a Graph object id: ${object.id}`);
    if (object.token === '') throw new TypeError('the token is empty');
    if (!GRAPH_OBJECT_KINDS.includes(object.kind)) throw new TypeError(`not an object kind: ${String(object.kind)}`);
    positive('ratePerSecond', object.ratePerSecond);
    this.#objects.set(object.id, { ...object });
  }

  /**
   * The next `count` Graph calls (to `objectId`, and on `edge`, only, when given) answer `failure`
   * instead; `hangMs` overrides the failure's.
   */
  failNext(
    count: number,
    failure: GraphFailure | GraphFailureName,
    options: { objectId?: string; edge?: GraphEdge; hangMs?: number } = {},
  ): void {
    if (!Number.isInteger(count) || count < 1) throw new RangeError('count must be a whole number of at least 1');
    const base: GraphFailure = typeof failure === 'string' ? GRAPH_FAILURES[failure] : failure;
    this.#failures.push({
      remaining: count,
      failure: options.hangMs === undefined ? base : { ...base, hangMs: options.hangMs },
      objectId: options.objectId,
      edge: options.edge,
    });
  }

  /**
   * The next `count` accepted WhatsApp sends (from `objectId` only, when given) are answered as
   * usual, then reported `failed` with `failure` in their status webhook, as Meta does for a
   * message it accepted but could not deliver.
   */
  failDeliveryNext(
    count: number,
    failure: DeliveryFailure | DeliveryFailureName = 'undeliverable',
    options: { objectId?: string } = {},
  ): void {
    if (!Number.isInteger(count) || count < 1) throw new RangeError('count must be a whole number of at least 1');
    this.#deliveryFailures.push({
      remaining: count,
      failure: typeof failure === 'string' ? DELIVERY_FAILURES[failure] : failure,
      objectId: options.objectId,
    });
  }

  /** Sets the send cap of one object (accepted sends per sliding second). */
  setRate(objectId: string, ratePerSecond: number): void {
    positive('ratePerSecond', ratePerSecond);
    const object = this.#objects.get(objectId);
    if (!object) throw new RangeError(`no object ${objectId}`);
    object.ratePerSecond = ratePerSecond;
  }

  /** Sets the time added before every Graph answer. */
  setLatency(ms: number): void {
    if (!(Number.isFinite(ms) && ms >= 0)) throw new RangeError('latency must be 0 ms or more');
    this.#latencyMs = ms;
  }

  /** Where (and whether) to post status webhooks for the sends accepted from now on. */
  setStatusWebhooks(config: StatusWebhooksConfig | null): void {
    this.#statusWebhooks = config;
  }

  /** Every message accepted so far (oldest first), optionally only one object's. */
  sends(filter: { objectId?: string } = {}): GraphSend[] {
    return this.#sends.filter((s) => filter.objectId === undefined || s.objectId === filter.objectId);
  }

  clearSends(): void {
    this.#sends.length = 0;
    this.#reads.length = 0;
  }

  /** Every mark-as-read call answered so far (oldest first), optionally only one object's. */
  reads(filter: { objectId?: string } = {}): GraphRead[] {
    return this.#reads.filter((r) => filter.objectId === undefined || r.objectId === filter.objectId);
  }

  /** Per object that accepted sends: the total and the most in any sliding second, against its cap. */
  sendRates(): SendRate[] {
    const times = new Map<string, number[]>();
    for (const send of this.#sends) {
      const list = times.get(send.objectId);
      if (list) list.push(send.atMs);
      else times.set(send.objectId, [send.atMs]);
    }
    return [...times].map(([objectId, list]) => {
      const sorted = list.sort((a, b) => a - b);
      return {
        objectId,
        total: sorted.length,
        maxPerSecond: maxInAnySecond(sorted),
        ratePerSecond: this.#objects.get(objectId)?.ratePerSecond ?? this.#ratePerSecond,
        perSecond: perSecond(sorted),
      };
    });
  }

  /** Every status webhook posted so far, with the engine's answer. */
  statusWebhooks(): StatusWebhook[] {
    return [...this.#statuses.sent];
  }

  /** Resolves once every status webhook scheduled so far has been posted. */
  async statusWebhooksIdle(): Promise<void> {
    await this.#statuses.idle();
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

  /** Adds a media file as if a customer had sent it to the number `objectId` (its id goes in the webhook). */
  addMedia(objectId: string, bytes: Uint8Array, mimeType: string, filename?: string): SandboxMediaInfo {
    return this.#media.add(objectId, bytes, mimeType, filename);
  }

  /** The media files held (uploaded or added), optionally only one number's. */
  media(filter: { objectId?: string } = {}): SandboxMediaInfo[] {
    return this.#media.list(filter);
  }

  /** The bytes of a media file held. */
  mediaContent(id: string): Buffer | undefined {
    return this.#media.content(id);
  }

  #takeFailure(objectId: string | null, edge: GraphEdge): GraphFailure | null {
    const index = this.#failures.findIndex(
      (f) => (f.objectId === undefined || f.objectId === objectId) && (f.edge === undefined || f.edge === edge),
    );
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
    if (`${url.pathname}/`.startsWith(MEDIA_DOWNLOAD_PATH)) {
      const refused = this.#media.download(url, bearer(req, url), (id, t) => this.#objects.get(id)?.token === t, res);
      if (refused) send(res, refused.status, refused.body);
      return;
    }

    const method = (req.method ?? 'GET').toUpperCase();
    // Meta takes an unversioned path too (its oldest available version).
    const version = parts[0] && VERSION.test(parts[0]) ? parts.shift()! : null;
    const edge =
      parts.length === 2 && (parts[1] === 'subscribed_apps' || parts[1] === 'messages' || parts[1] === 'media')
        ? parts[1]
        : publishingEdgeOf(parts, (id) => this.#publishing.isContainer(id));
    const objectId = edge === null ? null : parts[0]!;
    const fieldsParam = url.searchParams.get('subscribed_fields');
    const fields =
      fieldsParam === null
        ? null
        : fieldsParam
            .split(',')
            .map((f) => f.trim())
            .filter(Boolean);
    const record = (status: number, code: number | null) =>
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
    const answer = async (status: number, body: unknown, delayMs = this.#latencyMs) => {
      if (delayMs > 0) await sleep(delayMs, undefined, { signal: this.#lifetime.signal }).catch(() => {});
      record(status, (body as { error?: { code?: number } }).error?.code ?? null);
      send(res, status, body);
    };
    const fail = async (failure: GraphFailure) => {
      if (failure.status !== 0) return answer(failure.status, graphError(failure), failure.hangMs);
      record(0, null);
      await sleep(failure.hangMs ?? 30_000, undefined, { signal: this.#lifetime.signal }).catch(() => {});
      res.destroy();
    };

    if (method === 'GET' && parts.length >= 1 && ID.test(parts[0]!) && this.#isAccountRead(parts, url)) {
      return this.#readAccount(req, url, parts, answer);
    }
    if (edge === null && parts.length === 1 && ID.test(parts[0]!) && (method === 'GET' || method === 'DELETE')) {
      return this.#mediaObject(req, url, method, parts[0]!, answer);
    }
    if (objectId === null || edge === null || !ID.test(objectId)) {
      return answer(400, graphError({ status: 400, code: 100, message: `Unknown path components: ${url.pathname}` }));
    }
    const failure = this.#takeFailure(objectId, edge);
    if (failure && !failure.isSent) return fail(failure);

    const token = bearer(req, url);
    if (!token) {
      return answer(
        400,
        graphError({ status: 400, code: 104, message: 'An access token is required to request this resource.' }),
      );
    }
    const owners = [...this.#objects.values()].filter((o) => o.token === token);
    if (owners.length === 0) return answer(400, graphError(GRAPH_FAILURES['invalid-token']));
    if (owners.every((o) => o.isExpired)) return answer(400, graphError(GRAPH_FAILURES['expired-token']));
    const object = this.#objects.get(objectId);
    const unsupported = () =>
      answer(
        400,
        graphError({
          status: 400,
          code: 100,
          subcode: 33,
          type: 'GraphMethodException',
          message: `Unsupported ${method.toLowerCase()} request. Object with ID '${objectId}' does not exist, cannot be loaded due to missing permissions, or does not support this operation. Please read the Graph API documentation at https://developers.facebook.com/docs/graph-api`,
        }),
      );
    if (isPublishingEdge(edge) && (edge !== 'media' || object?.kind === 'instagram-account')) {
      const owned = object && object.token === token ? object : null;
      const params = await readParams(req, url);
      const result = this.#publishing.handle({ method, edge, objectId, object: owned, owners, params });
      // An injected failure that still acts (`isSent`): published, but the answer fails or never comes.
      if (failure && result.status === 200) return fail(failure);
      return answer(result.status, result.body);
    }
    if (!object || object.token !== token) return unsupported();

    if (edge === 'media') {
      if (method !== 'POST' || object.kind !== 'whatsapp-phone-number') return unsupported();
      const uploaded = await this.#media.upload(req, object.id);
      return answer(uploaded.status, uploaded.body);
    }
    if (edge === 'messages') {
      const platform = SEND_PLATFORMS[object.kind];
      if (method !== 'POST' || platform === undefined) return unsupported();
      return this.#send(req, object, platform, failure, answer, fail);
    }
    if (object.kind !== 'page' && object.kind !== 'whatsapp-business-account') return unsupported();

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
   * `GET|DELETE /{media-id}`: the token must be that of the number the media belongs to (Meta tells
   * an unknown id and another business's apart by nothing: both are "Unsupported … request").
   */
  async #mediaObject(
    req: IncomingMessage,
    url: URL,
    method: 'GET' | 'DELETE',
    id: string,
    answer: (status: number, body: unknown) => Promise<void>,
  ): Promise<void> {
    const token = bearer(req, url);
    if (!token) {
      return answer(
        400,
        graphError({ status: 400, code: 104, message: 'An access token is required to request this resource.' }),
      );
    }
    if (![...this.#objects.values()].some((o) => o.token === token)) {
      return answer(400, graphError(GRAPH_FAILURES['invalid-token']));
    }
    const owner = this.#media.ownerOf(id);
    if (owner === undefined || this.#objects.get(owner)?.token !== token) {
      const refused = unsupportedRequest(method, id);
      return answer(refused.status, refused.body);
    }
    const phoneNumberId = url.searchParams.get('phone_number_id');
    const done =
      method === 'GET' ? this.#media.lookup(id, this.#url, phoneNumberId) : this.#media.remove(id, phoneNumberId);
    return answer(done.status, done.body);
  }

  /**
   * `POST /{id}/messages`: checks the body, the object's cap (130429) and the pair rate (131056) as
   * Meta would, records the accepted message, schedules its status webhooks and answers Meta's
   * success body; or, with an injected failure that still sends (`isSent`), that failure.
   */
  async #send(
    req: IncomingMessage,
    object: GraphSandboxObject,
    platform: SendPlatform,
    failure: GraphFailure | null,
    answer: (status: number, body: unknown) => Promise<void>,
    fail: (failure: GraphFailure) => Promise<void>,
  ): Promise<void> {
    let body: unknown;
    try {
      body = await readJson(req);
    } catch {
      return answer(400, graphError({ status: 400, code: 100, message: '(#100) The request body is not valid JSON.' }));
    }
    const parsed = parseSendBody(platform, body);
    if (parsed.kind === 'invalid') return answer(400, graphError({ status: 400, code: 100, message: parsed.message }));
    // Marking as read moves no message: it does not count towards the rate.
    if (parsed.kind === 'mark-as-read') {
      this.#reads.push({ at: new Date().toISOString(), objectId: object.id, messageId: parsed.messageId, body });
      return answer(200, { success: true });
    }

    const nowMs = this.#now();
    let window = this.#windows.get(object.id);
    if (!window) this.#windows.set(object.id, (window = new SendWindow()));
    if (window.isFull(nowMs, object.ratePerSecond ?? this.#ratePerSecond)) {
      return answer(400, graphError(GRAPH_FAILURES.throughput));
    }
    let pairs = this.#pairs.get(object.id);
    if (!pairs) this.#pairs.set(object.id, (pairs = new PairBuckets()));
    // `+16505551234` and `16505551234` are one WhatsApp user.
    const pairKey = platform === 'whatsapp' ? parsed.recipient.replace(/\D/g, '') : parsed.recipient;
    if (!pairs.tryTake(pairKey, nowMs, object.pairRate ?? this.#pairRate)) {
      return answer(400, graphError(GRAPH_FAILURES['pair-rate']));
    }
    window.add(nowMs);

    const accepted = sendAnswer(platform, parsed);
    const sent: GraphSend = {
      at: new Date(nowMs).toISOString(),
      atMs: nowMs,
      objectId: object.id,
      platform,
      recipient: parsed.recipient,
      type: parsed.type,
      messageId: accepted.messageId,
      body,
    };
    this.#sends.push(sent);
    if (platform === 'whatsapp' && parsed.type === 'template') {
      this.accounts.recordReach(object.businessAccountId, parsed.recipient, nowMs);
    }
    if (this.#statusWebhooks) {
      const scope: StatusScope = {
        ...(object.businessAccountId === undefined ? {} : { businessAccountId: object.businessAccountId }),
        ...(object.displayPhoneNumber === undefined ? {} : { displayPhoneNumber: object.displayPhoneNumber }),
      };
      const deliveryFailure = platform === 'whatsapp' ? this.#takeDeliveryFailure(object.id) : undefined;
      this.#statuses.report(this.#statusWebhooks, sent, { scope, failure: deliveryFailure });
    }
    if (failure) return fail(failure);
    return answer(200, accepted.body);
  }

  #isAccountRead(parts: readonly string[], url: URL): boolean {
    if (parts.length === 2) return parts[1] === 'message_templates';
    const fields = url.searchParams.get('fields') ?? '';
    return (
      parts.length === 1 &&
      (fields.includes('owner_business_info') || fields.includes('whatsapp_business_manager_messaging_limit'))
    );
  }

  /** `GET /{waba-id}/message_templates` and `GET /{id}?fields=owner_business_info|whatsapp_business_manager_messaging_limit`. */
  async #readAccount(
    req: IncomingMessage,
    url: URL,
    parts: readonly string[],
    answer: (status: number, body: unknown) => Promise<void>,
  ): Promise<void> {
    const token = bearer(req, url);
    if (!token) {
      return answer(
        400,
        graphError({ status: 400, code: 104, message: 'An access token is required to request this resource.' }),
      );
    }
    const object = this.#objects.get(parts[0]!);
    if (!object || object.token !== token) {
      const known = [...this.#objects.values()].some((o) => o.token === token);
      return answer(
        400,
        known
          ? graphError({
              status: 400,
              code: 100,
              subcode: 33,
              type: 'GraphMethodException',
              message: `Unsupported get request. Object with ID '${parts[0]}' does not exist, cannot be loaded due to missing permissions, or does not support this operation.`,
            })
          : graphError(GRAPH_FAILURES['invalid-token']),
      );
    }
    if (object.isExpired) return answer(400, graphError(GRAPH_FAILURES['expired-token']));
    const failure = this.#takeFailure(object.id, 'account');
    if (failure) return answer(failure.status || 500, graphError(failure));
    if (parts.length === 2) {
      if (object.kind !== 'whatsapp-business-account') {
        return answer(
          400,
          graphError({
            status: 400,
            code: 100,
            message: '(#100) Tried accessing nonexisting field (message_templates)',
          }),
        );
      }
      return answer(200, this.accounts.templatePage(object.id, url.searchParams));
    }
    const fields = (url.searchParams.get('fields') ?? '').split(',').map((f) => f.trim());
    const body = this.accounts.objectFields(object, fields);
    return answer(200, body ?? { id: object.id });
  }

  /**
   * Changes a template's status and posts Meta's `message_template_status_update` webhook to the
   * status webhook URL (when one is set); answers the webhook's HTTP status (0: none posted).
   */
  async setTemplateStatus(
    wabaId: string,
    name: string,
    language: string,
    status: TemplateStatus,
    reason?: string | null,
  ): Promise<number> {
    const body = this.accounts.setTemplateStatus(wabaId, name, language, status, {
      nowMs: this.#now(),
      ...(reason === undefined ? {} : { reason }),
    });
    if (!this.#statusWebhooks) return 0;
    const report = await sendWebhooks({
      url: this.#statusWebhooks.url,
      appSecret: this.#statusWebhooks.appSecret,
      bodies: [body],
      retries: 2,
    });
    return report.results.at(-1)?.status ?? 0;
  }

  #takeDeliveryFailure(objectId: string): DeliveryFailure | undefined {
    const index = this.#deliveryFailures.findIndex((f) => f.objectId === undefined || f.objectId === objectId);
    if (index < 0) return undefined;
    const pending = this.#deliveryFailures[index]!;
    pending.remaining -= 1;
    if (pending.remaining === 0) this.#deliveryFailures.splice(index, 1);
    return pending.failure;
  }

  /**
   * `GET /_sandbox/calls[?objectId=]`, `DELETE /_sandbox/calls`, `PUT /_sandbox/objects/{id}`
   * `{ kind, token, isExpired?, ratePerSecond?, pairRate?, businessAccountId?, displayPhoneNumber? }`,
   * `POST /_sandbox/failures` `{ count, failure, objectId?, edge?, hangMs? }`,
   * `POST /_sandbox/delivery-failures` `{ count, failure, objectId? }`, `GET /_sandbox/subscriptions/{id}`,
   * `GET /_sandbox/sends[?objectId=]`, `DELETE /_sandbox/sends`, `GET /_sandbox/rates`,
   * `PUT /_sandbox/latency` `{ ms }`, `PUT|DELETE /_sandbox/status-webhooks` (the config),
   * `GET /_sandbox/status-webhooks` (those posted), `PUT /_sandbox/portfolios/{id}` `{ tier?, accounts? }`,
   * `POST /_sandbox/template-status` `{ wabaId, name, language, status }` (posts the webhook),
   * `GET /_sandbox/media[?objectId=]`, `POST /_sandbox/media` `{ objectId, mimeType, base64, filename? }`.
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
        if (body.kind === undefined || !GRAPH_OBJECT_KINDS.includes(body.kind)) {
          return problem(400, `kind must be one of ${GRAPH_OBJECT_KINDS.join(', ')}`);
        }
        if (typeof body.token !== 'string') return problem(400, 'token is required');
        this.addObject({
          id,
          kind: body.kind,
          token: body.token,
          isExpired: body.isExpired === true,
          ...(typeof body.ratePerSecond === 'number' ? { ratePerSecond: body.ratePerSecond } : {}),
          ...(body.pairRate ? { pairRate: body.pairRate } : {}),
          ...(typeof body.businessAccountId === 'string' ? { businessAccountId: body.businessAccountId } : {}),
          ...(typeof body.displayPhoneNumber === 'string' ? { displayPhoneNumber: body.displayPhoneNumber } : {}),
        });
        return send(res, 200, { id, kind: body.kind });
      }
      if (resource === 'failures' && method === 'POST') {
        const body = (await readJson(req)) as {
          count?: number;
          failure?: string | GraphFailure;
          objectId?: string;
          edge?: string;
          hangMs?: number;
        };
        const failure = body.failure ?? 'server-error';
        if (typeof failure === 'string' && !isGraphFailureName(failure)) {
          return problem(400, `failure must be one of ${Object.keys(GRAPH_FAILURES).join(', ')} or an object`);
        }
        if (
          body.edge !== undefined &&
          !['messages', 'subscribed_apps', 'media'].includes(body.edge) &&
          !isPublishingEdge(body.edge)
        ) {
          return problem(400, 'edge must be messages, subscribed_apps or media');
        }
        this.failNext(body.count ?? 1, failure, {
          ...(body.objectId ? { objectId: body.objectId } : {}),
          ...(body.edge ? { edge: body.edge as GraphEdge } : {}),
          ...(typeof body.hangMs === 'number' ? { hangMs: body.hangMs } : {}),
        });
        return send(res, 200, { pending: this.#failures.reduce((n, f) => n + f.remaining, 0) });
      }
      if (resource === 'delivery-failures' && method === 'POST') {
        const body = (await readJson(req)) as { count?: number; failure?: string | DeliveryFailure; objectId?: string };
        const failure = body.failure ?? 'undeliverable';
        if (typeof failure === 'string' && !isDeliveryFailureName(failure)) {
          return problem(400, `failure must be one of ${Object.keys(DELIVERY_FAILURES).join(', ')} or an object`);
        }
        this.failDeliveryNext(body.count ?? 1, failure, body.objectId ? { objectId: body.objectId } : {});
        return send(res, 200, { pending: this.#deliveryFailures.reduce((n, f) => n + f.remaining, 0) });
      }
      if (resource === 'sends' && method === 'GET') {
        const objectId = url.searchParams.get('objectId');
        return send(res, 200, this.sends(objectId ? { objectId } : {}));
      }
      if (resource === 'sends' && method === 'DELETE') {
        this.clearSends();
        return send(res, 200, { cleared: true });
      }
      if (resource === 'rates' && method === 'GET') return send(res, 200, this.sendRates());
      if (resource === 'publishing') {
        const body = method === 'PUT' ? await readJson(req) : undefined;
        const result = this.#publishing.inspect(method, parts.slice(1), url, body);
        return send(res, result.status, result.body);
      }
      if (resource === 'media' && method === 'GET') {
        const objectId = url.searchParams.get('objectId');
        return send(res, 200, this.media(objectId ? { objectId } : {}));
      }
      if (resource === 'media' && method === 'POST') {
        const body = (await readJson(req)) as {
          objectId?: string;
          mimeType?: string;
          base64?: string;
          filename?: string;
        };
        if (typeof body.objectId !== 'string' || typeof body.mimeType !== 'string' || typeof body.base64 !== 'string') {
          return problem(400, 'objectId, mimeType and base64 are required');
        }
        const bytes = Buffer.from(body.base64, 'base64');
        return send(res, 200, this.addMedia(body.objectId, bytes, body.mimeType, body.filename));
      }
      if (resource === 'latency' && method === 'PUT') {
        const body = (await readJson(req)) as { ms?: number };
        this.setLatency(body.ms ?? 0);
        return send(res, 200, { latencyMs: this.#latencyMs });
      }
      if (resource === 'status-webhooks' && method === 'PUT') {
        const body = (await readJson(req)) as Partial<StatusWebhooksConfig>;
        if (typeof body.url !== 'string' || typeof body.appSecret !== 'string' || body.appSecret === '') {
          return problem(400, 'url and appSecret are required');
        }
        this.setStatusWebhooks({ ...body, url: new URL(body.url).toString(), appSecret: body.appSecret });
        return send(res, 200, { url: body.url });
      }
      if (resource === 'status-webhooks' && method === 'DELETE') {
        this.setStatusWebhooks(null);
        return send(res, 200, { cleared: true });
      }
      if (resource === 'status-webhooks' && method === 'GET') return send(res, 200, this.statusWebhooks());
      if (resource === 'portfolios' && id && method === 'PUT') {
        const body = (await readJson(req)) as { tier?: string; accounts?: string[] };
        if (body.tier !== undefined && !isMessagingTier(body.tier)) {
          return problem(400, `tier must be one of ${Object.keys(MESSAGING_TIERS).join(', ')}`);
        }
        for (const waba of body.accounts ?? []) this.accounts.setPortfolio(waba, id);
        if (body.tier !== undefined) this.accounts.setTier(id, body.tier);
        return send(res, 200, { id, tier: this.accounts.tierOf(id), reach: this.accounts.reach(id, this.#now()) });
      }
      if (resource === 'template-status' && method === 'POST') {
        const body = (await readJson(req)) as { wabaId?: string; name?: string; language?: string; status?: string };
        if (!body.wabaId || !body.name || !body.language || !body.status) {
          return problem(400, 'wabaId, name, language and status are required');
        }
        const posted = await this.setTemplateStatus(
          body.wabaId,
          body.name,
          body.language,
          body.status as TemplateStatus,
        );
        return send(res, 200, { webhookStatus: posted });
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
