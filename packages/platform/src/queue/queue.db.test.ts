import { afterEach, describe, expect, it } from 'vitest';
import { join } from 'node:path';
import { sql } from 'drizzle-orm';
import { openDatabase, type Database } from '../db/index.ts';
import { JobQueue } from './index.ts';
import { eventually, testDatabase, testLogger, type TestDatabase } from '../testing/index.ts';

const FIXTURE_MIGRATIONS = join(import.meta.dirname, '..', 'testing', 'migrations');
let db: Database | undefined;
let queue: JobQueue | undefined;
let test: TestDatabase | undefined;

async function setup(pollingIntervalSeconds = 0.5): Promise<{ db: Database; queue: JobQueue }> {
  test = testDatabase(FIXTURE_MIGRATIONS);
  db = await openDatabase(test.options);
  await db.migrate();
  queue = new JobQueue({
    database: db,
    logger: testLogger(),
    pollingIntervalSeconds,
    instanceName: 'test',
    statsIntervalSeconds: 1,
  });
  await queue.start();
  await queue.define('items');
  return { db, queue };
}

afterEach(async () => {
  await queue?.stop(1_000);
  await db?.close();
  await test?.drop();
  queue = db = test = undefined;
});

describe('job queue', () => {
  it('defines a queue again at the next start, policy and all, and changes its settings', async () => {
    const { queue } = await setup();
    await queue.define('hints', { policy: 'short', retryLimit: 3 });
    await queue.define('hints', { policy: 'short', retryLimit: 5 });
    await queue.define('hints', { policy: 'standard', retryLimit: 7 });
    const defined = await queue.boss.getQueue('hints');
    expect(defined).toMatchObject({ policy: 'short', retryLimit: 7 });
  });

  it('writes a job in the caller transaction: committed together, rolled back together', async () => {
    const { db, queue } = await setup();
    const seen: string[] = [];
    await queue.work<{ name: string }>('items', {}, async (jobs) => {
      for (const job of jobs) seen.push(job.data.name);
    });

    await db.orm.transaction(async (tx) => {
      await tx.execute(sql`insert into fixture_items (id, name) values (gen_random_uuid(), 'kept')`);
      await queue.send('items', { name: 'kept' }, {}, tx);
    });
    await expect(
      db.orm.transaction(async (tx) => {
        await tx.execute(sql`insert into fixture_items (id, name) values (gen_random_uuid(), 'dropped')`);
        await queue.send('items', { name: 'dropped' }, {}, tx);
        throw new Error('the state change failed');
      }),
    ).rejects.toThrow('the state change failed');

    await eventually(async () => (seen.includes('kept') ? true : undefined));
    const rows = await db.orm.execute<{ name: string }>(sql`select name from fixture_items`);
    expect(rows.rows.map((r) => r.name)).toEqual(['kept']);
    // Give a wrongly committed job the chance to show up before asserting it never does.
    await queue.send('items', { name: 'marker' });
    await eventually(async () => (seen.includes('marker') ? true : undefined));
    expect(seen).not.toContain('dropped');
  });

  it('wakes a waiting worker by NOTIFY instead of its polling interval', async () => {
    // A 30 s poll: only NOTIFY can deliver the job within seconds.
    const { queue } = await setup(30);
    const received: number[] = [];
    await queue.work<{ sentAt: number }>('items', {}, async (jobs) => {
      for (const job of jobs) received.push(Date.now() - job.data.sentAt);
    });
    await new Promise((r) => setTimeout(r, 500));
    await queue.send('items', { sentAt: Date.now() });
    const latency = await eventually(async () => received[0], 10_000, 20);
    expect(latency).toBeLessThan(5_000);
  });

  it('spreads a burst announced by one NOTIFY over the loops, and runs a job that came while all were busy', async () => {
    // A 30 s poll: only the wake-ups can run all of them within seconds.
    const { db, queue } = await setup(30);
    let running = 0;
    let most = 0;
    const done: string[] = [];
    await queue.work<{ name: string }>('items', { batchSize: 1, localConcurrency: 4 }, async ([job]) => {
      running += 1;
      most = Math.max(most, running);
      await new Promise((r) => setTimeout(r, 300));
      running -= 1;
      done.push(job!.data.name);
    });
    await new Promise((r) => setTimeout(r, 500));
    const started = Date.now();
    // One transaction: Postgres folds its notifications into one.
    await db.orm.transaction(async (tx) => {
      for (let i = 0; i < 8; i++) await queue.send('items', { name: `burst-${i}` }, {}, tx);
    });
    await eventually(async () => (running === 4 ? true : undefined), 10_000, 10);
    await queue.send('items', { name: 'late' }); // every loop is busy now
    await eventually(async () => (done.length === 9 ? true : undefined), 10_000, 20);
    expect(most).toBe(4);
    expect(done).toContain('late');
    expect(Date.now() - started).toBeLessThan(5_000);
  });

  it('finds a delayed job by polling, since NOTIFY only announces jobs ready now', async () => {
    const { queue } = await setup(0.5);
    const ran: number[] = [];
    await queue.work<{ dueAt: number }>('items', {}, async (jobs) => {
      for (const job of jobs) ran.push(Date.now() - job.data.dueAt);
    });
    const dueAt = Date.now() + 1_000;
    await queue.send('items', { dueAt }, { startAfter: new Date(dueAt) });
    const lateBy = await eventually(async () => ran[0], 10_000, 50);
    expect(lateBy).toBeGreaterThanOrEqual(-50);
    expect(lateBy).toBeLessThan(5_000);
  });

  it('reports depths per queue as of the last maintenance pass', async () => {
    const { queue } = await setup();
    await queue.send('items', { name: 'waiting' });
    const depth = await eventually(async () => {
      const items = (await queue.depths()).items;
      return items?.queued === 1 ? items : undefined;
    });
    expect(depth).toEqual({ queued: 1, active: 0, failed: 0 });
  });
});
