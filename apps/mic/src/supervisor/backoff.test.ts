import { describe, expect, it } from 'vitest';
import { RestartTracker } from './backoff.ts';

const policy = {
  backoffMin: 500,
  backoffMax: 8_000,
  stableAfter: 60_000,
  crashLoopRestarts: 3,
  crashLoopWindow: 60_000,
};

describe('RestartTracker', () => {
  it('doubles the delay on consecutive crashes up to the maximum', () => {
    const tracker = new RestartTracker(policy, () => 0.5); // no jitter at 0.5
    const delays = [1, 2, 3, 4, 5, 6].map((i) => tracker.recordCrash(100, i * 1000));
    expect(delays).toEqual([500, 1000, 2000, 4000, 8000, 8000]);
  });

  it('starts again from the minimum after a stable run', () => {
    const tracker = new RestartTracker(policy, () => 0.5);
    tracker.recordCrash(100, 1000);
    tracker.recordCrash(100, 2000);
    expect(tracker.recordCrash(120_000, 200_000)).toBe(500);
  });

  it('jitters by at most 20 %', () => {
    expect(new RestartTracker(policy, () => 0).recordCrash(0, 0)).toBe(400);
    expect(new RestartTracker(policy, () => 0.999).recordCrash(0, 0)).toBeLessThanOrEqual(600);
  });

  it('reports a restart loop only while restarts crowd the window', () => {
    const tracker = new RestartTracker(policy);
    tracker.recordCrash(0, 0);
    tracker.recordCrash(0, 1000);
    expect(tracker.isCrashLooping(1000)).toBe(false);
    tracker.recordCrash(0, 2000);
    expect(tracker.isCrashLooping(2000)).toBe(true);
    expect(tracker.recentRestarts(2000)).toBe(3);
    expect(tracker.isCrashLooping(61_000)).toBe(false);
    expect(tracker.restarts).toBe(3);
  });
});
