import { afterEach, describe, expect, it } from 'vitest';
import { bodyGenerator, sendWebhooks, type MetaWebhookBody, type SendReport } from '@mic/meta-sandbox';
import type { NexusSim, ReceivedDelivery } from '@mic/nexus-sim';
import { eventually, freePort, TEST_DATABASE_URL } from '@mic/platform/testing';
import {
  connectSimInstance,
  engineCall,
  health,
  metricValue,
  micEnv,
  runMic,
  systemStatus,
  waitForHealth,
  type MicEnv,
  type MicProcess,
  type SimInstance,
} from './harness.ts';

/**
 * Deliveries end to end, on real processes: Meta webhooks from the meta-sandbox into `mic`, signed
 * deliveries out to nexus-sim instances. What is checked is what an instance sees: which events
 * reach it, with which webhook-id, in which order.
 */

const APP_SECRET = 'delivery-e2e-meta-app-secret';

/** Hours compressed into seconds (DESIGN.md "Time and configuration"). */
const COMPRESSED = {
  META_APP_SECRET: APP_SECRET,
  DELIVERY_RETRY_SCHEDULE: '0s,200ms,500ms,1s,1s,1s,1s,1s',
  BREAKER_THRESHOLD: '3',
  BREAKER_HALF_OPEN_AFTER: '1s',
  QUEUE_POLLING_INTERVAL: '500ms',
};

const running: MicProcess[] = [];
const envs: MicEnv[] = [];
const sims: NexusSim[] = [];

afterEach(async () => {
  for (const mic of running.splice(0)) await mic.stop(5_000);
  for (const sim of sims.splice(0)) await sim.stop();
  for (const env of envs.splice(0)) await env.cleanup();
});

async function newEnv(extra: Record<string, string> = {}): Promise<MicEnv> {
  const env = await micEnv({ ...COMPRESSED, ...extra });
  envs.push(env);
  return env;
}

const micEnvs = new WeakMap<MicProcess, MicEnv>();
const envOf = (mic: MicProcess) => micEnvs.get(mic)!;

function run(args: string[], env: MicEnv): MicProcess {
  const mic = runMic(args, env);
  running.push(mic);
  micEnvs.set(mic, env);
  return mic;
}

/** `mic start` with the compressed timings, once its engine answers. */
async function startMic(extra: Record<string, string> = {}): Promise<MicProcess> {
  const mic = run(['start'], await newEnv(extra));
  await waitForHealth(`${mic.engineUrl}/health`, 'pass');
  return mic;
}

async function connect(mic: MicProcess, instance: Parameters<typeof connectSimInstance>[2]): Promise<SimInstance> {
  const connected = await connectSimInstance(mic, envOf(mic), instance);
  sims.push(connected.sim);
  return connected;
}

interface SentMessage {
  wamid: string;
  conversation: string;
}

/**
 * WhatsApp text messages to one number from `customers` customers in turn (one conversation
 * each), remembering each body's message id and conversation as the generator makes it.
 */
function textMessages(phoneNumberId: string, customers: number) {
  const make = bodyGenerator('whatsapp-text', { channelId: phoneNumberId, customers });
  const sent: SentMessage[] = [];
  const generator = (index: number): MetaWebhookBody => {
    const body = make(index);
    const value = (body.entry[0] as { changes: { value: { messages: { id: string; from: string }[] } }[] }).changes[0]!
      .value;
    const message = value.messages[0]!;
    sent[index] = { wamid: message.id, conversation: `${phoneNumberId}:${message.from}` };
    return body;
  };
  return { sent, generator };
}

/** The message ids Meta would consider delivered: their body (original or duplicate) got a 200. */
function acknowledged(report: SendReport, sent: readonly SentMessage[]): Set<string> {
  return new Set(report.results.filter((r) => r.status === 200).map((r) => sent[r.body]!.wamid));
}

const isSuccess = (d: ReceivedDelivery) => d.status !== null && d.status >= 200 && d.status < 300;

/** The WhatsApp message id a delivered event is about, from its normalized `data`. */
function wamidOf(d: ReceivedDelivery): string {
  const id = (d.event.data as { messageId?: unknown }).messageId;
  return typeof id === 'string' ? id : '';
}

/** The id in `raw`, Meta's own fragment, which must name the same message. */
function rawWamidOf(d: ReceivedDelivery): string {
  const id = (d.event.raw as { messages?: { id?: unknown }[] }).messages?.[0]?.id;
  return typeof id === 'string' ? id : '';
}

/** Each webhook-id's first successful delivery, in order of arrival. */
function firstSuccesses(received: readonly ReceivedDelivery[]): ReceivedDelivery[] {
  const seen = new Set<string>();
  return received.filter((d) => {
    if (!isSuccess(d) || seen.has(d.webhookId)) return false;
    seen.add(d.webhookId);
    return true;
  });
}

/** Webhook-ids the instance accepted (2xx) more than once, with how many times. */
function deliveredTwice(received: readonly ReceivedDelivery[]): string[] {
  const counts = new Map<string, number>();
  for (const d of received.filter(isSuccess)) counts.set(d.webhookId, (counts.get(d.webhookId) ?? 0) + 1);
  return [...counts].filter(([, n]) => n > 1).map(([id, n]) => `${id} ×${n}`);
}

/** Message ids delivered under more than one webhook-id: one event delivered as two. */
function splitEvents(received: readonly ReceivedDelivery[]): Record<string, string[]> {
  const ids = new Map<string, Set<string>>();
  for (const d of received) ids.set(wamidOf(d), (ids.get(wamidOf(d)) ?? new Set()).add(d.webhookId));
  return Object.fromEntries([...ids].filter(([, set]) => set.size > 1).map(([wamid, set]) => [wamid, [...set]]));
}

/** Deliveries that reached the instance after a later one of their conversation. */
function outOfOrder(deliveries: readonly ReceivedDelivery[]): string[] {
  const last = new Map<string, number>();
  const problems: string[] = [];
  for (const d of deliveries) {
    if (!d.conversation) {
      problems.push(`${d.webhookId} has no conversation`);
      continue;
    }
    const previous = last.get(d.conversation.id);
    if (previous !== undefined && d.conversation.seq <= previous)
      problems.push(`${d.conversation.id}: seq ${d.conversation.seq} arrived after seq ${previous}`);
    last.set(d.conversation.id, Math.max(previous ?? 0, d.conversation.seq));
  }
  return problems;
}

/** Conversations whose delivered seqs are not exactly 1..n: a stored event that never arrived. */
function seqGaps(deliveries: readonly ReceivedDelivery[]): Record<string, number[]> {
  const seqs = new Map<string, Set<number>>();
  for (const d of deliveries) {
    if (d.conversation) seqs.set(d.conversation.id, (seqs.get(d.conversation.id) ?? new Set()).add(d.conversation.seq));
  }
  const gaps: Record<string, number[]> = {};
  for (const [conversation, set] of seqs) {
    const missing = Array.from({ length: Math.max(...set) }, (_, i) => i + 1).filter((n) => !set.has(n));
    if (missing.length) gaps[conversation] = missing;
  }
  return gaps;
}

/** The longest time between two consecutive deliveries of one conversation. */
function longestWait(deliveries: readonly ReceivedDelivery[]): number {
  const last = new Map<string, number>();
  let longest = 0;
  for (const d of deliveries) {
    const at = Date.parse(d.receivedAt);
    const previous = last.get(d.conversation?.id ?? '');
    if (previous !== undefined) longest = Math.max(longest, at - previous);
    last.set(d.conversation?.id ?? '', at);
  }
  return longest;
}

interface DeliverySummary {
  id: string;
  state: string;
  attempts: number;
}

async function deliveriesIn(mic: MicProcess, state: 'pending' | 'dead', instanceId: string) {
  const answer = await engineCall<DeliverySummary[]>(
    mic.engineUrl,
    mic.dataDir,
    'GET',
    `/internal/v1/deliveries?state=${state}&instanceId=${instanceId}&limit=500`,
  );
  if (answer.status !== 200) throw new Error(`deliveries: ${answer.status}`);
  return answer.body;
}

/** Waits until the engine has nothing pending for the instance: every stored event was delivered or dead-lettered. */
async function settled(mic: MicProcess, instanceId: string, timeoutMs: number): Promise<void> {
  await eventually(
    async () => ((await deliveriesIn(mic, 'pending', instanceId)).length === 0 ? true : undefined),
    timeoutMs,
    250,
  );
}

interface Alert {
  kind: string;
  instanceId: string | null;
  createdAt: string;
}

async function alertsOf(mic: MicProcess, instanceId: string): Promise<Alert[]> {
  const answer = await engineCall<Alert[]>(
    mic.engineUrl,
    mic.dataDir,
    'GET',
    `/internal/v1/alerts?instanceId=${instanceId}`,
  );
  if (answer.status !== 200) throw new Error(`alerts: ${answer.status}`);
  return answer.body;
}

const seconds = (ms: number) => `${(ms / 1000).toFixed(1)} s`;

describe(`deliveries on ${TEST_DATABASE_URL ? 'Postgres' : 'PGlite'}`, () => {
  it(
    'loses no acknowledged webhook when the engine is killed -9 in the middle of a burst',
    { timeout: 240_000 },
    async () => {
      const BURST = 5_000;
      const started = Date.now();
      const mic = await startMic();
      const instance = await connect(mic, {
        name: 'ins-burst',
        phoneNumberId: '100000000001',
      });
      const messages = textMessages(instance.phoneNumberId, 50);
      const engine = await systemStatus(mic, 'engine');

      const sendStart = performance.now();
      const sending = sendWebhooks({
        url: `${mic.engineUrl}/meta/webhook`,
        appSecret: APP_SECRET,
        generator: messages.generator,
        count: BURST,
        rate: 200,
        concurrency: 16,
        // Meta delivers some bodies twice: the copies must not become events of their own.
        duplicateEvery: 10,
        timeoutMs: 5_000,
      });
      // Killed while webhooks are coming in and deliveries are going out: after a quarter of the
      // burst has reached the instance, or, when deliveries lag behind a loaded machine, once they
      // flow and the sender is not yet half way (at 200/s the burst takes 25 s), so that the
      // restarted engine still has requests to take.
      await instance.sim.waitFor(
        (received) =>
          received.length >= BURST * 0.25 || (received.length >= 50 && performance.now() - sendStart >= 10_000),
        60_000,
      );
      process.kill(engine.pid, 'SIGKILL');
      const killedAt = Date.now();
      const killedAtMs = performance.now() - sendStart;
      const report = await sending;

      const restarted = await eventually(
        async () => {
          const status = await systemStatus(mic, 'engine');
          return status.pid !== engine.pid ? status : undefined;
        },
        60_000,
        250,
      );
      expect(restarted.pid).not.toBe(engine.pid);

      // The kill happened mid-burst: some requests found no engine, and the restarted one took more.
      const acked = acknowledged(report, messages.sent);
      expect(report.summary.ok).toBeLessThan(BURST);
      expect(report.results.some((r) => r.status === 200 && r.startedMs > killedAtMs)).toBe(true);

      // Every webhook Meta saw acknowledged reaches the instance, once restarted workers pick up
      // what the killed one held.
      const missing = () => {
        const delivered = new Set(instance.sim.received().map(wamidOf));
        return [...acked].filter((wamid) => !delivered.has(wamid));
      };
      await eventually(async () => (missing().length === 0 ? true : undefined), 150_000, 500).catch(() => undefined);
      expect(missing()).toEqual([]);
      await settled(mic, instance.instanceId, 60_000);

      const received = instance.sim.received();
      const sentWamids = new Set(messages.sent.map((m) => m.wamid));
      // Nothing delivered that Meta did not send; `data` and `raw` name the same message.
      expect(received.filter((d) => !sentWamids.has(wamidOf(d))).map((d) => d.webhookId)).toEqual([]);
      expect(received.filter((d) => rawWamidOf(d) !== wamidOf(d)).map((d) => d.webhookId)).toEqual([]);
      // A repeated delivery (a worker killed between sending and recording) carries the first one's webhook-id.
      expect(splitEvents(received)).toEqual({});
      const first = firstSuccesses(received);
      expect(outOfOrder(first)).toEqual([]);
      expect(seqGaps(first)).toEqual({});
      expect(await deliveriesIn(mic, 'dead', instance.instanceId)).toEqual([]);
      expect(received.every(isSuccess)).toBe(true);

      const lastAt = Math.max(...first.map((d) => Date.parse(d.receivedAt)));
      const control = await health(`${mic.controlUrl}/health/engine`);
      expect(control.body.checks?.['supervisor:restarts']?.[0]?.observedValue).toBe(1);

      console.info(
        `kill -9 burst: ${BURST} requests (${report.summary.originals} bodies, ${report.summary.duplicates} Meta duplicates), ` +
          `${report.summary.ok} answered 200 (${acked.size} distinct messages), ${JSON.stringify(report.summary.errors)}; ` +
          `engine killed at ${seconds(killedAtMs)}, sender done at ${seconds(report.summary.durationMs)}; ` +
          `webhook latency ms ${JSON.stringify(report.summary.latencyMs)}; ${first.length} events delivered, ` +
          `${received.length - first.length} repeated deliveries, the last ${seconds(lastAt - killedAt)} after the kill, ` +
          `longest wait within a conversation ${seconds(longestWait(first))}; run ${seconds(Date.now() - started)}`,
      );
    },
  );

  it.runIf(TEST_DATABASE_URL)(
    'two worker processes on one Postgres deliver each event once',
    { timeout: 180_000 },
    async () => {
      const BURST = 1_000;
      const started = Date.now();
      const env = await newEnv({ ENGINE_ROLES: 'ingress,worker' });
      // Control, whose snapshot routes the channel; the engines are what this test is about.
      const control = run(['control'], env);
      await eventually(async () => ((await fetch(`${control.controlUrl}/readyz`)).ok ? true : undefined), 60_000, 250);
      const first = run(['engine'], env);
      await waitForHealth(`${first.engineUrl}/health`, 'pass');
      // Same database, schema and keys folder (service tokens, keyring); its own port, workers only.
      const second = run(['engine'], {
        ...env,
        env: { ...env.env, ENGINE_PORT: String(await freePort()), ENGINE_ROLES: 'worker' },
      });
      await waitForHealth(`${second.engineUrl}/health`, 'pass');
      expect((await systemStatus(second, 'engine')).roles).toEqual(['worker']);

      const instance = await connect(first, {
        name: 'ins-replicas',
        phoneNumberId: '100000000002',
      });
      const messages = textMessages(instance.phoneNumberId, 50);
      const report = await sendWebhooks({
        url: `${first.engineUrl}/meta/webhook`,
        appSecret: APP_SECRET,
        generator: messages.generator,
        count: BURST,
        rate: 0,
        concurrency: 16,
        duplicateEvery: 10,
      });
      expect(report.summary.ok).toBe(BURST);

      const events = new Set(messages.sent.map((m) => m.wamid));
      await eventually(
        async () => (new Set(instance.sim.received().map(wamidOf)).size >= events.size ? true : undefined),
        60_000,
        250,
      ).catch(() => undefined);
      await settled(first, instance.instanceId, 30_000);
      const received = instance.sim.received();

      expect(new Set(received.map(wamidOf))).toEqual(events);
      expect(splitEvents(received)).toEqual({});
      // Exactly once: no webhook-id reached the instance twice.
      expect(Object.entries(instance.sim.attempts()).filter(([, attempts]) => attempts > 1)).toEqual([]);
      expect(deliveredTwice(received)).toEqual([]);
      expect(outOfOrder(firstSuccesses(received))).toEqual([]);
      expect(seqGaps(received)).toEqual({});

      // Both processes did deliver: the work was shared, not left to one of them.
      const delivered = await Promise.all(
        [first, second].map(async (mic) =>
          metricValue(await (await fetch(`${mic.engineUrl}/metrics`)).text(), 'delivery_attempts_total', {
            outcome: 'delivered',
          }),
        ),
      );
      expect(Math.min(...delivered)).toBeGreaterThan(0);
      expect(delivered[0]! + delivered[1]!).toBe(events.size);

      console.info(
        `two workers: ${BURST} requests (${events.size} events), delivered ${delivered.join(' + ')}, ` +
          `${received.length} deliveries received; run ${seconds(Date.now() - started)}`,
      );
    },
  );

  it(
    'holds an instance that answers 500 behind its breaker, keeps others flowing, and delivers all in order once it recovers',
    { timeout: 180_000 },
    async () => {
      const mic = await startMic();
      const failing = await connect(mic, {
        name: 'ins-failing',
        phoneNumberId: '100000000003',
        mode: { mode: 'fail-500' },
      });
      const healthy = await connect(mic, {
        name: 'ins-healthy',
        phoneNumberId: '100000000004',
      });
      const send = async (instance: SimInstance, count: number, customers: number, rate: number) => {
        const messages = textMessages(instance.phoneNumberId, customers);
        const report = await sendWebhooks({
          url: `${mic.engineUrl}/meta/webhook`,
          appSecret: APP_SECRET,
          generator: messages.generator,
          count,
          rate,
          concurrency: 4,
        });
        expect(report.summary.ok).toBe(count);
        return messages.sent;
      };

      const FAILING_CONVERSATIONS = 3;
      const failingSent = await send(failing, 60, FAILING_CONVERSATIONS, 0);
      const opened = await eventually(
        async () => (await alertsOf(mic, failing.instanceId)).find((a) => a.kind === 'breaker.opened'),
        30_000,
        100,
      );
      // While the breaker is open, the other tenant's events keep flowing.
      const healthySent = await send(healthy, 40, 4, 20);
      await healthy.sim.waitFor((received) => received.filter(isSuccess).length >= healthySent.length, 30_000);
      // Let a few half-open probes fail before the instance recovers.
      await new Promise((resolve) => setTimeout(resolve, 2_000));
      const failedFor = Date.now() - Date.parse(failing.sim.received()[0]!.receivedAt);
      expect((await alertsOf(mic, failing.instanceId)).map((a) => a.kind)).toEqual(['breaker.opened']);
      failing.sim.setMode({ mode: 'ok' });

      const closed = await eventually(
        async () => (await alertsOf(mic, failing.instanceId)).find((a) => a.kind === 'breaker.closed'),
        30_000,
        100,
      );
      await failing.sim.waitFor((received) => firstSuccesses(received).length >= failingSent.length, 30_000);
      await settled(mic, failing.instanceId, 30_000);

      // The failing instance gets every event once it recovers, each conversation in order.
      const received = failing.sim.received();
      const first = firstSuccesses(received);
      expect(new Set(first.map(wamidOf))).toEqual(new Set(failingSent.map((m) => m.wamid)));
      expect(splitEvents(received)).toEqual({});
      // Nothing crashed: no event may be delivered (answered 2xx) twice.
      expect(deliveredTwice(received)).toEqual([]);
      expect(outOfOrder(first)).toEqual([]);
      expect(seqGaps(first)).toEqual({});
      expect(await deliveriesIn(mic, 'dead', failing.instanceId)).toEqual([]);
      // Held deliveries spent no attempt: only each conversation's head was tried while it failed,
      // until the breaker opened (the threshold, plus the other conversations' attempts already in
      // flight), then by one half-open probe per BREAKER_HALF_OPEN_AFTER. Retried on its schedule
      // alone, each head would have been tried about 8 times in that while, and dead-lettered.
      const failures = received.filter((d) => d.status === 500);
      expect(new Set(failures.map((d) => d.webhookId)).size).toBeLessThanOrEqual(FAILING_CONVERSATIONS);
      const threshold = Number(COMPRESSED.BREAKER_THRESHOLD);
      const probes = Math.floor(failedFor / 1_000) + 1;
      expect(failures.length).toBeLessThanOrEqual(threshold + FAILING_CONVERSATIONS - 1 + probes);

      // The breaker opened once and closed once, and the operator was told both.
      expect((await alertsOf(mic, failing.instanceId)).map((a) => a.kind)).toEqual([
        'breaker.closed',
        'breaker.opened',
      ]);
      expect(Date.parse(closed.createdAt)).toBeGreaterThan(Date.parse(opened.createdAt));

      // The healthy instance's events all arrived while the other's breaker was open.
      const healthyReceived = healthy.sim.received();
      expect(new Set(healthyReceived.map(wamidOf))).toEqual(new Set(healthySent.map((m) => m.wamid)));
      expect(healthyReceived.every(isSuccess)).toBe(true);
      expect(
        healthyReceived.filter(
          (d) =>
            Date.parse(d.receivedAt) < Date.parse(opened.createdAt) ||
            Date.parse(d.receivedAt) > Date.parse(closed.createdAt),
        ),
      ).toEqual([]);
      expect(await alertsOf(mic, healthy.instanceId)).toEqual([]);

      console.info(
        `breaker: ${failingSent.length} events to the failing instance, ${failures.length} answered 500 over ${seconds(failedFor)}, ` +
          `open ${seconds(Date.parse(closed.createdAt) - Date.parse(opened.createdAt))}; ` +
          `${healthyReceived.length} events to the healthy one meanwhile`,
      );
    },
  );
});
