import { describe, expect, it } from 'vitest';
import { POST_EVENT_TYPES, validateCreatePost } from './posts.ts';

const now = new Date('2026-03-01T10:00:00Z');
const ig = (post: object, extra: object = {}) => ({
  channel: { kind: 'instagram', id: '17841400000000001' },
  post,
  ...extra,
});

describe('validateCreatePost', () => {
  it('takes each platform’s post types and refuses the other’s', () => {
    expect(
      validateCreatePost({ channel: { kind: 'facebook', id: '1' }, post: { type: 'text', message: 'Hi' } }, now).ok,
    ).toBe(true);
    expect(validateCreatePost(ig({ type: 'reel', videoUrl: 'https://e.com/a.mp4', shareToFeed: false }), now).ok).toBe(
      true,
    );
    expect(validateCreatePost(ig({ type: 'text', message: 'Hi' }), now)).toEqual({
      ok: false,
      errors: [{ field: 'post.type', message: 'instagram takes image, carousel, reel; not text' }],
    });
  });

  it('names the field at fault: a missing URL, an unknown field, a caption over Meta’s 2,200 characters', () => {
    const result = validateCreatePost(ig({ type: 'image', caption: 'x'.repeat(2201), extra: 1 }), now);
    expect(result.ok).toBe(false);
    expect(!result.ok && result.errors.map((e) => e.field).sort()).toEqual([
      'post.caption',
      'post.extra',
      'post.imageUrl',
    ]);
  });

  it('holds carousels to 2–10 items, each an image with imageUrl or a video with videoUrl', () => {
    const item = { type: 'image', imageUrl: 'https://e.com/1.jpg' };
    expect(validateCreatePost(ig({ type: 'carousel', items: [item] }), now)).toMatchObject({
      ok: false,
      errors: [{ field: 'post.items' }],
    });
    expect(validateCreatePost(ig({ type: 'carousel', items: Array(11).fill(item) }), now).ok).toBe(false);
    const mixed = validateCreatePost(
      ig({ type: 'carousel', items: [item, { type: 'video', imageUrl: 'https://e.com/2.jpg' }] }),
      now,
    );
    expect(mixed).toEqual({
      ok: false,
      errors: [{ field: 'post.items[1]', message: 'a video item has videoUrl (and no imageUrl)' }],
    });
  });

  it('schedules up to 75 days ahead', () => {
    const at = (days: number) => new Date(now.getTime() + days * 86_400_000).toISOString();
    expect(
      validateCreatePost(ig({ type: 'image', imageUrl: 'https://e.com/1.jpg' }, { publishAt: at(75) }), now).ok,
    ).toBe(true);
    expect(
      validateCreatePost(ig({ type: 'image', imageUrl: 'https://e.com/1.jpg' }, { publishAt: at(76) }), now),
    ).toEqual({
      ok: false,
      errors: [{ field: 'publishAt', message: 'must be at most 75 days ahead' }],
    });
  });

  it('names an event type per platform and state', () => {
    expect(POST_EVENT_TYPES).toContain('facebook.post.published');
    expect(POST_EVENT_TYPES).toContain('instagram.post.failed');
    expect(POST_EVENT_TYPES).toHaveLength(12);
  });
});
