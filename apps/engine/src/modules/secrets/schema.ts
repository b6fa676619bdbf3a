import { index, integer, pgTable, text, timestamp, uniqueIndex, uuid } from 'drizzle-orm/pg-core';

/** A named secret (`ref`), e.g. `meta-app/default/app-secret` or `instance/<id>/signing-secret`. */
export const secrets = pgTable('secrets', {
  id: uuid('id').primaryKey(),
  ref: text('ref').notNull().unique(),
  kind: text('kind').notNull(),
  currentVersion: integer('current_version').notNull(),
  createdAt: timestamp('created_at', { withTimezone: true, mode: 'date' }).notNull(),
  updatedAt: timestamp('updated_at', { withTimezone: true, mode: 'date' }).notNull(),
});

/**
 * Each value a secret has had. The current one, and a previous one until `expires_at` (the grace
 * period of a rotation), can be read; expired versions are deleted.
 */
export const secretVersions = pgTable(
  'secret_versions',
  {
    id: uuid('id').primaryKey(),
    secretId: uuid('secret_id')
      .notNull()
      .references(() => secrets.id, { onDelete: 'cascade' }),
    version: integer('version').notNull(),
    ciphertext: text('ciphertext').notNull(),
    wrappedKey: text('wrapped_key').notNull(),
    kekVersion: integer('kek_version').notNull(),
    fingerprint: text('fingerprint').notNull(),
    last4: text('last4').notNull(),
    createdAt: timestamp('created_at', { withTimezone: true, mode: 'date' }).notNull(),
    expiresAt: timestamp('expires_at', { withTimezone: true, mode: 'date' }),
  },
  (t) => [
    uniqueIndex('secret_versions_secret_version_idx').on(t.secretId, t.version),
    index('secret_versions_kek_idx').on(t.kekVersion),
  ],
);
