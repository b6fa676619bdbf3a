import type { ParseContext } from '../build-event.ts';
import type { MetaWebhookEvent } from '../events.ts';
import { isRecord, items, text, type JsonRecord } from '../json.ts';
import { unknownEvent } from '../unknown.ts';
import { isMessagingItem, parseMessagingItem, type MessagingPlatform, type MessagingScope } from './parse.ts';

export type ChangeParser = (change: unknown, scope: MessagingScope, ctx: ParseContext) => MetaWebhookEvent;

/**
 * The entries of a Page or Instagram body: each entry may hold `messaging[]`, `standby[]` (items
 * for an app that does not control the conversation) and `changes[]`. An entry with none of them
 * becomes an unknown event.
 */
export function parseEntries(
  body: JsonRecord,
  platform: MessagingPlatform,
  parseChange: ChangeParser,
  ctx: ParseContext,
): MetaWebhookEvent[] {
  return items(body.entry).flatMap((entry): MetaWebhookEvent[] => {
    if (!isRecord(entry)) return [unknownEvent(platform, entry, { reason: 'entry is not an object' }, ctx)];
    const scope: MessagingScope = { platform, channelId: text(entry.id), time: entry.time, standby: false };
    const events = [
      ...items(entry.messaging).map((item) => parseMessagingItem(item, item, scope, ctx)),
      ...items(entry.standby).map((item) => parseMessagingItem(item, item, { ...scope, standby: true }, ctx)),
      ...items(entry.changes).map((change) => parseChange(change, scope, ctx)),
    ];
    if (events.length > 0) return events;
    return [
      unknownEvent(
        platform,
        entry,
        { reason: 'entry has no messaging or changes', channelId: scope.channelId, times: [entry.time] },
        ctx,
      ),
    ];
  });
}

/** A change whose value is a messaging item (Meta's test notifications send them so); anything else is unknown. */
export const parseMessagingChange: ChangeParser = (change, scope, ctx) => {
  if (isRecord(change) && isMessagingItem(change.value)) return parseMessagingItem(change.value, change, scope, ctx);
  return unknownEvent(
    scope.platform,
    change,
    {
      reason: isRecord(change) ? 'unrecognised field' : 'change is not an object',
      field: isRecord(change) ? text(change.field) : undefined,
      channelId: scope.channelId,
      times: [scope.time],
    },
    ctx,
  );
};
