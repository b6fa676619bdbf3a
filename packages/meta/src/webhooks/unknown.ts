import { buildEvent, type ParseContext } from './build-event.ts';
import { contentHash, dedupKey } from './dedup.ts';
import type { MetaWebhookEvent, Platform } from './events.ts';
import { compact } from './json.ts';

export interface UnknownFragment {
  reason: string;
  object?: string | undefined;
  field?: string | undefined;
  channelId?: string | null | undefined;
  businessAccountId?: string | undefined;
  times?: readonly unknown[];
}

/**
 * A fragment the parser does not recognise becomes an event of its own, never a silent drop: the
 * instance or the operator still sees it, whole, in `raw`. Keyed by the hash of that fragment.
 */
export function unknownEvent(
  platform: Platform | 'unknown',
  raw: unknown,
  fragment: UnknownFragment,
  ctx: ParseContext,
): MetaWebhookEvent {
  const type = platform === 'unknown' ? 'unknown' : (`${platform}.unknown` as const);
  return buildEvent(
    type,
    {
      channelId: fragment.channelId ?? null,
      businessAccountId: fragment.businessAccountId,
      dedupKey:
        platform === 'unknown'
          ? dedupKey('unknown', contentHash(raw))
          : dedupKey(platform, 'unknown', contentHash(raw)),
      times: fragment.times ?? [],
      data: compact({ reason: fragment.reason, object: fragment.object, field: fragment.field }),
      raw,
    },
    ctx,
  );
}
