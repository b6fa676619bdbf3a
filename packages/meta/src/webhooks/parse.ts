import type { ParseContext } from './build-event.ts';
import type { MetaWebhookEvent, Platform } from './events.ts';
import { parseInstagramBody } from './instagram/parse.ts';
import { isRecord, text, type JsonRecord } from './json.ts';
import { parseEntries, parseMessagingChange } from './messaging/entries.ts';
import { unknownEvent } from './unknown.ts';
import { parseWhatsAppBody } from './whatsapp/parse.ts';

export interface ParseOptions {
  /** When the body was received: the `occurredAt` of events for which Meta gives no time. Defaults to now. */
  receivedAt?: Date;
}

type BodyParser = (body: JsonRecord, ctx: ParseContext) => MetaWebhookEvent[];

/** Meta's `object` names the product; a Map, so names like `constructor` find nothing. */
const PARSERS = new Map<string, { platform: Platform; parse: BodyParser }>([
  ['whatsapp_business_account', { platform: 'whatsapp', parse: parseWhatsAppBody }],
  ['page', { platform: 'messenger', parse: (body, ctx) => parseEntries(body, 'messenger', parseMessagingChange, ctx) }],
  ['instagram', { platform: 'instagram', parse: parseInstagramBody }],
]);

/**
 * Parses a Meta webhook body (already JSON-parsed) into normalized events, one per thing that
 * happened. Never throws and never drops anything: what it does not recognise comes out as an
 * `unknown` or `<platform>.unknown` event with the fragment in `raw`, and every body gives at least
 * one event. Parsing the same body twice gives the same events (except `occurredAt` where Meta gives
 * no time, which falls back to `receivedAt`).
 */
export function parseMetaWebhook(body: unknown, options: ParseOptions = {}): MetaWebhookEvent[] {
  const ctx: ParseContext = { receivedAt: (options.receivedAt ?? new Date()).toISOString() };
  const object = isRecord(body) ? text(body.object) : undefined;
  const parser = object === undefined ? undefined : PARSERS.get(object);
  try {
    if (!isRecord(body)) return [unknownEvent('unknown', body, { reason: 'body is not a JSON object' }, ctx)];
    if (parser === undefined || !Array.isArray(body.entry)) {
      const reason = parser === undefined ? 'unrecognised object' : 'body has no entry array';
      return [unknownEvent('unknown', body, { reason, object }, ctx)];
    }
    const events = parser.parse(body, ctx);
    if (events.length > 0) return events;
    return [unknownEvent(parser.platform, body, { reason: 'body holds no events', object }, ctx)];
  } catch {
    // A shape the guards did not foresee: keep the whole body rather than lose it.
    return [unknownEvent('unknown', body, { reason: 'body could not be parsed', ...(object ? { object } : {}) }, ctx)];
  }
}
