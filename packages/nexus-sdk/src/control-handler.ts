import type { IncomingHttpHeaders, IncomingMessage, ServerResponse } from 'node:http';
import Value from 'typebox/value';
import {
  CONTROL_COMMAND_SCHEMAS,
  CONTROL_ERROR_CODES,
  type ControlArgs,
  type ControlCommand,
  type ControlCommandName,
  type ControlResult,
  type ControlResultOf,
} from '@mic/contracts';
import {
  ControlVerificationError,
  controlKeys,
  verifyControlCommandWithKeys,
  type ControlKey,
  type VerifiedControlCommand,
  type VerifyControlOptions,
} from './control-verify.ts';
import { readPostedBody, send, sendProblem } from './handler.ts';

/** What a command handler learns besides the args. */
export interface ControlCommandContext {
  /** The command id, the same on every attempt. */
  id: string;
  instanceId: string;
  issuedAt: Date;
  /** When control signed this attempt. */
  signedAt: Date;
  /** Which of control's keys signed it. */
  keyId: string;
  headers: IncomingHttpHeaders;
  request: IncomingMessage;
}

/**
 * Runs one command and returns its result; the SDK answers it and records it under the command id.
 * Throw a ControlCommandError for a failure to record and answer (`status: 'failed'`); any other
 * error answers 500, is not recorded, and control tries again later.
 */
export type ControlCommandHandler<C extends ControlCommandName> = (
  args: ControlArgs<C>,
  context: ControlCommandContext,
) => ControlResultOf<C> | Promise<ControlResultOf<C>>;

export interface ControlHandlers {
  pause?: ControlCommandHandler<'pause'>;
  resume?: ControlCommandHandler<'resume'>;
  passwordReset?: ControlCommandHandler<'password-reset'>;
  backup?: ControlCommandHandler<'backup'>;
  health?: ControlCommandHandler<'health'>;
}

/** A definite failure of a command: answered as `{ status: 'failed', error: { code, message } }` and recorded. */
export class ControlCommandError extends Error {
  readonly code: string;
  constructor(code: string, message: string) {
    super(message);
    this.name = 'ControlCommandError';
    this.code = code;
  }
}

/**
 * Where the results of commands are kept, so a command id seen again gets the same answer without
 * running the command twice. Keep a result until `keepUntil`. The default is in memory (one
 * process, lost on restart); give a durable one (a table) when a repeated command must never run
 * again, e.g. a backup after a restart.
 */
export interface ControlCommandStore {
  get(id: string): ControlResult | undefined | Promise<ControlResult | undefined>;
  set(id: string, result: ControlResult, keepUntil: Date): void | Promise<void>;
}

/** The default store: a map that forgets results after their `keepUntil`. */
export class MemoryControlCommandStore implements ControlCommandStore {
  readonly #results = new Map<string, { result: ControlResult; keepUntil: number }>();
  readonly #now: () => Date;
  #nextSweep = 0;

  constructor(now: () => Date = () => new Date()) {
    this.#now = now;
  }

  get(id: string): ControlResult | undefined {
    const entry = this.#results.get(id);
    return entry && entry.keepUntil > this.#now().getTime() ? entry.result : undefined;
  }

  set(id: string, result: ControlResult, keepUntil: Date): void {
    const now = this.#now().getTime();
    // Sweep at most once a minute: a map iteration per command would cost more than the memory.
    if (now >= this.#nextSweep) {
      for (const [key, entry] of this.#results) if (entry.keepUntil <= now) this.#results.delete(key);
      this.#nextSweep = now + 60_000;
    }
    this.#results.set(id, { result, keepUntil: keepUntil.getTime() });
  }

  get size(): number {
    return this.#results.size;
  }
}

export interface ControlHandlerOptions {
  /** Control's public keys (PEM, or base64 raw or SPKI DER); a function, so a rotation needs no restart. */
  publicKeys: readonly string[] | (() => readonly string[]);
  /** One function per command the instance supports; the others are answered `unsupported-command`. */
  handlers: ControlHandlers;
  /** This instance's id: a command for another one is refused with 400 (`wrong-instance`). */
  instanceId?: string;
  /** How far `mic-timestamp` may be from now, in seconds. Default 300. */
  toleranceSeconds?: number;
  /**
   * How long a result is kept, in seconds: control retries a command (same id, fresh signature)
   * until it expires, 24 h by default, and a retry after a lost answer must not run it again.
   * Default 48 h; never less than twice the tolerance, so a replayed request is always recognised.
   */
  retentionSeconds?: number;
  /** The clock for timestamp checks and retention; the system clock by default. */
  now?: () => Date;
  /** Where results are kept; in memory by default. */
  store?: ControlCommandStore;
  /** Largest body accepted, in bytes (413 above it). Default 64 KiB. */
  maxBodyBytes?: number;
  /** Told of every authentic command, replays included (`isReplay`), before it is handled. */
  onVerified?: (command: ControlCommand, context: ControlCommandContext & { isReplay: boolean }) => void;
  /** Told of every refused command (401 or 400). */
  onRejected?: (error: ControlVerificationError, request: IncomingMessage) => void;
  /** Told when a handler throws something other than a ControlCommandError; `console.error` by default. */
  onError?: (error: unknown, command: ControlCommand) => void;
}

export type ControlHandler = (request: IncomingMessage, response: ServerResponse) => void;

export const DEFAULT_CONTROL_RETENTION_SECONDS = 48 * 3600;
const DEFAULT_MAX_BODY_BYTES = 65_536;

const HANDLER_OF: Record<ControlCommandName, keyof ControlHandlers> = {
  pause: 'pause',
  resume: 'resume',
  'password-reset': 'passwordReset',
  backup: 'backup',
  health: 'health',
};

const isKnownCommand = (name: string): name is ControlCommandName => Object.hasOwn(HANDLER_OF, name);

/** A handler's failure that must not be recorded: control tries again. */
class TransientFailure extends Error {}

/**
 * A request listener for control's commands: it reads the raw body, verifies it (see
 * `verifyControlCommand`), runs the matching handler once per command id and answers 200 with a
 * ControlResult; a command id seen before gets the recorded result again, without running anything.
 *
 * - 401 problem details: missing headers, bad or stale timestamp, no matching signature.
 * - 400: a signed body that is not a command, or a command for another instance.
 * - 200 `failed` with `unsupported-command`: a command the instance has no handler for (recorded,
 *   so control does not retry it); `invalid-args`: args that do not match the command's schema.
 * - 500: the handler threw something other than a ControlCommandError; control retries later.
 */
export function createControlHandler(options: ControlHandlerOptions): ControlHandler {
  const keysNow = typeof options.publicKeys === 'function' ? options.publicKeys : () => options.publicKeys as string[];
  let cached: { given: readonly string[]; keys: ControlKey[] } = { given: keysNow(), keys: controlKeys(keysNow()) };
  const keys = () => {
    const current = keysNow();
    if (current !== cached.given) cached = { given: current, keys: controlKeys(current) };
    return cached.keys;
  };
  const now = options.now ?? (() => new Date());
  const toleranceSeconds = options.toleranceSeconds ?? 300;
  const retentionMs =
    Math.max(options.retentionSeconds ?? DEFAULT_CONTROL_RETENTION_SECONDS, 2 * toleranceSeconds) * 1000;
  const store = options.store ?? new MemoryControlCommandStore(now);
  const maxBodyBytes = options.maxBodyBytes ?? DEFAULT_MAX_BODY_BYTES;
  const onError =
    options.onError ??
    ((error: unknown, command: ControlCommand) =>
      console.error(`nexus-sdk: the ${command.command} handler failed on command ${command.id}:`, error));
  // A retry that arrives while the first attempt still runs waits for that run instead of starting another.
  const running = new Map<string, Promise<ControlResult>>();

  async function execute(command: ControlCommand, context: ControlCommandContext): Promise<ControlResult> {
    const base = { id: command.id, command: command.command };
    const failed = (code: string, message: string): ControlResult => ({
      ...base,
      status: 'failed',
      error: { code, message },
    });
    const name = command.command;
    const handler = isKnownCommand(name) ? options.handlers[HANDLER_OF[name]] : undefined;
    if (!isKnownCommand(name) || !handler) {
      return failed(CONTROL_ERROR_CODES.unsupportedCommand, `this instance does not support ${name}`);
    }
    const schemas = CONTROL_COMMAND_SCHEMAS[name];
    if (!Value.Check(schemas.args, command.args)) {
      const detail = [...Value.Errors(schemas.args, command.args)]
        .map((e) => `${e.instancePath || 'args'}: ${e.message}`)
        .join('; ');
      return failed(CONTROL_ERROR_CODES.invalidArgs, detail);
    }
    let result: unknown;
    try {
      result = await (handler as (args: unknown, context: ControlCommandContext) => unknown)(command.args, context);
    } catch (error) {
      if (error instanceof ControlCommandError) return failed(error.code, error.message);
      onError(error, command);
      throw new TransientFailure();
    }
    if (!Value.Check(schemas.result, result)) {
      onError(new TypeError(`the ${name} handler returned something that is not a ${name} result`), command);
      throw new TransientFailure();
    }
    return { ...base, status: 'succeeded', result };
  }

  async function resultOf(verified: VerifiedControlCommand, request: IncomingMessage): Promise<ControlResult> {
    const { command, signedAt, keyId } = verified;
    const context: ControlCommandContext = {
      id: command.id,
      instanceId: command.instanceId,
      issuedAt: new Date(command.issuedAt),
      signedAt,
      keyId,
      headers: request.headers,
      request,
    };
    const inFlight = running.get(command.id);
    const recorded = inFlight ? undefined : await store.get(command.id);
    options.onVerified?.(command, { ...context, isReplay: Boolean(inFlight ?? recorded) });
    if (inFlight) return inFlight;
    if (recorded) return recorded;
    const run = execute(command, context).then(async (result) => {
      await store.set(command.id, result, new Date(now().getTime() + retentionMs));
      return result;
    });
    running.set(command.id, run);
    try {
      return await run;
    } finally {
      running.delete(command.id);
    }
  }

  async function handle(request: IncomingMessage, response: ServerResponse): Promise<void> {
    const instance = request.url?.split('?')[0];
    const body = await readPostedBody(request, response, maxBodyBytes, 'Control commands');
    if (body === null) return;

    let verified: VerifiedControlCommand;
    try {
      const verifyOptions: VerifyControlOptions = { toleranceSeconds, now: now() };
      if (options.instanceId !== undefined) verifyOptions.instanceId = options.instanceId;
      verified = verifyControlCommandWithKeys(body, request.headers, keys(), verifyOptions);
    } catch (error) {
      if (!(error instanceof ControlVerificationError)) throw error;
      options.onRejected?.(error, request);
      return sendProblem(response, {
        type: `/problems/control-${error.reason}`,
        title:
          error.status === 400
            ? 'The command is not for this instance or not a command'
            : 'The command is not authentic',
        status: error.status,
        detail: error.message,
        reason: error.reason,
        ...(error.errors.length ? { errors: error.errors } : {}),
        ...(instance ? { instance } : {}),
      });
    }

    let result: ControlResult;
    try {
      result = await resultOf(verified, request);
    } catch (error) {
      if (!(error instanceof TransientFailure)) onError(error, verified.command);
      return sendProblem(response, {
        type: '/problems/control-not-processed',
        title: 'The instance could not run the command now',
        status: 500,
        ...(instance ? { instance } : {}),
      });
    }
    send(response, 200, { 'content-type': 'application/json' }, JSON.stringify(result));
  }

  return (request, response) => {
    handle(request, response).catch((error: unknown) => {
      console.error('nexus-sdk: control handler failed:', error);
      sendProblem(response, { type: '/problems/internal', title: 'Internal error', status: 500 });
    });
  };
}
