import { fork, type ChildProcess } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import {
  EXIT_CONFIG,
  isPlaneMessage,
  type Logger,
  type PlaneName,
  type PlaneRuntimeState,
  type SupervisorMessage,
} from '@mic/platform';
import { RestartTracker } from './backoff.ts';
import type { SupervisorConfig } from './config.ts';

export { loadSupervisorConfig } from './config.ts';

interface Plane {
  name: PlaneName;
  entry: string;
  child: ChildProcess | null;
  startedAt: number;
  url: string | null;
  tracker: RestartTracker;
  isReady: boolean;
  isStopped: boolean;
  lastExit: PlaneRuntimeState['lastExit'];
  nextRestartAt: number | null;
  timer: NodeJS.Timeout | null;
  configError: string | null;
}

export interface SupervisorOptions {
  config: SupervisorConfig;
  logger: Logger;
  /** Called once both planes have said they are ready. */
  onReady(urls: Record<PlaneName, string>): void;
  /** Prints a line for the person at the terminal. */
  say(line: string): void;
}

const ENTRIES: Record<PlaneName, string> = {
  control: fileURLToPath(import.meta.resolve('@mic/control')),
  engine: fileURLToPath(import.meta.resolve('@mic/engine')),
};

/**
 * `mic start`: runs control and engine as two child processes. A crashed plane is restarted with
 * backoff while the other keeps serving; a plane that keeps crashing is reported loudly (log and
 * control's health); a plane that stops on a configuration error is not restarted and the whole
 * supervisor stops with that one line.
 */
export class Supervisor {
  readonly #options: SupervisorOptions;
  readonly #planes: Plane[];
  #stopping = false;
  #exitCode = 0;
  #statusTimer: NodeJS.Timeout | undefined;
  #announced = false;
  #resolveDone: ((code: number) => void) | undefined;

  constructor(options: SupervisorOptions) {
    this.#options = options;
    this.#planes = (['engine', 'control'] as const).map((name) => ({
      name,
      entry: ENTRIES[name],
      child: null,
      startedAt: 0,
      url: null,
      tracker: new RestartTracker(options.config),
      isReady: false,
      isStopped: false,
      lastExit: null,
      nextRestartAt: null,
      timer: null,
      configError: null,
    }));
  }

  /** Starts both planes; resolves with the exit code once the supervisor has stopped. */
  run(): Promise<number> {
    for (const plane of this.#planes) this.#spawn(plane);
    // Restart counts age out of the window; keep control's copy current.
    this.#statusTimer = setInterval(() => this.#broadcastStatus(), 5_000);
    this.#statusTimer.unref();
    return new Promise((resolve) => {
      this.#resolveDone = resolve;
    });
  }

  status(): PlaneRuntimeState[] {
    const now = Date.now();
    return this.#planes.map((p) => ({
      plane: p.name,
      state: this.#stateOf(p, now),
      pid: p.child?.pid ?? null,
      restarts: p.tracker.restarts,
      recentRestarts: p.tracker.recentRestarts(now),
      lastExit: p.lastExit,
      nextRestartAt: p.nextRestartAt ? new Date(p.nextRestartAt).toISOString() : null,
    }));
  }

  #stateOf(plane: Plane, now: number): PlaneRuntimeState['state'] {
    if (plane.isStopped) return 'stopped';
    if (plane.tracker.isCrashLooping(now)) return 'crash-loop';
    if (!plane.child) return 'restarting';
    return plane.isReady ? 'running' : 'starting';
  }

  #spawn(plane: Plane): void {
    plane.isReady = false;
    plane.startedAt = Date.now();
    plane.nextRestartAt = null;
    const child = fork(plane.entry, ['serve'], {
      stdio: ['ignore', 'inherit', 'inherit', 'ipc'],
      env: { ...process.env, MIC_SUPERVISED: '1' },
    });
    plane.child = child;
    child.on('message', (message: unknown) => {
      if (!isPlaneMessage(message)) return;
      if (message.type === 'ready') {
        plane.url = message.url;
        plane.isReady = true;
        this.#options.logger.info({ plane: plane.name, pid: child.pid, url: message.url }, `${plane.name} is ready`);
        this.#announceIfReady();
        this.#broadcastStatus();
      } else {
        plane.configError = message.line;
      }
    });
    child.on('exit', (code, signal) => this.#onExit(plane, child, code, signal));
    this.#options.logger.info({ plane: plane.name, pid: child.pid }, `${plane.name} started`);
  }

  #announceIfReady(): void {
    if (this.#announced || !this.#planes.every((p) => p.url)) return;
    this.#announced = true;
    const urls = Object.fromEntries(this.#planes.map((p) => [p.name, p.url!])) as Record<PlaneName, string>;
    this.#options.onReady(urls);
  }

  #onExit(plane: Plane, child: ChildProcess, code: number | null, signal: NodeJS.Signals | null): void {
    if (plane.child !== child) return;
    plane.child = null;
    const now = Date.now();
    plane.lastExit = { code, signal, at: new Date(now).toISOString() };
    plane.isReady = false;
    if (this.#stopping) {
      plane.isStopped = true;
      this.#finishIfAllStopped();
      return;
    }
    if (code === EXIT_CONFIG) {
      plane.isStopped = true;
      this.#options.say(`mic: ${plane.name}: ${plane.configError ?? 'configuration error (see above)'}`);
      this.#options.logger.error({ plane: plane.name }, `${plane.name} has a configuration error; not restarting it`);
      void this.stop(EXIT_CONFIG);
      return;
    }
    const delay = plane.tracker.recordCrash(now - plane.startedAt, now);
    const isLooping = plane.tracker.isCrashLooping(now);
    plane.nextRestartAt = now + delay;
    const fields = { plane: plane.name, code, signal, restarts: plane.tracker.restarts, delayMs: delay };
    if (isLooping) {
      this.#options.logger.error(
        fields,
        `RESTART LOOP: ${plane.name} keeps crashing (${plane.tracker.recentRestarts(now)} restarts recently)`,
      );
      this.#options.say(
        `mic: ${plane.name} keeps crashing (${plane.tracker.recentRestarts(now)} restarts recently); retrying in ${Math.round(delay / 1000)} s`,
      );
    } else {
      this.#options.logger.warn(fields, `${plane.name} exited; restarting`);
    }
    plane.timer = setTimeout(() => {
      plane.timer = null;
      if (!this.#stopping) this.#spawn(plane);
    }, delay);
    this.#broadcastStatus();
  }

  /** Tells control how the planes are doing, for its health report. */
  #broadcastStatus(): void {
    const control = this.#planes.find((p) => p.name === 'control')?.child;
    if (control?.connected) {
      const message: SupervisorMessage = { type: 'supervisor-status', planes: this.status() };
      control.send(message, () => {});
    }
  }

  /** Stops both planes with SIGTERM, then SIGKILL after the shutdown timeout. */
  async stop(exitCode = 0): Promise<void> {
    if (this.#stopping) return;
    this.#stopping = true;
    this.#exitCode = exitCode;
    clearInterval(this.#statusTimer);
    this.#options.logger.info('stopping planes');
    for (const plane of this.#planes) {
      if (plane.timer) clearTimeout(plane.timer);
      plane.child?.kill('SIGTERM');
    }
    const force = setTimeout(() => {
      for (const plane of this.#planes) plane.child?.kill('SIGKILL');
    }, this.#options.config.shutdownTimeout + 5_000);
    force.unref();
    this.#finishIfAllStopped();
  }

  #finishIfAllStopped(): void {
    if (this.#planes.some((p) => p.child)) return;
    this.#resolveDone?.(this.#exitCode);
  }
}
