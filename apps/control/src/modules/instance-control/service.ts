import { and, desc, eq, inArray, lt, or, sql } from 'drizzle-orm';
import Value from 'typebox/value';
import { uuidv7 } from 'uuidv7';
import type { Clock, Db, JobQueue, Logger } from '@mic/platform';
import { problems } from '@mic/platform';
import {
  CONTROL_COMMAND_SCHEMAS,
  type ControlArgs,
  type ControlCommand,
  type ControlCommandName,
  type ControlPublicKey,
  type ControlError,
} from '@mic/contracts';
import { Availability, type AvailabilityListener, type InstanceUptimeInfo } from './availability.ts';
import type { CommandSigningKey } from './keys.ts';
import { instanceCommands } from './schema.ts';
import { sendCommand } from './sender.ts';

export const COMMAND_QUEUE = 'instance-control.command';
export const PROBE_QUEUE = 'instance-control.probe';

/**
 * Where instances are and which to probe. The tenants module owns instances and hands its
 * implementation over with `app.instanceControl.useDirectory(directory)`.
 */
export interface InstanceDirectory {
  /** The instance's control URL, or null when it is unknown or has none. */
  controlTarget(instanceId: string): Promise<{ controlUrl: string } | null>;
  /** Every instance to probe with `health`. */
  probeTargets(): Promise<{ instanceId: string; controlUrl: string }[]>;
  /** Who administers the tenant of the instance (password reset links by e-mail go there); absent: nobody known. */
  adminContact?(instanceId: string): Promise<AdminContact | null>;
}

export interface AdminContact {
  email: string;
  /** The language of the e-mail; Spanish by default. */
  locale?: 'es' | 'en';
  /** How the e-mail names the instance; its id by default. */
  instanceName?: string;
}

/** What a command run in the request gets back, besides its row: the instance's result, unredacted. */
export type DirectOutcome =
  | { ok: true; row: InstanceCommandRow; result: Record<string, unknown> }
  | { ok: false; row: InstanceCommandRow; error: ControlError; answered: boolean };

/**
 * Result fields that are credentials: never stored with the command, only handed to the caller that
 * ran it. A password-reset's link lets whoever holds it set the password.
 */
const UNSTORED_RESULT_FIELDS: Partial<Record<string, readonly string[]>> = { 'password-reset': ['resetUrl'] };

/** A command's result as it is stored: without its credentials. */
export function storedResult(
  command: string,
  result: Record<string, unknown> | undefined,
): Record<string, unknown> | null {
  if (!result) return null;
  const unstored = UNSTORED_RESULT_FIELDS[command];
  if (!unstored) return result;
  return Object.fromEntries(Object.entries(result).filter(([name]) => !unstored.includes(name)));
}

export const emptyDirectory: InstanceDirectory = {
  controlTarget: async () => null,
  probeTargets: async () => [],
};

export interface InstanceControlOptions {
  /** How long a command is retried before it is `expired`. */
  expiryMs: number;
  /** Deadline of one attempt. */
  timeoutMs: number;
  /** The first retry's delay; each next one doubles, up to `retryMaxMs` (±10 % jitter). */
  retryBaseMs: number;
  retryMaxMs: number;
  probeIntervalMs: number;
  probeTimeoutMs: number;
  probeRetentionMs: number;
  downAfterMs: number;
  userAgent: string;
}

export interface IssueCommand<C extends ControlCommandName = ControlCommandName> {
  instanceId: string;
  command: C;
  args?: ControlArgs<C>;
  /** Who asked: an operator id, or the module that issued it (`dunning`…). */
  requestedBy?: string | null;
}

export type InstanceCommandRow = typeof instanceCommands.$inferSelect;

const TERMINAL = ['succeeded', 'failed', 'expired'];
const PROBE_CONCURRENCY = 10;
/** Past its deadline plus this, an attempt still `sending` belongs to a process that died. */
const ABANDONED_AFTER_MS = 30_000;

export class InstanceControl {
  readonly #db: Db;
  readonly #queue: JobQueue;
  readonly #clock: Clock;
  readonly #key: CommandSigningKey;
  readonly #logger: Logger;
  readonly #options: InstanceControlOptions;
  readonly #versionListeners: ((instanceId: string, version: string) => Promise<void>)[] = [];
  readonly #availability: Availability;
  #directory: InstanceDirectory = emptyDirectory;

  constructor(deps: {
    db: Db;
    queue: JobQueue;
    clock: Clock;
    key: CommandSigningKey;
    logger: Logger;
    options: InstanceControlOptions;
  }) {
    this.#db = deps.db;
    this.#queue = deps.queue;
    this.#clock = deps.clock;
    this.#key = deps.key;
    this.#logger = deps.logger;
    this.#options = deps.options;
    this.#availability = new Availability({
      db: deps.db,
      clock: deps.clock,
      logger: deps.logger,
      downAfterMs: deps.options.downAfterMs,
      retentionMs: deps.options.probeRetentionMs,
    });
  }

  useDirectory(directory: InstanceDirectory): void {
    this.#directory = directory;
  }

  directory(): InstanceDirectory {
    return this.#directory;
  }

  publicKey(): ControlPublicKey {
    return this.#key.publicKey();
  }

  /**
   * Records a command and enqueues its sending, in `tx` when given (the command exists only if the
   * caller's change commits), else in a transaction of its own. Throws a 400 problem for args that
   * do not match the command.
   */
  async issue<C extends ControlCommandName>(input: IssueCommand<C>, tx?: Db): Promise<InstanceCommandRow> {
    const args = (input.args ?? {}) as Record<string, unknown>;
    this.#assertArgs(input.command, args);
    const write = async (db: Db) => {
      const [row] = await db
        .insert(instanceCommands)
        .values({
          id: uuidv7(),
          instanceId: input.instanceId,
          command: input.command,
          args,
          state: 'pending',
          attempts: 0,
          requestedBy: input.requestedBy ?? null,
          createdAt: this.#clock.now(),
        })
        .returning();
      await this.#queue.send(COMMAND_QUEUE, { commandId: row!.id }, {}, db);
      return row!;
    };
    return tx ? write(tx) : this.#db.transaction(write);
  }

  /**
   * Records a command to run in the caller's request (`runNow`) rather than in the background: for
   * a result that only the waiting operator may see, which a background retry would produce with
   * nobody to hand it to. Written in `tx`, with no queue job.
   */
  async issueDirect<C extends ControlCommandName>(input: IssueCommand<C>, tx: Db): Promise<InstanceCommandRow> {
    this.#assertArgs(input.command, (input.args ?? {}) as Record<string, unknown>);
    const [row] = await tx
      .insert(instanceCommands)
      .values({
        id: uuidv7(),
        instanceId: input.instanceId,
        command: input.command,
        args: (input.args ?? {}) as Record<string, unknown>,
        state: 'pending',
        attempts: 0,
        requestedBy: input.requestedBy ?? null,
        createdAt: this.#clock.now(),
      })
      .returning();
    return row!;
  }

  /**
   * Runs a command issued with `issueDirect` now: up to `attempts` tries with the same id (the
   * instance runs it once and replays its result), within the request. Stores the outcome (the
   * result without its credentials) and returns the full result to the caller, or why it failed.
   */
  async runNow(commandId: string, attempts = 3): Promise<DirectOutcome> {
    const row = await this.get(commandId);
    if (!row || row.state !== 'pending') throw new Error(`command ${commandId} is not a pending direct command`);
    const target = await this.#directory.controlTarget(row.instanceId);
    const command: ControlCommand = {
      id: row.id,
      instanceId: row.instanceId,
      command: row.command,
      args: row.args,
      issuedAt: row.createdAt.toISOString(),
    };
    let failure: ControlError = { code: 'no-control-url', message: 'no control URL is known for the instance' };
    for (let attempt = 1; target && attempt <= attempts; attempt++) {
      const now = this.#clock.now();
      await this.#db
        .update(instanceCommands)
        .set({ state: 'sending', attempts: sql`${instanceCommands.attempts} + 1`, sentAt: now })
        .where(eq(instanceCommands.id, commandId));
      const outcome = await sendCommand({
        url: target.controlUrl,
        command,
        key: this.#key,
        timeoutMs: this.#options.timeoutMs,
        now,
        userAgent: this.#options.userAgent,
      });
      if (outcome.ok) {
        const { result } = outcome;
        const [done] = await this.#db
          .update(instanceCommands)
          .set({
            state: result.status,
            result: storedResult(row.command, result.result),
            error: result.error ?? null,
            completedAt: this.#clock.now(),
          })
          .where(eq(instanceCommands.id, commandId))
          .returning();
        return result.status === 'succeeded'
          ? { ok: true, row: done!, result: result.result ?? {} }
          : { ok: false, row: done!, error: result.error!, answered: true };
      }
      failure = outcome.error;
      if (attempt < attempts) await new Promise((resolve) => setTimeout(resolve, this.#retryDelay(attempt)));
    }
    const [failed] = await this.#db
      .update(instanceCommands)
      .set({ state: 'failed', error: failure, completedAt: this.#clock.now() })
      .where(eq(instanceCommands.id, commandId))
      .returning();
    this.#logger.warn(
      { commandId, instanceId: failed!.instanceId, error: failure.code },
      'direct instance command failed',
    );
    return { ok: false, row: failed!, error: failure, answered: false };
  }

  #assertArgs(command: ControlCommandName, args: Record<string, unknown>): void {
    const schema = CONTROL_COMMAND_SCHEMAS[command].args;
    if (!Value.Check(schema, args)) {
      throw problems.validation(
        [...Value.Errors(schema, args)].map((e) => ({
          field: `args${e.instancePath.replaceAll('/', '.')}`,
          message: e.message,
        })),
      );
    }
  }

  async get(id: string): Promise<InstanceCommandRow | null> {
    const [row] = await this.#db.select().from(instanceCommands).where(eq(instanceCommands.id, id));
    return row ?? null;
  }

  /** The instance's commands (only `command` when given), newest first. */
  async list(
    instanceId: string,
    { limit = 50, command }: { limit?: number; command?: ControlCommandName } = {},
  ): Promise<InstanceCommandRow[]> {
    return this.#db
      .select()
      .from(instanceCommands)
      .where(
        and(eq(instanceCommands.instanceId, instanceId), command ? eq(instanceCommands.command, command) : undefined),
      )
      .orderBy(desc(instanceCommands.createdAt), desc(instanceCommands.id))
      .limit(limit);
  }

  uptime(instanceId: string): Promise<InstanceUptimeInfo> {
    return this.#availability.uptime(instanceId);
  }

  /** Called once when an instance has not answered probes for INSTANCE_DOWN_AFTER; returns an unsubscribe. */
  onInstanceUnreachable(listener: AvailabilityListener): () => void {
    return this.#availability.on('down', listener);
  }

  /** Called once when an instance that was down answers again. */
  onInstanceReachable(listener: AvailabilityListener): () => void {
    return this.#availability.on('up', listener);
  }

  #expiresAt(row: InstanceCommandRow): number {
    return row.createdAt.getTime() + this.#options.expiryMs;
  }

  #retryDelay(attempts: number): number {
    const base = Math.min(this.#options.retryMaxMs, this.#options.retryBaseMs * 2 ** Math.max(0, attempts - 1));
    return Math.round(base * (0.9 + 0.2 * Math.random()));
  }

  /**
   * The queue worker: one attempt of a command. The row is claimed first, so two jobs for one
   * command (a retried job beside a scheduled one) never send it at once; an attempt whose process
   * died is taken over once it is older than the attempt deadline.
   */
  async send(commandId: string): Promise<void> {
    const now = this.#clock.now();
    const row = await this.get(commandId);
    if (!row || TERMINAL.includes(row.state)) return;
    if (now.getTime() >= this.#expiresAt(row)) {
      await this.#db
        .update(instanceCommands)
        .set({ state: 'expired', completedAt: now })
        .where(and(eq(instanceCommands.id, commandId), inArray(instanceCommands.state, ['pending', 'sending'])));
      this.#logger.warn({ commandId, instanceId: row.instanceId, command: row.command }, 'instance command expired');
      return;
    }
    const staleBefore = new Date(now.getTime() - this.#options.timeoutMs - ABANDONED_AFTER_MS);
    const [claimed] = await this.#db
      .update(instanceCommands)
      .set({ state: 'sending', attempts: sql`${instanceCommands.attempts} + 1`, sentAt: now })
      .where(
        and(
          eq(instanceCommands.id, commandId),
          or(
            eq(instanceCommands.state, 'pending'),
            and(eq(instanceCommands.state, 'sending'), lt(instanceCommands.sentAt, staleBefore)),
          ),
        ),
      )
      .returning();
    if (!claimed) {
      // In flight elsewhere: look again once that attempt would count as abandoned.
      if (row.state === 'sending' && row.sentAt) {
        const abandonedAt = row.sentAt.getTime() + this.#options.timeoutMs + ABANDONED_AFTER_MS + 1;
        await this.#schedule(commandId, new Date(abandonedAt));
      }
      return;
    }
    const target = await this.#directory.controlTarget(row.instanceId);
    const command: ControlCommand = {
      id: row.id,
      instanceId: row.instanceId,
      command: row.command,
      args: row.args,
      issuedAt: row.createdAt.toISOString(),
    };
    const outcome = target
      ? await sendCommand({
          url: target.controlUrl,
          command,
          key: this.#key,
          timeoutMs: this.#options.timeoutMs,
          now,
          userAgent: this.#options.userAgent,
        })
      : ({
          ok: false,
          status: null,
          error: { code: 'no-control-url', message: 'no control URL is known for the instance' },
          latencyMs: 0,
        } as const);
    if (outcome.ok) {
      const { result } = outcome;
      await this.#db
        .update(instanceCommands)
        .set({
          state: result.status,
          result: storedResult(row.command, result.result),
          error: result.error ?? null,
          completedAt: this.#clock.now(),
        })
        .where(and(eq(instanceCommands.id, commandId), eq(instanceCommands.state, 'sending')));
      return;
    }
    await this.#retryLater(claimed, outcome.error);
  }

  async #retryLater(row: InstanceCommandRow, error: ControlError): Promise<void> {
    const next = Math.min(this.#clock.now().getTime() + this.#retryDelay(row.attempts), this.#expiresAt(row));
    await this.#db.transaction(async (tx) => {
      await tx
        .update(instanceCommands)
        .set({ state: 'pending', error })
        .where(and(eq(instanceCommands.id, row.id), eq(instanceCommands.state, 'sending')));
      await this.#schedule(row.id, new Date(next), tx);
    });
    this.#logger.info(
      {
        commandId: row.id,
        instanceId: row.instanceId,
        attempt: row.attempts,
        error: error.code,
        retryAt: new Date(next),
      },
      'instance command attempt failed',
    );
  }

  async #schedule(commandId: string, at: Date, tx?: Db): Promise<void> {
    await this.#queue.send(COMMAND_QUEUE, { commandId }, { startAfter: at }, tx);
  }

  /** One probe round: a signed `health` to every directory target, samples recorded, old ones pruned. */
  async probeAll(): Promise<void> {
    const targets = await this.#directory.probeTargets();
    let next = 0;
    const worker = async () => {
      while (next < targets.length) {
        const target = targets[next++]!;
        try {
          await this.#probe(target);
        } catch (error) {
          this.#logger.error({ err: error, instanceId: target.instanceId }, 'instance probe not recorded');
        }
      }
    };
    await Promise.all(Array.from({ length: Math.min(PROBE_CONCURRENCY, targets.length) }, worker));
    await this.#availability.prune();
  }

  async #probe(target: { instanceId: string; controlUrl: string }): Promise<void> {
    const at = this.#clock.now();
    // Probes are not command rows: the id only lets the instance tell one probe from another.
    const outcome = await sendCommand({
      url: target.controlUrl,
      command: { id: uuidv7(), instanceId: target.instanceId, command: 'health', args: {}, issuedAt: at.toISOString() },
      key: this.#key,
      timeoutMs: this.#options.probeTimeoutMs,
      now: at,
      userAgent: this.#options.userAgent,
    });
    const health = outcome.ok ? outcome.result.result : undefined;
    const failure = outcome.ok ? outcome.result.error : outcome.error;
    await this.#availability.record({
      instanceId: target.instanceId,
      at,
      ok: outcome.ok,
      latencyMs: outcome.latencyMs,
      status: typeof health?.status === 'string' ? health.status : null,
      error: failure ? `${failure.code}: ${failure.message}` : null,
    });
    if (typeof health?.version === 'string') {
      for (const listener of this.#versionListeners) await listener(target.instanceId, health.version);
    }
  }

  /** Told the version an instance reports in its `health` answers (the tenants module keeps it). */
  onVersionReported(listener: (instanceId: string, version: string) => Promise<void>): void {
    this.#versionListeners.push(listener);
  }
}
