import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { eq, inArray } from 'drizzle-orm';
import { uuidv7 } from 'uuidv7';
import type { OutboundMessageEventData } from '@mic/contracts';
import { systemClock } from '@mic/platform';
import { TEST_DATABASE_URL } from '@mic/platform/testing';
import type { RoutedEvent } from '../delivery/index.ts';
import { startTestEngine, type TestEngine } from '../../testing.ts';
import { StateRecorder } from './recorder.ts';
import { outboundMessageEvents, outboundMessages } from './schema.ts';
import { MessageStatuses } from './statuses.ts';

let engine: TestEngine;
beforeAll(async () => {
  engine = await startTestEngine();
});
afterAll(() => engine?.stop());

async function messages(count: number, state = 'sending', priority = 'conversation') {
  const now = new Date();
  const rows = Array.from({ length: count }, (_, i) => ({
    id: uuidv7(),
    instanceId: 'ins-recorder',
    tenantId: 'ten-recorder',
    channel: 'whatsapp:5550001',
    recipient: `+3460000${String(i).padStart(4, '0')}`,
    priority,
    request: {},
    state,
    requestHash: 'h',
    createdAt: now,
    updatedAt: now,
  }));
  return engine.app.db.orm.insert(outboundMessages).values(rows).returning();
}

/**
 * A recorder whose outbound events are kept, one list per transaction; `refuse` fails a message's,
 * and marketing messages' events wait for `hold` inside their transaction.
 */
function newRecorder(refuse?: string, hold?: Promise<void>) {
  const transactions: RoutedEvent[][] = [];
  const recorder = new StateRecorder({
    db: engine.app.db.orm,
    clock: systemClock,
    statuses: new MessageStatuses({ clock: systemClock }),
    deliver: async (_tx, events) => {
      if (events.some((e) => (e.data as OutboundMessageEventData).messageId === refuse))
        throw new Error('refused by the test');
      if (hold && events.some((e) => (e.data as OutboundMessageEventData).broadcastId)) await hold;
      transactions.push([...events]);
    },
    gatherMs: 20,
  });
  return { recorder, transactions };
}

describe('state recorder', () => {
  it('writes changes that come together in one transaction, each with its timeline entry and event', async () => {
    const rows = await messages(20);
    const { recorder, transactions } = newRecorder();
    const moved = await Promise.all(
      rows.map((row, i) =>
        recorder.record({ row, state: 'sent', attempt: 1, metaMessageId: `wamid.rec${i}`, raw: { i } }),
      ),
    );
    expect(moved).toEqual(rows.map(() => true));
    expect(transactions).toHaveLength(1);
    expect(transactions[0]!.map((e) => (e.data as OutboundMessageEventData).metaMessageId).sort()).toEqual(
      rows.map((_, i) => `wamid.rec${i}`).sort(),
    );
    const ids = rows.map((r) => r.id);
    const stored = await engine.app.db.orm.select().from(outboundMessages).where(inArray(outboundMessages.id, ids));
    expect(stored.every((r) => r.state === 'sent' && r.sentAt !== null && r.attempts === 1)).toBe(true);
    const timeline = await engine.app.db.orm
      .select()
      .from(outboundMessageEvents)
      .where(inArray(outboundMessageEvents.messageId, ids));
    expect(timeline.filter((e) => e.state === 'sent')).toHaveLength(20);
  });

  it('moves a message only from the states given, and says when it did not', async () => {
    const [given, waiting] = await messages(2);
    await engine.app.db.orm.update(outboundMessages).set({ state: 'failed' }).where(eq(outboundMessages.id, given!.id));
    const { recorder } = newRecorder();
    const [a, b] = await Promise.all([
      recorder.record({ row: given!, state: 'queued', attempt: 0, onlyFrom: ['sending'] }),
      recorder.record({ row: waiting!, state: 'queued', attempt: 0, onlyFrom: ['sending'] }),
    ]);
    expect([a, b]).toEqual([false, true]);
    const timeline = await engine.app.db.orm
      .select()
      .from(outboundMessageEvents)
      .where(eq(outboundMessageEvents.messageId, given!.id));
    expect(timeline).toEqual([]);
  });

  it('fails only the change that cannot be written when its batch fails', async () => {
    const rows = await messages(5);
    const { recorder } = newRecorder(rows[2]!.id);
    const results = await Promise.allSettled(
      rows.map((row, i) => recorder.record({ row, state: 'sent', attempt: 1, metaMessageId: `wamid.bad${i}` })),
    );
    expect(results.map((r) => r.status)).toEqual(['fulfilled', 'fulfilled', 'rejected', 'fulfilled', 'fulfilled']);
    const stored = await engine.app.db.orm
      .select({ id: outboundMessages.id, state: outboundMessages.state })
      .from(outboundMessages)
      .where(
        inArray(
          outboundMessages.id,
          rows.map((r) => r.id),
        ),
      );
    expect(stored.find((r) => r.id === rows[2]!.id)?.state).toBe('sending');
    expect(stored.filter((r) => r.state === 'sent')).toHaveLength(4);
  });

  // PGlite runs one transaction at a time: there a critical change waits for the open batch anyway.
  it.runIf(TEST_DATABASE_URL !== undefined)(
    "records a critical message's change while a broadcast's batch is still being written",
    async () => {
      const broadcast = await messages(3, 'sending', 'marketing');
      const [critical] = await messages(1, 'queued', 'critical');
      let release = () => {};
      const { recorder } = newRecorder(undefined, new Promise<void>((resolve) => (release = resolve)));
      const bulk = Promise.all(
        broadcast.map((row, i) =>
          recorder.record({
            row: { ...row, broadcastId: uuidv7() },
            state: 'sent',
            attempt: 1,
            metaMessageId: `wamid.b${i}`,
          }),
        ),
      );
      await new Promise((resolve) => setTimeout(resolve, 100));
      const recorded = recorder.record({ row: critical!, state: 'sending', attempt: 1 });
      const waited = new Promise((resolve) => setTimeout(() => resolve('still waiting'), 5_000));
      try {
        expect(await Promise.race([recorded, waited])).toBe(true);
      } finally {
        release();
      }
      expect(await bulk).toEqual([true, true, true]);
    },
  );
});
