import { and, asc, eq, inArray, isNull, lt, lte, sql } from 'drizzle-orm';
import { uuidv7 } from 'uuidv7';
import type { Clock, Db, InternalClient, Logger, Notifier } from '@mic/platform';
import { PeerError } from '@mic/platform';
import { REPORTS_PATH, type EngineReport, type ReportBatchResult } from '@mic/contracts';
import type { ControlLink } from './link.ts';
import { formatDuration } from './link.ts';
import type { EngineFigures, UsageFigure } from './metrics.ts';
import { reportLeases, reportOutbox } from './schema.ts';

type Without<T, K extends PropertyKey> = T extends unknown ? Omit<T, K> : never;
/** A report before the outbox gives it an id (and, unless given, its time). */
export type NewReport = Without<EngineReport, 'id' | 'occurredAt'> & { occurredAt?: string };
export type NewAlert = Without<Extract<EngineReport, { kind: 'alert' }>, 'id' | 'occurredAt' | 'kind'>;

export interface ReportsOptions {
  flushIntervalMs: number;
  /** Longest wait between tries while control does not answer. */
  maxBackoffMs: number;
  /** How often an idle engine checks that control answers. */
  pingIntervalMs: number;
  statsIntervalMs: number;
  /** How long control may be unreachable before the engine notifies the operators itself. */
  unreachableAlertAfterMs: number;
  /** How long sent reports are kept. */
  retentionMs: number;
  batchSize: number;
  /** How long this process's claim on draining lasts without renewal. */
  leaseMs: number;
}

const DRAINER = 'drainer';
const CONTROL_UNREACHABLE = 'control-unreachable';
const DAY_MS = 86_400_000;

/**
 * The engine's reports to control: an outbox in the engine database, written in the caller's
 * transaction, and a drainer that sends it in batches until control accepts each report (at least
 * once; control stores each id once). One process drains at a time, holding a lease row; it also
 * counts usage and delivery stats into the outbox, and notifies the operators itself when control
 * stays unreachable, since control cannot report its own absence.
 */
export class Reports {
  readonly #db: Db;
  readonly #clock: Clock;
  readonly #control: InternalClient;
  readonly #link: ControlLink;
  readonly #figures: EngineFigures;
  readonly #notifier: Notifier;
  readonly #logger: Logger;
  readonly #options: ReportsOptions;
  readonly #holder = uuidv7();
  #leaseUntil = 0;
  #timer: NodeJS.Timeout | undefined;
  #isRunning = false;
  #isStarted = false;
  #isWoken = false;
  #pass: Promise<void> | undefined;
  #failures = 0;
  #lastCallAt = 0;
  #lastCleanupAt = 0;
  #nextStatsAt = 0;
  #lastWindowEnd = 0;
  /** Usage values last put in the outbox, so an unchanged counter is not reported again. */
  readonly #usageSent = new Map<string, number>();
  /** The outage the operators were told about (by its start), and whether control was told too. */
  #outageAlert: { since: number; isReported: boolean; isNotified: boolean } | undefined;

  constructor(deps: {
    db: Db;
    clock: Clock;
    control: InternalClient;
    link: ControlLink;
    figures: EngineFigures;
    notifier: Notifier;
    logger: Logger;
    options: ReportsOptions;
  }) {
    this.#db = deps.db;
    this.#clock = deps.clock;
    this.#control = deps.control;
    this.#link = deps.link;
    this.#figures = deps.figures;
    this.#notifier = deps.notifier;
    this.#logger = deps.logger;
    this.#options = deps.options;
  }

  /** Puts a report in the outbox, in `tx` when given (it exists if and only if the caller commits). */
  async enqueue(report: NewReport, tx?: Db): Promise<string> {
    const [id] = await this.enqueueMany([report], tx);
    return id!;
  }

  async enqueueMany(reports: readonly NewReport[], tx?: Db): Promise<string[]> {
    if (reports.length === 0) return [];
    const now = this.#clock.now();
    const rows = reports.map((report) => {
      const id = uuidv7();
      const payload = { ...report, id, occurredAt: report.occurredAt ?? now.toISOString() };
      return { id, kind: report.kind, payload, createdAt: now, nextAttemptAt: now };
    });
    for (let i = 0; i < rows.length; i += 500)
      await (tx ?? this.#db).insert(reportOutbox).values(rows.slice(i, i + 500));
    this.wake();
    return rows.map((r) => r.id);
  }

  /** Raises or resolves an alert for control (and, through it, the operators). */
  alert(alert: NewAlert, tx?: Db): Promise<string> {
    return this.enqueue({ kind: 'alert', ...alert }, tx);
  }

  /** Starts the drainer loop (worker processes). */
  start(): void {
    this.#isStarted = true;
    this.#nextStatsAt = this.#clock.now().getTime() + this.#options.statsIntervalMs;
    this.#lastWindowEnd = this.#windowStart(this.#clock.now().getTime());
    this.#schedule(0);
  }

  async stop(): Promise<void> {
    this.#isStarted = false;
    clearTimeout(this.#timer);
    await this.#pass;
    if (this.#leaseUntil > 0) {
      await this.#db
        .delete(reportLeases)
        .where(and(eq(reportLeases.name, DRAINER), eq(reportLeases.holder, this.#holder)))
        .catch(() => {});
    }
  }

  /** Sends soon: reports committed a moment after the wake are found by the next interval at the latest. */
  wake(): void {
    if (!this.#isStarted) return;
    if (this.#isRunning) this.#isWoken = true;
    else if (this.#failures === 0) this.#schedule(20);
  }

  #schedule(delayMs: number): void {
    clearTimeout(this.#timer);
    this.#timer = setTimeout(() => {
      this.#pass = this.#tick();
    }, delayMs);
    this.#timer.unref();
  }

  async #tick(): Promise<void> {
    this.#isRunning = true;
    this.#isWoken = false;
    let delay = this.#options.flushIntervalMs;
    try {
      delay = await this.runOnce();
    } catch (error) {
      this.#logger.warn({ err: error }, 'report drainer pass failed');
    } finally {
      this.#isRunning = false;
    }
    if (this.#isStarted) this.#schedule(this.#isWoken && this.#failures === 0 ? 0 : delay);
  }

  /**
   * One pass. The lease holder counts, drains and watches for an outage; another process only
   * pings, so its own health still tells whether it reaches control. Returns the delay before the
   * next pass.
   */
  async runOnce(): Promise<number> {
    if (await this.#holdLease()) await this.#lead();
    else await this.#pingIfIdle();
    if (this.#failures === 0) return this.#options.flushIntervalMs;
    const backoff = this.#options.flushIntervalMs * 2 ** Math.min(this.#failures - 1, 16);
    return Math.min(this.#options.maxBackoffMs, backoff);
  }

  async #lead(): Promise<void> {
    const now = this.#clock.now().getTime();
    if (now >= this.#nextStatsAt) {
      this.#nextStatsAt = now + this.#options.statsIntervalMs;
      // Counting must never hold up sending.
      await this.countFigures().catch((error: unknown) => this.#logger.warn({ err: error }, 'report counting failed'));
    }
    if ((await this.drain()) === 0) await this.#pingIfIdle();
    await this.#watchOutage();
    if (now - this.#lastCleanupAt >= Math.min(this.#options.retentionMs, 3_600_000)) {
      this.#lastCleanupAt = now;
      await this.#db.delete(reportOutbox).where(lt(reportOutbox.sentAt, new Date(now - this.#options.retentionMs)));
    }
  }

  /** An empty batch: the light ping that tells whether control answers when there is nothing to send. */
  async #pingIfIdle(): Promise<void> {
    if (this.#clock.now().getTime() - this.#lastCallAt < this.#options.pingIntervalMs) return;
    await this.#call([]).catch(() => {});
  }

  /** Sends due reports in batches while control accepts them; returns how many were accepted. */
  async drain(): Promise<number> {
    let accepted = 0;
    for (;;) {
      const now = this.#clock.now();
      const rows = await this.#db
        .select({ id: reportOutbox.id, payload: reportOutbox.payload })
        .from(reportOutbox)
        .where(and(isNull(reportOutbox.sentAt), lte(reportOutbox.nextAttemptAt, now)))
        .orderBy(asc(reportOutbox.createdAt), asc(reportOutbox.id))
        .limit(this.#options.batchSize);
      if (rows.length === 0) return accepted;
      let result: ReportBatchResult;
      try {
        result = await this.#call(rows.map((r) => r.payload as EngineReport));
      } catch (error) {
        await this.#db
          .update(reportOutbox)
          .set({ attempts: sql`${reportOutbox.attempts} + 1`, lastError: (error as Error).message })
          .where(
            inArray(
              reportOutbox.id,
              rows.map((r) => r.id),
            ),
          );
        return accepted;
      }
      const sentAt = this.#clock.now();
      if (result.accepted.length) {
        await this.#db
          .update(reportOutbox)
          .set({ sentAt, attempts: sql`${reportOutbox.attempts} + 1`, lastError: null })
          .where(and(inArray(reportOutbox.id, result.accepted), isNull(reportOutbox.sentAt)));
      }
      // A report control cannot read waits long (a newer control may take it) and blocks nothing.
      for (const rejected of result.rejected) {
        this.#logger.error({ reportId: rejected.id, reason: rejected.reason }, 'control rejected a report');
        await this.#db
          .update(reportOutbox)
          .set({
            attempts: sql`${reportOutbox.attempts} + 1`,
            lastError: `rejected: ${rejected.reason}`,
            nextAttemptAt: new Date(sentAt.getTime() + DAY_MS),
          })
          .where(eq(reportOutbox.id, rejected.id));
      }
      accepted += result.accepted.length;
      if (rows.length < this.#options.batchSize) return accepted;
    }
  }

  async #call(reports: EngineReport[]): Promise<ReportBatchResult> {
    this.#lastCallAt = this.#clock.now().getTime();
    try {
      const result = await this.#control.request<ReportBatchResult>('POST', REPORTS_PATH, { reports });
      this.#failures = 0;
      this.#link.succeeded();
      return result;
    } catch (error) {
      this.#failures++;
      const reason = error instanceof PeerError ? error.message : `control call failed: ${(error as Error).message}`;
      this.#link.failed(reason);
      if (this.#failures === 1) this.#logger.warn({ reason }, 'control does not take reports; they wait in the outbox');
      throw error;
    }
  }

  async #holdLease(): Promise<boolean> {
    const now = this.#clock.now().getTime();
    if (now < this.#leaseUntil - this.#options.leaseMs / 2) return true;
    const until = new Date(now + this.#options.leaseMs);
    const [row] = await this.#db
      .insert(reportLeases)
      .values({ name: DRAINER, holder: this.#holder, leasedUntil: until })
      .onConflictDoUpdate({
        target: reportLeases.name,
        set: { holder: this.#holder, leasedUntil: until },
        setWhere: sql`${reportLeases.holder} = ${this.#holder} or ${reportLeases.leasedUntil} < ${new Date(now)}`,
      })
      .returning({ holder: reportLeases.holder });
    this.#leaseUntil = row?.holder === this.#holder ? until.getTime() : 0;
    return this.#leaseUntil > 0;
  }

  #windowStart(ms: number): number {
    return Math.floor(ms / this.#options.statsIntervalMs) * this.#options.statsIntervalMs;
  }

  /** Usage counters (today, and yesterday in the first hour of a day) and the last stats interval. */
  async countFigures(): Promise<void> {
    const now = this.#clock.now().getTime();
    const today = Math.floor(now / DAY_MS) * DAY_MS;
    const since = now - today < 3_600_000 ? today - DAY_MS : today;
    const usage = (await this.#figures.usage(new Date(since))).filter(
      (u) => this.#usageSent.get(usageKey(u)) !== u.value,
    );
    const windowEnd = this.#windowStart(now);
    const stats =
      windowEnd > this.#lastWindowEnd
        ? await this.#figures.deliveryStats(new Date(this.#lastWindowEnd), new Date(windowEnd))
        : [];
    await this.enqueueMany([
      ...usage.map((u) => ({ kind: 'usage' as const, ...u })),
      ...stats.map((s) => ({ kind: 'delivery-stats' as const, ...s })),
    ]);
    const oldest = new Date(since).toISOString().slice(0, 10);
    for (const key of this.#usageSent.keys()) if (key < oldest) this.#usageSent.delete(key);
    for (const u of usage) this.#usageSent.set(usageKey(u), u.value);
    this.#lastWindowEnd = Math.max(this.#lastWindowEnd, windowEnd);
  }

  async #watchOutage(): Promise<void> {
    const outage = this.#link.outage;
    const now = this.#clock.now();
    if (outage && now.getTime() - outage.since.getTime() >= this.#options.unreachableAlertAfterMs) {
      const since = outage.since.getTime();
      if (this.#outageAlert?.since !== since) this.#outageAlert = { since, isReported: false, isNotified: false };
      const alert = this.#outageAlert;
      const duration = formatDuration(now.getTime() - since);
      const message = `The engine has not reached control for ${duration} (${outage.error}). Deliveries go on; reports wait in the engine's outbox.`;
      if (!alert.isReported) {
        await this.alert({
          key: CONTROL_UNREACHABLE,
          state: 'raised',
          type: CONTROL_UNREACHABLE,
          severity: 'critical',
          message,
          notified: true,
          details: { since: outage.since.toISOString(), error: outage.error },
        });
        alert.isReported = true;
      }
      if (!alert.isNotified) {
        await this.#notifier
          .send({
            title: `Control unreachable for ${duration}`,
            text: message,
            severity: 'critical',
            source: 'engine',
            state: 'raised',
            key: CONTROL_UNREACHABLE,
            type: CONTROL_UNREACHABLE,
            at: now,
            fields: { since: outage.since.toISOString(), error: outage.error },
          })
          .then(() => (alert.isNotified = true))
          .catch(() => {}); // logged by the notifier; tried again next pass
      }
      return;
    }
    if (outage || !this.#outageAlert) return;
    const alert = this.#outageAlert;
    const duration = formatDuration(now.getTime() - alert.since);
    const message = `The engine reaches control again, after ${duration}.`;
    if (alert.isReported) {
      await this.alert({
        key: CONTROL_UNREACHABLE,
        state: 'resolved',
        type: CONTROL_UNREACHABLE,
        severity: 'critical',
        message,
        notified: alert.isNotified,
      });
    }
    if (alert.isNotified) {
      await this.#notifier
        .send({
          title: 'Control is reachable again',
          text: message,
          severity: 'info',
          source: 'engine',
          state: 'resolved',
          key: CONTROL_UNREACHABLE,
          type: CONTROL_UNREACHABLE,
          at: now,
        })
        .catch(() => {});
    }
    this.#outageAlert = undefined;
  }
}

function usageKey(u: UsageFigure): string {
  return `${u.period}|${u.tenantId}|${u.instanceId}|${u.channel ?? ''}|${u.metric}`;
}
