import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { validateSendRequest, type SendMessageRequest } from '@mic/contracts';
import { fromGraphRequest, graphFieldOf } from './from-graph.ts';
import { toGraphRequest } from './request.ts';

interface Fixture {
  name: string;
  request: SendMessageRequest;
  graph: { path: string; body: Record<string, unknown> };
}

const fixtures = JSON.parse(
  readFileSync(new URL('./fixtures/graph-send-requests.json', import.meta.url), 'utf8'),
) as Fixture[];

describe('fromGraphRequest', () => {
  it.each(fixtures.map((f) => [f.name, f] as const))('%s: reads Meta’s documented body back', (_, fixture) => {
    const { channel, message } = fixture.request;
    const options = message.type === 'mark_as_read' ? { markAsReadRecipient: fixture.request.to } : {};
    const read = fromGraphRequest(channel, fixture.graph.body, options);
    // As `POST /v1/messages` would have read the same request (defaults applied).
    const expected = validateSendRequest(fixture.request);
    expect(expected.ok).toBe(true);
    expect(read).toEqual({ ok: true, request: expected.ok ? expected.value : undefined });
    if (read.ok) expect(toGraphRequest(read.request).body).toStrictEqual(fixture.graph.body);
  });

  it('names the field as Meta does when a body breaks a documented limit', () => {
    const read = fromGraphRequest(
      { kind: 'whatsapp', id: '106540352242922' },
      {
        messaging_product: 'whatsapp',
        to: '+16505551234',
        type: 'interactive',
        interactive: {
          type: 'button',
          body: { text: 'Pick one' },
          action: {
            buttons: [1, 2, 3, 4].map((n) => ({ type: 'reply', reply: { id: `b${n}`, title: `B${n}` } })),
          },
        },
      },
    );
    expect(read.ok).toBe(false);
    expect(!read.ok && read.errors.map((e) => e.field)).toEqual(['interactive.action.buttons']);
  });

  it('refuses a body that is not an object, or has no recipient', () => {
    expect(fromGraphRequest({ kind: 'messenger', id: '1' }, 'hi').ok).toBe(false);
    const read = fromGraphRequest({ kind: 'messenger', id: '1' }, { message: { text: 'hi' } });
    expect(!read.ok && read.errors.map((e) => e.field)).toContain('to');
  });

  it('translates contract field paths into Graph ones', () => {
    expect(graphFieldOf('message.text.previewUrl')).toBe('text.preview_url');
    expect(graphFieldOf('message.markAsRead.messageId')).toBe('message_id');
    expect(graphFieldOf('replyTo')).toBe('context.message_id');
  });
});
