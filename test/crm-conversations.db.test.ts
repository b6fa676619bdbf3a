import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Channel, Contact, Conversation, ConversationMessage } from '@mic/contracts';
import { sendWebhooks, startGraphSandbox, whatsappTextMessage, type GraphSandbox } from '@mic/meta-sandbox';
import { eventually } from '@mic/platform/testing';
import { startTestPlanes, type TestPlanes } from './planes.ts';

/**
 * The CRM on the hub's own channels, across both planes: a customer's WhatsApp message to the
 * operator's own number reaches control through the engine and becomes a conversation on the right
 * contact; the operator's reply goes back through control's queue, the engine and the Graph API.
 */
const APP_SECRET = 'crm-conversations-app-secret';
const HUB_NUMBER = '1065422222';
let planes: TestPlanes;
let graph: GraphSandbox;

beforeAll(async () => {
  graph = await startGraphSandbox();
  planes = await startTestPlanes({
    engine: {
      META_APP_SECRET: APP_SECRET,
      META_GRAPH_URL: graph.url,
      CONFIG_SYNC_INTERVAL: '1s',
      QUEUE_POLLING_INTERVAL: '300ms',
    },
    control: { QUEUE_POLLING_INTERVAL: '300ms' },
  });
  graph.addObject({ id: 'waba-hub-crm', kind: 'whatsapp-business-account', token: 'EAAG-hub-crm-token' });
  graph.addObject({ id: HUB_NUMBER, kind: 'whatsapp-phone-number', token: 'EAAG-hub-crm-token' });
  graph.setStatusWebhooks({
    url: `${planes.engine.url}/meta/webhook`,
    appSecret: APP_SECRET,
    statuses: ['sent', 'delivered'],
  });
  const channel = await api<Channel>('POST', '/v1/instances/ins_hub/channels', {
    platform: 'whatsapp',
    channelId: HUB_NUMBER,
    wabaId: 'waba-hub-crm',
    accessToken: 'EAAG-hub-crm-token',
  });
  expect(channel.status).toBe(201);
});
afterAll(async () => {
  await planes?.stop();
  await graph?.stop();
});

async function api<T>(method: 'GET' | 'POST' | 'PATCH', url: string, payload?: object) {
  const res = await planes.control.app.inject({
    method,
    url,
    headers: planes.control.operator,
    ...(payload ? { payload } : {}),
  });
  return { status: res.statusCode, body: (res.body ? res.json() : undefined) as T };
}

const inbound = (from: string, name: string, text: string) =>
  sendWebhooks({
    url: `${planes.engine.url}/meta/webhook`,
    appSecret: APP_SECRET,
    bodies: [whatsappTextMessage({ phoneNumberId: HUB_NUMBER, from, name, text })],
  });

const conversationOf = (contactId: string) =>
  eventually(async () => {
    const list = await api<Conversation[]>('GET', `/v1/crm/conversations?contactId=${contactId}`);
    return list.body[0];
  }, 20_000);

describe("conversations on the hub's own WhatsApp number", () => {
  it('files a customer message under the contact with that number, and the reply reaches Meta', async () => {
    const contact = await api<Contact>('POST', '/v1/crm/contacts', { name: 'Laura Martínez', phones: ['+5215550601'] });
    // The engine routes the hub's number once its config sync has seen the new channel.
    await eventually(async () =>
      (await inbound('5215550601', 'Lau', 'hola, ¿precios?')).summary.ok === 1 ? true : undefined,
    );

    const conversation = await conversationOf(contact.body.id);
    expect(conversation).toMatchObject({
      channel: { kind: 'whatsapp', id: HUB_NUMBER },
      externalId: '5215550601',
      unread: 1,
    });
    await inbound('5215550601', 'Lau', 'y horarios');
    const received = await eventually(async () => {
      const list = await api<ConversationMessage[]>('GET', `/v1/crm/conversations/${conversation.id}/messages`);
      return list.body.length === 2 ? list.body : undefined;
    });
    expect(received.map((m) => [m.direction, m.text])).toEqual([
      ['in', 'hola, ¿precios?'],
      ['in', 'y horarios'],
    ]);

    const reply = await api<ConversationMessage>('POST', `/v1/crm/conversations/${conversation.id}/replies`, {
      text: 'Hola Laura, te comparto los planes',
    });
    expect(reply.status).toBe(202);
    expect(reply.body).toMatchObject({ direction: 'out', state: 'pending' });
    const sent = await eventually(async () => graph.sends({ objectId: HUB_NUMBER })[0], 20_000);
    expect(sent).toMatchObject({
      recipient: '5215550601',
      type: 'text',
      body: { to: '5215550601', text: { body: 'Hola Laura, te comparto los planes' } },
    });
    // The reply follows the engine's outbound events: sent, then delivered from Meta's status webhook.
    const delivered = await eventually(async () => {
      const list = await api<ConversationMessage[]>('GET', `/v1/crm/conversations/${conversation.id}/messages`);
      const mine = list.body.find((m) => m.id === reply.body.id);
      return mine?.state === 'delivered' ? list.body : undefined;
    }, 20_000);
    expect(delivered.map((m) => [m.direction, m.text])).toEqual([
      ['in', 'hola, ¿precios?'],
      ['in', 'y horarios'],
      ['out', 'Hola Laura, te comparto los planes'],
    ]);
    expect(graph.sends({ objectId: HUB_NUMBER })).toHaveLength(1);
  });

  it('creates a contact for a new number, named from the WhatsApp profile', async () => {
    await inbound('5215550699', 'Comprador Nuevo', 'quiero una demo');
    const contact = await eventually(async () => {
      const found = await api<Contact[]>('GET', '/v1/crm/contacts?q=5215550699');
      return found.body[0];
    }, 20_000);
    expect(contact).toMatchObject({ name: 'Comprador Nuevo', phones: ['+5215550699'], whatsappId: '5215550699' });
    const conversation = await conversationOf(contact.id);
    const messages = await api<ConversationMessage[]>('GET', `/v1/crm/conversations/${conversation.id}/messages`);
    expect(messages.body.map((m) => m.text)).toEqual(['quiero una demo']);
  });

  it("shows Meta's refusal on the reply: outside the 24-hour window WhatsApp takes only templates", async () => {
    await inbound('5215550655', 'Cliente Antiguo', 'hola');
    const contact = await eventually(
      async () => (await api<Contact[]>('GET', '/v1/crm/contacts?q=5215550655')).body[0],
      20_000,
    );
    const conversation = await conversationOf(contact.id);
    graph.failNext(1, 'outside-window', { objectId: HUB_NUMBER, edge: 'messages' });
    const reply = await api<ConversationMessage>('POST', `/v1/crm/conversations/${conversation.id}/replies`, {
      text: 'seguimiento',
    });
    const failed = await eventually(async () => {
      const list = await api<ConversationMessage[]>('GET', `/v1/crm/conversations/${conversation.id}/messages`);
      const mine = list.body.find((m) => m.id === reply.body.id);
      return mine?.state === 'failed' ? mine : undefined;
    }, 20_000);
    expect(failed.error).toMatchObject({ code: 131047 });
  });

  it("takes the hub's sends with control's service token, once per key however often control asks", async () => {
    const put = (text: string) =>
      planes.engine.app.inject({
        method: 'PUT',
        url: '/internal/v1/hub/messages/msg_idempotent',
        headers: { authorization: `Bearer ${planes.control.app.peerToken()}` },
        payload: {
          channel: { kind: 'whatsapp', id: HUB_NUMBER },
          to: '5215550601',
          message: { type: 'text', text: { body: text } },
        },
      });
    const first = await put('una vez');
    expect(first.statusCode).toBe(202);
    const again = await put('una vez');
    expect(again.json()).toEqual(first.json());
    expect((await put('otra cosa')).statusCode).toBe(422);
    const instanceToken = await planes.engine.app.inject({
      method: 'PUT',
      url: '/internal/v1/hub/messages/msg_other',
      headers: { authorization: 'Bearer not-a-service-token' },
      payload: {},
    });
    expect(instanceToken.statusCode).toBe(401);
    await eventually(async () =>
      graph
        .sends({ objectId: HUB_NUMBER })
        .some((s) => (s.body as { text?: { body?: string } }).text?.body === 'una vez')
        ? true
        : undefined,
    );
    expect(
      graph
        .sends({ objectId: HUB_NUMBER })
        .filter((s) => (s.body as { text?: { body?: string } }).text?.body === 'una vez'),
    ).toHaveLength(1);
  });
});
