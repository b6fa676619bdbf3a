import { and, asc, eq, inArray, ne, sql } from 'drizzle-orm';
import { uuidv7 } from 'uuidv7';
import {
  TENANT_MODULES,
  type ChannelPlatform,
  type CreateChannel,
  type CreateInstance,
  type CreateTenant,
  type InstanceState,
  type SnapshotInstance,
  type TenantLimits,
  type TenantModules,
  type UpdateInstance,
  type UpdateTenant,
} from '@mic/contracts';
import { Problem, assertPublicUrl, problems, type Clock, type Db, type UrlPolicy } from '@mic/platform';
import type { AuditActor, DbTransaction } from '../audit/index.ts';
import type { ConfigPublisher } from '../config-sync/index.ts';
import { channels, instances, tenants } from './schema.ts';

export type TenantRow = typeof tenants.$inferSelect;
export type InstanceRow = typeof instances.$inferSelect;
export type ChannelRow = typeof channels.$inferSelect;

export const HUB_TENANT_ID = 'ten_hub';
export const HUB_INSTANCE_ID = 'ins_hub';

export const DEFAULT_MODULES: TenantModules = {
  whatsapp: true,
  messenger: true,
  instagram: true,
  marketing: false,
  publishing: false,
};

export const DEFAULT_LIMITS: TenantLimits = {
  messagesPerMonth: null,
  sendsPerSecond: 80,
  broadcastSize: 10_000,
  priorities: ['critical', 'conversation', 'marketing'],
};

const newId = (prefix: string) => `${prefix}_${uuidv7().replaceAll('-', '')}`;

/** A privileged change, as the audit log records it. */
export interface Change {
  actor: AuditActor;
  action: string;
  targetType: 'tenant' | 'instance' | 'channel';
  targetId: string;
  before: unknown;
  after: unknown;
}

/** What happens inside the transaction of every change: the audit row, commands to instances. */
export type ChangeHook = (tx: DbTransaction, change: Change) => Promise<void>;

export type InstanceCommand = (
  tx: DbTransaction,
  instance: InstanceRow,
  command: 'pause' | 'resume',
  reason: string,
  actor: AuditActor,
) => Promise<void>;

const conflict = (detail: string, extra: Record<string, unknown> = {}) =>
  new Problem({ status: 409, type: 'conflict', title: 'Conflicts with the current state', detail, ...extra });

/**
 * Tenants, their instances and their channels: control's source of truth for who receives what.
 * Every change raises the config version in its own transaction, so the engine follows within one
 * sync interval (or at once, through the hint).
 */
export class Tenants {
  readonly #db: Db;
  readonly #clock: Clock;
  readonly #publisher: ConfigPublisher;
  readonly #urlPolicy: UrlPolicy;
  readonly #hooks: ChangeHook[] = [];
  #command: InstanceCommand = async () => {};

  constructor(deps: { db: Db; clock: Clock; publisher: ConfigPublisher; urlPolicy: UrlPolicy }) {
    this.#db = deps.db;
    this.#clock = deps.clock;
    this.#publisher = deps.publisher;
    this.#urlPolicy = deps.urlPolicy;
  }

  /** Runs inside every change's transaction (the audit log). */
  onChange(hook: ChangeHook): void {
    this.#hooks.push(hook);
  }

  /** How pause and resume reach the instance (the instance control protocol). */
  useInstanceCommand(command: InstanceCommand): void {
    this.#command = command;
  }

  async #change<T>(
    actor: AuditActor,
    work: (tx: DbTransaction) => Promise<{ result: T; changes: Omit<Change, 'actor'>[] }>,
  ): Promise<T> {
    return this.#db.transaction(async (tx) => {
      const { result, changes } = await work(tx);
      if (changes.length > 0) await this.#publisher.changed(tx);
      for (const change of changes) for (const hook of this.#hooks) await hook(tx, { ...change, actor });
      return result;
    });
  }

  /** The built-in tenant zero: the hub's own channels belong to its instance. */
  async ensureHub(): Promise<void> {
    const now = this.#clock.now();
    await this.#change({ type: 'system', id: null, label: 'control start' }, async (tx) => {
      const [existing] = await tx.select({ id: tenants.id }).from(tenants).where(eq(tenants.id, HUB_TENANT_ID));
      if (existing) return { result: undefined, changes: [] };
      await tx.insert(tenants).values({
        id: HUB_TENANT_ID,
        name: 'Hub',
        status: 'active',
        modules: { ...DEFAULT_MODULES, marketing: true },
        limits: DEFAULT_LIMITS,
        adminContact: null,
        createdAt: now,
        updatedAt: now,
      });
      await tx.insert(instances).values({
        id: HUB_INSTANCE_ID,
        tenantId: HUB_TENANT_ID,
        name: 'Hub (control)',
        kind: 'hub',
        webhookUrl: null,
        controlUrl: null,
        deliveryFormat: 'standard-webhooks',
        state: 'active',
        stateReason: null,
        stateChangedAt: now,
        pausedWithTenant: false,
        endpointRevision: 0,
        createdAt: now,
        updatedAt: now,
      });
      return { result: undefined, changes: [] };
    });
  }

  // Tenants

  async listTenants(): Promise<TenantRow[]> {
    return this.#db.select().from(tenants).orderBy(asc(tenants.createdAt));
  }

  /** Read in `tx` when the caller is inside a transaction. */
  async findTenant(id: string, tx: Db = this.#db): Promise<TenantRow | undefined> {
    const [row] = await tx.select().from(tenants).where(eq(tenants.id, id));
    return row;
  }

  async tenant(id: string): Promise<TenantRow> {
    const row = await this.findTenant(id);
    if (!row) throw problems.notFound(`no tenant ${id}`);
    return row;
  }

  /** Who administers the instance's tenant, with the instance's name for the e-mail; null when nobody is set. */
  async adminContactOf(
    instanceId: string,
  ): Promise<{ email: string; locale: 'es' | 'en'; instanceName: string } | null> {
    const [row] = await this.#db
      .select({ contact: tenants.adminContact, instanceName: instances.name })
      .from(instances)
      .innerJoin(tenants, eq(tenants.id, instances.tenantId))
      .where(eq(instances.id, instanceId));
    return row?.contact ? { ...row.contact, instanceName: row.instanceName } : null;
  }

  async createTenant(input: CreateTenant, actor: AuditActor): Promise<TenantRow> {
    const now = this.#clock.now();
    const row: TenantRow = {
      id: newId('ten'),
      name: input.name,
      status: 'active',
      modules: { ...DEFAULT_MODULES, ...input.modules },
      limits: { ...DEFAULT_LIMITS, ...input.limits },
      adminContact: input.adminContact ?? null,
      createdAt: now,
      updatedAt: now,
    };
    return this.#change(actor, async (tx) => {
      await tx.insert(tenants).values(row);
      return {
        result: row,
        changes: [{ action: 'tenant.create', targetType: 'tenant', targetId: row.id, before: null, after: row }],
      };
    });
  }

  async updateTenant(id: string, patch: UpdateTenant, actor: AuditActor): Promise<TenantRow> {
    return this.#change(actor, async (tx) => {
      const before = await this.#tenantFor(tx, id);
      const after: TenantRow = {
        ...before,
        name: patch.name ?? before.name,
        modules: { ...before.modules, ...patch.modules },
        limits: { ...before.limits, ...patch.limits },
        adminContact: patch.adminContact === undefined ? before.adminContact : patch.adminContact,
        updatedAt: this.#clock.now(),
      };
      await tx.update(tenants).set(after).where(eq(tenants.id, id));
      return {
        result: after,
        changes: [{ action: 'tenant.update', targetType: 'tenant', targetId: id, before, after }],
      };
    });
  }

  async #tenantFor(tx: DbTransaction, id: string): Promise<TenantRow> {
    const [row] = await tx.select().from(tenants).where(eq(tenants.id, id)).for('update');
    if (!row) throw problems.notFound(`no tenant ${id}`);
    return row;
  }

  /** Pauses every active instance of a tenant (dunning, for example); resume brings back those it paused. */
  async setTenantPaused(
    id: string,
    paused: boolean,
    reason: string,
    actor: AuditActor,
  ): Promise<{ tenant: TenantRow; instances: InstanceRow[] }> {
    return this.#change(actor, async (tx) => {
      const before = await this.#tenantFor(tx, id);
      const after = { ...before, status: paused ? 'paused' : 'active', updatedAt: this.#clock.now() };
      await tx.update(tenants).set(after).where(eq(tenants.id, id));
      const changes: Omit<Change, 'actor'>[] = [
        {
          action: paused ? 'tenant.pause' : 'tenant.resume',
          targetType: 'tenant',
          targetId: id,
          before,
          after: { ...after, reason },
        },
      ];
      const affected = await tx
        .select()
        .from(instances)
        .where(
          paused
            ? and(eq(instances.tenantId, id), eq(instances.state, 'active'))
            : and(eq(instances.tenantId, id), eq(instances.state, 'paused'), eq(instances.pausedWithTenant, true)),
        )
        .for('update');
      const changed: InstanceRow[] = [];
      for (const instance of affected) {
        const { row, change } = await this.#setState(tx, instance, paused ? 'paused' : 'active', reason, actor, paused);
        changed.push(row);
        changes.push(change);
      }
      return { result: { tenant: after, instances: changed }, changes };
    });
  }

  // Instances

  async listInstances(filter: { tenantId?: string } = {}): Promise<InstanceRow[]> {
    return this.#db
      .select()
      .from(instances)
      .where(filter.tenantId ? eq(instances.tenantId, filter.tenantId) : undefined)
      .orderBy(asc(instances.createdAt));
  }

  async instance(id: string): Promise<InstanceRow> {
    const [row] = await this.#db.select().from(instances).where(eq(instances.id, id));
    if (!row) throw problems.notFound(`no instance ${id}`);
    return row;
  }

  /** Keeps the version an instance reports of itself (not a configuration change: no audit, no snapshot). */
  async recordReportedVersion(instanceId: string, version: string): Promise<void> {
    await this.#db
      .update(instances)
      .set({ version, updatedAt: this.#clock.now() })
      .where(and(eq(instances.id, instanceId), sql`${instances.version} is distinct from ${version}`));
  }

  /** The tenant of an instance, read in `tx` when the caller is inside a transaction. */
  async tenantOf(instanceId: string, tx: Db = this.#db): Promise<string | undefined> {
    const [row] = await tx.select({ tenantId: instances.tenantId }).from(instances).where(eq(instances.id, instanceId));
    return row?.tenantId;
  }

  async #instanceFor(tx: DbTransaction, id: string): Promise<InstanceRow> {
    const [row] = await tx.select().from(instances).where(eq(instances.id, id)).for('update');
    if (!row) throw problems.notFound(`no instance ${id}`);
    return row;
  }

  async #checkUrls(urls: Record<string, string | null | undefined>): Promise<void> {
    for (const [field, url] of Object.entries(urls)) {
      if (url) await assertPublicUrl(`body.${field}`, url, this.#urlPolicy);
    }
  }

  async createInstance(tenantId: string, input: CreateInstance, actor: AuditActor): Promise<InstanceRow> {
    await this.#checkUrls({ webhookUrl: input.webhookUrl, controlUrl: input.controlUrl });
    const now = this.#clock.now();
    return this.#change(actor, async (tx) => {
      const tenant = await this.#tenantFor(tx, tenantId);
      const row: InstanceRow = {
        id: newId('ins'),
        tenantId,
        name: input.name,
        kind: 'nexus',
        webhookUrl: input.webhookUrl,
        controlUrl: input.controlUrl ?? null,
        deliveryFormat: input.deliveryFormat ?? 'standard-webhooks',
        // A new instance of a paused tenant starts paused: it must not bypass dunning.
        state: tenant.status === 'paused' ? 'paused' : 'active',
        stateReason: tenant.status === 'paused' ? 'the tenant is paused' : null,
        stateChangedAt: now,
        pausedWithTenant: tenant.status === 'paused',
        version: null,
        endpointRevision: 0,
        createdAt: now,
        updatedAt: now,
      };
      await tx.insert(instances).values(row);
      return {
        result: row,
        changes: [{ action: 'instance.create', targetType: 'instance', targetId: row.id, before: null, after: row }],
      };
    });
  }

  async updateInstance(id: string, patch: UpdateInstance, actor: AuditActor): Promise<InstanceRow> {
    if ((await this.instance(id)).kind === 'hub' && (patch.webhookUrl || patch.controlUrl)) {
      throw conflict("the hub instance's addresses are configuration, not operator-entered URLs");
    }
    await this.#checkUrls({ webhookUrl: patch.webhookUrl, controlUrl: patch.controlUrl });
    return this.#change(actor, async (tx) => {
      const before = await this.#instanceFor(tx, id);
      const endpointChanged = patch.webhookUrl !== undefined && patch.webhookUrl !== before.webhookUrl;
      const after: InstanceRow = {
        ...before,
        name: patch.name ?? before.name,
        webhookUrl: patch.webhookUrl ?? before.webhookUrl,
        controlUrl: patch.controlUrl === undefined ? before.controlUrl : patch.controlUrl,
        deliveryFormat: patch.deliveryFormat ?? before.deliveryFormat,
        version: patch.version ?? before.version,
        endpointRevision: before.endpointRevision + (endpointChanged ? 1 : 0),
        updatedAt: this.#clock.now(),
      };
      await tx.update(instances).set(after).where(eq(instances.id, id));
      return {
        result: after,
        changes: [{ action: 'instance.update', targetType: 'instance', targetId: id, before, after }],
      };
    });
  }

  /** Re-enables deliveries to an endpoint the engine disabled after a 410 Gone. */
  async reenableEndpoint(id: string, actor: AuditActor): Promise<InstanceRow> {
    return this.#change(actor, async (tx) => {
      const before = await this.#instanceFor(tx, id);
      const after = { ...before, endpointRevision: before.endpointRevision + 1, updatedAt: this.#clock.now() };
      await tx.update(instances).set(after).where(eq(instances.id, id));
      return {
        result: after,
        changes: [{ action: 'instance.endpoint.enable', targetType: 'instance', targetId: id, before, after }],
      };
    });
  }

  async #setState(
    tx: DbTransaction,
    before: InstanceRow,
    state: InstanceState,
    reason: string,
    actor: AuditActor,
    withTenant = false,
  ) {
    const now = this.#clock.now();
    const row: InstanceRow = {
      ...before,
      state,
      stateReason: reason,
      stateChangedAt: now,
      pausedWithTenant: withTenant,
      updatedAt: now,
    };
    await tx.update(instances).set(row).where(eq(instances.id, before.id));
    if (before.kind === 'nexus' && (state === 'paused' || state === 'active')) {
      await this.#command(tx, row, state === 'paused' ? 'pause' : 'resume', reason, actor);
    }
    const action = {
      paused: 'instance.pause',
      active: 'instance.resume',
      suspended: 'instance.suspend',
      deprovisioned: 'instance.deprovision',
    }[state];
    const change: Omit<Change, 'actor'> = { action, targetType: 'instance', targetId: before.id, before, after: row };
    return { row, change };
  }

  /** Pause holds the instance's deliveries and refuses its sends; resume drains what was held, in order. */
  async setInstanceState(id: string, state: InstanceState, reason: string, actor: AuditActor): Promise<InstanceRow> {
    return this.#change(actor, async (tx) => {
      const before = await this.#instanceFor(tx, id);
      if (before.state === 'deprovisioned') throw conflict(`instance ${id} is deprovisioned`);
      if (before.state === state) return { result: before, changes: [] };
      if (state === 'active') {
        const [tenant] = await tx.select().from(tenants).where(eq(tenants.id, before.tenantId));
        if (tenant?.status === 'paused') throw conflict(`the tenant ${before.tenantId} is paused: resume the tenant`);
      }
      const { row, change } = await this.#setState(tx, before, state, reason, actor);
      return { result: row, changes: [change] };
    });
  }

  // Channels

  async listChannels(filter: { instanceId?: string; tenantId?: string } = {}): Promise<ChannelRow[]> {
    const conditions = [
      filter.instanceId ? eq(channels.instanceId, filter.instanceId) : undefined,
      filter.tenantId ? eq(channels.tenantId, filter.tenantId) : undefined,
    ].filter((c) => c !== undefined);
    return this.#db
      .select()
      .from(channels)
      .where(conditions.length ? and(...conditions) : undefined)
      .orderBy(asc(channels.createdAt));
  }

  async channel(platform: string, channelId: string): Promise<ChannelRow> {
    const [row] = await this.#db
      .select()
      .from(channels)
      .where(and(eq(channels.platform, platform), eq(channels.channelId, channelId)));
    if (!row) throw problems.notFound(`no ${platform} channel ${channelId}`);
    return row;
  }

  /** Refuses a channel that another instance owns (409), before its token goes anywhere. */
  async checkChannelFree(
    instanceId: string,
    input: Pick<CreateChannel, 'platform' | 'channelId'>,
  ): Promise<InstanceRow> {
    const instance = await this.instance(instanceId);
    if (instance.state === 'deprovisioned') throw conflict(`instance ${instanceId} is deprovisioned`);
    const [owner] = await this.#db
      .select({ instanceId: channels.instanceId })
      .from(channels)
      .where(and(eq(channels.platform, input.platform), eq(channels.channelId, input.channelId)));
    if (owner && owner.instanceId !== instanceId) {
      throw conflict(`${input.platform} channel ${input.channelId} belongs to instance ${owner.instanceId}`, {
        ownerInstanceId: owner.instanceId,
      });
    }
    return instance;
  }

  async addChannel(
    instance: InstanceRow,
    input: Omit<CreateChannel, 'accessToken'>,
    connection: { state: string; error: string | null },
    actor: AuditActor,
  ): Promise<ChannelRow> {
    const now = this.#clock.now();
    return this.#change(actor, async (tx) => {
      const row: ChannelRow = {
        platform: input.platform,
        channelId: input.channelId,
        instanceId: instance.id,
        tenantId: instance.tenantId,
        name: input.name ?? null,
        wabaId: input.wabaId ?? null,
        businessId: input.businessId ?? null,
        pageId: input.pageId ?? null,
        metaApp: input.metaApp ?? 'default',
        connectionState: connection.state,
        connectionError: connection.error,
        connectionCheckedAt: now,
        createdAt: now,
      };
      const [before] = await tx
        .select()
        .from(channels)
        .where(and(eq(channels.platform, row.platform), eq(channels.channelId, row.channelId)))
        .for('update');
      if (before && before.instanceId !== instance.id) {
        throw conflict(`${row.platform} channel ${row.channelId} belongs to instance ${before.instanceId}`);
      }
      const stored = before ? { ...row, createdAt: before.createdAt } : row;
      await tx
        .insert(channels)
        .values(stored)
        .onConflictDoUpdate({ target: [channels.platform, channels.channelId], set: stored });
      const action = before ? 'channel.reconnect' : 'channel.add';
      return {
        result: stored,
        changes: [
          {
            action,
            targetType: 'channel',
            targetId: `${row.platform}:${row.channelId}`,
            before: before ?? null,
            after: stored,
          },
        ],
      };
    });
  }

  async recordConnection(platform: string, channelId: string, state: string, error: string | null): Promise<void> {
    await this.#db
      .update(channels)
      .set({ connectionState: state, connectionError: error, connectionCheckedAt: this.#clock.now() })
      .where(and(eq(channels.platform, platform), eq(channels.channelId, channelId)));
  }

  /** Removes a channel; `inTx` enqueues what the engine must do (unsubscribe, forget the token). */
  async removeChannel(
    platform: string,
    channelId: string,
    inTx: (tx: DbTransaction) => Promise<void>,
    actor: AuditActor,
  ): Promise<void> {
    await this.#change(actor, async (tx) => {
      const [before] = await tx
        .delete(channels)
        .where(and(eq(channels.platform, platform), eq(channels.channelId, channelId)))
        .returning();
      if (!before) throw problems.notFound(`no ${platform} channel ${channelId}`);
      await inTx(tx);
      return {
        result: undefined,
        changes: [
          {
            action: 'channel.remove',
            targetType: 'channel',
            targetId: `${platform}:${channelId}`,
            before,
            after: null,
          },
        ],
      };
    });
  }

  // For other modules

  /** The engine's part of the snapshot: tenants' modules and limits, instances, channels. */
  async snapshotSection() {
    const [tenantRows, instanceRows, channelRows] = await Promise.all([
      this.#db.select().from(tenants),
      this.#db.select().from(instances).where(ne(instances.state, 'deprovisioned')),
      this.#db.select().from(channels),
    ]);
    const routed = new Set(instanceRows.map((i) => i.id));
    return {
      tenants: tenantRows.map((t) => ({ id: t.id, modules: completeModules(t.modules), limits: t.limits })),
      instances: instanceRows.map((i): SnapshotInstance => ({
        id: i.id,
        tenantId: i.tenantId,
        kind: i.kind as SnapshotInstance['kind'],
        webhookUrl: i.webhookUrl,
        deliveryFormat: i.deliveryFormat as SnapshotInstance['deliveryFormat'],
        state: i.state as InstanceState,
        endpointRevision: i.endpointRevision,
      })),
      channels: channelRows
        .filter((c) => routed.has(c.instanceId))
        .map((c) => ({ platform: c.platform as ChannelPlatform, channelId: c.channelId, instanceId: c.instanceId })),
    };
  }

  /** Instances control can command: nexus instances with a control address, not deprovisioned. */
  async controllable(ids?: string[]): Promise<InstanceRow[]> {
    const conditions = [
      eq(instances.kind, 'nexus'),
      ne(instances.state, 'deprovisioned'),
      ids ? inArray(instances.id, ids) : undefined,
    ].filter((c) => c !== undefined);
    return (
      await this.#db
        .select()
        .from(instances)
        .where(and(...conditions))
    ).filter((i) => i.controlUrl);
  }
}

function completeModules(modules: Partial<TenantModules>): TenantModules {
  return Object.fromEntries(TENANT_MODULES.map((m) => [m, modules[m] ?? DEFAULT_MODULES[m]])) as TenantModules;
}
