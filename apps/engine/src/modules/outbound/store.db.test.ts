import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { randomUUID } from 'node:crypto';
import { join } from 'node:path';
import { openDatabase, type Database } from '@mic/platform';
import { testDatabase, type TestDatabase } from '@mic/platform/testing';
import { LaneStore, type ClaimRequest, type LaneItem } from './store.ts';

const MIGRATIONS = join(import.meta.dirname, '..', '..', '..', 'migrations');
let test: TestDatabase;
let db: Database;
let store: LaneStore;

beforeAll(async () => {
  test = testDatabase(MIGRATIONS, 'lane_store');
  db = await openDatabase(test.options);
  await db.migrate();
  store = new LaneStore(db.orm);
});
afterAll(async () => {
  await db?.close();
  await test?.drop();
});

const items = (lane: string, priority: LaneItem['priority'], n: number): LaneItem[] =>
  Array.from({ length: n }, (_, i) => ({
    messageId: `${lane}-${priority}-${i}`,
    lane,
    priority,
    recipient: `+34600${String(i).padStart(6, '0')}`,
  }));

const request = (lane: string, worker: string, change: Partial<ClaimRequest>): ClaimRequest => ({
  lane,
  worker,
  ratePerSecond: 40,
  horizonMs: 250,
  limit: 10,
  urgentLimit: 10,
  carry: 0,
  leaseMs: 30_000,
  ...change,
});

describe('lane claims', () => {
  it('gives a critical item a slot ahead of the carried items, even when the worker holds its limit', async () => {
    const lane = 'whatsapp:claims-urgent';
    const worker = randomUUID();
    const now = Date.now();
    await db.orm.transaction((tx) =>
      store.enqueue(tx, [...items(lane, 'marketing', 20), ...items(lane, 'critical', 1)], now),
    );
    // Full (no new items) with 3 items waiting for slots: the critical item still comes, first.
    const claim = await store.claim(request(lane, worker, { limit: 0, carry: 3, urgentLimit: 2 }), now);
    expect(claim.kind).toBe('claimed');
    if (claim.kind !== 'claimed') return;
    expect(claim.items.map((item) => item.messageId)).toEqual([`${lane}-critical-0`]);
    expect(claim.carriedSlots).toHaveLength(3);
    // Nothing urgent left and no room: look again soon, the lane is not idle.
    const full = await store.claim(request(lane, worker, { limit: 0, urgentLimit: 2 }), claim.frontierMs - 200);
    expect(full.kind).toBe('ahead');
  });

  it('takes urgent items on a lane reserved a horizon ahead only for a worker holding marketing slots to swap', async () => {
    const lane = 'whatsapp:claims-ahead';
    const worker = randomUUID();
    const now = Date.now();
    await db.orm.transaction((tx) => store.enqueue(tx, items(lane, 'marketing', 30), now));
    const first = await store.claim(request(lane, worker, { limit: 30 }), now);
    expect(first.kind === 'claimed' && first.items).toHaveLength(11);
    await db.orm.transaction((tx) => store.enqueue(tx, items(lane, 'critical', 3), now));
    // The lane's slots are reserved to a horizon ahead: a worker with nothing to swap waits.
    const later = now + 10;
    const waits = await store.claim(request(lane, randomUUID(), { limit: 30 }), later);
    expect(waits.kind).toBe('ahead');
    // The one holding marketing slots still to come takes urgent items (no marketing), at the cursor.
    const swap = await store.claim(request(lane, worker, { limit: 30, swappable: 2 }), later);
    expect(swap.kind).toBe('claimed');
    if (swap.kind !== 'claimed' || first.kind !== 'claimed') return;
    expect(swap.items.map((item) => item.messageId)).toEqual([`${lane}-critical-0`, `${lane}-critical-1`]);
    expect(swap.items[0]!.slotMs).toBe(first.frontierMs);
    expect(swap.carriedSlots).toEqual([]);
  });

  it('takes urgent items first in one look when nothing is carried', async () => {
    const lane = 'whatsapp:claims-one-look';
    const worker = randomUUID();
    const now = Date.now();
    await db.orm.transaction((tx) =>
      store.enqueue(tx, [...items(lane, 'marketing', 5), ...items(lane, 'conversation', 2)], now),
    );
    const claim = await store.claim(request(lane, worker, { limit: 4 }), now);
    expect(claim.kind === 'claimed' && claim.items.map((item) => item.messageId)).toEqual([
      `${lane}-conversation-0`,
      `${lane}-conversation-1`,
      `${lane}-marketing-0`,
      `${lane}-marketing-1`,
    ]);
  });
});
