import { randomUUID } from 'node:crypto';
import { GroupWriter, type Db, type JobQueue, type Logger } from '@mic/platform';
import { LaneStore, type ClaimedItem, type LaneItem, type Priority } from './store.ts';

/** What the send handler made of one item; the lane acts on it. */
export type SendOutcome =
  /** Meta took it: the item leaves the lane. */
  | { outcome: 'sent' }
  /** Failed for good (the caller recorded why): the item leaves the lane. */
  | { outcome: 'failed' }
  /** 5xx, network: back in its place, due at `atMs` (the caller's backoff with jitter). */
  | { outcome: 'retry'; atMs: number }
  /** Token refused: the lane stops until `resume`; the item waits in its place. */
  | { outcome: 'lane-paused'; reason: string }
  /** 130429 / 131048: the lane slows down and the item is retried at `retryAtMs`. */
  | { outcome: 'lane-slowed'; factor: number; untilMs: number; retryAtMs: number }
  /** 131056: this recipient's items wait until `untilMs`, the lane's others go on. */
  | { outcome: 'recipient-delayed'; untilMs: number }
  /** `atSlot` answered false: nothing was sent, the item goes back to its place in the lane. */
  | { outcome: 'put-back' };

/**
 * Sends one item. The handler is called as soon as the item is claimed, ahead of its slot: it does
 * its own database work first, then waits for `atSlot()` and calls Meta at once when it answers
 * true, so that nothing but the call itself stands between the slot and the send. `atSlot()`
 * answers false when the lane takes the item back (a pause, a recipient on hold, a stop): the
 * handler then sends nothing and answers `put-back`.
 */
export type SendHandler = (item: ClaimedItem, atSlot: () => Promise<boolean>) => Promise<SendOutcome>;

export interface LanesOptions {
  db: Db;
  logger: Logger;
  /**
   * Wakes idle lanes across processes: an enqueue adds a wake job (one queued per lane) whose
   * NOTIFY reaches a worker at once. Without it, other processes find new work at their next poll.
   */
  queue?: JobQueue;
  /** Meta's per-second cap of a lane (e.g. from the tenant's limits); 80 when not given. */
  capFor?: (lane: string) => number | Promise<number>;
  /** The share of the cap the engine paces to (0 < share ≤ 1). */
  share?: number;
  /** How far ahead of now a worker reserves slots: also what a new critical item may wait for. */
  horizonMs?: number;
  /** A claim's lease; a worker renews its claims every third of it, so a dead one's expire. */
  leaseMs?: number;
  /** How often a worker looks for lanes with work it was not told about (other replicas' enqueues, retries). */
  pollIntervalMs?: number;
  /** Items one worker holds per lane at once (scheduled and being sent): bounds a slow lane. */
  maxInFlightPerLane?: number;
  /** When a handler throws, the item is retried this much later. */
  errorRetryMs?: number;
  /** Told of each send's outcome, of each slot missed and of each slow-down for lateness (for metrics). */
  observe?: (lane: string, event: SendOutcome['outcome'] | 'missed-slot' | 'late-slow-down') => void;
}

export const DEFAULT_CAP = 80;

const PRIORITY_RANK: Record<Priority, number> = { critical: 0, conversation: 1, marketing: 2 };
const MARKETING_RANK = PRIORITY_RANK.marketing;
const sendOrder = (a: Held, b: Held) => a.rank - b.rank || a.order - b.order;

/**
 * How late a send may start after its slot. Sends start within [slot, slot + window], so a
 * one-second window at Meta holds sends of slots within 1 s + window: at most (1 s + window) /
 * interval of them, within the cap while window ≤ interval × cap − 1 s. Half of that is spent here,
 * the other half is left for the network's jitter on the way to Meta: 26 ms at a share of 0.95, and
 * more on a slowed lane, whose slots are further apart. At share 1 there is no room: 1 ms, for
 * timer rounding.
 */
function sendWindowMs(intervalMs: number, capPerSecond: number): number {
  return Math.max(1, 0.5 * (intervalMs * capPerSecond - 1000));
}
export const WAKE_QUEUE = 'outbound-lane-wake';

/** A reserved send slot: the send starts within [slotMs, slotMs + windowMs]. */
interface Slot {
  slotMs: number;
  windowMs: number;
  /** The lane's slow-down factor when the slot was claimed. */
  factor: number;
}

interface Held {
  item: ClaimedItem;
  /** Claim order in this worker: the lane's send order within a priority. */
  order: number;
  /** When its handler started (epoch ms). */
  startedAt?: number;
  /** Starts its handler a little before its slot. */
  prepTimer?: NodeJS.Timeout | undefined;
  rank: number;
  /** Its reserved slot; none while it waits for one from the next claim (it lost its own). */
  slot?: Slot | undefined;
  timer?: NodeJS.Timeout | undefined;
  /** Its slot has come (the handler may still be preparing). */
  isDue?: boolean;
  /** The handler waits in `atSlot()`: answers it. */
  answer?: ((go: boolean) => void) | undefined;
  /** Slots the event loop was too late for while its handler waited. */
  misses: number;
  /** Taken back by the lane: `atSlot()` answers false. */
  isPutBack?: boolean;
  /** No longer waits for a slot: its call to Meta is under way, or its handler has answered. */
  isGone?: boolean;
  /** The handler's run, from the claim to the item's outcome. */
  sending?: Promise<void>;
}

/**
 * An item whose slot's timer fires too late this many times shows a worker too slow for the
 * lane's slots (not a moment's stall): the lane's slots go `LATENESS_STEP` times further apart
 * (again and again, up to `MAX_LATENESS_FACTOR`) for a while. A small step does much: the window a
 * send has after its slot grows from 26 ms to 79 ms for a lane 10 % slower (see `sendWindowMs`).
 */
const MISSES_TO_SLOW = 2;
const LATENESS_STEP = 1.1;
const MAX_LATENESS_FACTOR = 32;
const LATENESS_SLOW_MS = 3_000;

interface Runner {
  woken: boolean;
  wake: () => void;
  done: Promise<void>;
}

/**
 * Per-channel lanes of outbound sends, paced under each channel's rate cap across every worker
 * process on the database. Workers claim a lane's due items together with consecutive send slots
 * (`next_slot_ms` on the lane's row), then call the send handler for each item at its slot.
 * See docs/outbound.md.
 */
export class Lanes {
  readonly workerId = randomUUID();
  readonly #store: LaneStore;
  /** Items whose sends are over leave their lanes together: one statement for those that end together. */
  readonly #finished: GroupWriter<string, void>;
  readonly #queue: JobQueue | undefined;
  readonly #logger: Logger;
  readonly #capFor: (lane: string) => number | Promise<number>;
  readonly #share: number;
  readonly #horizonMs: number;
  readonly #leaseMs: number;
  readonly #pollIntervalMs: number;
  readonly #maxInFlight: number;
  readonly #errorRetryMs: number;
  readonly #observe: NonNullable<LanesOptions['observe']>;
  readonly #held = new Map<string, Held>();
  /** Held items per lane. */
  readonly #load = new Map<string, number>();
  readonly #runners = new Map<string, Runner>();
  /** Until when this worker slowed each lane down for lateness. */
  readonly #slowedUntil = new Map<string, number>();
  #handler: SendHandler | undefined;
  #stopping = true;
  #halted = false;
  /** Whether this worker takes wake jobs from the queue. */
  #isWoken = false;
  #claimed = 0;
  #pollTimer: NodeJS.Timeout | undefined;
  #heartbeatTimer: NodeJS.Timeout | undefined;
  /** Slots given up because the worker was too late for them. */
  missedSlots = 0;
  /** How long a handler takes to get ready for its slot (moving average, ms). */
  #prepMs = 20;

  constructor(options: LanesOptions) {
    this.#store = new LaneStore(options.db);
    this.#finished = new GroupWriter({
      write: async (messageIds) => {
        await this.#store.finish(messageIds, this.workerId);
        return messageIds.map(() => undefined);
      },
    });
    this.#queue = options.queue;
    this.#logger = options.logger;
    this.#capFor = options.capFor ?? (() => DEFAULT_CAP);
    this.#share = options.share ?? 0.95;
    if (!(this.#share > 0 && this.#share <= 1)) throw new Error('lanes: share must be in (0, 1]');
    this.#horizonMs = options.horizonMs ?? 250;
    this.#leaseMs = options.leaseMs ?? 30_000;
    this.#pollIntervalMs = options.pollIntervalMs ?? 500;
    this.#maxInFlight = options.maxInFlightPerLane ?? 200;
    this.#errorRetryMs = options.errorRetryMs ?? 1_000;
    this.#observe = options.observe ?? (() => {});
  }

  /** Defines the wake queue (before the first enqueue, when there is a queue). */
  async init(): Promise<void> {
    await this.#queue?.define(WAKE_QUEUE, { policy: 'short', retryLimit: 0, deleteAfterSeconds: 600 });
  }

  /** Queues an item in the caller's transaction: it exists exactly when the caller's change commits. */
  async enqueue(tx: Db, item: LaneItem): Promise<void> {
    await this.enqueueMany(tx, [item]);
  }

  async enqueueMany(tx: Db, items: readonly LaneItem[]): Promise<void> {
    await this.#store.enqueue(tx, items, Date.now());
    if (!this.#queue) return;
    for (const lane of new Set(items.map((item) => item.lane))) {
      await this.#queue.send(WAKE_QUEUE, { lane }, { singletonKey: lane }, tx);
    }
  }

  /**
   * Takes items out of their lanes (a cancelled or paused broadcast) in the caller's transaction,
   * except those a worker holds now: their send may be under way and ends as the handler says.
   */
  async withdraw(tx: Db, which: { messageIds: readonly string[] } | { batch: string }): Promise<string[]> {
    return this.#store.withdraw(tx, which, Date.now());
  }

  /** Looks at a lane now instead of at the next poll (after the enqueueing transaction committed). */
  wake(lane: string): void {
    if (this.#stopping) return;
    const runner = this.#runners.get(lane);
    if (runner) runner.wake();
    else this.#startRunner(lane);
  }

  /** Spaces the lane's slots `factor` times further apart until `untilMs`. */
  async slowDown(lane: string, factor: number, untilMs: number): Promise<void> {
    await this.#store.slowDown(lane, factor, untilMs, Date.now());
  }

  /**
   * Stops claiming from the lane until `resume`. This worker puts back the items it holds for
   * later slots; sends already started finish, and other replicas' next sends meet the same error.
   */
  async pause(lane: string, reason: string): Promise<void> {
    await this.#store.pause(lane, reason, Date.now());
    await this.#putBack((item) => item.lane === lane);
  }

  async resume(lane: string): Promise<void> {
    await this.#store.resume(lane);
    this.wake(lane);
  }

  /** That recipient's items in the lane wait until `untilMs`; its other items go on. */
  async delayRecipient(lane: string, recipient: string, untilMs: number): Promise<void> {
    await this.#store.holdRecipient(lane, recipient, untilMs);
    await this.#putBack((item) => item.lane === lane && item.recipient === recipient);
  }

  /** Puts an item back in its place (FIFO order kept), due at `atMs`. */
  async retryLater(item: Pick<ClaimedItem, 'messageId'>, atMs: number): Promise<void> {
    await this.#store.release([item.messageId], null, atMs);
  }

  /** The lane's row: cursor and controls (for status pages and tests). */
  laneState(lane: string) {
    return this.#store.laneState(lane);
  }

  /** Starts the worker: claims due items lane by lane and calls `send` for each at its slot. */
  async start(send: SendHandler): Promise<void> {
    if (!this.#stopping || this.#halted) throw new Error('lanes: already started or halted');
    this.#handler = send;
    this.#stopping = false;
    const poll = async () => {
      try {
        await this.#store.purgeHolds(Date.now());
        for (const lane of await this.#store.lanesWithWork(Date.now())) {
          if (!this.#stopping && !this.#runners.has(lane)) this.#startRunner(lane);
        }
      } catch (error) {
        this.#logger.warn({ err: error }, 'lanes poll failed');
      }
      if (!this.#stopping) this.#pollTimer = setTimeout(() => void poll(), this.#pollIntervalMs);
    };
    void poll();
    const beat = async () => {
      try {
        if (this.#held.size > 0) await this.#store.heartbeat(this.workerId, Date.now() + this.#leaseMs);
      } catch (error) {
        this.#logger.warn({ err: error }, 'lanes heartbeat failed');
      }
      if (!this.#halted && this.#handler) this.#heartbeatTimer = setTimeout(() => void beat(), this.#leaseMs / 3);
    };
    this.#heartbeatTimer = setTimeout(() => void beat(), this.#leaseMs / 3);
    if (this.#queue) {
      await this.#queue.work<{ lane: string }>(WAKE_QUEUE, { batchSize: 50 }, async (jobs) => {
        for (const job of jobs) this.wake(job.data.lane);
      });
      this.#isWoken = true;
    }
  }

  /**
   * Graceful stop (SIGTERM): claims no more, puts back the items waiting for their slot, and waits
   * up to `timeoutMs` for the sends already started. Those still running keep their claim, which
   * expires if this process exits first (at-least-once).
   */
  async stop(timeoutMs = 10_000): Promise<void> {
    this.#stopping = true;
    clearTimeout(this.#pollTimer);
    await this.#stopWakes();
    for (const runner of this.#runners.values()) runner.wake();
    await Promise.all([...this.#runners.values()].map((runner) => runner.done));
    const puttingBack = this.#putBack(() => true);
    const sending = [...this.#held.values()].flatMap((held) => (held.sending ? [held.sending] : []));
    let timer: NodeJS.Timeout | undefined;
    await Promise.race([
      Promise.allSettled([puttingBack, ...sending]),
      new Promise((resolve) => (timer = setTimeout(resolve, timeoutMs))),
    ]);
    clearTimeout(timer);
    this.#handler = undefined;
    clearTimeout(this.#heartbeatTimer);
  }

  /**
   * Stops at once and leaves every claim as it is, as a killed process would: its items are taken
   * again by another worker once their leases expire. For tests and last-resort shutdowns.
   */
  halt(): void {
    this.#stopping = true;
    this.#halted = true;
    clearTimeout(this.#pollTimer);
    clearTimeout(this.#heartbeatTimer);
    for (const held of this.#held.values()) {
      clearTimeout(held.timer);
      clearTimeout(held.prepTimer);
    }
    for (const runner of this.#runners.values()) runner.wake();
    void this.#stopWakes().catch(() => {});
  }

  async #stopWakes(): Promise<void> {
    if (!this.#isWoken) return;
    this.#isWoken = false;
    await this.#queue?.offWork(WAKE_QUEUE);
  }

  /**
   * Takes back the held items that `which` picks and that have not gone to Meta: their handlers'
   * `atSlot()` answers false, and each goes back to its place in the lane when its handler answers
   * `put-back`. Resolves once they are back.
   */
  async #putBack(which: (item: ClaimedItem) => boolean): Promise<void> {
    const taken = [...this.#held.values()].filter((held) => !held.isGone && !held.isPutBack && which(held.item));
    for (const held of taken) {
      clearTimeout(held.timer);
      clearTimeout(held.prepTimer);
      held.timer = undefined;
      held.slot = undefined;
      held.isPutBack = true;
      held.answer?.(false);
      held.answer = undefined;
    }
    // Items whose handler had not started go back at once; the others when their handler answers.
    const idle = taken.filter((held) => !held.sending);
    for (const held of idle) this.#drop(held.item);
    await this.#store.release(
      idle.map((held) => held.item.messageId),
      this.workerId,
    );
    await Promise.allSettled(taken.flatMap((held) => (held.sending ? [held.sending] : [])));
  }

  #inFlight(lane: string): number {
    return this.#load.get(lane) ?? 0;
  }

  #drop(item: ClaimedItem): void {
    if (!this.#held.delete(item.messageId)) return;
    const load = this.#inFlight(item.lane) - 1;
    if (load > 0) this.#load.set(item.lane, load);
    else this.#load.delete(item.lane);
  }

  /** The lane's held marketing items whose slots are still to come: what an urgent item may swap with. */
  #swappable(lane: string, nowMs: number): number {
    let n = 0;
    for (const held of this.#held.values()) {
      if (held.item.lane === lane && held.rank === MARKETING_RANK && !held.isGone && (held.slot?.slotMs ?? 0) > nowMs)
        n++;
    }
    return n;
  }

  /** The lane's held items that wait for a slot (they lost theirs), in send order. */
  #unslotted(lane: string): Held[] {
    return [...this.#held.values()]
      .filter((held) => held.item.lane === lane && !held.slot && !held.isGone && !held.isPutBack)
      .sort(sendOrder);
  }

  #startRunner(lane: string): void {
    let wake = () => {};
    let timer: NodeJS.Timeout | undefined;
    const runner: Runner = {
      woken: false,
      wake: () => {
        runner.woken = true;
        clearTimeout(timer);
        wake();
      },
      done: Promise.resolve(),
    };
    const sleep = (ms: number) =>
      new Promise<void>((resolve) => {
        if (runner.woken || this.#stopping) {
          runner.woken = false;
          resolve();
          return;
        }
        wake = resolve;
        timer = setTimeout(resolve, Math.max(0, ms));
      }).then(() => {
        wake = () => {};
        runner.woken = false;
      });
    this.#runners.set(lane, runner);
    runner.done = this.#run(lane, runner, sleep)
      .finally(() => this.#runners.delete(lane))
      .then(async () => {
        // A runner that gives up (database errors) leaves no item without a slot behind.
        const unslotted = new Set(this.#unslotted(lane));
        if (unslotted.size > 0 && !this.#halted) {
          await this.#putBack((item) => unslotted.has(this.#held.get(item.messageId)!));
        }
      })
      .catch((error: unknown) => this.#logger.warn({ err: error, lane }, 'lane runner ended badly'));
  }

  async #run(lane: string, runner: Runner, sleep: (ms: number) => Promise<void>): Promise<void> {
    let busy = 0;
    while (!this.#stopping) {
      // Items that lost their slot need new slots whatever the lane's load: they are counted in it.
      const carry = this.#unslotted(lane).length;
      const room = Math.max(0, this.#maxInFlight - this.#inFlight(lane));
      // Critical and conversation items may go a quarter beyond the limit: a lane full of marketing
      // sends still takes them, ahead of its carried items.
      const urgentRoom = Math.max(0, Math.ceil(this.#maxInFlight * 1.25) - this.#inFlight(lane));
      if (urgentRoom === 0 && carry === 0) {
        await sleep(this.#horizonMs);
        continue;
      }
      runner.woken = false;
      let claim;
      let cap;
      const claimedAt = Date.now();
      try {
        cap = await this.#capFor(lane);
        claim = await this.#store.claim(
          {
            lane,
            worker: this.workerId,
            ratePerSecond: cap * this.#share,
            horizonMs: this.#horizonMs,
            limit: room,
            urgentLimit: urgentRoom,
            carry,
            swappable: this.#swappable(lane, claimedAt),
            leaseMs: this.#leaseMs,
            earliestSlotMs: claimedAt + Math.min(this.#horizonMs / 2, this.#leadMs() + 20),
          },
          claimedAt,
        );
      } catch (error) {
        this.#logger.warn({ err: error, lane }, 'lane claim failed');
        return;
      }
      if (claim.kind === 'busy') {
        // Another worker is claiming; a lane that keeps answering busy has no row: the poll
        // restarts it once it has work.
        if (++busy > 100) return;
        // It reserves the next slots meanwhile: looking again sooner than half a horizon would only
        // find them reserved, at the price of a transaction (and, on a loaded machine, three
        // replicas looking every few ms slow the sends down enough to bunch them at Meta).
        await sleep(this.#horizonMs / 2);
        continue;
      }
      busy = 0;
      if (claim.kind === 'paused') {
        await this.#putBack((item) => item.lane === lane);
        return;
      }
      if (claim.kind === 'idle') {
        // An enqueue woke us while the claim ran: look again before going idle.
        if (runner.woken && !this.#stopping) continue;
        return;
      }
      if (claim.kind === 'ahead') {
        await sleep(claim.atMs - Date.now());
        continue;
      }
      if (this.#halted) return;
      for (const item of claim.items) {
        const held: Held = { item, order: this.#claimed++, rank: PRIORITY_RANK[item.priority], misses: 0 };
        this.#held.set(item.messageId, held);
        this.#load.set(lane, this.#inFlight(lane) + 1);
      }
      // The slots go to the items without one, in send order: a new critical item before carried
      // marketing ones. Some carried items may have been put back during the claim (a slot goes
      // unused); items left over wait for the next claim.
      const windowMs = sendWindowMs(claim.intervalMs, cap);
      const slots = [...claim.carriedSlots, ...claim.items.map((item) => item.slotMs)].sort((a, b) => a - b);
      const waiting = this.#unslotted(lane);
      slots.forEach((slotMs, i) => {
        if (waiting[i]) this.#arm(waiting[i], { slotMs, windowMs, factor: claim.slowFactor });
      });
      if (this.#stopping) return;
      // Claims again while half a horizon of slots is left, and early enough to be ready for them.
      await sleep(claim.frontierMs - this.#horizonMs / 2 - this.#leadMs() - Date.now());
    }
  }

  /** How long before its slot an item's handler starts: enough to get ready, and no more. */
  #leadMs(): number {
    return Math.min(this.#horizonMs, 2 * this.#prepMs);
  }

  /**
   * Gives the held item a slot and sets its timer; starts its handler a lead before the slot (the
   * first time), so that the handlers preparing at once are about as many as the lane sends in that
   * lead, not all the items claimed. A critical or conversation item's handler starts at once: ready
   * early, it can take an earlier slot from a marketing item (`#jumpAhead`).
   */
  #arm(held: Held, slot: Slot): void {
    clearTimeout(held.timer);
    held.slot = slot;
    held.item.slotMs = slot.slotMs;
    held.isDue = false;
    if (!held.sending && !held.prepTimer) {
      const start = () => {
        held.prepTimer = undefined;
        if (this.#halted || held.sending || held.isPutBack) return;
        held.startedAt = Date.now();
        held.sending = this.#send(held);
      };
      const startIn = held.rank < MARKETING_RANK ? 0 : slot.slotMs - this.#leadMs() - Date.now();
      held.prepTimer = setTimeout(start, Math.max(0, startIn));
    }
    const fire = () => {
      if (this.#halted) return;
      const now = Date.now();
      if (now < slot.slotMs) {
        // Timers may fire a little early by the wall clock.
        held.timer = setTimeout(fire, slot.slotMs - now);
        return;
      }
      held.timer = undefined;
      held.isDue = true;
      this.#go(held, true);
    };
    held.timer = setTimeout(fire, Math.max(0, slot.slotMs - Date.now()));
  }

  /**
   * Lets the handler call Meta once the slot has come and the handler is ready, if that is still
   * within the slot's window; otherwise the slot is lost (`#late`). `byTimer`: the slot's timer
   * found the handler waiting, so lateness now is the event loop's.
   */
  #go(held: Held, byTimer: boolean): void {
    if (held.answer && !held.isDue) this.#jumpAhead(held);
    if (!held.isDue || !held.answer || !held.slot) return;
    if (Date.now() > held.slot.slotMs + held.slot.windowMs) {
      this.#late(held, byTimer);
      return;
    }
    const answer = held.answer;
    held.answer = undefined;
    held.isGone = true;
    answer(true);
  }

  /**
   * A critical or conversation item ready before its slot moves ahead of the marketing items of its
   * lane that this worker holds with earlier slots still to come: those slots and its own go again
   * in send order, so it goes at the first of them and the marketing items keep their order, each
   * one slot later. The lane's slots stay the same.
   */
  #jumpAhead(urgent: Held): void {
    const own = urgent.slot;
    if (urgent.rank === MARKETING_RANK || !own) return;
    const now = Date.now();
    const ahead = [...this.#held.values()].filter(
      (held) =>
        held.item.lane === urgent.item.lane &&
        held.slot !== undefined &&
        held.slot.slotMs > now &&
        held.slot.slotMs <= own.slotMs &&
        !held.isDue &&
        !held.isGone &&
        !held.isPutBack,
    );
    if (!ahead.some((held) => held.rank === MARKETING_RANK)) return;
    const slots = ahead.map((held) => held.slot!).sort((a, b) => a.slotMs - b.slotMs);
    ahead.sort(sendOrder).forEach((held, i) => {
      if (held.slot !== slots[i]) this.#arm(held, slots[i]!);
    });
  }

  /**
   * Too late for the slot (an overloaded event loop, or a handler slower to prepare than the
   * horizon): the slot is lost, not the order. The worker's waiting items on the lane take its
   * remaining slots in send order, and those left over wait, in order, for slots from the next
   * claim. A handler is late in preparing once at most (then it waits, ready); an event loop late
   * for the same item again (`isLoopLate`) slows the lane down: wider slots leave it more time.
   */
  #late(late: Held, isLoopLate: boolean): void {
    this.missedSlots++;
    const lane = late.item.lane;
    this.#observe(lane, 'missed-slot');
    const now = Date.now();
    const waiting = [...this.#held.values()]
      .filter((held) => held.item.lane === lane && !held.isGone && !held.isPutBack)
      .sort(sendOrder);
    const slots = waiting
      .flatMap((held) =>
        held.slot && held !== late && held.slot.slotMs + held.slot.windowMs >= now ? [held.slot] : [],
      )
      .sort((a, b) => a.slotMs - b.slotMs);
    for (const held of waiting) {
      clearTimeout(held.timer);
      held.timer = undefined;
      held.slot = undefined;
    }
    const factor = late.slot?.factor ?? 1;
    slots.forEach((slot, i) => this.#arm(waiting[i]!, slot));
    if (isLoopLate && ++late.misses >= MISSES_TO_SLOW) {
      late.misses = 0;
      this.#slowForLateness(lane, factor, now);
    }
    // The lane's runner may have gone idle since it claimed these.
    this.wake(lane);
  }

  #slowForLateness(lane: string, factor: number, now: number): void {
    // One slow-down per lane and worker while it lasts: an overloaded worker is late on every lane,
    // and a write per late item would only load it more.
    if ((this.#slowedUntil.get(lane) ?? 0) > now) return;
    this.#slowedUntil.set(lane, now + LATENESS_SLOW_MS);
    this.#observe(lane, 'late-slow-down');
    const slower = Math.min(MAX_LATENESS_FACTOR, factor * LATENESS_STEP);
    this.#logger.warn({ lane, factor: slower }, 'lane sends keep missing their slots: the lane slows down for a while');
    this.slowDown(lane, slower, now + LATENESS_SLOW_MS).catch((error: unknown) =>
      this.#logger.warn({ err: error, lane }, 'lane slow-down failed'),
    );
  }

  async #send(held: Held): Promise<void> {
    const { item } = held;
    const atSlot = () =>
      new Promise<boolean>((resolve) => {
        if (held.isPutBack || this.#stopping) {
          resolve(false);
          return;
        }
        this.#prepMs = 0.8 * this.#prepMs + 0.2 * (Date.now() - held.startedAt!);
        held.answer = resolve;
        this.#go(held, false);
      });
    try {
      let outcome: SendOutcome;
      try {
        outcome = await this.#handler!(item, atSlot);
      } catch (error) {
        this.#logger.error({ err: error, lane: item.lane, messageId: item.messageId }, 'send handler threw');
        outcome = { outcome: 'retry', atMs: Date.now() + this.#errorRetryMs };
      }
      // A halted worker is a dead one: what it learns afterwards is lost, as in a crash.
      if (this.#halted) return;
      // A handler that answered without waiting for its slot gave its slot up.
      held.isGone = true;
      clearTimeout(held.timer);
      if (outcome.outcome !== 'put-back') this.#observe(item.lane, outcome.outcome);
      await this.#settle(item, outcome);
    } catch (error) {
      this.#logger.error({ err: error, lane: item.lane, messageId: item.messageId }, 'lane item not settled');
    } finally {
      if (!this.#halted) {
        const wasFull = this.#inFlight(item.lane) >= this.#maxInFlight;
        this.#drop(item);
        if (wasFull) this.#runners.get(item.lane)?.wake();
      }
    }
  }

  async #settle(item: ClaimedItem, result: SendOutcome): Promise<void> {
    const ids = [item.messageId];
    switch (result.outcome) {
      case 'sent':
      case 'failed':
        await this.#finished.write(item.messageId);
        return;
      case 'retry':
        await this.#store.release(ids, this.workerId, result.atMs);
        return;
      case 'lane-paused':
        await this.pause(item.lane, result.reason);
        await this.#store.release(ids, this.workerId);
        return;
      case 'lane-slowed':
        await this.slowDown(item.lane, result.factor, result.untilMs);
        await this.#store.release(ids, this.workerId, result.retryAtMs);
        return;
      case 'recipient-delayed':
        await this.delayRecipient(item.lane, item.recipient, result.untilMs);
        await this.#store.release(ids, this.workerId);
        return;
      case 'put-back':
        await this.#store.release(ids, this.workerId);
        return;
    }
  }
}
