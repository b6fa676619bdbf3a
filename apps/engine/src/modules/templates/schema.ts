import { index, jsonb, pgTable, primaryKey, text, timestamp } from 'drizzle-orm/pg-core';

/** A WhatsApp Business Account the engine syncs: its owner business portfolio and its last sync. */
export const whatsappAccounts = pgTable('whatsapp_accounts', {
  wabaId: text('waba_id').primaryKey(),
  /** Meta's business portfolio (`owner_business_info.id`): messaging limits are shared across it. */
  portfolioId: text('portfolio_id'),
  syncedAt: timestamp('synced_at', { withTimezone: true, mode: 'date' }),
  syncError: text('sync_error'),
  updatedAt: timestamp('updated_at', { withTimezone: true, mode: 'date' }).notNull(),
});

/** A WhatsApp business number's account and the messaging limit Meta reports for its portfolio. */
export const whatsappNumbers = pgTable('whatsapp_numbers', {
  phoneNumberId: text('phone_number_id').primaryKey(),
  wabaId: text('waba_id').notNull(),
  /** `whatsapp_business_manager_messaging_limit`: TIER_250, TIER_2K, …, TIER_UNLIMITED; null when unknown. */
  messagingTier: text('messaging_tier'),
  syncedAt: timestamp('synced_at', { withTimezone: true, mode: 'date' }).notNull(),
});

/** The message templates of each account, as Meta lists them, with their parameter counts. */
export const whatsappTemplates = pgTable(
  'whatsapp_templates',
  {
    wabaId: text('waba_id').notNull(),
    name: text('name').notNull(),
    language: text('language').notNull(),
    templateId: text('template_id').notNull(),
    category: text('category').notNull(),
    status: text('status').notNull(),
    parameterFormat: text('parameter_format').notNull(),
    components: jsonb('components').notNull(),
    /** TemplateParameterCounts, computed from the components when stored. */
    parameters: jsonb('parameters').notNull(),
    updatedAt: timestamp('updated_at', { withTimezone: true, mode: 'date' }).notNull(),
  },
  (t) => [
    primaryKey({ columns: [t.wabaId, t.name, t.language] }),
    index('whatsapp_templates_template_id_idx').on(t.templateId),
  ],
);
