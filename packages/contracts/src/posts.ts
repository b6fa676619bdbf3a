import { Type, type Static, type TSchema } from 'typebox';
import { Value } from 'typebox/value';

/**
 * The publishing API an instance calls: `POST /v1/posts` (answered 202 `PostStatus`),
 * `GET /v1/posts/{id}`, `GET /v1/posts` and `DELETE /v1/posts/{id}`. Version 1, part of the
 * product's public API: fields are only ever added, never renamed or removed.
 *
 * A request names the channel (`facebook`: a Facebook Page by its page id, the page of the
 * instance's `messenger` channel; `instagram`: an Instagram professional account by its id) and
 * carries one post whose `type` selects its shape. The engine makes Meta's calls: a Page post is
 * `POST /{page-id}/feed` (text, link) or `POST /{page-id}/photos` (photo); an Instagram post is one
 * media container per item (`POST /{ig-user-id}/media`), polled until FINISHED, then
 * `POST /{ig-user-id}/media_publish`. Limits are Meta's documented ones (Pages API "Posts",
 * Instagram Platform "Content Publishing": captions up to 2,200 characters, carousels of 2 to 10
 * items, 100 API-published posts per account in a moving 24 h).
 */

const closed = { additionalProperties: false } as const;
const mediaUrl = (description: string) =>
  Type.String({ format: 'uri', pattern: '^https?://', maxLength: 2048, description });
const caption = Type.Optional(
  Type.String({ minLength: 1, maxLength: 2200, description: 'The caption (at most 2,200 characters, Meta’s limit).' }),
);

export const POST_PLATFORMS = ['facebook', 'instagram'] as const;
export const PostPlatform = Type.Union([Type.Literal('facebook'), Type.Literal('instagram')], {
  description: 'facebook: a Facebook Page; instagram: an Instagram professional account.',
});
export type PostPlatform = Static<typeof PostPlatform>;

export const PostChannel = Type.Object(
  {
    kind: PostPlatform,
    id: Type.String({
      pattern: '^[0-9]{1,64}$',
      description: 'The page id (facebook) or the Instagram account id (instagram), routed to this instance.',
    }),
  },
  { ...closed, description: 'Where the post is published.' },
);
export type PostChannel = Static<typeof PostChannel>;

export const FacebookTextPost = Type.Object(
  {
    type: Type.Literal('text'),
    message: Type.String({ minLength: 1, maxLength: 63_206, description: 'The text of the post.' }),
  },
  closed,
);
export const FacebookLinkPost = Type.Object(
  {
    type: Type.Literal('link'),
    link: mediaUrl('The URL shared; Meta shows its preview.'),
    message: Type.Optional(Type.String({ minLength: 1, maxLength: 63_206 })),
  },
  closed,
);
export const FacebookPhotoPost = Type.Object(
  {
    type: Type.Literal('photo'),
    url: mediaUrl('A public URL of the photo; Meta downloads it.'),
    caption: Type.Optional(Type.String({ minLength: 1, maxLength: 63_206 })),
  },
  closed,
);
export const InstagramImagePost = Type.Object(
  { type: Type.Literal('image'), imageUrl: mediaUrl('A public JPEG URL; Meta downloads it.'), caption },
  closed,
);
export const InstagramCarouselItem = Type.Object(
  {
    type: Type.Union([Type.Literal('image'), Type.Literal('video')]),
    imageUrl: Type.Optional(mediaUrl('image items: a public JPEG URL')),
    videoUrl: Type.Optional(mediaUrl('video items: a public video URL')),
  },
  { ...closed, description: 'One item of a carousel: an image (imageUrl) or a video (videoUrl).' },
);
export type InstagramCarouselItem = Static<typeof InstagramCarouselItem>;
export const InstagramCarouselPost = Type.Object(
  {
    type: Type.Literal('carousel'),
    items: Type.Array(InstagramCarouselItem, { minItems: 2, maxItems: 10 }),
    caption,
  },
  closed,
);
export const InstagramReelPost = Type.Object(
  {
    type: Type.Literal('reel'),
    videoUrl: mediaUrl('A public video URL; Meta downloads and processes it.'),
    caption,
    coverUrl: Type.Optional(mediaUrl('A public image URL for the cover.')),
    shareToFeed: Type.Optional(Type.Boolean({ description: 'Also show the reel in the feed (Meta’s default: true).' })),
  },
  closed,
);

export const PostContent = Type.Union(
  [FacebookTextPost, FacebookLinkPost, FacebookPhotoPost, InstagramImagePost, InstagramCarouselPost, InstagramReelPost],
  { description: 'facebook takes text, link and photo; instagram takes image, carousel and reel.' },
);
export type PostContent = Static<typeof PostContent>;
export type FacebookPostContent = Static<typeof FacebookTextPost | typeof FacebookLinkPost | typeof FacebookPhotoPost>;
export type InstagramPostContent = Static<
  typeof InstagramImagePost | typeof InstagramCarouselPost | typeof InstagramReelPost
>;

export const CreatePostRequest = Type.Object(
  {
    channel: PostChannel,
    post: PostContent,
    publishAt: Type.Optional(
      Type.String({
        format: 'date-time',
        description: 'When to publish (UTC, ISO 8601); omitted or past: now. At most 75 days ahead.',
      }),
    ),
  },
  { ...closed, description: 'The body of `POST /v1/posts`.' },
);
export type CreatePostRequest = Static<typeof CreatePostRequest>;

export const POST_STATES = ['scheduled', 'queued', 'processing', 'published', 'failed', 'cancelled'] as const;
export const PostState = Type.Union(
  [
    Type.Literal('scheduled'),
    Type.Literal('queued'),
    Type.Literal('processing'),
    Type.Literal('published'),
    Type.Literal('failed'),
    Type.Literal('cancelled'),
  ],
  {
    description:
      'scheduled (waits for publishAt; can be cancelled), queued (due, waiting for a worker, the account’s ' +
      'publishing limit or a held instance: see waitingReason; can be cancelled), processing (Meta’s calls under ' +
      'way: containers, polling, publishing), published (with publishedId), failed (with Meta’s error), cancelled.',
  },
);
export type PostState = (typeof POST_STATES)[number];

export const PostError = Type.Object(
  {
    code: Type.Union([Type.Integer(), Type.Null()], { description: "Meta's error code; null when Meta gave none." }),
    subcode: Type.Union([Type.Integer(), Type.Null()]),
    title: Type.String({ description: "Meta's error type or title, or the engine's." }),
    message: Type.String({ description: "Meta's message (and user message, when it gave one)." }),
  },
  { description: 'Why a step failed, as Meta said it.' },
);
export type PostError = Static<typeof PostError>;

export const POST_STEPS = ['limit', 'container', 'status', 'publish', 'hold'] as const;
export type PostStep = (typeof POST_STEPS)[number];

export const PostTimelineEntry = Type.Object({
  state: PostState,
  at: Type.String({ format: 'date-time' }),
  step: Type.Optional(
    Type.Union(
      [
        Type.Literal('limit'),
        Type.Literal('container'),
        Type.Literal('status'),
        Type.Literal('publish'),
        Type.Literal('hold'),
      ],
      {
        description:
          'What the entry is about: limit (the publishing limit check), container (creating a media container), ' +
          'status (a container’s processing), publish (the publishing call), hold (the instance or module is held).',
      },
    ),
  ),
  attempt: Type.Optional(Type.Integer({ minimum: 1, description: 'The try of the step this entry is about.' })),
  detail: Type.Optional(Type.String({ description: 'What happened, in words (a retry’s delay, a wait’s reason).' })),
  error: Type.Optional(PostError),
  isOutcomeUnknown: Type.Optional(
    Type.Boolean({
      description:
        'A publishing call got no answer: Meta may have published it. An Instagram container is never published ' +
        'twice (its status is checked first); a Facebook post may repeat (Meta has no idempotency key).',
    }),
  ),
});
export type PostTimelineEntry = Static<typeof PostTimelineEntry>;

export const PostStatus = Type.Object(
  {
    id: Type.String({ description: "The engine's id of the post." }),
    channel: PostChannel,
    post: PostContent,
    state: PostState,
    publishAt: Type.Union([Type.String({ format: 'date-time' }), Type.Null()]),
    waitingReason: Type.Union([Type.String(), Type.Null()], {
      description: 'Why a queued or processing post is not going ahead now (publishing limit, held instance, retry).',
    }),
    nextAttemptAt: Type.Union([Type.String({ format: 'date-time' }), Type.Null()], {
      description: 'When the engine tries again, while it waits.',
    }),
    containerId: Type.Union([Type.String(), Type.Null()], {
      description: 'Instagram: the media container being published.',
    }),
    publishedId: Type.Union([Type.String(), Type.Null()], {
      description:
        'Meta’s id of the published post: `{page-id}_{post-id}` (facebook), the media id (instagram). Null until ' +
        'published, and when Meta published the container but its answer was lost (see the timeline).',
    }),
    error: Type.Union([PostError, Type.Null()]),
    createdAt: Type.String({ format: 'date-time' }),
    publishedAt: Type.Union([Type.String({ format: 'date-time' }), Type.Null()]),
    timeline: Type.Array(PostTimelineEntry, { description: 'Every state change and attempt, oldest first.' }),
  },
  { description: 'A post and its timeline: the answer of `POST /v1/posts` and `GET /v1/posts/{id}`.' },
);
export type PostStatus = Static<typeof PostStatus>;

export const PostSummary = Type.Omit(PostStatus, ['timeline'], { description: 'A post in a list.' });
export type PostSummary = Static<typeof PostSummary>;

export const PostList = Type.Object({
  posts: Type.Array(PostSummary, { description: 'Newest first.' }),
  nextCursor: Type.Union([Type.String(), Type.Null()], { description: 'Pass as `cursor` for the next page.' }),
});
export type PostList = Static<typeof PostList>;

export const PostListQuery = Type.Object(
  {
    state: Type.Optional(PostState),
    platform: Type.Optional(PostPlatform),
    channelId: Type.Optional(Type.String({ pattern: '^[0-9]{1,64}$' })),
    limit: Type.Optional(Type.Integer({ minimum: 1, maximum: 200, default: 50 })),
    cursor: Type.Optional(Type.String({ maxLength: 64, description: 'From the previous page’s nextCursor.' })),
  },
  closed,
);
export type PostListQuery = Static<typeof PostListQuery>;

export const PostParams = Type.Object({ id: Type.String({ minLength: 1, maxLength: 64 }) });

/**
 * Events delivered to the instance when one of its posts changes state: `<platform>.post.<state>`
 * (`facebook.post.published`, `instagram.post.failed`, …), with `PostEventData`. The delivered
 * event's `channel` is the Page's `messenger` channel for facebook, and its `conversation.id` is
 * `post:<id>`, so the events of one post arrive in order.
 */
export const POST_EVENT_TYPES = POST_PLATFORMS.flatMap((platform) =>
  POST_STATES.map((state) => `${platform}.post.${state}` as const),
);
export type PostEventType = (typeof POST_EVENT_TYPES)[number];

export const PostEventData = Type.Object(
  {
    postId: Type.String({ description: "The engine's id, as `POST /v1/posts` answered it." }),
    channel: PostChannel,
    state: PostState,
    at: Type.String({ format: 'date-time' }),
    publishAt: Type.Union([Type.String({ format: 'date-time' }), Type.Null()]),
    publishedId: Type.Union([Type.String(), Type.Null()]),
    containerId: Type.Union([Type.String(), Type.Null()]),
    error: Type.Optional(PostError),
  },
  { description: 'The `data` of a `<platform>.post.<state>` event.' },
);
export type PostEventData = Static<typeof PostEventData>;

/** One problem with a request, naming its field (`post.items[1].videoUrl`). */
export interface PostFieldError {
  field: string;
  message: string;
}

export type PostValidation = { ok: true; value: CreatePostRequest } | { ok: false; errors: PostFieldError[] };

const TYPES: Record<PostPlatform, Record<string, TSchema>> = {
  facebook: { text: FacebookTextPost, link: FacebookLinkPost, photo: FacebookPhotoPost },
  instagram: { image: InstagramImagePost, carousel: InstagramCarouselPost, reel: InstagramReelPost },
};

const Envelope = Type.Object({ ...CreatePostRequest.properties, post: Type.Object({ type: Type.String() }) }, closed);

function errorsOf(schema: TSchema, value: unknown, prefix: string): PostFieldError[] {
  const errors: PostFieldError[] = [];
  for (const error of Value.Errors(schema, value)) {
    const path = error.instancePath
      .split('/')
      .slice(1)
      .map((part) => (/^\d+$/.test(part) ? `[${part}]` : `.${part}`))
      .join('');
    const field = `${prefix}${path}`.replace(/^\./, '') || '(body)';
    const params = error.params as { additionalProperties?: string[]; requiredProperties?: string[] };
    if (error.keyword === 'boolean') continue;
    if (error.keyword === 'additionalProperties') {
      for (const name of params.additionalProperties ?? [])
        errors.push({ field: `${field}.${name}`.replace(/^\(body\)\./, ''), message: 'is not a known field' });
    } else if (error.keyword === 'required') {
      for (const name of params.requiredProperties ?? [])
        errors.push({ field: `${field}.${name}`.replace(/^\(body\)\./, ''), message: 'is required' });
    } else {
      errors.push({ field, message: error.message });
    }
  }
  return errors;
}

/** The most Meta lets a post be scheduled ahead (Pages: 75 days); the engine holds to the same. */
export const MAX_SCHEDULE_AHEAD_MS = 75 * 86_400_000;

/**
 * Checks a `POST /v1/posts` body: the schema, which post types the platform takes, each carousel
 * item's URL, and `publishAt` within 75 days of `now`.
 */
export function validateCreatePost(body: unknown, now: Date): PostValidation {
  const errors = errorsOf(Envelope, body, '');
  if (errors.length > 0) return { ok: false, errors };
  const request = body as CreatePostRequest;
  const types = TYPES[request.channel.kind];
  const schema = types[request.post.type];
  if (!schema) {
    const allowed = Object.keys(types).join(', ');
    return {
      ok: false,
      errors: [{ field: 'post.type', message: `${request.channel.kind} takes ${allowed}; not ${request.post.type}` }],
    };
  }
  errors.push(...errorsOf(schema, request.post, 'post'));
  if (request.post.type === 'carousel' && errors.length === 0) {
    request.post.items.forEach((item, i) => {
      const field = `post.items[${i}]`;
      if (item.type === 'image' && (item.imageUrl === undefined || item.videoUrl !== undefined)) {
        errors.push({ field, message: 'an image item has imageUrl (and no videoUrl)' });
      }
      if (item.type === 'video' && (item.videoUrl === undefined || item.imageUrl !== undefined)) {
        errors.push({ field, message: 'a video item has videoUrl (and no imageUrl)' });
      }
    });
  }
  if (request.publishAt !== undefined) {
    const at = Date.parse(request.publishAt);
    if (Number.isNaN(at)) errors.push({ field: 'publishAt', message: 'must be a date-time' });
    else if (at - now.getTime() > MAX_SCHEDULE_AHEAD_MS) {
      errors.push({ field: 'publishAt', message: 'must be at most 75 days ahead' });
    }
  }
  return errors.length > 0 ? { ok: false, errors } : { ok: true, value: request };
}

/**
 * A post on the hub's own page or account (tenant zero), as control keeps it: control's admin API
 * `POST /v1/hub/posts` stores it and its outbox hands it to the engine (`PUT
 * /internal/v1/hub/posts/{id}`, idempotent by control's id), so it waits while the engine is down.
 */
export const HubPostState = Type.Union(
  [
    Type.Literal('pending'),
    Type.Literal('refused'),
    Type.Literal('scheduled'),
    Type.Literal('queued'),
    Type.Literal('processing'),
    Type.Literal('published'),
    Type.Literal('failed'),
    Type.Literal('cancelled'),
  ],
  {
    description:
      'pending (waiting in control’s outbox for the engine), refused (the engine refused it: see error), then ' +
      'the engine’s state of the post, kept current by its events.',
  },
);
export type HubPostState = Static<typeof HubPostState>;

export const HubPost = Type.Object(
  {
    id: Type.String({ description: 'Control’s id of the post (also its idempotency key at the engine).' }),
    state: HubPostState,
    channel: PostChannel,
    post: PostContent,
    publishAt: Type.Union([Type.String({ format: 'date-time' }), Type.Null()]),
    enginePostId: Type.Union([Type.String(), Type.Null()], { description: 'The engine’s id, once it took the post.' }),
    publishedId: Type.Union([Type.String(), Type.Null()]),
    error: Type.Union([PostError, Type.Null()]),
    createdAt: Type.String({ format: 'date-time' }),
    updatedAt: Type.String({ format: 'date-time' }),
  },
  { description: 'A post on the hub’s own page or account.' },
);
export type HubPost = Static<typeof HubPost>;

export const HubPostDetail = Type.Object(
  {
    ...HubPost.properties,
    enginePost: Type.Union([PostStatus, Type.Null()], {
      description: 'The engine’s view with the timeline; null while pending, or while the engine cannot be reached.',
    }),
  },
  { description: 'The answer of `GET /v1/hub/posts/{id}`.' },
);
export type HubPostDetail = Static<typeof HubPostDetail>;
