import { parseDuration } from '@mic/platform';

/**
 * The retry schedule: the delay before each attempt, the first usually 0. Default, from
 * DESIGN.md: immediately, 5 s, 5 min, 30 min, 2 h, 5 h, 10 h, 10 h.
 */
export const DEFAULT_RETRY_SCHEDULE = '0s,5s,5m,30m,2h,5h,10h,10h';

export function parseSchedule(raw: string): number[] {
  const steps = raw.split(',').map((s) => s.trim());
  if (steps.length === 0 || steps.some((s) => s === ''))
    throw new Error('expected a comma-separated list of durations');
  return steps.map(parseDuration);
}

/**
 * The delay before the next attempt after `attemptsMade` attempts, with ±10 % jitter so that
 * retries of a burst spread out; null once the schedule is exhausted (dead letter).
 */
export function nextDelay(
  schedule: readonly number[],
  attemptsMade: number,
  random: () => number = Math.random,
): number | null {
  const base = schedule[attemptsMade];
  if (base === undefined) return null;
  return Math.round(base * (0.9 + 0.2 * random()));
}

/** `Retry-After` as seconds or an HTTP date; null when absent or unreadable. */
export function retryAfterMs(header: string | null, now: Date): number | null {
  if (!header) return null;
  const seconds = Number(header);
  if (Number.isFinite(seconds) && seconds >= 0) return Math.round(seconds * 1000);
  const at = Date.parse(header);
  return Number.isNaN(at) ? null : Math.max(0, at - now.getTime());
}
