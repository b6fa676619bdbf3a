import { and, asc, desc, eq, inArray, isNotNull, ne, or, sql, type SQL } from 'drizzle-orm';
import { uuidv7 } from 'uuidv7';
import type {
  Activity,
  Company,
  CompanyStatus,
  Contact,
  CreateActivity,
  CreateCompany,
  CreateContact,
  CreateDeal,
  CreateSegment,
  Deal,
  PageScopedId,
  PipelineStage,
  PutPipelineStages,
  Segment,
  SegmentMembers,
  UpdateActivity,
  UpdateCompany,
  UpdateContact,
  UpdateDeal,
  UpdateSegment,
} from '@mic/contracts';
import { Problem, problems, type Clock, type Db } from '@mic/platform';
import type { AuditActor, AuditRecord, DbTransaction } from '../audit/index.ts';
import {
  crmActivities,
  crmCompanies,
  crmContactPageIds,
  crmContacts,
  crmDealMoves,
  crmDeals,
  crmSegments,
  crmStages,
} from './schema.ts';
import { segmentWhere } from './segments.ts';
import { searchQuery, searchText } from './search.ts';

export type CompanyRow = typeof crmCompanies.$inferSelect;
export type ContactRow = typeof crmContacts.$inferSelect;
type DealRow = typeof crmDeals.$inferSelect;
type ActivityRow = typeof crmActivities.$inferSelect;
type StageRow = typeof crmStages.$inferSelect;

export const newId = (prefix: string) => `${prefix}_${uuidv7().replaceAll('-', '')}`;
const iso = (d: Date | null) => d?.toISOString() ?? null;

export const DEFAULT_STAGES: { name: string; kind: 'open' | 'won' | 'lost' }[] = [
  { name: 'Lead', kind: 'open' },
  { name: 'Qualified', kind: 'open' },
  { name: 'Proposal', kind: 'open' },
  { name: 'Negotiation', kind: 'open' },
  { name: 'Won', kind: 'won' },
  { name: 'Lost', kind: 'lost' },
];

export const conflict = (detail: string, extra: Record<string, unknown> = {}) =>
  new Problem({ status: 409, type: 'conflict', title: 'Conflicts with the current state', detail, ...extra });

/** A contact a broadcast can reach: `resolveSegment`'s answer. */
export interface SegmentRecipient {
  contactId: string;
  name: string;
  companyId: string | null;
  /** E.164. */
  phones: string[];
  whatsappId: string | null;
}

export interface ListFilter {
  q?: string | undefined;
  tag?: string | undefined;
  companyId?: string | undefined;
  limit?: number | undefined;
  offset?: number | undefined;
}

export interface CrmDeps {
  db: Db;
  clock: Clock;
  audit: (entry: AuditRecord, tx: DbTransaction) => Promise<unknown>;
  /** The tenant's status, or undefined when there is no such tenant. */
  tenantStatus: (tenantId: string, tx: Db) => Promise<string | undefined>;
  isOperator: (id: string) => Promise<boolean>;
}

export const serializeCompany = (c: CompanyRow): Company => ({
  id: c.id,
  name: c.name,
  domain: c.domain,
  tenantId: c.tenantId,
  status: (c.tenantId === null ? 'prospect' : (c.tenantStatus ?? 'active')) as CompanyStatus,
  plan: c.plan,
  tags: c.tags,
  lastActivityAt: iso(c.lastActivityAt),
  createdAt: c.createdAt.toISOString(),
  updatedAt: c.updatedAt.toISOString(),
});

const serializeDeal = (d: DealRow): Deal => ({
  id: d.id,
  title: d.title,
  companyId: d.companyId,
  contactId: d.contactId,
  stageId: d.stageId,
  value: { amountMinor: d.amountMinor, currency: d.currency },
  ownerId: d.ownerId,
  expectedCloseOn: d.expectedCloseOn,
  closedAt: iso(d.closedAt),
  createdAt: d.createdAt.toISOString(),
  updatedAt: d.updatedAt.toISOString(),
});

const serializeActivity = (a: ActivityRow): Activity => ({
  id: a.id,
  kind: a.kind as Activity['kind'],
  companyId: a.companyId,
  contactId: a.contactId,
  dealId: a.dealId,
  subject: a.subject,
  body: a.body,
  ownerId: a.ownerId,
  dueAt: iso(a.dueAt),
  completedAt: iso(a.completedAt),
  occurredAt: a.occurredAt.toISOString(),
  createdBy: a.createdBy,
  createdAt: a.createdAt.toISOString(),
});

const serializeStage = (s: StageRow): PipelineStage => ({
  id: s.id,
  name: s.name,
  position: s.position,
  kind: s.kind as PipelineStage['kind'],
});

const companySearchText = (c: Pick<CompanyRow, 'name' | 'domain' | 'tags'>) =>
  searchText({ words: [c.name, ...c.tags], emails: c.domain ? [c.domain] : [] });
const contactSearchText = (c: Pick<ContactRow, 'name' | 'emails' | 'phones' | 'whatsappId' | 'tags'>) =>
  searchText({ words: [c.name, c.whatsappId, ...c.tags], emails: c.emails, phones: c.phones });

/**
 * The CRM's records: companies (tenants and prospects), contacts, the pipeline and its deals,
 * activities, segments and search. Every change is audited in its own transaction.
 */
export class Crm {
  readonly #db: Db;
  readonly #clock: Clock;
  readonly #deps: CrmDeps;

  constructor(deps: CrmDeps) {
    this.#db = deps.db;
    this.#clock = deps.clock;
    this.#deps = deps;
  }

  /** Runs a change and its audit row in one transaction: `outer` when the caller has one (an import). */
  async #change<T>(
    actor: AuditActor,
    work: (tx: DbTransaction) => Promise<{ result: T } & Omit<AuditRecord, 'actor'>>,
    outer?: DbTransaction,
  ): Promise<T> {
    const run = async (tx: DbTransaction) => {
      const { result, ...entry } = await work(tx);
      await this.#deps.audit({ actor, ...entry }, tx);
      return result;
    };
    return outer ? run(outer) : this.#db.transaction(run);
  }

  /** Marks activity on a contact and its company (or a company alone). */
  async touch(tx: Db, target: { companyId?: string | null; contactId?: string | null }, at: Date): Promise<void> {
    const later = (column: typeof crmContacts.lastActivityAt | typeof crmCompanies.lastActivityAt) =>
      sql`greatest(coalesce(${column}, ${at.toISOString()}::timestamptz), ${at.toISOString()}::timestamptz)`;
    let companyId = target.companyId ?? null;
    if (target.contactId) {
      const [contact] = await tx
        .update(crmContacts)
        .set({ lastActivityAt: later(crmContacts.lastActivityAt) })
        .where(eq(crmContacts.id, target.contactId))
        .returning({ companyId: crmContacts.companyId });
      companyId ??= contact?.companyId ?? null;
    }
    if (companyId) {
      await tx
        .update(crmCompanies)
        .set({ lastActivityAt: later(crmCompanies.lastActivityAt) })
        .where(eq(crmCompanies.id, companyId));
    }
  }

  // Companies

  async listCompanies(filter: ListFilter = {}): Promise<Company[]> {
    const query = filter.q ? searchQuery(filter.q) : undefined;
    const rows = await this.#db
      .select()
      .from(crmCompanies)
      .where(
        and(
          query ? sql`${crmCompanies.search} @@ ${query}` : undefined,
          filter.tag ? sql`${crmCompanies.tags} @> array[${filter.tag}]::text[]` : undefined,
        ),
      )
      .orderBy(
        ...(query ? [desc(sql`ts_rank(${crmCompanies.search}, ${query})`)] : []),
        asc(crmCompanies.name),
        asc(crmCompanies.id),
      )
      .limit(filter.limit ?? 100)
      .offset(filter.offset ?? 0);
    return rows.map(serializeCompany);
  }

  async #companyRow(id: string, tx: Db = this.#db): Promise<CompanyRow> {
    const [row] = await tx.select().from(crmCompanies).where(eq(crmCompanies.id, id));
    if (!row) throw problems.notFound(`no company ${id}`);
    return row;
  }

  async company(id: string): Promise<Company> {
    return serializeCompany(await this.#companyRow(id));
  }

  async companyOfTenant(tenantId: string): Promise<Company | undefined> {
    const [row] = await this.#db.select().from(crmCompanies).where(eq(crmCompanies.tenantId, tenantId));
    return row && serializeCompany(row);
  }

  async #tenantLink(tx: Db, tenantId: string | null | undefined, companyId: string | null) {
    if (!tenantId) return { tenantId: null, tenantStatus: null };
    const status = await this.#deps.tenantStatus(tenantId, tx);
    if (status === undefined) throw problems.validation([{ field: 'body.tenantId', message: `no tenant ${tenantId}` }]);
    const [taken] = await tx
      .select({ id: crmCompanies.id })
      .from(crmCompanies)
      .where(and(eq(crmCompanies.tenantId, tenantId), companyId ? ne(crmCompanies.id, companyId) : undefined));
    if (taken) throw conflict(`tenant ${tenantId} is already company ${taken.id}`, { companyId: taken.id });
    return { tenantId, tenantStatus: status };
  }

  async createCompany(input: CreateCompany, actor: AuditActor, outer?: DbTransaction): Promise<Company> {
    const work = async (tx: DbTransaction) => {
      const now = this.#clock.now();
      const base = { name: input.name, domain: input.domain ?? null, tags: input.tags ?? [] };
      const row = {
        id: newId('com'),
        ...base,
        ...(await this.#tenantLink(tx, input.tenantId, null)),
        plan: null,
        lastActivityAt: null,
        searchText: companySearchText(base),
        createdAt: now,
        updatedAt: now,
      };
      const [stored] = await tx.insert(crmCompanies).values(row).returning();
      const company = serializeCompany(stored!);
      return {
        result: company,
        action: 'crm.company.create',
        target: { type: 'company', id: row.id },
        before: null,
        after: company,
      };
    };
    return this.#change(actor, work, outer);
  }

  async updateCompany(id: string, patch: UpdateCompany, actor: AuditActor, outer?: DbTransaction): Promise<Company> {
    const work = async (tx: DbTransaction) => {
      const [before] = await tx.select().from(crmCompanies).where(eq(crmCompanies.id, id)).for('update');
      if (!before) throw problems.notFound(`no company ${id}`);
      const base = {
        name: patch.name ?? before.name,
        domain: patch.domain === undefined ? before.domain : patch.domain,
        tags: patch.tags ?? before.tags,
      };
      const link =
        patch.tenantId === undefined || patch.tenantId === before.tenantId
          ? { tenantId: before.tenantId, tenantStatus: before.tenantStatus }
          : await this.#tenantLink(tx, patch.tenantId, id);
      const [after] = await tx
        .update(crmCompanies)
        .set({ ...base, ...link, searchText: companySearchText(base), updatedAt: this.#clock.now() })
        .where(eq(crmCompanies.id, id))
        .returning();
      const company = serializeCompany(after!);
      return {
        result: company,
        action: 'crm.company.update',
        target: { type: 'company', id },
        before: serializeCompany(before),
        after: company,
      };
    };
    return this.#change(actor, work, outer);
  }

  /** Deletes a company; refused while it has deals (close or move them first). Its contacts stay, unlinked. */
  async deleteCompany(id: string, actor: AuditActor): Promise<void> {
    await this.#change(actor, async (tx) => {
      const [before] = await tx.select().from(crmCompanies).where(eq(crmCompanies.id, id)).for('update');
      if (!before) throw problems.notFound(`no company ${id}`);
      const [deal] = await tx.select({ id: crmDeals.id }).from(crmDeals).where(eq(crmDeals.companyId, id)).limit(1);
      if (deal) throw conflict(`company ${id} has deals`, { dealId: deal.id });
      await tx.delete(crmCompanies).where(eq(crmCompanies.id, id));
      return {
        result: undefined,
        action: 'crm.company.delete',
        target: { type: 'company', id },
        before: serializeCompany(before),
        after: null,
      };
    });
  }

  /** Follows the tenant's status (from the tenants' change hook, in the change's transaction). */
  async recordTenantStatus(tx: Db, tenantId: string, status: string): Promise<void> {
    await tx.update(crmCompanies).set({ tenantStatus: status }).where(eq(crmCompanies.tenantId, tenantId));
  }

  /** For billing: the tenant's current plan (null when it has none), for segments and the company view. */
  async recordPlan(tenantId: string, plan: string | null, tx: Db = this.#db): Promise<void> {
    await tx.update(crmCompanies).set({ plan }).where(eq(crmCompanies.tenantId, tenantId));
  }

  // Contacts

  async #pageIds(contactIds: string[], tx: Db = this.#db): Promise<Map<string, PageScopedId[]>> {
    const byContact = new Map<string, PageScopedId[]>();
    if (contactIds.length === 0) return byContact;
    const rows = await tx.select().from(crmContactPageIds).where(inArray(crmContactPageIds.contactId, contactIds));
    for (const r of rows) {
      const list = byContact.get(r.contactId) ?? [];
      list.push({ platform: r.platform as PageScopedId['platform'], channelId: r.channelId, userId: r.userId });
      byContact.set(r.contactId, list);
    }
    return byContact;
  }

  async serializeContacts(rows: ContactRow[], tx: Db = this.#db): Promise<Contact[]> {
    const pageIds = await this.#pageIds(
      rows.map((r) => r.id),
      tx,
    );
    return rows.map((c) => ({
      id: c.id,
      companyId: c.companyId,
      name: c.name,
      emails: c.emails,
      phones: c.phones,
      whatsappId: c.whatsappId,
      pageScopedIds: pageIds.get(c.id) ?? [],
      tags: c.tags,
      lastActivityAt: iso(c.lastActivityAt),
      createdAt: c.createdAt.toISOString(),
      updatedAt: c.updatedAt.toISOString(),
    }));
  }

  async listContacts(filter: ListFilter = {}): Promise<Contact[]> {
    const query = filter.q ? searchQuery(filter.q) : undefined;
    const rows = await this.#db
      .select()
      .from(crmContacts)
      .where(
        and(
          query ? sql`${crmContacts.search} @@ ${query}` : undefined,
          filter.tag ? sql`${crmContacts.tags} @> array[${filter.tag}]::text[]` : undefined,
          filter.companyId ? eq(crmContacts.companyId, filter.companyId) : undefined,
        ),
      )
      .orderBy(
        ...(query ? [desc(sql`ts_rank(${crmContacts.search}, ${query})`)] : []),
        asc(crmContacts.name),
        asc(crmContacts.id),
      )
      .limit(filter.limit ?? 100)
      .offset(filter.offset ?? 0);
    return this.serializeContacts(rows);
  }

  async contact(id: string, tx: Db = this.#db): Promise<Contact> {
    const [row] = await tx.select().from(crmContacts).where(eq(crmContacts.id, id));
    if (!row) throw problems.notFound(`no contact ${id}`);
    return (await this.serializeContacts([row], tx))[0]!;
  }

  async #checkCompany(tx: Db, companyId: string | null | undefined, field: string): Promise<void> {
    if (!companyId) return;
    const [row] = await tx.select({ id: crmCompanies.id }).from(crmCompanies).where(eq(crmCompanies.id, companyId));
    if (!row) throw problems.validation([{ field, message: `no company ${companyId}` }]);
  }

  async #setPageIds(tx: Db, contactId: string, ids: PageScopedId[]): Promise<void> {
    await tx.delete(crmContactPageIds).where(eq(crmContactPageIds.contactId, contactId));
    for (const id of ids) {
      const [owner] = await tx
        .select({ contactId: crmContactPageIds.contactId })
        .from(crmContactPageIds)
        .where(
          and(
            eq(crmContactPageIds.platform, id.platform),
            eq(crmContactPageIds.channelId, id.channelId),
            eq(crmContactPageIds.userId, id.userId),
          ),
        );
      if (owner)
        throw conflict(`${id.platform} id ${id.userId} on ${id.channelId} is contact ${owner.contactId}`, {
          contactId: owner.contactId,
        });
      await tx.insert(crmContactPageIds).values({ ...id, contactId });
    }
  }

  async #checkWhatsappId(tx: Db, whatsappId: string | null, contactId: string | null): Promise<void> {
    if (!whatsappId) return;
    const [owner] = await tx
      .select({ id: crmContacts.id })
      .from(crmContacts)
      .where(and(eq(crmContacts.whatsappId, whatsappId), contactId ? ne(crmContacts.id, contactId) : undefined));
    if (owner) throw conflict(`WhatsApp id ${whatsappId} is contact ${owner.id}`, { contactId: owner.id });
  }

  async createContact(input: CreateContact, actor: AuditActor, outer?: DbTransaction): Promise<Contact> {
    const work = async (tx: DbTransaction) => {
      await this.#checkCompany(tx, input.companyId, 'body.companyId');
      const whatsappId = input.whatsappId ?? null;
      await this.#checkWhatsappId(tx, whatsappId, null);
      const now = this.#clock.now();
      const base = {
        name: input.name,
        emails: input.emails ?? [],
        phones: input.phones ?? [],
        whatsappId,
        tags: input.tags ?? [],
      };
      const id = newId('con');
      await tx.insert(crmContacts).values({
        id,
        companyId: input.companyId ?? null,
        ...base,
        searchText: contactSearchText(base),
        createdAt: now,
        updatedAt: now,
      });
      await this.#setPageIds(tx, id, input.pageScopedIds ?? []);
      const contact = await this.contact(id, tx);
      return {
        result: contact,
        action: 'crm.contact.create',
        target: { type: 'contact', id },
        before: null,
        after: contact,
      };
    };
    return this.#change(actor, work, outer);
  }

  async updateContact(id: string, patch: UpdateContact, actor: AuditActor, outer?: DbTransaction): Promise<Contact> {
    const work = async (tx: DbTransaction) => {
      const [row] = await tx.select().from(crmContacts).where(eq(crmContacts.id, id)).for('update');
      if (!row) throw problems.notFound(`no contact ${id}`);
      const before = (await this.serializeContacts([row], tx))[0]!;
      if (patch.companyId !== undefined) await this.#checkCompany(tx, patch.companyId, 'body.companyId');
      const base = {
        name: patch.name ?? row.name,
        emails: patch.emails ?? row.emails,
        phones: patch.phones ?? row.phones,
        whatsappId: patch.whatsappId === undefined ? row.whatsappId : patch.whatsappId,
        tags: patch.tags ?? row.tags,
      };
      await this.#checkWhatsappId(tx, base.whatsappId, id);
      await tx
        .update(crmContacts)
        .set({
          ...base,
          companyId: patch.companyId === undefined ? row.companyId : patch.companyId,
          searchText: contactSearchText(base),
          updatedAt: this.#clock.now(),
        })
        .where(eq(crmContacts.id, id));
      if (patch.pageScopedIds) await this.#setPageIds(tx, id, patch.pageScopedIds);
      const after = await this.contact(id, tx);
      return { result: after, action: 'crm.contact.update', target: { type: 'contact', id }, before, after };
    };
    return this.#change(actor, work, outer);
  }

  /** Deletes a contact with its activities; refused while it has conversations (they keep the history). */
  async deleteContact(
    id: string,
    actor: AuditActor,
    hasConversations: (tx: Db, id: string) => Promise<boolean>,
  ): Promise<void> {
    await this.#change(actor, async (tx) => {
      const [row] = await tx.select().from(crmContacts).where(eq(crmContacts.id, id)).for('update');
      if (!row) throw problems.notFound(`no contact ${id}`);
      if (await hasConversations(tx, id)) throw conflict(`contact ${id} has conversations`);
      const before = (await this.serializeContacts([row], tx))[0]!;
      await tx.delete(crmContacts).where(eq(crmContacts.id, id));
      return { result: undefined, action: 'crm.contact.delete', target: { type: 'contact', id }, before, after: null };
    });
  }

  async tags(): Promise<{ tag: string; contacts: number; companies: number }[]> {
    const rows = await this.#db.execute<{ tag: string; contacts: number; companies: number }>(sql`
      select tag, sum(contacts)::int as contacts, sum(companies)::int as companies from (
        select unnest(${crmContacts.tags}) as tag, 1 as contacts, 0 as companies from ${crmContacts}
        union all
        select unnest(${crmCompanies.tags}) as tag, 0, 1 from ${crmCompanies}
      ) t group by tag order by tag`);
    return rows.rows;
  }

  // Pipeline and deals

  /** Seeds the default pipeline once, when there is none. */
  async ensurePipeline(): Promise<void> {
    await this.#db.transaction(async (tx) => {
      await tx.execute(sql`select pg_advisory_xact_lock(hashtext('crm-pipeline'))`);
      const [any] = await tx.select({ id: crmStages.id }).from(crmStages).limit(1);
      if (any) return;
      await tx
        .insert(crmStages)
        .values(DEFAULT_STAGES.map((s, position) => ({ id: newId('stg'), name: s.name, kind: s.kind, position })));
    });
  }

  async stages(tx: Db = this.#db): Promise<PipelineStage[]> {
    return (await tx.select().from(crmStages).orderBy(asc(crmStages.position))).map(serializeStage);
  }

  async putStages(input: PutPipelineStages, actor: AuditActor): Promise<PipelineStage[]> {
    return this.#change(actor, async (tx) => {
      await tx.execute(sql`select pg_advisory_xact_lock(hashtext('crm-pipeline'))`);
      const before = await this.stages(tx);
      const known = new Set(before.map((s) => s.id));
      const errors = input.stages.flatMap((s, i) =>
        s.id && !known.has(s.id) ? [{ field: `body.stages[${i}].id`, message: `no stage ${s.id}` }] : [],
      );
      if (errors.length) throw problems.validation(errors);
      const kept = new Set(input.stages.flatMap((s) => (s.id ? [s.id] : [])));
      const removed = before.filter((s) => !kept.has(s.id)).map((s) => s.id);
      if (removed.length) {
        const [used] = await tx
          .select({ id: crmDeals.id, stageId: crmDeals.stageId })
          .from(crmDeals)
          .where(inArray(crmDeals.stageId, removed))
          .limit(1);
        if (used) throw conflict(`stage ${used.stageId} still has deals: move them first`, { dealId: used.id });
        await tx.delete(crmStages).where(inArray(crmStages.id, removed));
      }
      for (const [position, s] of input.stages.entries()) {
        const values = { name: s.name, kind: s.kind ?? 'open', position };
        if (s.id) await tx.update(crmStages).set(values).where(eq(crmStages.id, s.id));
        else await tx.insert(crmStages).values({ id: newId('stg'), ...values });
      }
      const after = await this.stages(tx);
      return {
        result: after,
        action: 'crm.pipeline.update',
        target: { type: 'pipeline', id: 'default' },
        before,
        after,
      };
    });
  }

  async listDeals(filter: {
    companyId?: string | undefined;
    stageId?: string | undefined;
    ownerId?: string | undefined;
  }): Promise<Deal[]> {
    const rows = await this.#db
      .select()
      .from(crmDeals)
      .where(
        and(
          filter.companyId ? eq(crmDeals.companyId, filter.companyId) : undefined,
          filter.stageId ? eq(crmDeals.stageId, filter.stageId) : undefined,
          filter.ownerId ? eq(crmDeals.ownerId, filter.ownerId) : undefined,
        ),
      )
      .orderBy(desc(crmDeals.createdAt));
    return rows.map(serializeDeal);
  }

  async deal(id: string): Promise<Deal> {
    const [row] = await this.#db.select().from(crmDeals).where(eq(crmDeals.id, id));
    if (!row) throw problems.notFound(`no deal ${id}`);
    return serializeDeal(row);
  }

  async #checkOwner(ownerId: string | null | undefined, field: string): Promise<void> {
    if (ownerId && !(await this.#deps.isOperator(ownerId))) {
      throw problems.validation([{ field, message: `no operator ${ownerId}` }]);
    }
  }

  async #stage(tx: Db, stageId: string | undefined): Promise<StageRow> {
    const [row] = stageId
      ? await tx.select().from(crmStages).where(eq(crmStages.id, stageId))
      : await tx.select().from(crmStages).orderBy(asc(crmStages.position)).limit(1);
    if (!row)
      throw problems.validation([
        { field: 'body.stageId', message: stageId ? `no stage ${stageId}` : 'the pipeline has no stages' },
      ]);
    return row;
  }

  async createDeal(input: CreateDeal, actor: AuditActor): Promise<Deal> {
    await this.#checkOwner(input.ownerId, 'body.ownerId');
    return this.#change(actor, async (tx) => {
      await this.#checkCompany(tx, input.companyId, 'body.companyId');
      const stage = await this.#stage(tx, input.stageId);
      const now = this.#clock.now();
      const row: DealRow = {
        id: newId('deal'),
        title: input.title,
        companyId: input.companyId,
        contactId: input.contactId ?? null,
        stageId: stage.id,
        amountMinor: input.value.amountMinor,
        currency: input.value.currency,
        ownerId: input.ownerId ?? null,
        expectedCloseOn: input.expectedCloseOn ?? null,
        closedAt: stage.kind === 'open' ? null : now,
        createdAt: now,
        updatedAt: now,
      };
      await tx.insert(crmDeals).values(row);
      await tx
        .insert(crmDealMoves)
        .values({ id: newId('mov'), dealId: row.id, fromStage: null, toStage: stage.id, actor: actor.label, at: now });
      await this.touch(tx, { companyId: row.companyId, contactId: row.contactId }, now);
      const deal = serializeDeal(row);
      return {
        result: deal,
        action: 'crm.deal.create',
        target: { type: 'deal', id: row.id },
        before: null,
        after: deal,
      };
    });
  }

  async updateDeal(id: string, patch: UpdateDeal, actor: AuditActor): Promise<Deal> {
    await this.#checkOwner(patch.ownerId, 'body.ownerId');
    return this.#change(actor, async (tx) => {
      const [before] = await tx.select().from(crmDeals).where(eq(crmDeals.id, id)).for('update');
      if (!before) throw problems.notFound(`no deal ${id}`);
      const now = this.#clock.now();
      const moved = patch.stageId !== undefined && patch.stageId !== before.stageId;
      const stage = moved ? await this.#stage(tx, patch.stageId) : undefined;
      const after: DealRow = {
        ...before,
        title: patch.title ?? before.title,
        contactId: patch.contactId === undefined ? before.contactId : patch.contactId,
        stageId: stage?.id ?? before.stageId,
        amountMinor: patch.value?.amountMinor ?? before.amountMinor,
        currency: patch.value?.currency ?? before.currency,
        ownerId: patch.ownerId === undefined ? before.ownerId : patch.ownerId,
        expectedCloseOn: patch.expectedCloseOn === undefined ? before.expectedCloseOn : patch.expectedCloseOn,
        closedAt: stage ? (stage.kind === 'open' ? null : now) : before.closedAt,
        updatedAt: now,
      };
      await tx.update(crmDeals).set(after).where(eq(crmDeals.id, id));
      if (stage) {
        await tx.insert(crmDealMoves).values({
          id: newId('mov'),
          dealId: id,
          fromStage: before.stageId,
          toStage: stage.id,
          actor: actor.label,
          at: now,
        });
        await this.touch(tx, { companyId: after.companyId, contactId: after.contactId }, now);
      }
      return {
        result: serializeDeal(after),
        action: 'crm.deal.update',
        target: { type: 'deal', id },
        before: serializeDeal(before),
        after: serializeDeal(after),
      };
    });
  }

  async deleteDeal(id: string, actor: AuditActor): Promise<void> {
    await this.#change(actor, async (tx) => {
      const [before] = await tx.delete(crmDeals).where(eq(crmDeals.id, id)).returning();
      if (!before) throw problems.notFound(`no deal ${id}`);
      return {
        result: undefined,
        action: 'crm.deal.delete',
        target: { type: 'deal', id },
        before: serializeDeal(before),
        after: null,
      };
    });
  }

  // Activities

  async listActivities(filter: {
    companyId?: string | undefined;
    contactId?: string | undefined;
    dealId?: string | undefined;
    kind?: string | undefined;
    ownerId?: string | undefined;
    isOpen?: boolean | undefined;
    limit?: number | undefined;
  }): Promise<Activity[]> {
    const rows = await this.#db
      .select()
      .from(crmActivities)
      .where(
        and(
          filter.companyId ? eq(crmActivities.companyId, filter.companyId) : undefined,
          filter.contactId ? eq(crmActivities.contactId, filter.contactId) : undefined,
          filter.dealId ? eq(crmActivities.dealId, filter.dealId) : undefined,
          filter.kind ? eq(crmActivities.kind, filter.kind) : undefined,
          filter.ownerId ? eq(crmActivities.ownerId, filter.ownerId) : undefined,
          filter.isOpen === undefined
            ? undefined
            : filter.isOpen
              ? sql`${crmActivities.kind} = 'task' and ${crmActivities.completedAt} is null`
              : isNotNull(crmActivities.completedAt),
        ),
      )
      // Open tasks by due date; everything else newest first.
      .orderBy(...(filter.isOpen ? [sql`${crmActivities.dueAt} asc nulls last`] : []), desc(crmActivities.occurredAt))
      .limit(filter.limit ?? 100);
    return rows.map(serializeActivity);
  }

  async createActivity(input: CreateActivity, actor: AuditActor): Promise<Activity> {
    if (!input.companyId && !input.contactId && !input.dealId) {
      throw problems.validation([{ field: 'body', message: 'an activity belongs to a company, a contact or a deal' }]);
    }
    if (input.kind !== 'task' && input.dueAt) {
      throw problems.validation([{ field: 'body.dueAt', message: 'only tasks have a due date' }]);
    }
    await this.#checkOwner(input.ownerId, 'body.ownerId');
    return this.#change(actor, async (tx) => {
      await this.#checkCompany(tx, input.companyId, 'body.companyId');
      let companyId = input.companyId ?? null;
      if (input.contactId) {
        const [contact] = await tx
          .select({ companyId: crmContacts.companyId })
          .from(crmContacts)
          .where(eq(crmContacts.id, input.contactId));
        if (!contact)
          throw problems.validation([{ field: 'body.contactId', message: `no contact ${input.contactId}` }]);
        companyId ??= contact.companyId;
      }
      if (input.dealId) {
        const [deal] = await tx
          .select({ companyId: crmDeals.companyId })
          .from(crmDeals)
          .where(eq(crmDeals.id, input.dealId));
        if (!deal) throw problems.validation([{ field: 'body.dealId', message: `no deal ${input.dealId}` }]);
        companyId ??= deal.companyId;
      }
      const now = this.#clock.now();
      const row: ActivityRow = {
        id: newId('act'),
        kind: input.kind,
        companyId,
        contactId: input.contactId ?? null,
        dealId: input.dealId ?? null,
        subject: input.subject ?? null,
        body: input.body,
        ownerId: input.ownerId ?? (input.kind === 'task' && actor.type === 'operator' ? actor.id : null),
        dueAt: input.dueAt ? new Date(input.dueAt) : null,
        completedAt: null,
        occurredAt: input.occurredAt ? new Date(input.occurredAt) : now,
        createdBy: actor.id,
        createdAt: now,
      };
      await tx.insert(crmActivities).values(row);
      await this.touch(tx, { companyId, contactId: row.contactId }, row.occurredAt);
      const activity = serializeActivity(row);
      return {
        result: activity,
        action: `crm.${row.kind}.create`,
        target: { type: 'activity', id: row.id },
        before: null,
        after: activity,
      };
    });
  }

  async updateActivity(id: string, patch: UpdateActivity, actor: AuditActor): Promise<Activity> {
    await this.#checkOwner(patch.ownerId, 'body.ownerId');
    return this.#change(actor, async (tx) => {
      const [before] = await tx.select().from(crmActivities).where(eq(crmActivities.id, id)).for('update');
      if (!before) throw problems.notFound(`no activity ${id}`);
      if (before.kind !== 'task' && (patch.dueAt || patch.isCompleted !== undefined)) {
        throw problems.validation([{ field: 'body', message: 'only tasks have a due date and can be completed' }]);
      }
      const after: ActivityRow = {
        ...before,
        subject: patch.subject === undefined ? before.subject : patch.subject,
        body: patch.body ?? before.body,
        ownerId: patch.ownerId === undefined ? before.ownerId : patch.ownerId,
        dueAt: patch.dueAt === undefined ? before.dueAt : patch.dueAt === null ? null : new Date(patch.dueAt),
        completedAt:
          patch.isCompleted === undefined
            ? before.completedAt
            : patch.isCompleted
              ? (before.completedAt ?? this.#clock.now())
              : null,
      };
      await tx.update(crmActivities).set(after).where(eq(crmActivities.id, id));
      return {
        result: serializeActivity(after),
        action: `crm.${before.kind}.update`,
        target: { type: 'activity', id },
        before: serializeActivity(before),
        after: serializeActivity(after),
      };
    });
  }

  async deleteActivity(id: string, actor: AuditActor): Promise<void> {
    await this.#change(actor, async (tx) => {
      const [before] = await tx.delete(crmActivities).where(eq(crmActivities.id, id)).returning();
      if (!before) throw problems.notFound(`no activity ${id}`);
      return {
        result: undefined,
        action: `crm.${before.kind}.delete`,
        target: { type: 'activity', id },
        before: serializeActivity(before),
        after: null,
      };
    });
  }

  // Segments

  async listSegments(): Promise<Segment[]> {
    return (await this.#db.select().from(crmSegments).orderBy(asc(crmSegments.name))).map(serializeSegment);
  }

  async segment(id: string): Promise<Segment> {
    const [row] = await this.#db.select().from(crmSegments).where(eq(crmSegments.id, id));
    if (!row) throw problems.notFound(`no segment ${id}`);
    return serializeSegment(row);
  }

  async createSegment(input: CreateSegment, actor: AuditActor): Promise<Segment> {
    return this.#change(actor, async (tx) => {
      const now = this.#clock.now();
      const [row] = await tx
        .insert(crmSegments)
        .values({ id: newId('seg'), ...input, createdAt: now, updatedAt: now })
        .returning();
      const segment = serializeSegment(row!);
      return {
        result: segment,
        action: 'crm.segment.create',
        target: { type: 'segment', id: segment.id },
        before: null,
        after: segment,
      };
    });
  }

  async updateSegment(id: string, patch: UpdateSegment, actor: AuditActor): Promise<Segment> {
    return this.#change(actor, async (tx) => {
      const [before] = await tx.select().from(crmSegments).where(eq(crmSegments.id, id)).for('update');
      if (!before) throw problems.notFound(`no segment ${id}`);
      const [after] = await tx
        .update(crmSegments)
        .set({ name: patch.name ?? before.name, filter: patch.filter ?? before.filter, updatedAt: this.#clock.now() })
        .where(eq(crmSegments.id, id))
        .returning();
      return {
        result: serializeSegment(after!),
        action: 'crm.segment.update',
        target: { type: 'segment', id },
        before: serializeSegment(before),
        after: serializeSegment(after!),
      };
    });
  }

  async deleteSegment(id: string, actor: AuditActor): Promise<void> {
    await this.#change(actor, async (tx) => {
      const [before] = await tx.delete(crmSegments).where(eq(crmSegments.id, id)).returning();
      if (!before) throw problems.notFound(`no segment ${id}`);
      return {
        result: undefined,
        action: 'crm.segment.delete',
        target: { type: 'segment', id },
        before: serializeSegment(before),
        after: null,
      };
    });
  }

  async #segmentContacts(filter: Segment['filter'], extra?: SQL): Promise<ContactRow[]> {
    const where = segmentWhere(filter, this.#clock.now());
    if (filter.subject === 'contacts') {
      const rows = await this.#db
        .select({ contact: crmContacts })
        .from(crmContacts)
        .leftJoin(crmCompanies, eq(crmCompanies.id, crmContacts.companyId))
        .where(and(where, extra))
        .orderBy(asc(crmContacts.name), asc(crmContacts.id));
      return rows.map((r) => r.contact);
    }
    const companies = this.#db.select({ id: crmCompanies.id }).from(crmCompanies).where(where);
    return this.#db
      .select()
      .from(crmContacts)
      .where(and(inArray(crmContacts.companyId, companies), extra))
      .orderBy(asc(crmContacts.name), asc(crmContacts.id));
  }

  /** What a segment holds now: its companies (companies segments) and contacts. */
  async segmentMembers(id: string): Promise<SegmentMembers> {
    const { filter } = await this.segment(id);
    const companies =
      filter.subject === 'companies'
        ? await this.#db
            .select()
            .from(crmCompanies)
            .where(segmentWhere(filter, this.#clock.now()))
            .orderBy(asc(crmCompanies.name), asc(crmCompanies.id))
        : [];
    return {
      companies: companies.map(serializeCompany),
      contacts: await this.serializeContacts(await this.#segmentContacts(filter)),
    };
  }

  /** The contacts of a segment that have a phone or a WhatsApp id: what a broadcast can reach. */
  async resolveSegment(id: string): Promise<SegmentRecipient[]> {
    const { filter } = await this.segment(id);
    const reachable = or(sql`cardinality(${crmContacts.phones}) > 0`, isNotNull(crmContacts.whatsappId));
    return (await this.#segmentContacts(filter, reachable)).map((c) => ({
      contactId: c.id,
      name: c.name,
      companyId: c.companyId,
      phones: c.phones,
      whatsappId: c.whatsappId,
    }));
  }
}

const serializeSegment = (s: typeof crmSegments.$inferSelect): Segment => ({
  id: s.id,
  name: s.name,
  filter: s.filter,
  createdAt: s.createdAt.toISOString(),
  updatedAt: s.updatedAt.toISOString(),
});
