import { doublePrecision, index, pgTable, text, timestamp } from 'drizzle-orm/pg-core';

/** The engine's key metrics over time, for the console's charts. A missing sample is a gap. */
export const metricSamples = pgTable(
  'metric_samples',
  {
    at: timestamp('at', { withTimezone: true, mode: 'date' }).notNull(),
    metric: text('metric').notNull(),
    /** `name=value` pairs, sorted, comma-separated; '' for none. */
    labels: text('labels').notNull(),
    value: doublePrecision('value').notNull(),
  },
  (t) => [index('metric_samples_metric_idx').on(t.metric, t.at), index('metric_samples_at_idx').on(t.at)],
);
