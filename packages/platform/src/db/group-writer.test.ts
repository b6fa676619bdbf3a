import { describe, expect, it } from 'vitest';
import { setTimeout as sleep } from 'node:timers/promises';
import { GroupWriter } from './group-writer.ts';

/** A writer whose batches take `ms` and are recorded; an item named in `refuse` fails its batch. */
function recording(options: { ms?: number; refuse?: string; gatherMs?: number; keyed?: boolean } = {}) {
  const batches: string[][] = [];
  const writer = new GroupWriter<string, string>({
    write: async (items) => {
      batches.push([...items]);
      await sleep(options.ms ?? 20);
      if (options.refuse && items.includes(options.refuse)) throw new Error(`refused ${options.refuse}`);
      return items.map((item) => item.toUpperCase());
    },
    maxBatch: 3,
    ...(options.gatherMs === undefined ? {} : { gatherMs: options.gatherMs }),
    ...(options.keyed ? { keyOf: (item: string) => item.split('-')[0]! } : {}),
  });
  return { writer, batches };
}

describe('group writer', () => {
  it('writes the first item at once and those that come meanwhile together, up to the batch size', async () => {
    const { writer, batches } = recording();
    const results = await Promise.all(['a', 'b', 'c', 'd', 'e'].map((item) => writer.write(item)));
    expect(results).toEqual(['A', 'B', 'C', 'D', 'E']);
    expect(batches).toEqual([['a'], ['b', 'c', 'd'], ['e']]);
  });

  it('waits gatherMs for company when idle', async () => {
    const { writer, batches } = recording({ gatherMs: 30 });
    const first = writer.write('a');
    await sleep(5);
    await Promise.all([first, writer.write('b')]);
    expect(batches).toEqual([['a', 'b']]);
  });

  it('fails only the item that cannot be written, writing the rest of its batch one by one', async () => {
    const { writer, batches } = recording({ refuse: 'c' });
    const settled = await Promise.allSettled(['a', 'b', 'c', 'd'].map((item) => writer.write(item)));
    expect(settled.map((s) => (s.status === 'fulfilled' ? s.value : 'failed'))).toEqual(['A', 'B', 'failed', 'D']);
    expect(batches).toEqual([['a'], ['b', 'c', 'd'], ['b'], ['c'], ['d']]);
  });

  it('never puts two items of one key in a batch', async () => {
    const { writer, batches } = recording({ keyed: true });
    await Promise.all(['x-1', 'x-2', 'y-1', 'x-3'].map((item) => writer.write(item)));
    expect(batches).toEqual([['x-1'], ['x-2', 'y-1'], ['x-3']]);
  });
});
