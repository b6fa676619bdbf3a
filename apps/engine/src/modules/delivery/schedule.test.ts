import { describe, expect, it } from 'vitest';
import { DEFAULT_RETRY_SCHEDULE, nextDelay, parseSchedule, retryAfterMs } from './schedule.ts';

describe('retry schedule', () => {
  it('is immediately, 5 s, 5 min, 30 min, 2 h, 5 h, 10 h, 10 h by default', () => {
    expect(parseSchedule(DEFAULT_RETRY_SCHEDULE)).toEqual([
      0, 5_000, 300_000, 1_800_000, 7_200_000, 18_000_000, 36_000_000, 36_000_000,
    ]);
  });

  it('jitters each step by at most 10 % and ends after the last', () => {
    const schedule = parseSchedule('0s,10s,1m');
    expect(nextDelay(schedule, 1, () => 0)).toBe(9_000);
    expect(nextDelay(schedule, 1, () => 1)).toBe(11_000);
    expect(nextDelay(schedule, 2, () => 0.5)).toBe(60_000);
    expect(nextDelay(schedule, 3)).toBeNull();
  });

  it('refuses a malformed schedule', () => {
    expect(() => parseSchedule('5s,,1m')).toThrow(/comma-separated/);
    expect(() => parseSchedule('5s,soon')).toThrow(/duration/);
  });

  it('reads Retry-After as seconds or as an HTTP date', () => {
    const now = new Date('2026-11-26T10:00:00Z');
    expect(retryAfterMs('120', now)).toBe(120_000);
    expect(retryAfterMs('Thu, 26 Nov 2026 10:01:00 GMT', now)).toBe(60_000);
    expect(retryAfterMs(null, now)).toBeNull();
    expect(retryAfterMs('later', now)).toBeNull();
  });
});
