import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { eq } from 'drizzle-orm';
import { GraphApiError, WhatsAppClient } from '@kapso/whatsapp-cloud-api';
import { startGraphSandbox, type GraphSandbox } from '@mic/meta-sandbox';
import { applyTestConfig, routeTestInstance, startTestEngine, type TestEngine } from '../../testing.ts';
import { channelTokenRef } from '../channels/index.ts';
import { laneOf } from '../outbound/index.ts';
import { outboundMessages } from '../messages/schema.ts';

const PHONE_A = '4098765432101';
const PHONE_B = '4098765432102';
const PHONE_PAUSED = '4098765432103';
const PAGE = '4098765432104';
const TOKEN = 'EAAGgraph-compat-token';
const CUSTOMER = '16505551234';

let sandbox: GraphSandbox;
let engine: TestEngine;
const tokens = new Map<string, string>();

async function instance(
  id: string,
  tenantId: string,
  channels: { platform: 'whatsapp' | 'messenger'; channelId: string }[],
) {
  await routeTestInstance(engine, { id, tenantId, webhookUrl: 'http://127.0.0.1:9/hook', channels });
  const issued = await engine.app.inject({
    method: 'POST',
    url: `/internal/v1/instances/${id}/credentials`,
    headers: engine.auth,
  });
  tokens.set(id, issued.json<{ apiToken: string }>().apiToken);
}

/** The unmodified client library, pointed at the engine with the instance's engine token. */
const clientOf = (instanceId: string) =>
  new WhatsAppClient({
    baseUrl: `${engine.url}/graph`,
    accessToken: tokens.get(instanceId)!,
    graphVersion: 'v21.0',
  });

async function graphError(promise: Promise<unknown>): Promise<GraphApiError> {
  const error = await promise.then(
    () => undefined,
    (e: unknown) => e,
  );
  expect(error).toBeInstanceOf(GraphApiError);
  return error as GraphApiError;
}

beforeAll(async () => {
  sandbox = await startGraphSandbox({
    objects: [
      ...[PHONE_A, PHONE_B, PHONE_PAUSED].map((id) => ({ id, kind: 'whatsapp-phone-number' as const, token: TOKEN })),
      { id: PAGE, kind: 'page' as const, token: TOKEN },
    ],
  });
  engine = await startTestEngine({
    META_GRAPH_URL: sandbox.url,
    OUTBOUND_POLL_INTERVAL: '50ms',
    OUTBOUND_HORIZON: '50ms',
    GRAPH_API_WAIT: '1500ms',
  });
  for (const phone of [PHONE_A, PHONE_B, PHONE_PAUSED]) {
    await engine.app.secrets.put(channelTokenRef('whatsapp', phone), 'meta-access-token', TOKEN);
  }
  await engine.app.secrets.put(channelTokenRef('messenger', PAGE), 'meta-access-token', TOKEN);
  await instance('ins_a', 'ten_a', [
    { platform: 'whatsapp', channelId: PHONE_A },
    { platform: 'messenger', channelId: PAGE },
  ]);
  await instance('ins_b', 'ten_b', [{ platform: 'whatsapp', channelId: PHONE_B }]);
  await instance('ins_paused', 'ten_paused', [{ platform: 'whatsapp', channelId: PHONE_PAUSED }]);
});
afterAll(async () => {
  await engine?.stop();
  await sandbox?.stop();
});

describe('the Graph-compatible API, driven by an unmodified WhatsApp Cloud API client', () => {
  it("sends text, template, media, interactive and reaction messages and answers Meta's message ids", async () => {
    const client = clientOf('ins_a');
    const answers = [
      await client.messages.sendText({ phoneNumberId: PHONE_A, to: CUSTOMER, body: 'Hola desde el hub' }),
      await client.messages.sendTemplate({
        phoneNumberId: PHONE_A,
        to: CUSTOMER,
        template: {
          name: 'order_confirmation',
          language: { code: 'es' },
          components: [{ type: 'body', parameters: [{ type: 'text', text: 'Pablo' }] }],
        },
      }),
      await client.messages.sendImage({
        phoneNumberId: PHONE_A,
        to: CUSTOMER,
        image: { link: 'https://example.com/p.png', caption: 'Tu pedido' },
      }),
      await client.messages.sendInteractiveButtons({
        phoneNumberId: PHONE_A,
        to: CUSTOMER,
        bodyText: '¿Confirmas?',
        buttons: [
          { id: 'yes', title: 'Sí' },
          { id: 'no', title: 'No' },
        ],
      }),
    ];
    const first = answers[0]!.messages[0]!.id;
    answers.push(
      await client.messages.sendReaction({
        phoneNumberId: PHONE_A,
        to: CUSTOMER,
        reaction: { messageId: first, emoji: '👍' },
      }),
    );
    const sent = sandbox.sends({ objectId: PHONE_A });
    expect(answers.map((a) => a.messages[0]!.id)).toEqual(sent.map((s) => s.messageId));
    expect(sent.map((s) => s.type)).toEqual(['text', 'template', 'image', 'interactive', 'reaction']);
    expect(sent[0]!.body).toMatchObject({
      messaging_product: 'whatsapp',
      to: CUSTOMER,
      text: { body: 'Hola desde el hub' },
    });
    expect(answers[0]).toMatchObject({ messagingProduct: 'whatsapp', contacts: [{ input: CUSTOMER }] });
    // Each went through the lanes like any send, and is known by Meta's id.
    const [row] = await engine.app.db.orm
      .select()
      .from(outboundMessages)
      .where(eq(outboundMessages.metaMessageId, first));
    expect(row).toMatchObject({ instanceId: 'ins_a', state: 'sent', channel: laneOf('whatsapp', PHONE_A) });
  });

  it('answers Meta-shaped errors for an invalid parameter and for a paused instance, sending nothing', async () => {
    // Meta takes at most 4,096 characters of text; the library leaves that check to the API.
    const invalid = await graphError(
      clientOf('ins_a').messages.sendText({ phoneNumberId: PHONE_A, to: CUSTOMER, body: 'x'.repeat(4097) }),
    );
    expect(invalid).toMatchObject({ httpStatus: 400, code: 100, type: 'OAuthException' });
    expect(invalid.details).toContain('text.body');

    await applyTestConfig(engine, (s) => {
      s.instances.find((i) => i.id === 'ins_paused')!.state = 'paused';
    });
    const paused = await graphError(
      clientOf('ins_paused').messages.sendText({ phoneNumberId: PHONE_PAUSED, to: CUSTOMER, body: 'Held' }),
    );
    expect(paused).toMatchObject({ httpStatus: 403, code: 10 });
    expect(paused.fbtraceId).toEqual(expect.any(String));
    expect(sandbox.sends({ objectId: PHONE_PAUSED })).toHaveLength(0);
  });

  it("refuses a tenant's token on another tenant's number with a Graph 403, sending nothing", async () => {
    const before = sandbox.sends({ objectId: PHONE_B }).length;
    const denied = await graphError(
      clientOf('ins_a').messages.sendText({ phoneNumberId: PHONE_B, to: CUSTOMER, body: 'Not mine' }),
    );
    expect(denied).toMatchObject({ httpStatus: 403, code: 200 });
    expect(sandbox.sends({ objectId: PHONE_B })).toHaveLength(before);
    const anonymous = await graphError(
      new WhatsAppClient({
        baseUrl: `${engine.url}/graph`,
        accessToken: 'EAAG-meta-token',
        graphVersion: 'v21.0',
      }).messages.sendText({
        phoneNumberId: PHONE_A,
        to: CUSTOMER,
        body: 'A Meta token is not an engine token',
      }),
    );
    expect(anonymous).toMatchObject({ httpStatus: 401, code: 190 });
  });

  it("passes Meta's own refusal through, and gives up on a send that cannot leave in time (130429)", async () => {
    sandbox.failNext(1, 'outside-window', { objectId: PHONE_A });
    const refused = await graphError(
      clientOf('ins_a').messages.sendText({ phoneNumberId: PHONE_A, to: CUSTOMER, body: 'Too late' }),
    );
    expect(refused).toMatchObject({ httpStatus: 400, code: 131047 });

    const lane = laneOf('whatsapp', PHONE_A);
    await engine.app.lanes.pause(lane, 'test: a busy lane');
    const before = sandbox.sends({ objectId: PHONE_A }).length;
    try {
      const throttled = await graphError(
        clientOf('ins_a').messages.sendText({ phoneNumberId: PHONE_A, to: CUSTOMER, body: 'Never leaves' }),
      );
      expect(throttled).toMatchObject({ httpStatus: 400, code: 130429 });
    } finally {
      await engine.app.lanes.resume(lane);
    }
    await new Promise((r) => setTimeout(r, 500));
    expect(sandbox.sends({ objectId: PHONE_A })).toHaveLength(before);
  });

  it("sends Messenger through /me/messages with Meta's body and answers Meta's message id", async () => {
    const res = await fetch(`${engine.url}/graph/v21.0/me/messages`, {
      method: 'POST',
      headers: { authorization: `Bearer ${tokens.get('ins_a')!}`, 'content-type': 'application/json' },
      body: JSON.stringify({
        recipient: { id: '6945793142124621' },
        messaging_type: 'RESPONSE',
        message: { text: 'hola' },
      }),
    });
    expect(res.status).toBe(200);
    const body = (await res.json()) as { recipient_id: string; message_id: string };
    expect(body.message_id).toBe(sandbox.sends({ objectId: PAGE }).at(-1)!.messageId);
  });
});
