import type { EventDataByType, EventType, MetaWebhookEvent, Platform } from './events.ts';
import { toIsoTime } from './timestamps.ts';

/** What every parser knows besides the body: when it was received, the fallback for `occurredAt`. */
export interface ParseContext {
  receivedAt: string;
}

export interface EventFields<T extends EventType> {
  channelId: string | null;
  businessAccountId?: string | undefined;
  dedupKey: string;
  conversationKey?: string | undefined;
  /** Meta's time values, best first; the first one that reads as a time wins. */
  times: readonly unknown[];
  data: EventDataByType[T];
  raw: unknown;
}

const platformOf = (type: EventType): Platform | 'unknown' => {
  const prefix = type.split('.')[0];
  return prefix === 'whatsapp' || prefix === 'messenger' || prefix === 'instagram' ? prefix : 'unknown';
};

const kindOf = (type: EventType): string => (type === 'unknown' ? 'unknown' : type.slice(type.indexOf('.') + 1));

export function buildEvent<T extends EventType>(type: T, fields: EventFields<T>, ctx: ParseContext): MetaWebhookEvent {
  let occurredAt = ctx.receivedAt;
  for (const time of fields.times) {
    const iso = toIsoTime(time);
    if (iso !== undefined) {
      occurredAt = iso;
      break;
    }
  }
  const event = {
    type,
    kind: kindOf(type),
    platform: platformOf(type),
    channelId: fields.channelId,
    ...(fields.businessAccountId === undefined ? {} : { businessAccountId: fields.businessAccountId }),
    dedupKey: fields.dedupKey,
    ...(fields.conversationKey === undefined ? {} : { conversationKey: fields.conversationKey }),
    occurredAt,
    data: fields.data,
    raw: fields.raw,
  };
  // TypeScript cannot correlate `type` with `data` through a generic; EventFields<T> ties them together.
  return event as MetaWebhookEvent;
}

/** `<channel>:<customer>`, when both are known. */
export const conversationKeyOf = (channelId: string | null, customerId: string | undefined): string | undefined =>
  channelId !== null && customerId !== undefined ? `${channelId}:${customerId}` : undefined;
