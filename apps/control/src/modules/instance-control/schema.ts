import { boolean, index, integer, jsonb, pgTable, text, timestamp, uuid } from 'drizzle-orm/pg-core';

const at = (name: string) => timestamp(name, { withTimezone: true, mode: 'date' });

/**
 * Every command control sends to an instance (health probes excepted): its id travels to the
 * instance, which runs it once however often it arrives. `error` is a failed command's error, or the
 * last attempt's while the command is retried.
 */
export const instanceCommands = pgTable(
  'instance_commands',
  {
    id: uuid('id').primaryKey(),
    instanceId: text('instance_id').notNull(),
    command: text('command').notNull(),
    args: jsonb('args').$type<Record<string, unknown>>().notNull(),
    state: text('state').notNull(),
    attempts: integer('attempts').notNull(),
    result: jsonb('result').$type<Record<string, unknown>>(),
    error: jsonb('error').$type<{ code: string; message: string }>(),
    requestedBy: text('requested_by'),
    createdAt: at('created_at').notNull(),
    /** When the latest attempt started. */
    sentAt: at('sent_at'),
    completedAt: at('completed_at'),
  },
  (t) => [index('instance_commands_instance_idx').on(t.instanceId, t.createdAt)],
);

/** One signed `health` probe of an instance: the samples uptime is computed from. */
export const instanceProbes = pgTable(
  'instance_probes',
  {
    id: uuid('id').primaryKey(),
    instanceId: text('instance_id').notNull(),
    at: at('at').notNull(),
    ok: boolean('ok').notNull(),
    latencyMs: integer('latency_ms').notNull(),
    /** The health status the instance reported (pass, warn, fail); null without an answer. */
    status: text('status'),
    error: text('error'),
  },
  (t) => [index('instance_probes_instance_at_idx').on(t.instanceId, t.at), index('instance_probes_at_idx').on(t.at)],
);

/** Whether each probed instance answers, and since when; `failing_since` starts the down countdown. */
export const instanceAvailability = pgTable('instance_availability', {
  instanceId: text('instance_id').primaryKey(),
  state: text('state').notNull(),
  since: at('since').notNull(),
  lastOkAt: at('last_ok_at'),
  failingSince: at('failing_since'),
  consecutiveFailures: integer('consecutive_failures').notNull(),
});
