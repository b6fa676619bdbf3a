import { randomBytes } from 'node:crypto';
import { createServer, type IncomingHttpHeaders, type IncomingMessage, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import Value from 'typebox/value';
import {
  createControlHandler,
  createDeliveryHandler,
  MemoryControlCommandStore,
  PROBLEM_CONTENT_TYPE,
  type ControlCommandContext,
  type ControlHandler,
  type ControlRejectionReason,
  type ControlResult,
  type DeliveredEvent,
  type DeliveryReply,
  type DeliveryRejectionReason,
  type ProblemDetails,
} from '@mic/nexus-sdk';
import {
  ControlModeRequest,
  SimModeRequest,
  effectiveControlMode,
  effectiveMode,
  type ControlMode,
  type ControlModeName,
  type SimMode,
  type SimModeName,
} from './modes.ts';

export interface NexusSimOptions {
  /** Port to listen on; 0 (the default) picks a free one. */
  port?: number;
  /** Address to listen on; 127.0.0.1 by default. */
  host?: string;
  /** The instance's delivery signing secrets (`whsec_…`), several during a rotation. */
  secrets: readonly string[];
  /** The mode to start in; `ok` by default. */
  mode?: SimModeRequest;
  /** How far `webhook-timestamp` may be from now, in seconds (default 300). */
  toleranceSeconds?: number;
  /** The clock for timestamps checks, arrival times and `fail-for`; the system clock by default. */
  now?: () => Date;
  /** Told of every delivery, command, refusal and mode change, for a log line. */
  log?: (entry: Record<string, unknown>) => void;
  /**
   * Control's public key(s) (PEM, or base64 of the raw key or its SPKI DER): enables `POST /control`,
   * which takes control's signed commands. Without it `/control` answers 404.
   */
  controlPublicKey?: string | readonly string[];
  /** The instance id commands must name; any by default. */
  instanceId?: string;
  /** The control mode to start in; `ok` by default. */
  controlMode?: ControlModeRequest;
  /** The version the `health` command reports. */
  version?: string;
}

/** One verified delivery attempt, as the simulator received it. */
export interface ReceivedDelivery {
  /** The `webhook-id` header (equal to `id`). */
  webhookId: string;
  id: string;
  type: string;
  conversation: { id: string; seq: number } | null;
  /** 1 for the first attempt of this webhook-id, 2 for the next, … */
  attempt: number;
  /** When the attempt arrived (ISO 8601). */
  receivedAt: string;
  headers: Record<string, string>;
  /** The mode in force when it arrived. */
  mode: SimModeName;
  /** What the simulator answered; null while it has not answered (slow, or hang). */
  status: number | null;
  event: DeliveredEvent;
}

/** A delivery that failed verification (answered 401 or 400). */
export interface RejectedDelivery {
  webhookId: string | null;
  reason: DeliveryRejectionReason;
  detail: string;
  receivedAt: string;
  headers: Record<string, string>;
}

/** One verified control command attempt, as the simulator received it. */
export interface ReceivedCommand {
  id: string;
  command: string;
  instanceId: string;
  args: Record<string, unknown>;
  /** 1 for the first attempt of this command id, 2 for the next, … */
  attempt: number;
  /** When the attempt arrived (ISO 8601). */
  receivedAt: string;
  /** The `mic-key-id` of the key whose signature matched. */
  keyId: string;
  /** The control mode in force when it arrived. */
  mode: ControlModeName;
  /** The id had been seen before: answered with the recorded result, nothing ran. */
  isReplay: boolean;
  /** The command ran on this attempt (changed the simulated instance). */
  executed: boolean;
  /** What the simulator answered; null while it has not answered (slow, or hang). */
  status: number | null;
  /** The result answered (200), null otherwise. */
  result: ControlResult | null;
}

/** A control command that failed verification (answered 401 or 400). */
export interface RejectedCommand {
  commandId: string | null;
  reason: ControlRejectionReason;
  detail: string;
  receivedAt: string;
  headers: Record<string, string>;
}

/** The simulated instance, as control's commands leave it. */
export interface SimInstance {
  state: 'active' | 'paused';
  /** The reason of the last pause or resume. */
  stateReason: string | null;
  startedAt: string;
  backups: { backupId: string; label: string | null; sizeBytes: number; createdAt: string }[];
  passwordResets: { username: string; resetUrl: string; expiresAt: string }[];
}

/** What `GET /sim/received` says of the control endpoint. */
export interface ControlReport {
  mode: ControlMode;
  instance: SimInstance;
  commands: ReceivedCommand[];
  /** Runs per command id: a command runs once however often it arrives. */
  executions: Record<string, number>;
  rejected: RejectedCommand[];
}

/** What `GET /sim/received` answers. */
export interface SimReport {
  mode: SimMode;
  deliveries: ReceivedDelivery[];
  /** Attempts per webhook-id. */
  attempts: Record<string, number>;
  rejected: RejectedDelivery[];
  control: ControlReport;
}

export interface NexusSim {
  /** Base URL, e.g. `http://127.0.0.1:4317`; deliveries are accepted on any path outside `/sim/`. */
  url: string;
  port: number;
  /** Every verified delivery attempt, in order of arrival. */
  received: () => ReceivedDelivery[];
  /** Verified attempts per webhook-id. */
  attempts: () => Record<string, number>;
  rejected: () => RejectedDelivery[];
  /** Forgets everything received (deliveries, attempts, commands, rejections); the instance keeps its state. */
  clear: () => void;
  mode: () => SimMode;
  setMode: (mode: SimModeRequest) => SimMode;
  /** Every verified control command attempt, in order of arrival. */
  commands: () => ReceivedCommand[];
  /** The simulated instance: state, backups, password resets. */
  instance: () => SimInstance;
  /** The control endpoint's view: mode, instance, commands, executions, rejections. */
  control: () => ControlReport;
  controlMode: () => ControlMode;
  setControlMode: (mode: ControlModeRequest) => ControlMode;
  /** Resolves with the received commands once `until` holds for them; rejects after `timeoutMs` (default 10 s). */
  waitForCommands: (
    until: (commands: readonly ReceivedCommand[]) => boolean,
    timeoutMs?: number,
  ) => Promise<ReceivedCommand[]>;
  /** Resolves with the received attempts once `until` holds for them; rejects after `timeoutMs` (default 10 s). */
  waitFor: (
    until: (received: readonly ReceivedDelivery[]) => boolean,
    timeoutMs?: number,
  ) => Promise<ReceivedDelivery[]>;
  /** Stops listening and ends every connection, hanging ones included. */
  stop: () => Promise<void>;
}

const flatHeaders = (headers: IncomingHttpHeaders): Record<string, string> =>
  Object.fromEntries(
    Object.entries(headers)
      .filter((entry): entry is [string, string | string[]] => entry[1] !== undefined)
      .map(([name, value]) => [name, Array.isArray(value) ? value.join(', ') : value]),
  );

function sendJson(response: ServerResponse, status: number, body?: unknown, contentType = 'application/json') {
  if (body === undefined) {
    response.writeHead(status).end();
    return;
  }
  const text = JSON.stringify(body);
  response.writeHead(status, { 'content-type': contentType, 'content-length': Buffer.byteLength(text) }).end(text);
}

const sendProblem = (response: ServerResponse, problem: ProblemDetails) =>
  sendJson(response, problem.status, problem, PROBLEM_CONTENT_TYPE);

async function readJson(request: IncomingMessage, limit = 16_384): Promise<unknown> {
  const chunks: Buffer[] = [];
  let size = 0;
  for await (const chunk of request as AsyncIterable<Buffer>) {
    size += chunk.length;
    if (size > limit) throw new SyntaxError('body too large');
    chunks.push(chunk);
  }
  return JSON.parse(Buffer.concat(chunks).toString('utf8'));
}

/**
 * A reference Nexus instance: it takes the engine's deliveries with @mic/nexus-sdk, records each
 * attempt, and answers as its mode says, so tests can make an instance slow, failing, rate
 * limited, gone or silent. Control API: `GET /sim/received`, `DELETE /sim/received`,
 * `GET /sim/mode`, `POST /sim/mode`; `GET /livez` for a process supervisor.
 */
export async function startNexusSim(options: NexusSimOptions): Promise<NexusSim> {
  const now = options.now ?? (() => new Date());
  const log = options.log ?? (() => undefined);
  // Known once listening; password-reset links point at the simulator itself.
  let simUrl = '';
  let mode: SimMode = effectiveMode(options.mode ?? { mode: 'ok' }, now());
  let deliveries: ReceivedDelivery[] = [];
  let attempts = new Map<string, number>();
  let rejected: RejectedDelivery[] = [];
  let controlMode: ControlMode = effectiveControlMode(options.controlMode ?? { mode: 'ok' }, now());
  let commands: ReceivedCommand[] = [];
  let commandAttempts = new Map<string, number>();
  let executions = new Map<string, number>();
  let commandsRejected: RejectedCommand[] = [];
  const instance: SimInstance = {
    state: 'active',
    stateReason: null,
    startedAt: now().toISOString(),
    backups: [],
    passwordResets: [],
  };
  const watchers = new Set<() => void>();
  const notify = () => watchers.forEach((watcher) => watcher());
  // Aborted on stop: ends `slow` waits and `hang`s so nothing outlives the simulator.
  const stopping = new AbortController();
  const waitUnlessStopped = (ms: number) =>
    new Promise<void>((resolve) => {
      if (stopping.signal.aborted) return resolve();
      const timer = ms === Infinity ? undefined : setTimeout(resolve, ms);
      stopping.signal.addEventListener(
        'abort',
        () => {
          clearTimeout(timer);
          resolve();
        },
        { once: true },
      );
    });

  const setMode = (request: SimModeRequest): SimMode => {
    mode = effectiveMode(request, now());
    log({ msg: 'mode', ...mode });
    return mode;
  };

  /** The answer the current mode gives, once it is due. */
  async function answer(current: SimMode): Promise<DeliveryReply | null> {
    switch (current.mode) {
      case 'ok':
        return { status: 204 };
      case 'slow':
        await waitUnlessStopped(current.delayMs);
        return { status: 204 };
      case 'fail-500':
        return { status: 500 };
      case 'rate-limited':
        return { status: 429, headers: { 'retry-after': String(current.retryAfterSeconds) } };
      case 'unavailable':
        return { status: 503, headers: { 'retry-after': String(current.retryAfterSeconds) } };
      case 'gone':
        return { status: 410 };
      case 'hang':
        await waitUnlessStopped(Infinity);
        return null;
      case 'fail-for':
        return now().getTime() < Date.parse(current.until) ? { status: 500 } : { status: 204 };
    }
  }

  const deliveryHandler = createDeliveryHandler(
    options.secrets,
    async (event, context) => {
      const attempt = (attempts.get(context.webhookId) ?? 0) + 1;
      attempts.set(context.webhookId, attempt);
      const current = mode;
      const record: ReceivedDelivery = {
        webhookId: context.webhookId,
        id: event.id,
        type: event.type,
        conversation: event.conversation,
        attempt,
        receivedAt: now().toISOString(),
        headers: flatHeaders(context.headers),
        mode: current.mode,
        status: null,
        event,
      };
      deliveries.push(record);
      notify();
      const reply = await answer(current);
      record.status = reply?.status ?? null;
      notify();
      log({ msg: 'delivery', id: event.id, type: event.type, attempt, mode: current.mode, status: record.status });
      // A hang ended by stop: the connection is being destroyed, there is no one to answer.
      return reply ?? { status: 503 };
    },
    {
      ...(options.toleranceSeconds === undefined ? {} : { toleranceSeconds: options.toleranceSeconds }),
      now,
      onRejected: (error, request) => {
        rejected.push({
          webhookId: error.webhookId ?? null,
          reason: error.reason,
          detail: error.message,
          receivedAt: now().toISOString(),
          headers: flatHeaders(request.headers),
        });
        log({ msg: 'rejected', webhookId: error.webhookId, reason: error.reason, detail: error.message });
      },
    },
  );

  const controlHandler = options.controlPublicKey === undefined ? undefined : createSimControlHandler();

  /** Control's commands, through the SDK's handler; the mode applies before a command runs. */
  function createSimControlHandler(): ControlHandler {
    const store = new MemoryControlCommandStore(now);
    const byRequest = new WeakMap<IncomingMessage, ReceivedCommand>();
    async function inMode(context: ControlCommandContext): Promise<void> {
      const current = controlMode;
      if (current.mode === 'slow') await waitUnlessStopped(current.delayMs);
      if (current.mode === 'hang') await waitUnlessStopped(Infinity);
      if (current.mode === 'fail-500' || current.mode === 'hang') throw new Error(`control mode ${current.mode}`);
      if (current.mode === 'fail-for' && now().getTime() < Date.parse(current.until)) {
        throw new Error('control mode fail-for');
      }
      executions.set(context.id, (executions.get(context.id) ?? 0) + 1);
      const record = byRequest.get(context.request);
      if (record) record.executed = true;
    }
    const setState = (state: SimInstance['state'], reason: string | undefined) => {
      instance.state = state;
      instance.stateReason = reason ?? null;
      log({ msg: 'state', state, reason });
      return { state };
    };
    const handler = createControlHandler({
      publicKeys: typeof options.controlPublicKey === 'string' ? [options.controlPublicKey] : options.controlPublicKey!,
      ...(options.instanceId === undefined ? {} : { instanceId: options.instanceId }),
      ...(options.toleranceSeconds === undefined ? {} : { toleranceSeconds: options.toleranceSeconds }),
      now,
      store,
      handlers: {
        pause: async ({ reason }, context) => (await inMode(context), setState('paused', reason)),
        resume: async ({ reason }, context) => (await inMode(context), setState('active', reason)),
        health: async (_args, context) => {
          await inMode(context);
          const uptimeSeconds = Math.max(0, Math.floor((now().getTime() - Date.parse(instance.startedAt)) / 1000));
          return { status: 'pass', version: options.version ?? '0.1.0-sim', uptimeSeconds };
        },
        backup: async ({ label }, context) => {
          await inMode(context);
          const backup = {
            backupId: `bkp_${randomBytes(8).toString('hex')}`,
            label: label ?? null,
            sizeBytes: 1_048_576,
            createdAt: now().toISOString(),
          };
          instance.backups.push(backup);
          return { backupId: backup.backupId, sizeBytes: backup.sizeBytes, createdAt: backup.createdAt };
        },
        passwordReset: async ({ username }, context) => {
          await inMode(context);
          const reset = {
            username: username ?? 'admin',
            resetUrl: `${simUrl}/reset-password/${randomBytes(16).toString('hex')}`,
            expiresAt: new Date(now().getTime() + 3_600_000).toISOString(),
          };
          instance.passwordResets.push(reset);
          return { resetUrl: reset.resetUrl, expiresAt: reset.expiresAt };
        },
      },
      onVerified: (command, context) => {
        const attempt = (commandAttempts.get(command.id) ?? 0) + 1;
        commandAttempts.set(command.id, attempt);
        const record: ReceivedCommand = {
          id: command.id,
          command: command.command,
          instanceId: command.instanceId,
          args: command.args,
          attempt,
          receivedAt: now().toISOString(),
          keyId: context.keyId,
          mode: controlMode.mode,
          isReplay: context.isReplay,
          executed: false,
          status: null,
          result: null,
        };
        commands.push(record);
        byRequest.set(context.request, record);
        notify();
      },
      onRejected: (error, request) => {
        commandsRejected.push({
          commandId: error.commandId ?? null,
          reason: error.reason,
          detail: error.message,
          receivedAt: now().toISOString(),
          headers: flatHeaders(request.headers),
        });
        log({ msg: 'command rejected', commandId: error.commandId, reason: error.reason, detail: error.message });
      },
      onError: (error, command) =>
        log({ msg: 'command not run', id: command.id, command: command.command, error: String(error) }),
    });
    return (request, response) => {
      response.once('finish', () => {
        const record = byRequest.get(request);
        if (!record) return;
        record.status = response.statusCode;
        if (response.statusCode === 200) record.result = store.get(record.id) ?? null;
        log({ msg: 'command', id: record.id, command: record.command, attempt: record.attempt, status: record.status });
        notify();
      });
      handler(request, response);
    };
  }

  const controlReport = (): ControlReport => ({
    mode: controlMode,
    instance: structuredClone(instance),
    commands: commands.map((c) => ({ ...c })),
    executions: Object.fromEntries(executions),
    rejected: commandsRejected.map((r) => ({ ...r })),
  });
  const setControlMode = (request: ControlModeRequest): ControlMode => {
    controlMode = effectiveControlMode(request, now());
    log({ msg: 'control mode', ...controlMode });
    return controlMode;
  };
  const report = (): SimReport => ({
    mode,
    deliveries: deliveries.map((d) => ({ ...d })),
    attempts: Object.fromEntries(attempts),
    rejected: rejected.map((r) => ({ ...r })),
    control: controlReport(),
  });
  const clear = () => {
    deliveries = [];
    attempts = new Map();
    rejected = [];
    commands = [];
    commandAttempts = new Map();
    executions = new Map();
    commandsRejected = [];
  };

  async function readBodyAs<T>(
    request: IncomingMessage,
    response: ServerResponse,
    isValid: (body: unknown) => body is T,
    expected: string,
  ): Promise<T | null> {
    let body: unknown;
    try {
      body = await readJson(request);
    } catch {
      sendProblem(response, { type: '/problems/invalid-json', title: 'The body is not valid JSON', status: 400 });
      return null;
    }
    if (isValid(body)) return body;
    sendProblem(response, {
      type: '/problems/validation',
      title: 'The request is not valid',
      status: 400,
      detail: `expected ${expected}`,
    });
    return null;
  }

  async function control(request: IncomingMessage, response: ServerResponse, path: string): Promise<void> {
    const route = `${request.method} ${path}`;
    if (route === 'GET /sim/received') return sendJson(response, 200, report());
    if (route === 'DELETE /sim/received') {
      clear();
      return sendJson(response, 204);
    }
    if (route === 'GET /sim/mode') return sendJson(response, 200, mode);
    if (route === 'POST /sim/mode') {
      const body = await readBodyAs(
        request,
        response,
        (value): value is SimModeRequest => Value.Check(SimModeRequest, value),
        '{"mode":"ok"|"fail-500"|"gone"|"hang"}, {"mode":"slow","delayMs":n}, ' +
          '{"mode":"rate-limited"|"unavailable","retryAfterSeconds"?:n} or {"mode":"fail-for","durationMs":n}',
      );
      if (body) sendJson(response, 200, setMode(body));
      return;
    }
    if (route === 'GET /sim/control/mode') return sendJson(response, 200, controlMode);
    if (route === 'POST /sim/control/mode') {
      const body = await readBodyAs(
        request,
        response,
        (value): value is ControlModeRequest => Value.Check(ControlModeRequest, value),
        '{"mode":"ok"|"fail-500"|"hang"}, {"mode":"slow","delayMs":n} or {"mode":"fail-for","durationMs":n}',
      );
      if (body) sendJson(response, 200, setControlMode(body));
      return;
    }
    return sendProblem(response, { type: '/problems/not-found', title: 'Not found', status: 404, detail: route });
  }

  const server = createServer((request, response) => {
    const path = new URL(request.url ?? '/', 'http://sim').pathname;
    if (path === '/livez' && request.method === 'GET') return sendJson(response, 200, { status: 'pass' });
    if (path === '/sim' || path.startsWith('/sim/')) {
      control(request, response, path).catch(() => {
        if (!response.headersSent)
          sendProblem(response, { type: '/problems/internal', title: 'Internal error', status: 500 });
      });
      return;
    }
    if (path === '/control') {
      if (controlHandler) return controlHandler(request, response);
      request.resume();
      return sendProblem(response, {
        type: '/problems/not-found',
        title: 'This simulator takes no control commands',
        status: 404,
        detail: 'start it with controlPublicKey (NEXUS_SIM_CONTROL_PUBLIC_KEY)',
      });
    }
    deliveryHandler(request, response);
  });

  const host = options.host ?? '127.0.0.1';
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(options.port ?? 0, host, () => {
      server.off('error', reject);
      resolve();
    });
  });
  const { port } = server.address() as AddressInfo;
  const urlHost = host === '0.0.0.0' || host === '::' ? '127.0.0.1' : host.includes(':') ? `[${host}]` : host;
  simUrl = `http://${urlHost}:${port}`;

  function waitUntil<T>(
    what: string,
    items: () => readonly T[],
    until: (items: readonly T[]) => boolean,
    copy: () => T[],
    timeoutMs: number,
  ): Promise<T[]> {
    return new Promise((resolve, reject) => {
      const check = () => {
        if (!until(items())) return;
        cleanup();
        resolve(copy());
      };
      const timer = setTimeout(() => {
        cleanup();
        reject(new Error(`nexus-sim: not satisfied within ${timeoutMs} ms (${items().length} ${what} received)`));
      }, timeoutMs);
      const cleanup = () => {
        clearTimeout(timer);
        watchers.delete(check);
      };
      watchers.add(check);
      check();
    });
  }

  let stopped: Promise<void> | undefined;
  return {
    url: simUrl,
    port,
    received: () => report().deliveries,
    attempts: () => report().attempts,
    rejected: () => report().rejected,
    clear,
    mode: () => mode,
    setMode,
    waitFor: (until, timeoutMs = 10_000) =>
      waitUntil(
        'deliveries',
        () => deliveries,
        until,
        () => report().deliveries,
        timeoutMs,
      ),
    commands: () => controlReport().commands,
    instance: () => controlReport().instance,
    control: controlReport,
    controlMode: () => controlMode,
    setControlMode,
    waitForCommands: (until, timeoutMs = 10_000) =>
      waitUntil(
        'commands',
        () => commands,
        until,
        () => controlReport().commands,
        timeoutMs,
      ),
    stop: () => {
      stopped ??= new Promise<void>((resolve) => {
        stopping.abort();
        server.close(() => resolve());
        server.closeAllConnections();
      });
      return stopped;
    },
  };
}
