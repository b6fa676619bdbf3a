import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { validateSendRequest, type SendMessageRequest } from '@mic/contracts';
import { GraphError } from '../graph/errors.ts';
import { parseGraphSendResponse, toGraphRequest } from './request.ts';

interface Fixture {
  name: string;
  source: string;
  request: SendMessageRequest;
  graph: { path: string; body: Record<string, unknown> };
}

const fixtures = JSON.parse(
  readFileSync(new URL('./fixtures/graph-send-requests.json', import.meta.url), 'utf8'),
) as Fixture[];

describe('toGraphRequest', () => {
  it.each(fixtures.map((f) => [f.name, f] as const))('%s: the body Meta documents', (_, fixture) => {
    expect(validateSendRequest(fixture.request)).toMatchObject({ ok: true });
    const graph = toGraphRequest(fixture.request);
    expect(graph.path).toBe(fixture.graph.path);
    expect(graph.body).toStrictEqual(fixture.graph.body);
  });

  it('covers every message type of the contract', () => {
    const kinds = new Set(fixtures.map((f) => `${f.request.channel.kind}:${f.request.message.type}`));
    for (const type of [
      'text',
      'template',
      'image',
      'audio',
      'video',
      'document',
      'sticker',
      'interactive',
      'location',
      'contacts',
      'reaction',
      'mark_as_read',
    ]) {
      expect(kinds).toContain(`whatsapp:${type}`);
    }
    for (const kind of ['messenger', 'instagram']) {
      expect(kinds).toContain(`${kind}:text`);
      expect(kinds).toContain(`${kind}:attachment`);
    }
  });

  it('sends Instagram from the linked page when one is given', () => {
    const instagram = fixtures.find((f) => f.request.channel.kind === 'instagram')!;
    expect(toGraphRequest(instagram.request, { instagramPageId: '682498302938465' }).path).toBe(
      '682498302938465/messages',
    );
  });
});

describe('parseGraphSendResponse', () => {
  it("reads WhatsApp's messages[0].id and Messenger's and Instagram's message_id", () => {
    expect(
      parseGraphSendResponse({
        messaging_product: 'whatsapp',
        contacts: [{ input: '+16505551234', wa_id: '16505551234' }],
        messages: [{ id: 'wamid.HBgLMTY1MDUwNzY1MjAVAgARGBI5QTNDQTVCM0Q0Q0Q2RTY3RTcA', message_status: 'accepted' }],
      }),
    ).toBe('wamid.HBgLMTY1MDUwNzY1MjAVAgARGBI5QTNDQTVCM0Q0Q0Q2RTY3RTcA');
    expect(
      parseGraphSendResponse({
        recipient_id: '1254477777772919',
        message_id: 'AG5Hz2Uq7tuwNEhXfYYKj8mJEM_QPpz5jdCK48PnKAjSdjfipqxqMvK8ma6AC8fplwlqLP_5cgXIbu7I3rBN0P',
      }),
    ).toBe('AG5Hz2Uq7tuwNEhXfYYKj8mJEM_QPpz5jdCK48PnKAjSdjfipqxqMvK8ma6AC8fplwlqLP_5cgXIbu7I3rBN0P');
  });

  it('answers null for mark-as-read, and a GraphError for anything else', () => {
    expect(parseGraphSendResponse({ success: true })).toBeNull();
    expect(() => parseGraphSendResponse({ messages: [] })).toThrow(GraphError);
    expect(() => parseGraphSendResponse(null)).toThrow(GraphError);
  });
});
