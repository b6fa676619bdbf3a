import { GraphError, graphErrorFromNetwork, graphErrorFromResponse } from './errors.ts';

export const DEFAULT_GRAPH_URL = 'https://graph.facebook.com';
export const DEFAULT_GRAPH_VERSION = 'v21.0';
export const DEFAULT_GRAPH_TIMEOUT_MS = 10_000;

/**
 * Page fields a Messenger channel subscribes its page to: the Messenger webhook events the engine
 * parses. Meta sends a field only when both the page and the app (App Dashboard) subscribe to it.
 */
export const MESSENGER_PAGE_FIELDS = [
  'messages',
  'messaging_postbacks',
  'message_reactions',
  'message_reads',
  'message_deliveries',
  'messaging_optins',
  'messaging_referrals',
  'message_echoes',
] as const;

/**
 * Instagram messaging goes through the Instagram account's linked Facebook page: the Instagram
 * fields (messages, messaging_postbacks, messaging_seen, message_reactions, …) are subscribed on
 * the app, in the App Dashboard only, and the page must subscribe the app to "any page webhook
 * field". `feed` is the one Meta's example uses and needs only the permissions Instagram messaging
 * already requires (pages_manage_metadata, pages_show_list), where `messages` needs pages_messaging.
 */
export const INSTAGRAM_PAGE_FIELDS = ['feed'] as const;

/** An app subscribed to an object's webhooks, as `GET /{id}/subscribed_apps` lists it. */
export interface SubscribedApp {
  id: string;
  name: string | null;
  link: string | null;
  /** Page subscriptions list their fields; a WhatsApp Business Account's do not. */
  subscribedFields: string[] | null;
}

export interface GraphClientOptions {
  /** Default https://graph.facebook.com (the sandbox's URL in tests). */
  baseUrl?: string;
  /** Default v21.0. */
  version?: string;
  /** Per call; a call without an answer by then fails as `transient`. Default 10 s. */
  timeoutMs?: number;
  fetch?: typeof globalThis.fetch;
  userAgent?: string;
}

const OBJECT_ID = /^[A-Za-z0-9_-]{1,64}$/;
/** `toGraphRequest`'s paths: `{phone-number-id}/messages`, `{page-id}/messages`. */
const SEND_PATH = /^[A-Za-z0-9_-]{1,64}\/messages$/;
const EDGE_PATH = /^[A-Za-z0-9_-]{1,64}\/[a-z_]{1,64}$/;

/**
 * A small Graph API client. The token travels only in the `Authorization: Bearer` header, never in
 * the URL (which proxies and access logs keep); it never logs. Every failure is a GraphError with
 * its classification; a call Meta never answers is a `transient` one.
 */
export class GraphClient {
  readonly baseUrl: string;
  readonly version: string;
  readonly timeoutMs: number;
  readonly #fetch: typeof globalThis.fetch;
  readonly #userAgent: string | undefined;

  constructor(options: GraphClientOptions = {}) {
    this.baseUrl = (options.baseUrl ?? DEFAULT_GRAPH_URL).replace(/\/+$/, '');
    this.version = options.version ?? DEFAULT_GRAPH_VERSION;
    if (!/^v\d+\.\d+$/.test(this.version)) throw new TypeError(`Graph API version must look like v21.0`);
    this.timeoutMs = options.timeoutMs ?? DEFAULT_GRAPH_TIMEOUT_MS;
    this.#fetch = options.fetch ?? globalThis.fetch;
    this.#userAgent = options.userAgent;
  }

  /**
   * Subscribes this app to the object's webhooks (a WhatsApp Business Account, or a page with
   * `fields`). Meta answers `{"success":true}` (pages: sometimes the string "true").
   */
  async subscribeApp(objectId: string, token: string, fields?: readonly string[]): Promise<void> {
    const query = fields && fields.length > 0 ? { subscribed_fields: fields.join(',') } : undefined;
    this.#expectSuccess(await this.#call('POST', subscribedAppsPath(objectId), token, { query }));
  }

  /** Unsubscribes this app from the object's webhooks. */
  async unsubscribeApp(objectId: string, token: string): Promise<void> {
    this.#expectSuccess(await this.#call('DELETE', subscribedAppsPath(objectId), token));
  }

  /** The apps subscribed to the object's webhooks. */
  async subscribedApps(objectId: string, token: string): Promise<SubscribedApp[]> {
    const body = await this.#call('GET', subscribedAppsPath(objectId), token);
    const data = (body as { data?: unknown } | null)?.data;
    if (!Array.isArray(data)) throw new GraphError({ status: 200, message: 'Graph API answered without a data list' });
    return data.map(subscribedApp);
  }

  /**
   * POSTs a message (`toGraphRequest`'s path and body) and answers Meta's success body, from which
   * `parseGraphSendResponse` reads the message id. Fails with a GraphError; one with
   * `isOutcomeUnknown` (no answer in `timeoutMs`, a connection lost mid-call) may have been sent,
   * and Meta has no idempotency key: a retry may deliver it twice.
   */
  async send(path: string, body: object, token: string): Promise<unknown> {
    if (!SEND_PATH.test(path)) throw new TypeError('not a Graph send path');
    return this.#call('POST', path, token, { body });
  }

  /**
   * GETs a Graph object or edge (`{id}`, `{id}/{edge}`) with query parameters (`fields`, `after`,
   * `limit`, …) and answers Meta's body as it came.
   */
  async get(path: string, token: string, query?: Record<string, string>): Promise<unknown> {
    if (!/^[A-Za-z0-9_-]{1,64}(\/[a-z_]{1,64})?$/.test(path)) throw new TypeError('not a Graph object or edge path');
    return this.#call('GET', path, token, { query });
  }

  /**
   * POSTs to a Graph edge (`{id}/{edge}`: a page's feed, an Instagram account's media) with its
   * parameters as a JSON body, and answers Meta's body as it came. Like `send`, a failure with
   * `isOutcomeUnknown` may have acted.
   */
  async post(
    path: string,
    token: string,
    params: Record<string, string | boolean | number | undefined>,
  ): Promise<unknown> {
    if (!EDGE_PATH.test(path)) throw new TypeError('not a Graph edge path');
    const body = Object.fromEntries(Object.entries(params).filter(([, value]) => value !== undefined));
    return this.#call('POST', path, token, { body });
  }

  #expectSuccess(body: unknown): void {
    const success = (body as { success?: unknown } | null)?.success;
    if (success !== true && success !== 'true') {
      throw new GraphError({ status: 200, message: 'Graph API answered without success: true' });
    }
  }

  async #call(
    method: 'GET' | 'POST' | 'DELETE',
    path: string,
    token: string,
    options: { query?: Record<string, string> | undefined; body?: object } = {},
  ): Promise<unknown> {
    if (token === '') throw new TypeError('the access token is empty');
    const url = new URL(`${this.baseUrl}/${this.version}/${path}`);
    for (const [key, value] of Object.entries(options.query ?? {})) url.searchParams.set(key, value);
    let response: Response;
    let text: string;
    try {
      response = await this.#fetch(url, {
        method,
        headers: {
          authorization: `Bearer ${token}`,
          accept: 'application/json',
          ...(options.body ? { 'content-type': 'application/json' } : {}),
          ...(this.#userAgent ? { 'user-agent': this.#userAgent } : {}),
        },
        ...(options.body ? { body: JSON.stringify(options.body) } : {}),
        signal: AbortSignal.timeout(this.timeoutMs),
      });
      text = await response.text();
    } catch (error) {
      throw graphErrorFromNetwork(error, this.timeoutMs);
    }
    let body: unknown;
    try {
      body = text === '' ? null : JSON.parse(text);
    } catch {
      body = null;
    }
    if (!response.ok || (body && typeof body === 'object' && 'error' in body)) {
      throw graphErrorFromResponse(response.status, body);
    }
    return body;
  }
}

function subscribedAppsPath(objectId: string): string {
  if (!OBJECT_ID.test(objectId)) throw new TypeError('not a Graph object id');
  return `${objectId}/subscribed_apps`;
}

function subscribedApp(entry: unknown): SubscribedApp {
  const record = (entry && typeof entry === 'object' ? entry : {}) as Record<string, unknown>;
  // WhatsApp nests the app under `whatsapp_business_api_data`; pages list it flat.
  const nested = record.whatsapp_business_api_data;
  const app = (nested && typeof nested === 'object' ? nested : record) as Record<string, unknown>;
  const fields = record.subscribed_fields;
  return {
    id: typeof app.id === 'string' ? app.id : typeof app.id === 'number' ? String(app.id) : '',
    name: typeof app.name === 'string' ? app.name : null,
    link: typeof app.link === 'string' ? app.link : null,
    subscribedFields: Array.isArray(fields) ? fields.filter((f): f is string => typeof f === 'string') : null,
  };
}
