/**
 * Restart bookkeeping for one plane: exponential backoff with jitter, and restart-loop detection
 * over a sliding window. Pure, so it is tested without processes.
 */
export interface RestartPolicy {
  backoffMin: number;
  backoffMax: number;
  stableAfter: number;
  crashLoopRestarts: number;
  crashLoopWindow: number;
}

export class RestartTracker {
  readonly #policy: RestartPolicy;
  readonly #random: () => number;
  #restartTimes: number[] = [];
  #consecutive = 0;
  restarts = 0;

  constructor(policy: RestartPolicy, random: () => number = Math.random) {
    this.#policy = policy;
    this.#random = random;
  }

  /** Records a crash after `uptimeMs` of running at `now`; returns the delay before restarting. */
  recordCrash(uptimeMs: number, now: number): number {
    if (uptimeMs >= this.#policy.stableAfter) this.#consecutive = 0;
    this.#consecutive += 1;
    this.restarts += 1;
    this.#restartTimes = [...this.#restartTimes.filter((t) => now - t < this.#policy.crashLoopWindow), now];
    const base = Math.min(this.#policy.backoffMax, this.#policy.backoffMin * 2 ** (this.#consecutive - 1));
    // ±20 % jitter so that planes restarting together do not hit the database in step.
    return Math.round(base * (0.8 + 0.4 * this.#random()));
  }

  recentRestarts(now: number): number {
    return this.#restartTimes.filter((t) => now - t < this.#policy.crashLoopWindow).length;
  }

  isCrashLooping(now: number): boolean {
    return this.recentRestarts(now) >= this.#policy.crashLoopRestarts;
  }
}
