import { sql } from 'drizzle-orm';
import {
  bigint,
  customType,
  date,
  index,
  integer,
  jsonb,
  pgTable,
  primaryKey,
  text,
  timestamp,
  uniqueIndex,
} from 'drizzle-orm/pg-core';
import type { SegmentFilter } from '@mic/contracts';

const at = (name: string) => timestamp(name, { withTimezone: true, mode: 'date' });
const tsvector = customType<{ data: string }>({ dataType: () => 'tsvector' });

/**
 * Full-text search over `search_text`, which the service fills with the searchable fields already
 * lower-cased and without accents (PGlite has no `unaccent`), so the `simple` configuration is
 * enough and behaves the same on PGlite and Postgres.
 */
const searchable = () => ({
  searchText: text('search_text').notNull().default(''),
  search: tsvector('search').generatedAlwaysAs(sql`to_tsvector('simple'::regconfig, search_text)`),
});

/** A company: a tenant (customer) when `tenant_id` is set, a prospect otherwise. */
export const crmCompanies = pgTable(
  'crm_companies',
  {
    id: text('id').primaryKey(),
    name: text('name').notNull(),
    domain: text('domain'),
    tenantId: text('tenant_id'),
    /** Mirrors the tenant's status (active, paused) from the tenants' change hook; null for a prospect. */
    tenantStatus: text('tenant_status'),
    /** The tenant's plan as billing reports it (`CrmService.recordPlan`). */
    plan: text('plan'),
    tags: text('tags')
      .array()
      .notNull()
      .default(sql`'{}'::text[]`),
    lastActivityAt: at('last_activity_at'),
    ...searchable(),
    createdAt: at('created_at').notNull(),
    updatedAt: at('updated_at').notNull(),
  },
  (t) => [
    uniqueIndex('crm_companies_tenant_idx')
      .on(t.tenantId)
      .where(sql`tenant_id is not null`),
    index('crm_companies_search_idx').using('gin', t.search),
    index('crm_companies_tags_idx').using('gin', t.tags),
  ],
);

export const crmContacts = pgTable(
  'crm_contacts',
  {
    id: text('id').primaryKey(),
    companyId: text('company_id').references(() => crmCompanies.id, { onDelete: 'set null' }),
    name: text('name').notNull(),
    emails: text('emails')
      .array()
      .notNull()
      .default(sql`'{}'::text[]`),
    /** E.164. */
    phones: text('phones')
      .array()
      .notNull()
      .default(sql`'{}'::text[]`),
    whatsappId: text('whatsapp_id'),
    tags: text('tags')
      .array()
      .notNull()
      .default(sql`'{}'::text[]`),
    lastActivityAt: at('last_activity_at'),
    ...searchable(),
    createdAt: at('created_at').notNull(),
    updatedAt: at('updated_at').notNull(),
  },
  (t) => [
    uniqueIndex('crm_contacts_whatsapp_idx')
      .on(t.whatsappId)
      .where(sql`whatsapp_id is not null`),
    index('crm_contacts_company_idx').on(t.companyId),
    index('crm_contacts_phones_idx').using('gin', t.phones),
    index('crm_contacts_search_idx').using('gin', t.search),
    index('crm_contacts_tags_idx').using('gin', t.tags),
  ],
);

/** Messenger PSIDs and Instagram IGSIDs: each is scoped to one page or account. */
export const crmContactPageIds = pgTable(
  'crm_contact_page_ids',
  {
    platform: text('platform').notNull(),
    channelId: text('channel_id').notNull(),
    userId: text('user_id').notNull(),
    contactId: text('contact_id')
      .notNull()
      .references(() => crmContacts.id, { onDelete: 'cascade' }),
  },
  (t) => [
    primaryKey({ columns: [t.platform, t.channelId, t.userId] }),
    index('crm_contact_page_ids_contact_idx').on(t.contactId),
  ],
);

export const crmStages = pgTable('crm_stages', {
  id: text('id').primaryKey(),
  name: text('name').notNull(),
  position: integer('position').notNull(),
  kind: text('kind').notNull(),
});

export const crmDeals = pgTable(
  'crm_deals',
  {
    id: text('id').primaryKey(),
    title: text('title').notNull(),
    companyId: text('company_id')
      .notNull()
      .references(() => crmCompanies.id),
    contactId: text('contact_id').references(() => crmContacts.id, { onDelete: 'set null' }),
    stageId: text('stage_id')
      .notNull()
      .references(() => crmStages.id),
    amountMinor: bigint('amount_minor', { mode: 'number' }).notNull(),
    currency: text('currency').notNull(),
    ownerId: text('owner_id'),
    expectedCloseOn: date('expected_close_on', { mode: 'string' }),
    closedAt: at('closed_at'),
    createdAt: at('created_at').notNull(),
    updatedAt: at('updated_at').notNull(),
  },
  (t) => [index('crm_deals_company_idx').on(t.companyId), index('crm_deals_stage_idx').on(t.stageId)],
);

/** Every stage a deal entered, for the timeline (its creation included, with `from_stage` null). */
export const crmDealMoves = pgTable(
  'crm_deal_moves',
  {
    id: text('id').primaryKey(),
    dealId: text('deal_id')
      .notNull()
      .references(() => crmDeals.id, { onDelete: 'cascade' }),
    fromStage: text('from_stage'),
    toStage: text('to_stage').notNull(),
    actor: text('actor'),
    at: at('at').notNull(),
  },
  (t) => [index('crm_deal_moves_deal_idx').on(t.dealId, t.at)],
);

/** Notes, calls and tasks. */
export const crmActivities = pgTable(
  'crm_activities',
  {
    id: text('id').primaryKey(),
    kind: text('kind').notNull(),
    companyId: text('company_id').references(() => crmCompanies.id, { onDelete: 'cascade' }),
    contactId: text('contact_id').references(() => crmContacts.id, { onDelete: 'cascade' }),
    dealId: text('deal_id').references(() => crmDeals.id, { onDelete: 'cascade' }),
    subject: text('subject'),
    body: text('body').notNull(),
    ownerId: text('owner_id'),
    dueAt: at('due_at'),
    completedAt: at('completed_at'),
    occurredAt: at('occurred_at').notNull(),
    createdBy: text('created_by'),
    createdAt: at('created_at').notNull(),
  },
  (t) => [
    index('crm_activities_company_idx').on(t.companyId, t.occurredAt),
    index('crm_activities_contact_idx').on(t.contactId, t.occurredAt),
    index('crm_activities_open_tasks_idx')
      .on(t.ownerId, t.dueAt)
      .where(sql`kind = 'task' and completed_at is null`),
  ],
);

export const crmSegments = pgTable('crm_segments', {
  id: text('id').primaryKey(),
  name: text('name').notNull(),
  filter: jsonb('filter').$type<SegmentFilter>().notNull(),
  createdAt: at('created_at').notNull(),
  updatedAt: at('updated_at').notNull(),
});

/** A conversation on one of the hub's own channels with one customer (wa_id, PSID or IGSID). */
export const crmConversations = pgTable(
  'crm_conversations',
  {
    id: text('id').primaryKey(),
    platform: text('platform').notNull(),
    channelId: text('channel_id').notNull(),
    externalId: text('external_id').notNull(),
    contactId: text('contact_id')
      .notNull()
      .references(() => crmContacts.id),
    lastMessageAt: at('last_message_at').notNull(),
    unread: integer('unread').notNull().default(0),
    createdAt: at('created_at').notNull(),
  },
  (t) => [
    uniqueIndex('crm_conversations_party_idx').on(t.platform, t.channelId, t.externalId),
    index('crm_conversations_contact_idx').on(t.contactId),
    index('crm_conversations_recent_idx').on(t.lastMessageAt),
  ],
);

export const crmMessages = pgTable(
  'crm_messages',
  {
    id: text('id').primaryKey(),
    conversationId: text('conversation_id')
      .notNull()
      .references(() => crmConversations.id, { onDelete: 'cascade' }),
    direction: text('direction').notNull(),
    state: text('state').notNull(),
    messageType: text('message_type').notNull(),
    text: text('text'),
    /** Inbound: the hub event it came in (unique: the engine delivers at least once). */
    eventId: text('event_id'),
    /** Inbound: the engine's position in the conversation, which orders messages of the same second. */
    seq: integer('seq'),
    /** Replies: the engine's message id, once the engine accepted the send. */
    engineMessageId: text('engine_message_id'),
    error: jsonb('error').$type<{ code: number | null; title: string; message: string }>(),
    sentBy: text('sent_by'),
    data: jsonb('data').$type<Record<string, unknown>>(),
    occurredAt: at('occurred_at').notNull(),
    createdAt: at('created_at').notNull(),
  },
  (t) => [
    uniqueIndex('crm_messages_event_idx')
      .on(t.eventId)
      .where(sql`event_id is not null`),
    uniqueIndex('crm_messages_engine_idx')
      .on(t.engineMessageId)
      .where(sql`engine_message_id is not null`),
    index('crm_messages_conversation_idx').on(t.conversationId, t.occurredAt),
  ],
);

/**
 * The latest state the engine reported for each of the hub's sends, by engine id. An outbound event
 * can arrive before the reply's worker has recorded the engine id; the worker applies it then.
 */
export const crmOutboundStates = pgTable('crm_outbound_states', {
  engineMessageId: text('engine_message_id').primaryKey(),
  state: text('state').notNull(),
  error: jsonb('error').$type<{ code: number | null; title: string; message: string }>(),
  at: at('at').notNull(),
});
