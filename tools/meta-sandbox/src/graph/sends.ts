import { newInstagramMid, newMessengerMid, newWamid } from '../webhooks/bodies.ts';

/**
 * The send side of the Graph sandbox: what Meta checks and answers on `POST /{id}/messages`. Shapes
 * and limits as cited in packages/meta/src/webhooks/fixtures/SOURCES.md ("Send API").
 */

/** The platform a send goes out on, by the kind of object it is addressed to. */
export type SendPlatform = 'whatsapp' | 'messenger' | 'instagram';

/** One message the sandbox accepted (it counts towards the rate). Never the token. */
export interface GraphSend {
  /** When it arrived (ISO 8601) and, for rate arithmetic, in ms since the epoch. */
  at: string;
  atMs: number;
  objectId: string;
  platform: SendPlatform;
  /** WhatsApp `to`, Messenger/Instagram `recipient.id`. */
  recipient: string;
  /** WhatsApp's `type`; `text` or `attachment` for Messenger and Instagram. */
  type: string;
  /** The id the sandbox answered (wamid, mid). */
  messageId: string;
  body: unknown;
}

/** Meta's documented default throughput of a WhatsApp business number. */
export const DEFAULT_RATE_PER_SECOND = 80;

/**
 * Meta's pair rate: about one message every 6 s from a number to one user, with bursts of up to 45
 * that borrow from later: a token bucket of `burst` tokens refilled one per `intervalMs`.
 */
export interface PairRate {
  burst: number;
  intervalMs: number;
}
export const DEFAULT_PAIR_RATE: PairRate = { burst: 45, intervalMs: 6_000 };

const WINDOW_MS = 1_000;

/**
 * The accepted sends of one object in the last second (sliding), for the cap: a send is refused
 * when `cap` were accepted in the 1,000 ms before it. Refused sends do not count.
 */
export class SendWindow {
  readonly #times: number[] = [];

  isFull(nowMs: number, cap: number): boolean {
    while (this.#times.length > 0 && nowMs - this.#times[0]! >= WINDOW_MS) this.#times.shift();
    return this.#times.length >= cap;
  }

  add(nowMs: number): void {
    this.#times.push(nowMs);
  }
}

/** One token bucket per recipient of an object. */
export class PairBuckets {
  readonly #buckets = new Map<string, { tokens: number; atMs: number }>();

  tryTake(recipient: string, nowMs: number, rate: PairRate): boolean {
    const bucket = this.#buckets.get(recipient) ?? { tokens: rate.burst, atMs: nowMs };
    const refilled = Math.min(rate.burst, bucket.tokens + (nowMs - bucket.atMs) / rate.intervalMs);
    if (refilled < 1) {
      this.#buckets.set(recipient, { tokens: refilled, atMs: nowMs });
      return false;
    }
    this.#buckets.set(recipient, { tokens: refilled - 1, atMs: nowMs });
    return true;
  }
}

/** The most sends in any window of 1,000 ms (sliding: [t, t + 1000) for every t), from sorted times. */
export function maxInAnySecond(sortedTimesMs: readonly number[]): number {
  let max = 0;
  let start = 0;
  for (let end = 0; end < sortedTimesMs.length; end += 1) {
    while (sortedTimesMs[end]! - sortedTimesMs[start]! >= WINDOW_MS) start += 1;
    max = Math.max(max, end - start + 1);
  }
  return max;
}

/** Sends per wall-clock second (`2026-11-26T06:00:01Z` → count), oldest first. */
export function perSecond(sortedTimesMs: readonly number[]): { second: string; count: number }[] {
  const counts = new Map<number, number>();
  for (const ms of sortedTimesMs) {
    const second = Math.floor(ms / 1000);
    counts.set(second, (counts.get(second) ?? 0) + 1);
  }
  return [...counts].map(([second, count]) => ({
    second: new Date(second * 1000).toISOString().replace('.000Z', 'Z'),
    count,
  }));
}

/** What a send body addresses, or why Meta would refuse it (a `(#100)` message). */
export type ParsedSend =
  | { kind: 'message'; recipient: string; type: string }
  | { kind: 'mark-as-read'; messageId: string }
  | { kind: 'invalid'; message: string };

const record = (value: unknown): Record<string, unknown> | null =>
  value !== null && typeof value === 'object' && !Array.isArray(value) ? (value as Record<string, unknown>) : null;

export function parseSendBody(platform: SendPlatform, body: unknown): ParsedSend {
  const fields = record(body);
  if (!fields) return { kind: 'invalid', message: '(#100) The parameter messaging_product is required.' };
  if (platform === 'whatsapp') {
    if (fields.messaging_product !== 'whatsapp') {
      return { kind: 'invalid', message: '(#100) The parameter messaging_product is required.' };
    }
    if (fields.status === 'read') {
      return typeof fields.message_id === 'string' && fields.message_id !== ''
        ? { kind: 'mark-as-read', messageId: fields.message_id }
        : { kind: 'invalid', message: '(#100) The parameter message_id is required.' };
    }
    if (typeof fields.to !== 'string' || fields.to === '') {
      return { kind: 'invalid', message: '(#100) The parameter to is required.' };
    }
    const type = typeof fields.type === 'string' ? fields.type : 'text';
    const content = fields[type];
    // Every type carries an object of its name, except contacts: an array.
    if (!(record(content) || (Array.isArray(content) && content.length > 0))) {
      return { kind: 'invalid', message: `(#100) The parameter ${type} is required.` };
    }
    return { kind: 'message', recipient: fields.to, type };
  }
  const recipient = record(fields.recipient)?.id;
  if (typeof recipient !== 'string' || recipient === '') {
    return { kind: 'invalid', message: '(#100) The parameter recipient is required' };
  }
  const message = record(fields.message);
  if (!message || (message.text === undefined && message.attachment === undefined)) {
    return { kind: 'invalid', message: '(#100) The parameter message is required' };
  }
  return { kind: 'message', recipient, type: message.text === undefined ? 'attachment' : 'text' };
}

/** Meta's success answer for an accepted message, with a new id. */
export function sendAnswer(
  platform: SendPlatform,
  parsed: { recipient: string; type: string },
): { messageId: string; body: Record<string, unknown> } {
  if (platform === 'whatsapp') {
    const messageId = newWamid();
    return {
      messageId,
      body: {
        messaging_product: 'whatsapp',
        contacts: [{ input: parsed.recipient, wa_id: parsed.recipient.replace(/\D/g, '') }],
        // Meta adds the pacing status to template sends only.
        messages: [{ id: messageId, ...(parsed.type === 'template' ? { message_status: 'accepted' } : {}) }],
      },
    };
  }
  const messageId = platform === 'messenger' ? newMessengerMid() : newInstagramMid();
  return { messageId, body: { recipient_id: parsed.recipient, message_id: messageId } };
}
