import { and, asc, desc, eq, lt, sql } from 'drizzle-orm';
import {
  OUTBOUND_EVENT_TYPES,
  type ChannelKind,
  type Conversation,
  type ConversationMessage,
  type DeliveredEvent,
  type OutboundMessageEventData,
  type SendAccepted,
  type SendMessageRequest,
} from '@mic/contracts';
import { problems, type Clock, type Db } from '@mic/platform';
import type { AuditActor, DbTransaction } from '../audit/index.ts';
import { handOver } from '../outbox/index.ts';
import { crmContactPageIds, crmContacts, crmConversations, crmMessages, crmOutboundStates } from './schema.ts';
import { newId, type Crm } from './service.ts';

type ConversationRow = typeof crmConversations.$inferSelect;
type MessageRow = typeof crmMessages.$inferSelect;
type MessageError = NonNullable<MessageRow['error']>;

const MESSAGE_RECEIVED = new Set([
  'whatsapp.message.received',
  'messenger.message.received',
  'instagram.message.received',
]);
const OUTBOUND = new Set<string>(OUTBOUND_EVENT_TYPES);
/** Later states win; an event that arrives late never moves a reply back. */
const STATE_ORDER = ['pending', 'queued', 'sent', 'delivered', 'read', 'failed'];
const rank = (column: unknown) =>
  sql`array_position(array[${sql.join(
    STATE_ORDER.map((s) => sql`${s}`),
    sql`, `,
  )}]::text[], ${column})`;

const HUB_ACTOR: AuditActor = { type: 'system', id: null, label: 'hub conversations' };

export const serializeConversation = (c: ConversationRow): Conversation => ({
  id: c.id,
  contactId: c.contactId,
  channel: { kind: c.platform as ChannelKind, id: c.channelId },
  externalId: c.externalId,
  lastMessageAt: c.lastMessageAt.toISOString(),
  unread: c.unread,
  createdAt: c.createdAt.toISOString(),
});

export const serializeMessage = (m: MessageRow): ConversationMessage => ({
  id: m.id,
  conversationId: m.conversationId,
  direction: m.direction as 'in' | 'out',
  state: m.state as ConversationMessage['state'],
  text: m.text,
  messageType: m.messageType,
  error: m.error,
  sentBy: m.sentBy,
  occurredAt: m.occurredAt.toISOString(),
});

interface Inbound {
  platform: ChannelKind;
  channelId: string;
  externalId: string;
  name: string | null;
  messageType: string;
  text: string | null;
}

const str = (value: unknown) => (typeof value === 'string' && value.length > 0 ? value : null);

/** The customer and the content of a `<platform>.message.received` event, or null when it names no customer. */
function inboundOf(event: DeliveredEvent): Inbound | null {
  const data = event.data;
  const platform = event.channel.kind;
  if (platform === 'whatsapp') {
    const from = str(data.from);
    if (!from) return null;
    const sender = data.sender as { name?: unknown } | undefined;
    const media = data.media as { caption?: unknown } | undefined;
    return {
      platform,
      channelId: event.channel.id,
      externalId: from,
      name: str(sender?.name),
      messageType: str(data.messageType) ?? 'unknown',
      text: str(data.text) ?? str(media?.caption),
    };
  }
  const senderId = str(data.senderId);
  if (!senderId) return null;
  const attachments = Array.isArray(data.attachments) ? data.attachments : [];
  return {
    platform,
    channelId: event.channel.id,
    externalId: senderId,
    name: null,
    messageType: attachments.length > 0 && !str(data.text) ? 'attachment' : 'text',
    text: str(data.text),
  };
}

/** The Send API request of a text reply on the conversation's channel. */
function replyRequest(conversation: ConversationRow, text: string): SendMessageRequest {
  return {
    channel: { kind: conversation.platform as ChannelKind, id: conversation.channelId },
    to: conversation.externalId,
    message: { type: 'text', text: { body: text } },
  };
}

export interface ConversationsDeps {
  db: Db;
  clock: Clock;
  crm: Crm;
  /** Queues the send of a reply, in the reply's transaction. */
  queueReply: (tx: Db, messageId: string) => Promise<void>;
  /** Asks the engine to send as the hub instance, idempotent by `key`. */
  sendAsHub: (key: string, request: SendMessageRequest) => Promise<SendAccepted>;
}

/**
 * Conversations on the hub's own channels: inbound messages from the hub's events, with the contact
 * found or created; replies go to the engine from a queue and follow its outbound events.
 */
export class Conversations {
  readonly #db: Db;
  readonly #clock: Clock;
  readonly #deps: ConversationsDeps;

  constructor(deps: ConversationsDeps) {
    this.#db = deps.db;
    this.#clock = deps.clock;
    this.#deps = deps;
  }

  /** Applies one hub event, in the transaction that stores it (the hub stores each event once). */
  async applyHubEvent(tx: DbTransaction, event: DeliveredEvent): Promise<void> {
    if (MESSAGE_RECEIVED.has(event.type)) {
      const inbound = inboundOf(event);
      if (inbound) await this.#receive(tx, event, inbound);
    } else if (OUTBOUND.has(event.type)) {
      await this.#applyOutbound(tx, event.data as unknown as OutboundMessageEventData);
    }
  }

  async #contactFor(tx: DbTransaction, inbound: Inbound): Promise<string> {
    if (inbound.platform === 'whatsapp') {
      const phone = /^[1-9][0-9]{6,14}$/.test(inbound.externalId) ? `+${inbound.externalId}` : null;
      const [known] = await tx
        .select({ id: crmContacts.id, whatsappId: crmContacts.whatsappId })
        .from(crmContacts)
        .where(
          sql`${crmContacts.whatsappId} = ${inbound.externalId} or ${phone === null ? sql`false` : sql`${crmContacts.phones} @> array[${phone}]::text[]`}`,
        )
        .orderBy(sql`${crmContacts.whatsappId} is null`, asc(crmContacts.createdAt))
        .limit(1);
      if (known) {
        if (!known.whatsappId)
          await tx.update(crmContacts).set({ whatsappId: inbound.externalId }).where(eq(crmContacts.id, known.id));
        return known.id;
      }
      const created = await this.#deps.crm.createContact(
        {
          name: inbound.name ?? phone ?? inbound.externalId,
          phones: phone ? [phone] : [],
          whatsappId: inbound.externalId,
        },
        HUB_ACTOR,
        tx,
      );
      return created.id;
    }
    const [known] = await tx
      .select({ id: crmContactPageIds.contactId })
      .from(crmContactPageIds)
      .where(
        and(
          eq(crmContactPageIds.platform, inbound.platform),
          eq(crmContactPageIds.channelId, inbound.channelId),
          eq(crmContactPageIds.userId, inbound.externalId),
        ),
      );
    if (known) return known.id;
    const label = inbound.platform === 'messenger' ? 'Messenger' : 'Instagram';
    const created = await this.#deps.crm.createContact(
      {
        name: `${label} ${inbound.externalId}`,
        pageScopedIds: [{ platform: inbound.platform, channelId: inbound.channelId, userId: inbound.externalId }],
      },
      HUB_ACTOR,
      tx,
    );
    return created.id;
  }

  async #receive(tx: DbTransaction, event: DeliveredEvent, inbound: Inbound): Promise<void> {
    const occurredAt = new Date(event.occurredAt);
    const party = and(
      eq(crmConversations.platform, inbound.platform),
      eq(crmConversations.channelId, inbound.channelId),
      eq(crmConversations.externalId, inbound.externalId),
    );
    // Two first messages of a new customer may arrive at once: one creates, the other waits for it.
    await tx.execute(
      sql`select pg_advisory_xact_lock(hashtext(${`crm-conversation:${inbound.platform}:${inbound.channelId}:${inbound.externalId}`}))`,
    );
    let [conversation] = await tx.select().from(crmConversations).where(party);
    if (!conversation) {
      const contactId = await this.#contactFor(tx, inbound);
      [conversation] = await tx
        .insert(crmConversations)
        .values({
          id: newId('cnv'),
          platform: inbound.platform,
          channelId: inbound.channelId,
          externalId: inbound.externalId,
          contactId,
          lastMessageAt: occurredAt,
          unread: 0,
          createdAt: this.#clock.now(),
        })
        .returning();
    }
    const [stored] = await tx
      .insert(crmMessages)
      .values({
        id: newId('msg'),
        conversationId: conversation!.id,
        direction: 'in',
        state: 'received',
        messageType: inbound.messageType,
        text: inbound.text,
        eventId: event.id,
        seq: event.conversation?.seq ?? null,
        data: event.data,
        occurredAt,
        createdAt: this.#clock.now(),
      })
      .onConflictDoNothing()
      .returning({ id: crmMessages.id });
    if (!stored) return;
    await tx
      .update(crmConversations)
      .set({
        unread: sql`${crmConversations.unread} + 1`,
        lastMessageAt: sql`greatest(${crmConversations.lastMessageAt}, ${occurredAt.toISOString()}::timestamptz)`,
      })
      .where(eq(crmConversations.id, conversation!.id));
    await this.#deps.crm.touch(tx, { contactId: conversation!.contactId }, occurredAt);
  }

  async #applyOutbound(tx: Db, data: OutboundMessageEventData): Promise<void> {
    const error: MessageError | null = data.error
      ? { code: data.error.code, title: data.error.title, message: data.error.message }
      : null;
    await tx
      .insert(crmOutboundStates)
      .values({ engineMessageId: data.messageId, state: data.state, error, at: new Date(data.at) })
      .onConflictDoUpdate({
        target: crmOutboundStates.engineMessageId,
        set: { state: data.state, error, at: new Date(data.at) },
        setWhere: sql`${rank(crmOutboundStates.state)} < ${rank(data.state)}`,
      });
    await this.#advance(tx, data.messageId);
  }

  /** Moves a reply to the latest state the engine reported for it, if that is later than its own. */
  async #advance(tx: Db, engineMessageId: string): Promise<void> {
    await tx.execute(sql`
      update ${crmMessages} set state = s.state, error = s.error
      from ${crmOutboundStates} s
      where s.engine_message_id = ${engineMessageId} and ${crmMessages.engineMessageId} = s.engine_message_id
        and ${rank(crmMessages.state)} < ${rank(sql`s.state`)}`);
  }

  // Queries

  async list(filter: { contactId?: string | undefined; limit?: number | undefined }): Promise<Conversation[]> {
    const rows = await this.#db
      .select()
      .from(crmConversations)
      .where(filter.contactId ? eq(crmConversations.contactId, filter.contactId) : undefined)
      .orderBy(desc(crmConversations.lastMessageAt))
      .limit(filter.limit ?? 100);
    return rows.map(serializeConversation);
  }

  async #row(id: string, tx: Db = this.#db): Promise<ConversationRow> {
    const [row] = await tx.select().from(crmConversations).where(eq(crmConversations.id, id));
    if (!row) throw problems.notFound(`no conversation ${id}`);
    return row;
  }

  async conversation(id: string): Promise<Conversation> {
    return serializeConversation(await this.#row(id));
  }

  /** The latest `limit` messages (older than `before`), oldest first: in the order they happened. */
  async messages(id: string, page: { limit: number; before?: Date | undefined }): Promise<ConversationMessage[]> {
    await this.#row(id);
    const rows = await this.#db
      .select()
      .from(crmMessages)
      .where(and(eq(crmMessages.conversationId, id), page.before ? lt(crmMessages.occurredAt, page.before) : undefined))
      .orderBy(desc(crmMessages.occurredAt), sql`${crmMessages.seq} desc nulls first`, desc(crmMessages.createdAt))
      .limit(page.limit);
    return rows.reverse().map(serializeMessage);
  }

  async markRead(id: string): Promise<Conversation> {
    const [row] = await this.#db
      .update(crmConversations)
      .set({ unread: 0 })
      .where(eq(crmConversations.id, id))
      .returning();
    if (!row) throw problems.notFound(`no conversation ${id}`);
    return serializeConversation(row);
  }

  async hasConversations(tx: Db, contactId: string): Promise<boolean> {
    const [row] = await tx
      .select({ id: crmConversations.id })
      .from(crmConversations)
      .where(eq(crmConversations.contactId, contactId))
      .limit(1);
    return row !== undefined;
  }

  // Replies

  /** Records a reply as pending and queues its send, in one transaction. */
  async reply(conversationId: string, text: string, actor: AuditActor): Promise<ConversationMessage> {
    return this.#db.transaction(async (tx) => {
      const conversation = await this.#row(conversationId, tx);
      const now = this.#clock.now();
      const [row] = await tx
        .insert(crmMessages)
        .values({
          id: newId('msg'),
          conversationId,
          direction: 'out',
          state: 'pending',
          messageType: 'text',
          text,
          sentBy: actor.id,
          occurredAt: now,
          createdAt: now,
        })
        .returning();
      await tx
        .update(crmConversations)
        .set({
          unread: 0,
          lastMessageAt: sql`greatest(${crmConversations.lastMessageAt}, ${now.toISOString()}::timestamptz)`,
        })
        .where(eq(crmConversations.id, conversationId));
      await this.#deps.crm.touch(tx, { contactId: conversation.contactId }, now);
      await this.#deps.queueReply(tx, row!.id);
      return serializeMessage(row!);
    });
  }

  /**
   * The reply queue's handler: asks the engine to send, idempotent by the reply's id, so a retry
   * after a lost answer never sends twice. A refusal that no retry can change fails the reply with
   * the engine's reason; an unreachable or failing engine is retried by the queue.
   */
  async sendReply(messageId: string): Promise<void> {
    const [row] = await this.#db
      .select({ message: crmMessages, conversation: crmConversations })
      .from(crmMessages)
      .innerJoin(crmConversations, eq(crmConversations.id, crmMessages.conversationId))
      .where(eq(crmMessages.id, messageId));
    if (!row || row.message.state !== 'pending') return;
    const { accepted, refusal } = await handOver(
      () => this.#deps.sendAsHub(messageId, replyRequest(row.conversation, row.message.text ?? '')),
      'reply',
    );
    if (refusal) {
      await this.#db
        .update(crmMessages)
        .set({ state: 'failed', error: { code: null, ...refusal } })
        .where(and(eq(crmMessages.id, messageId), eq(crmMessages.state, 'pending')));
      return;
    }
    await this.#db.transaction(async (tx) => {
      await tx
        .update(crmMessages)
        .set({ engineMessageId: accepted.id, state: 'queued' })
        .where(and(eq(crmMessages.id, messageId), eq(crmMessages.state, 'pending')));
      await this.#advance(tx, accepted.id);
    });
  }
}
