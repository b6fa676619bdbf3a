import { buildEvent, type ParseContext } from '../build-event.ts';
import { contentHash, dedupKey } from '../dedup.ts';
import type { MetaWebhookEvent } from '../events.ts';
import { compact, num, record, text, type JsonRecord } from '../json.ts';
import { parseEntries, parseMessagingChange, type ChangeParser } from '../messaging/entries.ts';
import type { MessagingScope } from '../messaging/parse.ts';

/**
 * Instagram bodies (`object: instagram`): direct messages arrive in entry[].messaging[] (or, for
 * the `messages` field, as a change whose value is the same item); comments, mentions and story
 * insights arrive in entry[].changes[].
 */
export function parseInstagramBody(body: JsonRecord, ctx: ParseContext): MetaWebhookEvent[] {
  return parseEntries(body, 'instagram', parseInstagramChange, ctx);
}

const parseInstagramChange: ChangeParser = (change, scope, ctx) => {
  const c = record(change);
  const field = text(c?.field);
  const value = record(c?.value);
  if (c === undefined || value === undefined) return parseMessagingChange(change, scope, ctx);
  if (field === 'comments' || field === 'live_comments') {
    const commentId = text(value.id);
    if (commentId !== undefined) return commentEvent(c, value, commentId, field === 'live_comments', scope, ctx);
  }
  if (field === 'mentions') return mentionEvent(c, value, scope, ctx);
  if (field === 'story_insights') return storyInsightsEvent(c, value, scope, ctx);
  return parseMessagingChange(change, scope, ctx);
};

function commentEvent(
  change: JsonRecord,
  value: JsonRecord,
  commentId: string,
  live: boolean,
  scope: MessagingScope,
  ctx: ParseContext,
): MetaWebhookEvent {
  const from = record(value.from);
  const media = record(value.media);
  return buildEvent(
    'instagram.comment.received',
    {
      channelId: scope.channelId ?? null,
      dedupKey: dedupKey('instagram', 'comment', commentId),
      times: [value.timestamp, scope.time],
      data: compact({
        commentId,
        text: text(value.text),
        from: from === undefined ? undefined : compact({ id: text(from.id), username: text(from.username) }),
        mediaId: text(media?.id),
        mediaProductType: text(media?.media_product_type),
        parentId: text(value.parent_id),
        adId: text(media?.ad_id ?? value.ad_id),
        live,
      }),
      raw: change,
    },
    ctx,
  );
}

function mentionEvent(
  change: JsonRecord,
  value: JsonRecord,
  scope: MessagingScope,
  ctx: ParseContext,
): MetaWebhookEvent {
  const mediaId = text(value.media_id);
  const commentId = text(value.comment_id);
  return buildEvent(
    'instagram.mention.received',
    {
      channelId: scope.channelId ?? null,
      // A caption mention has no comment id: the media id alone names it.
      dedupKey: dedupKey('instagram', 'mention', mediaId ?? contentHash(value), commentId ?? 'caption'),
      times: [scope.time],
      data: compact({ mediaId, commentId }),
      raw: change,
    },
    ctx,
  );
}

function storyInsightsEvent(
  change: JsonRecord,
  value: JsonRecord,
  scope: MessagingScope,
  ctx: ParseContext,
): MetaWebhookEvent {
  const mediaId = text(value.media_id);
  return buildEvent(
    'instagram.story.insights',
    {
      channelId: scope.channelId ?? null,
      // Sent once per story, after it expires.
      dedupKey: dedupKey('instagram', 'story_insights', mediaId ?? contentHash(value)),
      times: [scope.time],
      data: compact({
        mediaId,
        impressions: num(value.impressions),
        reach: num(value.reach),
        replies: num(value.replies),
        exits: num(value.exits),
        tapsForward: num(value.taps_forward),
        tapsBack: num(value.taps_back),
      }),
      raw: change,
    },
    ctx,
  );
}
