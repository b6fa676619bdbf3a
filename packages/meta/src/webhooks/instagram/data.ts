/** Normalized `data` of the Instagram events that arrive in the `changes` envelope. */

/** `instagram.comment.received` */
export interface InstagramCommentReceived {
  commentId: string;
  text?: string;
  from?: { id?: string; username?: string };
  mediaId?: string;
  /** FEED, STORY, REELS, AD, … */
  mediaProductType?: string;
  /** Set when the comment replies to another comment. */
  parentId?: string;
  adId?: string;
  /** A comment on a live broadcast (`live_comments`). */
  live: boolean;
}

/** `instagram.mention.received` */
export interface InstagramMentionReceived {
  mediaId?: string;
  /** Present when the mention is in a comment; absent for a mention in a caption. */
  commentId?: string;
}

/** `instagram.story.insights`: sent once, about an hour after a story expires. Counts under 5 read -1. */
export interface InstagramStoryInsights {
  mediaId?: string;
  impressions?: number;
  reach?: number;
  replies?: number;
  exits?: number;
  tapsForward?: number;
  tapsBack?: number;
}
