/** How many backups to keep per calendar period (UTC): the newest of each of the latest N days, ISO weeks, months. */
export interface RetentionPolicy {
  daily: number;
  weekly: number;
  monthly: number;
}

export const DEFAULT_RETENTION: RetentionPolicy = { daily: 7, weekly: 4, monthly: 12 };

const DAY_MS = 86_400_000;

function dayNumber(date: Date): number {
  return Math.floor(date.getTime() / DAY_MS);
}

/** Days since the epoch of the Monday that starts the ISO week of `date` (1970-01-01 was a Thursday). */
function weekNumber(date: Date): number {
  return Math.floor((dayNumber(date) + 3) / 7);
}

function monthNumber(date: Date): number {
  return date.getUTCFullYear() * 12 + date.getUTCMonth();
}

/**
 * The backups to keep at `now`: for each of the latest `daily` days (today included), `weekly`
 * ISO weeks and `monthly` months, the newest backup taken in it. A period's newest backup was
 * also the newest of the shorter periods inside it, so pruning every day with this function keeps
 * the same set as pruning once. Backups from the future (a clock set back) are kept.
 */
export function retainedBackups<B extends { id: string; createdAt: Date }>(
  backups: readonly B[],
  now: Date,
  policy: RetentionPolicy,
): Set<string> {
  const keep = new Set<string>();
  const newestFirst = [...backups].sort((a, b) => b.createdAt.getTime() - a.createdAt.getTime());
  const periods: [count: number, period: (d: Date) => number][] = [
    [policy.daily, dayNumber],
    [policy.weekly, weekNumber],
    [policy.monthly, monthNumber],
  ];
  for (const [count, period] of periods) {
    const current = period(now);
    const seen = new Set<number>();
    for (const backup of newestFirst) {
      const p = period(backup.createdAt);
      if (p > current) keep.add(backup.id);
      else if (p > current - count && !seen.has(p)) {
        seen.add(p);
        keep.add(backup.id);
      }
    }
  }
  return keep;
}
