import { Writable } from 'node:stream';
import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import { createLogger } from '../logging/index.ts';
import { persistently } from './persistently.ts';

function capture() {
  const lines: { msg: string; attempt: number; err: { message: string } }[] = [];
  const destination = new Writable({
    write(chunk: Buffer, _encoding, done) {
      lines.push(JSON.parse(chunk.toString()) as (typeof lines)[number]);
      done();
    },
  });
  return { lines, logger: createLogger({ name: 'test', level: 'info', destination }) };
}

/** A write that the database refuses `failures` times, noting when each try was made. */
function flakyWrite(failures: number) {
  const triedAt: number[] = [];
  const write = async () => {
    triedAt.push(Date.now());
    if (triedAt.length <= failures) throw new Error(`connection refused (try ${triedAt.length})`);
    return 'stored';
  };
  return { triedAt, write };
}

describe('persistently', () => {
  beforeEach(() => {
    vi.useFakeTimers({ now: 0 });
  });
  afterEach(() => {
    vi.useRealTimers();
  });

  it('tries again with a growing wait until the write goes through, logging each failure', async () => {
    const { lines, logger } = capture();
    const { triedAt, write } = flakyWrite(3);
    const result = persistently(write, { logger, what: "recording Meta's answer" });
    await vi.advanceTimersByTimeAsync(10_000);
    await expect(result).resolves.toBe('stored');
    expect(triedAt).toEqual([0, 100, 300, 700]);
    expect(lines.map((l) => [l.msg, l.attempt, l.err.message])).toEqual([
      ["recording Meta's answer failed: trying again", 1, 'connection refused (try 1)'],
      ["recording Meta's answer failed: trying again", 2, 'connection refused (try 2)'],
      ["recording Meta's answer failed: trying again", 3, 'connection refused (try 3)'],
    ]);
  });

  it('gives up after 8 tries, about 7 s, with the last error', async () => {
    const { lines, logger } = capture();
    const { triedAt, write } = flakyWrite(Number.POSITIVE_INFINITY);
    const result = persistently(write, { logger, what: 'recording the answer' });
    const settled = expect(result).rejects.toThrow('connection refused (try 8)');
    await vi.advanceTimersByTimeAsync(60_000);
    await settled;
    // Waits of 0.1, 0.2, 0.4, 0.8, 1.6 s, then 2 s at most.
    expect(triedAt).toEqual([0, 100, 300, 700, 1_500, 3_100, 5_100, 7_100]);
    expect(lines).toHaveLength(7);
  });

  it('does not try again after a TypeError: a bug in the write, not a refusing database', async () => {
    const { lines, logger } = capture();
    let tries = 0;
    const write = async () => {
      tries += 1;
      throw new TypeError('cannot read properties of undefined');
    };
    await expect(persistently(write, { logger, what: 'recording the answer' })).rejects.toThrow(TypeError);
    expect(tries).toBe(1);
    expect(lines).toHaveLength(0);
  });
});
