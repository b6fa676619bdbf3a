import { supervisorStatus, type Clock, type HealthCheck, type Logger } from '@mic/platform';
import type { Alerts } from './service.ts';

const ENGINE_UNREACHABLE = 'engine-unreachable';

function formatDuration(ms: number): string {
  const s = Math.max(0, Math.round(ms / 1000));
  return s >= 120 ? `${Math.floor(s / 60)} min` : `${s} s`;
}

/**
 * Control's own alerts about what it watches: the engine failing its health check for longer than
 * `engineAlertAfterMs`, and a plane the supervisor reports in a restart loop. Each is raised once
 * per outage and resolved when it ends; after a restart, the first good observation resolves any
 * alert left open from before.
 */
export class ControlWatch {
  readonly #alerts: Alerts;
  readonly #engineCheck: HealthCheck;
  readonly #clock: Clock;
  readonly #logger: Logger;
  readonly #engineAlertAfterMs: number;
  #engineFailingSince: number | null = null;
  /** Undefined: unknown (just started), so the first good observation resolves. */
  #isEngineAlertOpen: boolean | undefined;
  readonly #loopingAlerts = new Map<string, boolean>();

  constructor(deps: {
    alerts: Alerts;
    engineCheck: HealthCheck;
    clock: Clock;
    logger: Logger;
    engineAlertAfterMs: number;
  }) {
    this.#alerts = deps.alerts;
    this.#engineCheck = deps.engineCheck;
    this.#clock = deps.clock;
    this.#logger = deps.logger;
    this.#engineAlertAfterMs = deps.engineAlertAfterMs;
  }

  async tick(): Promise<void> {
    await this.#watchEngine();
    await this.#watchSupervisor();
  }

  async #watchEngine(): Promise<void> {
    const observed = await this.#engineCheck.run().catch((error: unknown) => ({
      status: 'fail' as const,
      output: (error as Error).message,
    }));
    const failing = (Array.isArray(observed) ? observed : [observed]).find((o) => o.status === 'fail');
    const now = this.#clock.now().getTime();
    if (!failing) {
      this.#engineFailingSince = null;
      if (this.#isEngineAlertOpen !== false) await this.#alerts.resolve(ENGINE_UNREACHABLE);
      this.#isEngineAlertOpen = false;
      return;
    }
    this.#engineFailingSince ??= now;
    const duration = now - this.#engineFailingSince;
    if (duration < this.#engineAlertAfterMs || this.#isEngineAlertOpen) return;
    this.#logger.warn({ output: failing.output }, 'engine unreachable: alerting');
    await this.#alerts.raise({
      key: ENGINE_UNREACHABLE,
      type: ENGINE_UNREACHABLE,
      severity: 'critical',
      message: `The engine has failed its health check for ${formatDuration(duration)}: ${failing.output ?? 'no answer'}`,
      details: { since: new Date(this.#engineFailingSince).toISOString(), output: failing.output ?? null },
    });
    this.#isEngineAlertOpen = true;
  }

  async #watchSupervisor(): Promise<void> {
    for (const plane of supervisorStatus()) {
      const key = `restart-loop:${plane.plane}`;
      const wasOpen = this.#loopingAlerts.get(key);
      if (plane.state === 'crash-loop') {
        if (wasOpen) continue;
        await this.#alerts.raise({
          key,
          type: 'restart-loop',
          severity: 'critical',
          message: `The ${plane.plane} keeps crashing: ${plane.recentRestarts} restarts recently, last exit ${plane.lastExit?.code ?? plane.lastExit?.signal ?? 'unknown'}`,
          details: { restarts: plane.restarts, recentRestarts: plane.recentRestarts, lastExit: plane.lastExit },
        });
        this.#loopingAlerts.set(key, true);
      } else if (plane.state === 'running' && wasOpen !== false) {
        await this.#alerts.resolve(key);
        this.#loopingAlerts.set(key, false);
      }
    }
  }
}
