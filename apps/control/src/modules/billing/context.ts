import { uuidv7 } from 'uuidv7';
import type { Clock, Db, JobQueue, Logger } from '@mic/platform';
import type { AuditActor, AuditLog, DbTransaction } from '../audit/index.ts';
import type { Tenants } from '../tenants/index.ts';
import { billingEvents } from './schema.ts';

export interface BillingOptions {
  invoiceSeries: string;
  creditNoteSeries: string;
  /** Issue an invoice as soon as its period closes; false leaves drafts for an operator. */
  autoIssue: boolean;
  /** Days after the due date on which a reminder goes out. */
  reminderDays: number[];
  /** Days after the due date on which the tenant's instances are paused. */
  pauseDay: number;
  webhookSecret: string | undefined;
  webhookToleranceMs: number;
  issuer: { name: string; details: string | undefined };
}

/** Messages sent by a tenant in [from, to), by UTC day: each day counts in the period holding its 00:00. */
export type UsageSource = (tenantId: string, from: Date, to: Date) => Promise<number>;

export interface BillingContext {
  db: Db;
  clock: Clock;
  audit: AuditLog;
  tenants: Tenants;
  queue: JobQueue;
  usage: UsageSource;
  /** Tells the CRM a tenant's plan (its code; null once canceled). */
  planChanged: (tenantId: string, plan: string | null) => Promise<void>;
  logger: Logger;
  options: BillingOptions;
}

export const MAIL_QUEUE = 'billing.mail';
export const TICK_QUEUE = 'billing.tick';

export type MailJob = { kind: 'invoice'; invoiceId: string } | { kind: 'reminder'; invoiceId: string; step: number };

export const DAY_MS = 86_400_000;
export const BILLING_ACTOR: AuditActor = { type: 'system', id: null, label: 'billing' };

export const newId = (prefix: string) => `${prefix}_${uuidv7().replaceAll('-', '')}`;

/** A row as the audit log can hold it: money (BigInt) as decimal strings of minor units. */
export function auditable(value: unknown): unknown {
  return value === undefined
    ? null
    : JSON.parse(JSON.stringify(value, (_key, v: unknown) => (typeof v === 'bigint' ? v.toString() : v)));
}

export interface TimelineEntry {
  tenantId: string;
  type: string;
  invoiceId?: string | null;
  paymentId?: string | null;
  /** A dunning step: at most one event per invoice, type and step. */
  step?: number | null;
  data?: Record<string, unknown>;
}

/**
 * Writes a step of the tenant's billing timeline and its audit row, in `tx`. Returns false when a
 * stepped event was there already (a dunning step is taken once).
 */
export async function recordEvent(
  ctx: Pick<BillingContext, 'clock' | 'audit'>,
  tx: DbTransaction,
  actor: AuditActor,
  entry: TimelineEntry,
  audit: { before?: unknown; after?: unknown } = {},
): Promise<boolean> {
  const [inserted] = await tx
    .insert(billingEvents)
    .values({
      id: uuidv7(),
      tenantId: entry.tenantId,
      at: ctx.clock.now(),
      type: entry.type,
      invoiceId: entry.invoiceId ?? null,
      paymentId: entry.paymentId ?? null,
      step: entry.step ?? null,
      data: entry.data ?? {},
    })
    .onConflictDoNothing()
    .returning({ id: billingEvents.id });
  if (!inserted) return false;
  const target = entry.invoiceId
    ? { type: 'invoice', id: entry.invoiceId }
    : entry.paymentId
      ? { type: 'payment', id: entry.paymentId }
      : { type: 'tenant', id: entry.tenantId };
  await ctx.audit.record(
    {
      actor,
      action: `billing.${entry.type}`,
      target,
      before: auditable(audit.before ?? null),
      after: auditable(audit.after ?? { tenantId: entry.tenantId, ...entry.data }),
    },
    tx,
  );
  return true;
}
