import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { join } from 'node:path';
import { sql } from 'drizzle-orm';
import { JobQueue, openDatabase, type Database } from '@mic/platform';
import { eventually, testDatabase, testLogger, type TestDatabase } from '@mic/platform/testing';
import { Lanes, laneOf, type ClaimedItem, type LaneItem, type LanesOptions, type SendOutcome } from './index.ts';

const MIGRATIONS = join(import.meta.dirname, '..', '..', '..', 'migrations');
/** Short horizon and poll so a test's lanes react within a fraction of a second. */
const FAST = { horizonMs: 200, pollIntervalMs: 100, leaseMs: 2_000 } satisfies Partial<LanesOptions>;

let test: TestDatabase;
/** One database connection per "replica": three pools on Postgres; the one PGlite instance otherwise. */
let replicas: Database[] = [];
let running: Lanes[] = [];

beforeAll(async () => {
  test = testDatabase(MIGRATIONS, 'lanes');
  const first = await openDatabase(test.options);
  await first.migrate();
  replicas = [first];
  if (first.kind === 'postgres') {
    for (let i = 0; i < 2; i++) replicas.push(await openDatabase(test.options));
  } else {
    replicas.push(first, first);
  }
});

afterAll(async () => {
  for (const db of new Set(replicas)) await db.close();
  await test?.drop();
});

afterEach(async () => {
  await Promise.all(running.map((lanes) => lanes.stop(1_000)));
  running = [];
  const db = replicas[0]!.orm;
  await db.execute(sql`delete from outbound_items`);
  await db.execute(sql`delete from outbound_lanes`);
  await db.execute(sql`delete from outbound_recipient_holds`);
});

interface Sent {
  messageId: string;
  lane: string;
  at: number;
  claims: number;
  worker: number;
}

/** Starts a Lanes worker on replica `n`, its sends recorded in `log` and answered by `answer`. */
async function worker(
  n: number,
  log: Sent[],
  answer: (item: ClaimedItem) => Promise<SendOutcome> | SendOutcome = () => ({ outcome: 'sent' }),
  options: Partial<LanesOptions> = {},
  /** The handler's own work before its slot (reads, the `sending` record). */
  prepare: (item: ClaimedItem) => Promise<void> | void = () => {},
): Promise<Lanes> {
  const lanes = new Lanes({ db: replicas[n]!.orm, logger: testLogger(), ...FAST, ...options });
  await lanes.start(async (item, atSlot) => {
    await prepare(item);
    if (!(await atSlot())) return { outcome: 'put-back' };
    log.push({ messageId: item.messageId, lane: item.lane, at: Date.now(), claims: item.claims, worker: n });
    return answer(item);
  });
  running.push(lanes);
  return lanes;
}

async function enqueue(items: LaneItem[], lanes?: Lanes): Promise<void> {
  const tool = lanes ?? new Lanes({ db: replicas[0]!.orm, logger: testLogger() });
  await replicas[0]!.orm.transaction((tx) => tool.enqueueMany(tx, items));
  for (const lane of new Set(items.map((item) => item.lane))) lanes?.wake(lane);
}

function backlog(lane: string, n: number, from = 0, priority: LaneItem['priority'] = 'marketing'): LaneItem[] {
  return Array.from({ length: n }, (_, i) => ({
    messageId: `${lane}-${priority}-${from + i}`,
    lane,
    priority,
    recipient: `+3460000${String(from + i).padStart(4, '0')}`,
  }));
}

/** The most sends in any one-second window [t, t + 1 s), t at a send. */
function busiestSecond(times: number[]): number {
  const sorted = [...times].sort((a, b) => a - b);
  let most = 0;
  for (let i = 0, j = 0; i < sorted.length; i++) {
    while (j < sorted.length && sorted[j]! < sorted[i]! + 1000) j++;
    most = Math.max(most, j - i);
  }
  return most;
}

/** Sends per second from the first send to the last. */
function achievedRate(times: number[]): number {
  const first = Math.min(...times);
  const last = Math.max(...times);
  return ((times.length - 1) * 1000) / (last - first);
}

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));
const all = (log: Sent[], lane: string) => log.filter((sent) => sent.lane === lane);
const settled = async (n: number, log: Sent[], lane: string, timeoutMs = 30_000) => {
  await eventually(
    async () => (new Set(all(log, lane).map((s) => s.messageId)).size >= n ? true : undefined),
    timeoutMs,
  );
  // ...and the lane's table is empty once the last outcomes are recorded.
  await eventually(async () => {
    const left = await replicas[0]!.orm.execute<{ n: number }>(
      sql`select count(*)::int as n from outbound_items where lane = ${lane}`,
    );
    return left.rows[0]!.n === 0 ? true : undefined;
  });
};

describe('lanes', () => {
  it('three replicas keep one lane under its cap in every one-second window and reach 90 % of it', async () => {
    const cap = 20;
    const lane = laneOf('whatsapp', 'rate');
    const log: Sent[] = [];
    const answer = async () => {
      await sleep(5 + Math.random() * 40);
      return { outcome: 'sent' } as const;
    };
    await enqueue(backlog(lane, 200));
    for (const n of [0, 1, 2]) await worker(n, log, answer, { capFor: () => cap });
    await settled(200, log, lane);

    const times = log.map((sent) => sent.at);
    expect(new Set(log.map((sent) => sent.messageId)).size).toBe(200);
    expect(log).toHaveLength(200);
    expect(busiestSecond(times)).toBeLessThanOrEqual(cap);
    expect(achievedRate(times)).toBeGreaterThanOrEqual(0.9 * cap);
    if (replicas[0]!.kind === 'postgres') {
      // Not a guarantee (whoever holds the lane's row claims), but three replicas do take turns.
      expect(new Set(log.map((sent) => sent.worker)).size).toBeGreaterThan(1);
    }
  }, 40_000);

  it('keeps a lane at its rate while another lane is slow and failing', async () => {
    const cap = 20;
    const good = laneOf('whatsapp', 'good');
    const bad = laneOf('whatsapp', 'bad');
    const log: Sent[] = [];
    const answer = async (item: ClaimedItem): Promise<SendOutcome> => {
      if (item.lane !== bad) return { outcome: 'sent' };
      await sleep(700);
      return { outcome: 'retry', atMs: Date.now() + 100 };
    };
    await enqueue([...backlog(bad, 100), ...backlog(good, 100)]);
    for (const n of [0, 1]) await worker(n, log, answer, { capFor: () => cap, maxInFlightPerLane: 8 });
    await settled(100, log, good);

    const times = all(log, good).map((sent) => sent.at);
    expect(busiestSecond(times)).toBeLessThanOrEqual(cap);
    expect(achievedRate(times)).toBeGreaterThanOrEqual(0.9 * cap);
    expect(busiestSecond(all(log, bad).map((sent) => sent.at))).toBeLessThanOrEqual(cap);
  }, 40_000);

  it('sends a critical item enqueued into a marketing backlog before the rest of the backlog', async () => {
    const lane = laneOf('whatsapp', 'prio');
    const log: Sent[] = [];
    await enqueue(backlog(lane, 40));
    // Slots reserved a second ahead (19 at 19/s): the critical item does not wait for them.
    const lanes = await worker(0, log, undefined, { capFor: () => 20, horizonMs: 1_000 });
    await eventually(async () => (log.length >= 5 ? true : undefined));
    const before = log.length;
    await enqueue([...backlog(lane, 1, 0, 'conversation'), ...backlog(lane, 1, 0, 'critical')], lanes);
    await settled(42, log, lane);

    const order = log.map((sent) => sent.messageId);
    const critical = order.indexOf(`${lane}-critical-0`);
    const conversation = order.indexOf(`${lane}-conversation-0`);
    expect(conversation).toBe(critical + 1);
    // It takes the first slot still to come of the marketing items the worker holds (their sends
    // once it was ready may number a couple), and they keep their order, one slot later.
    expect(critical - before).toBeLessThanOrEqual(3);
    expect(order.slice(critical).filter((id) => id.includes('-marketing-')).length).toBeGreaterThan(25);
    // FIFO within a priority.
    const marketing = order.filter((id) => id.includes('-marketing-'));
    expect(marketing).toEqual(backlog(lane, 40).map((item) => item.messageId));
    // Never above the cap: the urgent items took slots the lane had reserved, none more.
    expect(busiestSecond(log.map((sent) => sent.at))).toBeLessThanOrEqual(20);
  }, 30_000);

  it('gives up the slots a blocked event loop missed, keeping the order and the cap', async () => {
    const cap = 20;
    const lane = laneOf('whatsapp', 'blocked');
    const log: Sent[] = [];
    const lanes = await worker(
      0,
      log,
      (item) => {
        if (item.messageId === `${lane}-marketing-5`) {
          // Blocks the process for three slots: the timers of the next ones fire late.
          const until = Date.now() + 160;
          while (Date.now() < until);
        }
        return { outcome: 'sent' };
      },
      { capFor: () => cap },
    );
    await enqueue(backlog(lane, 30));
    await settled(30, log, lane);

    expect(lanes.missedSlots).toBeGreaterThan(0);
    expect(log.map((sent) => sent.messageId)).toEqual(backlog(lane, 30).map((item) => item.messageId));
    expect(busiestSecond(log.map((sent) => sent.at))).toBeLessThanOrEqual(cap);
  });

  it('slows a lane down while its worker is too slow for the slots, and still sends everything in order', async () => {
    const cap = 20;
    const lane = laneOf('whatsapp', 'saturated');
    const log: Sent[] = [];
    const events: string[] = [];
    // Each handler's preparation blocks the event loop for 70 ms, longer than a slot (50 ms): at the
    // lane's rate the worker is late for every slot, and without slowing down it would never send.
    const busy = () => {
      const until = Date.now() + 70;
      while (Date.now() < until);
    };
    const lanes = await worker(0, log, undefined, { capFor: () => cap, observe: (_, e) => events.push(e) }, busy);
    await enqueue(backlog(lane, 20), lanes);
    await settled(20, log, lane, 60_000);

    expect(events).toContain('late-slow-down');
    expect(log.map((sent) => sent.messageId)).toEqual(backlog(lane, 20).map((item) => item.messageId));
    expect(busiestSecond(log.map((sent) => sent.at))).toBeLessThanOrEqual(cap);
    expect(lanes.missedSlots).toBeGreaterThan(0);
  }, 70_000);

  it('slows a lane down until the given time, then goes back to its rate', async () => {
    const cap = 20;
    const lane = laneOf('whatsapp', 'slow');
    const log: Sent[] = [];
    await enqueue(backlog(lane, 60));
    const lanes = new Lanes({ db: replicas[0]!.orm, logger: testLogger() });
    const slowUntil = Date.now() + 2_000;
    await lanes.slowDown(lane, 4, slowUntil);
    await worker(0, log, undefined, { capFor: () => cap });
    await settled(60, log, lane);

    const times = log.map((sent) => sent.at);
    const slow = times.filter((t) => t < slowUntil);
    // 4 times slower: 19/4 a second, about 9 in the 2 s.
    expect(slow.length).toBeLessThanOrEqual(11);
    expect(slow.length).toBeGreaterThanOrEqual(6);
    expect(achievedRate(times.filter((t) => t >= slowUntil + 300))).toBeGreaterThanOrEqual(0.9 * cap);
    expect(busiestSecond(times)).toBeLessThanOrEqual(cap);
  }, 30_000);

  it('pauses a lane (by call or by the handler) and resumes it with nothing lost', async () => {
    const lane = laneOf('messenger', 'paused');
    const other = laneOf('messenger', 'other');
    const log: Sent[] = [];
    const lanes = await worker(0, log, (item) =>
      item.messageId === `${lane}-marketing-3` && item.claims === 1
        ? { outcome: 'lane-paused', reason: 'token refused (190)' }
        : { outcome: 'sent' },
    );
    await lanes.pause(other, 'operator');
    await enqueue([...backlog(lane, 10), ...backlog(other, 3)], lanes);
    await eventually(async () => (all(log, lane).length >= 4 ? true : undefined));
    await sleep(800);
    // The pause stopped the lane after item 3: the items claimed for later slots went back.
    expect(all(log, lane).length).toBeLessThanOrEqual(4 + 2);
    expect(all(log, other)).toHaveLength(0);
    expect(await lanes.laneState(lane)).toMatchObject({ pausedReason: 'token refused (190)' });

    await lanes.resume(lane);
    await lanes.resume(other);
    await settled(10, log, lane);
    await settled(3, log, other);
    // The item that met the refused token went again.
    expect(all(log, lane).filter((sent) => sent.messageId === `${lane}-marketing-3`)).toHaveLength(2);
  }, 30_000);

  it("delays one recipient's items while the lane's others go on", async () => {
    const lane = laneOf('whatsapp', 'pair');
    const log: Sent[] = [];
    const items: LaneItem[] = Array.from({ length: 12 }, (_, i) => ({
      messageId: `pair-${i}`,
      lane,
      priority: 'conversation',
      recipient: i % 3 === 0 ? '+34600000001' : `+3460000010${i}`,
    }));
    let until = 0;
    const lanes = await worker(0, log, (item) => {
      if (item.recipient === '+34600000001' && until === 0) {
        until = Date.now() + 1_500;
        return { outcome: 'recipient-delayed', untilMs: until };
      }
      return { outcome: 'sent' };
    });
    await enqueue(items, lanes);
    await settled(12, log, lane);

    const held = log.filter((sent) => sent.messageId.match(/^pair-(0|3|6|9)$/) && sent.at >= until);
    expect(held.map((sent) => sent.messageId).sort()).toEqual(['pair-0', 'pair-3', 'pair-6', 'pair-9']);
    // The others went during the hold.
    const others = log.filter((sent) => !['pair-0', 'pair-3', 'pair-6', 'pair-9'].includes(sent.messageId));
    expect(others.every((sent) => sent.at < until)).toBe(true);

    // delayRecipient called directly holds items enqueued afterwards too.
    const direct = Date.now() + 800;
    await lanes.delayRecipient(lane, '+34600000777', direct);
    await enqueue([{ messageId: 'later', lane, priority: 'critical', recipient: '+34600000777' }], lanes);
    await eventually(async () => (log.some((sent) => sent.messageId === 'later') ? true : undefined));
    expect(log.find((sent) => sent.messageId === 'later')!.at).toBeGreaterThanOrEqual(direct);
  }, 30_000);

  it('retries an item later in its place, before the items queued after it', async () => {
    const lane = laneOf('instagram', 'retry');
    const log: Sent[] = [];
    let retryAt = 0;
    await worker(
      0,
      log,
      (item) => {
        if (item.messageId === `${lane}-marketing-1` && item.claims === 1) {
          retryAt = Date.now() + 400;
          return { outcome: 'retry', atMs: retryAt };
        }
        return { outcome: 'sent' };
      },
      { capFor: () => 20 },
    );
    await enqueue(backlog(lane, 40));
    await settled(40, log, lane);

    const sends = log.filter((sent) => sent.messageId === `${lane}-marketing-1`);
    expect(sends.map((sent) => sent.claims)).toEqual([1, 2]);
    expect(sends[1]!.at).toBeGreaterThanOrEqual(retryAt);
    // Once due, it goes next after what was already claimed, ahead of the rest of the backlog.
    const dueAt = log.filter((sent) => sent.at < retryAt).length;
    expect(log.indexOf(sends[1]!) - dueAt).toBeLessThanOrEqual(6);
  }, 30_000);

  it("sends a dead worker's items after its claims expire, repeating only those in flight", async () => {
    const lane = laneOf('whatsapp', 'killed');
    const log: Sent[] = [];
    const leaseMs = 1_000;
    const dying = await worker(
      0,
      log,
      async () => {
        await sleep(150);
        return { outcome: 'sent' };
      },
      { capFor: () => 20, leaseMs },
    );
    await enqueue(backlog(lane, 40), dying);
    await eventually(async () => (log.length >= 10 ? true : undefined));
    dying.halt();
    const inFlight = new Set(log.filter((sent) => Date.now() - sent.at < 150).map((sent) => sent.messageId));
    const killedAt = Date.now();
    const byDead = new Set(log.map((sent) => sent.messageId));
    await worker(1, log, undefined, { capFor: () => 20, leaseMs });
    await settled(40, log, lane);

    const ids = log.map((sent) => sent.messageId);
    expect(new Set(ids).size).toBe(40);
    const repeated = ids.filter((id, i) => ids.indexOf(id) !== i);
    for (const id of repeated) expect(inFlight.has(id) || byDead.has(id)).toBe(true);
    expect(repeated.length).toBeLessThanOrEqual(4);
    // What the dead worker held but had not sent waited for its lease.
    const takenOver = log.filter((sent) => sent.worker === 1 && sent.claims > 1);
    expect(takenOver.length).toBeGreaterThan(0);
    for (const sent of takenOver) expect(sent.at).toBeGreaterThanOrEqual(killedAt + leaseMs - 600);
  }, 30_000);

  it('keeps a claim alive past its lease while its send runs (heartbeat)', async () => {
    const lane = laneOf('whatsapp', 'long');
    const log: Sent[] = [];
    const slow = async () => {
      await sleep(1_500);
      return { outcome: 'sent' } as const;
    };
    await worker(0, log, slow, { leaseMs: 600 });
    await worker(1, log, slow, { leaseMs: 600 });
    await enqueue(backlog(lane, 3));
    await settled(3, log, lane);
    await sleep(300);
    expect(log.map((sent) => sent.claims)).toEqual([1, 1, 1]);
  }, 30_000);

  it('withdraws a batch that is not being sent, in the caller transaction', async () => {
    const lane = laneOf('whatsapp', 'withdraw');
    const items = backlog(lane, 6).map((item, i) => ({ ...item, batch: i < 4 ? 'brd_1' : 'brd_2' }));
    const lanes = new Lanes({ db: replicas[0]!.orm, logger: testLogger() });
    await replicas[0]!.orm.transaction((tx) => lanes.enqueueMany(tx, items));
    const withdrawn = await replicas[0]!.orm.transaction((tx) => lanes.withdraw(tx, { batch: 'brd_1' }));
    expect(withdrawn.sort()).toEqual(items.slice(0, 4).map((item) => item.messageId));

    const log: Sent[] = [];
    await worker(0, log);
    await settled(2, log, lane);
    expect(log.map((sent) => sent.messageId)).toEqual(items.slice(4).map((item) => item.messageId));
  });

  it("wakes another process's idle lane through the queue's NOTIFY, not its poll", async () => {
    const lane = laneOf('whatsapp', 'wake');
    const queue = new JobQueue({
      database: replicas[0]!,
      logger: testLogger(),
      // Only NOTIFY can wake a worker within the test.
      pollingIntervalSeconds: 30,
      instanceName: 'lanes-test',
    });
    await queue.start();
    try {
      const log: Sent[] = [];
      await worker(0, log, undefined, { queue, pollIntervalMs: 30_000 });
      const producer = new Lanes({ db: replicas[0]!.orm, logger: testLogger(), queue });
      await producer.init();
      // Once the worker's first poll has found nothing.
      await sleep(300);
      const enqueuedAt = Date.now();
      await replicas[0]!.orm.transaction((tx) => producer.enqueue(tx, backlog(lane, 1)[0]!));
      await settled(1, log, lane, 10_000);
      expect(log[0]!.at - enqueuedAt).toBeLessThan(5_000);
    } finally {
      await Promise.all(running.map((lanes) => lanes.stop(1_000)));
      running = [];
      await queue.stop(1_000);
    }
  });
});
