import type { Clock, HealthCheck, Observation } from '@mic/platform';

export interface Outage {
  since: Date;
  error: string;
}

/** `1h 2m`, `3m 12s`, `45s`: an outage's length for a person. */
export function formatDuration(ms: number): string {
  const s = Math.max(0, Math.floor(ms / 1000));
  const [h, m, sec] = [Math.floor(s / 3600), Math.floor((s % 3600) / 60), s % 60];
  if (h > 0) return `${h}h ${m}m`;
  if (m > 0) return `${m}m ${sec}s`;
  return `${sec}s`;
}

/**
 * Whether this engine process reaches control, from the outcome of its calls (report batches,
 * and a light ping when there is nothing to send). An outage starts at the first failed call
 * after a success, or at the first call when none ever succeeded.
 */
export class ControlLink {
  readonly #clock: Clock;
  #lastContactAt: Date | null = null;
  #outage: Outage | null = null;

  constructor(clock: Clock) {
    this.#clock = clock;
  }

  succeeded(): void {
    this.#lastContactAt = this.#clock.now();
    this.#outage = null;
  }

  failed(error: string): void {
    this.#outage = { since: this.#outage?.since ?? this.#clock.now(), error };
  }

  get outage(): Outage | null {
    return this.#outage;
  }

  get lastContactAt(): Date | null {
    return this.#lastContactAt;
  }

  /** `control:reachability`: warn while control is unreachable, never fail (the engine works on without it). */
  check(controlUrl: string): HealthCheck {
    return {
      name: 'control:reachability',
      run: async (): Promise<Observation> => {
        const base = { componentId: controlUrl, componentType: 'component' };
        const outage = this.#outage;
        if (outage) {
          const ms = this.#clock.now().getTime() - outage.since.getTime();
          return {
            ...base,
            status: 'warn',
            observedValue: Math.round(ms / 1000),
            observedUnit: 's',
            output: `control unreachable for ${formatDuration(ms)} (${outage.error}); reports wait in the outbox`,
          };
        }
        return {
          ...base,
          status: 'pass',
          ...(this.#lastContactAt
            ? { observedValue: this.#lastContactAt.toISOString(), observedUnit: 'last contact' }
            : { output: 'not contacted yet' }),
        };
      },
    };
  }
}
