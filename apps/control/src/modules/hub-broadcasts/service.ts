import { desc, eq } from 'drizzle-orm';
import { uuidv7 } from 'uuidv7';
import type {
  Broadcast,
  BroadcastEventData,
  BroadcastRecipientInput,
  BroadcastRecipientPage,
  BroadcastRecipientsQuery,
  BroadcastTotals,
  CreateBroadcastRequest,
  CreateHubBroadcastRequest,
  DeliveredEvent,
  HubBroadcast,
  HubBroadcastState,
} from '@mic/contracts';
import { Problem, isUuid, peerProblem, problems, type Clock, type Db } from '@mic/platform';
import { engineCopy, handOver, type EngineHandover } from '../outbox/index.ts';
import { engineQuery } from '../engine/index.ts';
import { hubBroadcasts } from './schema.ts';

export const HUB_BROADCASTS_QUEUE = 'hub-broadcasts';

type Row = typeof hubBroadcasts.$inferSelect;

export interface HubBroadcastsDeps {
  db: Db;
  clock: Clock;
  /** The queue that hands each new broadcast to the engine (`HUB_BROADCASTS_QUEUE`). */
  handover: EngineHandover;
  /** A CRM segment's reachable contacts (`crm.resolveSegment`). */
  resolveSegment: (id: string) => Promise<{ phones: string[]; whatsappId: string | null }[]>;
  /** The engine's internal API, with control's service token. */
  engine: <T>(method: 'GET' | 'PUT' | 'POST', path: string, body?: unknown) => Promise<T>;
}

const BROADCAST_EVENT = /^whatsapp\.broadcast\.[a-z]+$/;

/**
 * Broadcasts on the hub's own WhatsApp numbers, to a list or a CRM segment. A new one waits in
 * control's database with its outbox job until the engine takes it (idempotent by control's id,
 * so a retry after a lost answer names the same broadcast); the engine checks the template, removes
 * duplicates and opt-outs and sends it; its events keep the state and totals here current.
 */
export class HubBroadcasts {
  readonly #deps: HubBroadcastsDeps;

  constructor(deps: HubBroadcastsDeps) {
    this.#deps = deps;
  }

  async create(body: CreateHubBroadcastRequest, createdBy: string | null): Promise<HubBroadcast> {
    const { db, clock, handover } = this.#deps;
    if ((body.recipients === undefined) === (body.segmentId === undefined)) {
      throw problems.validation([{ field: 'recipients', message: 'give either recipients or segmentId' }]);
    }
    let recipients: BroadcastRecipientInput[] = body.recipients ?? [];
    if (body.segmentId !== undefined) {
      const contacts = await this.#deps.resolveSegment(body.segmentId);
      recipients = contacts.flatMap((c) => {
        const to = c.whatsappId ?? c.phones[0];
        return to ? [{ to: to.replace(/[^\d+]/g, '') }] : [];
      });
      if (recipients.length === 0) {
        throw problems.validation([{ field: 'segmentId', message: 'the segment has no contact with a phone' }]);
      }
    }
    const request: CreateBroadcastRequest = {
      ...(body.name === undefined ? {} : { name: body.name }),
      channel: body.channel,
      message: body.message,
      recipients,
      ...(body.scheduledAt === undefined ? {} : { scheduledAt: body.scheduledAt }),
    };
    const now = clock.now();
    const row: Row = {
      id: uuidv7(),
      request,
      segmentId: body.segmentId ?? null,
      recipientCount: recipients.length,
      state: 'pending',
      engineBroadcastId: null,
      totals: null,
      waitingReason: null,
      error: null,
      createdBy,
      createdAt: now,
      updatedAt: now,
    };
    await db.transaction(async (tx) => {
      await tx.insert(hubBroadcasts).values(row);
      await handover.enqueue(tx, row.id);
    });
    return describe(row);
  }

  async list(limit: number): Promise<HubBroadcast[]> {
    const rows = await this.#deps.db.select().from(hubBroadcasts).orderBy(desc(hubBroadcasts.createdAt)).limit(limit);
    return rows.map(describe);
  }

  /** The broadcast, refreshed from the engine when it can be reached. */
  async get(id: string): Promise<HubBroadcast> {
    const row = await this.#require(id);
    if (row.engineBroadcastId === null) return describe(row);
    const current = await engineCopy(() =>
      this.#deps.engine<Broadcast>('GET', `/internal/v1/hub/broadcasts/${row.engineBroadcastId}`),
    );
    return describe((current && (await this.#mirror(current))) ?? row);
  }

  /** Pauses, resumes or cancels it at the engine (409 while it still waits in control). */
  async act(id: string, action: 'pause' | 'resume' | 'cancel'): Promise<HubBroadcast> {
    const row = await this.#require(id);
    if (row.engineBroadcastId === null) {
      throw new Problem({
        status: 409,
        type: 'broadcast-state',
        title: 'The broadcast cannot do that in its state',
        detail: `broadcast ${id} is ${row.state}: the engine has not taken it yet`,
        state: row.state,
      });
    }
    try {
      const answer = await this.#deps.engine<Broadcast>(
        'POST',
        `/internal/v1/hub/broadcasts/${row.engineBroadcastId}/${action}`,
      );
      return describe((await this.#mirror(answer)) ?? row);
    } catch (error) {
      throw peerProblem(error, 'engine');
    }
  }

  /** Each recipient and where it stands, as the engine keeps them; none while it waits in control. */
  async recipients(id: string, query: BroadcastRecipientsQuery): Promise<BroadcastRecipientPage> {
    const row = await this.#require(id);
    if (row.engineBroadcastId === null) return { recipients: [], nextCursor: null };
    try {
      return await this.#deps.engine<BroadcastRecipientPage>(
        'GET',
        `/internal/v1/hub/broadcasts/${row.engineBroadcastId}/recipients${engineQuery(query)}`,
      );
    } catch (error) {
      throw peerProblem(error, 'engine');
    }
  }

  /** The outbox job: hands a pending broadcast to the engine. */
  async send(id: string): Promise<void> {
    const { db, clock } = this.#deps;
    const [row] = await db.select().from(hubBroadcasts).where(eq(hubBroadcasts.id, id));
    if (!row || row.state !== 'pending') return;
    const { accepted, refusal } = await handOver(
      () => this.#deps.engine<Broadcast>('PUT', `/internal/v1/hub/broadcasts/${id}`, row.request),
      'broadcast',
    );
    if (refusal) {
      await db
        .update(hubBroadcasts)
        .set({ state: 'refused', error: refusal, updatedAt: clock.now() })
        .where(eq(hubBroadcasts.id, id));
      return;
    }
    await db
      .update(hubBroadcasts)
      .set({ engineBroadcastId: accepted.id, updatedAt: clock.now() })
      .where(eq(hubBroadcasts.id, id));
    await this.#mirror(accepted);
  }

  /** A hub event: `whatsapp.broadcast.<event>` carries the broadcast's state and totals. */
  async applyHubEvent(tx: Db, event: DeliveredEvent): Promise<void> {
    if (!BROADCAST_EVENT.test(event.type)) return;
    const data = event.data as Partial<BroadcastEventData>;
    if (typeof data.broadcastId !== 'string' || typeof data.state !== 'string') return;
    await tx
      .update(hubBroadcasts)
      .set({
        state: data.state,
        totals: data.totals ?? null,
        waitingReason: data.waitingReason ?? null,
        updatedAt: this.#deps.clock.now(),
      })
      .where(eq(hubBroadcasts.engineBroadcastId, data.broadcastId));
  }

  async #mirror(broadcast: Broadcast): Promise<Row | undefined> {
    const [row] = await this.#deps.db
      .update(hubBroadcasts)
      .set({
        state: broadcast.state,
        totals: broadcast.totals,
        waitingReason: broadcast.waitingReason,
        updatedAt: this.#deps.clock.now(),
      })
      .where(eq(hubBroadcasts.engineBroadcastId, broadcast.id))
      .returning();
    return row;
  }

  async #require(id: string): Promise<Row> {
    const [row] = isUuid(id) ? await this.#deps.db.select().from(hubBroadcasts).where(eq(hubBroadcasts.id, id)) : [];
    if (!row) throw problems.notFound(`no hub broadcast ${id}`);
    return row;
  }
}

function describe(row: Row): HubBroadcast {
  const request = row.request as CreateBroadcastRequest;
  return {
    id: row.id,
    name: request.name ?? null,
    channel: request.channel,
    segmentId: row.segmentId,
    recipients: row.recipientCount,
    state: row.state as HubBroadcastState,
    engineBroadcastId: row.engineBroadcastId,
    totals: (row.totals as BroadcastTotals | null) ?? null,
    waitingReason: row.waitingReason,
    error: (row.error as HubBroadcast['error']) ?? null,
    createdAt: row.createdAt.toISOString(),
    updatedAt: row.updatedAt.toISOString(),
  };
}
