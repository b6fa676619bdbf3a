import { randomUUID } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type {
  Activity,
  Company,
  Contact,
  Conversation,
  ConversationMessage,
  Deal,
  DeliveredEvent,
  ImportResult,
  PipelineStage,
  SearchResults,
  Segment,
  SegmentMembers,
  Tenant,
  Timeline,
} from '@mic/contracts';
import { startTestControl, type TestControl } from '../../testing.ts';
import { parseCsv } from './csv.ts';

let control: TestControl;

beforeAll(async () => {
  control = await startTestControl();
});
afterAll(async () => {
  await control?.stop();
});

type Method = 'GET' | 'POST' | 'PATCH' | 'PUT' | 'DELETE';
async function api<T>(method: Method, url: string, payload?: object | string, headers = control.operator) {
  const res = await control.app.inject({
    method,
    url,
    headers: typeof payload === 'string' ? { ...headers, 'content-type': 'text/csv' } : headers,
    ...(payload === undefined ? {} : { payload }),
  });
  return {
    status: res.statusCode,
    body: (res.body && res.headers['content-type']?.includes('json') ? res.json() : res.body) as T,
  };
}

const day = 86_400_000;
const ago = (days: number) => new Date(control.app.clock.now().getTime() - days * day).toISOString();

describe('companies, contacts, deals and activities', () => {
  it('keeps companies and contacts, links a company to its tenant and follows its pause', async () => {
    const tenant = (await api<Tenant>('POST', '/v1/tenants', { name: 'Panadería Luna' })).body;
    const company = await api<Company>('POST', '/v1/crm/companies', {
      name: 'Panadería Luna',
      domain: 'luna.mx',
      tenantId: tenant.id,
      tags: ['bakery'],
    });
    expect(company.status).toBe(201);
    expect(company.body).toMatchObject({ tenantId: tenant.id, status: 'active', plan: null, tags: ['bakery'] });
    const twice = await api('POST', '/v1/crm/companies', { name: 'Otra', tenantId: tenant.id });
    expect(twice.status).toBe(409);
    const unknown = await api<{ errors: { field: string }[] }>('POST', '/v1/crm/companies', {
      name: 'X',
      tenantId: 'ten_nothere',
    });
    expect(unknown.status).toBe(400);

    await api('POST', `/v1/tenants/${tenant.id}/pause`, { reason: 'invoice overdue' });
    expect((await api<Company>('GET', `/v1/crm/companies/${company.body.id}`)).body.status).toBe('paused');
    await api('POST', `/v1/tenants/${tenant.id}/resume`, { reason: 'paid' });
    expect((await api<Company>('GET', `/v1/crm/companies/${company.body.id}`)).body.status).toBe('active');

    const contact = await api<Contact>('POST', '/v1/crm/contacts', {
      name: 'Ana Pérez',
      companyId: company.body.id,
      emails: ['ana.perez@luna.mx'],
      phones: ['+5215550101'],
      pageScopedIds: [{ platform: 'messenger', channelId: '682498302938465', userId: '6945793142124621' }],
      tags: ['owner'],
    });
    expect(contact.status).toBe(201);
    expect(contact.body).toMatchObject({
      companyId: company.body.id,
      whatsappId: null,
      pageScopedIds: [{ userId: '6945793142124621' }],
    });
    const badPhone = await api<{ errors: { field: string }[] }>('POST', '/v1/crm/contacts', {
      name: 'Sin formato',
      phones: ['55 5010 0101'],
    });
    expect(badPhone.status).toBe(400);
    expect(badPhone.body.errors.map((e) => e.field).join()).toContain('phones');

    const patched = await api<Contact>('PATCH', `/v1/crm/contacts/${contact.body.id}`, {
      whatsappId: '5215550101',
      tags: ['owner', 'vip'],
    });
    expect(patched.body).toMatchObject({
      whatsappId: '5215550101',
      tags: ['owner', 'vip'],
      emails: ['ana.perez@luna.mx'],
    });
    const taken = await api('POST', '/v1/crm/contacts', { name: 'Copia', whatsappId: '5215550101' });
    expect(taken.status).toBe(409);

    const audit = await api<{ items: { action: string }[] }>('GET', '/v1/audit?action=crm.*');
    expect(audit.body.items.map((e) => e.action)).toEqual(
      expect.arrayContaining(['crm.company.create', 'crm.contact.update']),
    );
  });

  it('moves deals through a configurable pipeline and keeps notes, calls and tasks with owners', async () => {
    const stages = (await api<PipelineStage[]>('GET', '/v1/crm/pipeline/stages')).body;
    expect(stages.map((s) => s.name)).toEqual(['Lead', 'Qualified', 'Proposal', 'Negotiation', 'Won', 'Lost']);
    const renamed = await api<PipelineStage[]>('PUT', '/v1/crm/pipeline/stages', {
      stages: [
        { id: stages[0]!.id, name: 'Prospecto' },
        { name: 'Demo' },
        ...stages.slice(2).map((s) => ({ id: s.id, name: s.name, kind: s.kind })),
      ],
    });
    expect(renamed.body.map((s) => s.name)).toEqual(['Prospecto', 'Demo', 'Proposal', 'Negotiation', 'Won', 'Lost']);

    const company = (await api<Company>('POST', '/v1/crm/companies', { name: 'Ferretería Díaz' })).body;
    expect(company.status).toBe('prospect');
    const me = (await api<{ operator: { id: string } }>('GET', '/v1/auth/session')).body.operator;
    const deal = await api<Deal>('POST', '/v1/crm/deals', {
      title: 'Plan Pro anual',
      companyId: company.id,
      value: { amountMinor: 1_200_000, currency: 'MXN' },
      ownerId: me.id,
    });
    expect(deal.status).toBe(201);
    expect(deal.body).toMatchObject({
      stageId: renamed.body[0]!.id,
      value: { amountMinor: 1_200_000, currency: 'MXN' },
      closedAt: null,
    });
    const noOwner = await api('POST', '/v1/crm/deals', {
      title: 'x',
      companyId: company.id,
      value: { amountMinor: 1, currency: 'MXN' },
      ownerId: 'op_nobody',
    });
    expect(noOwner.status).toBe(400);
    const won = await api<Deal>('PATCH', `/v1/crm/deals/${deal.body.id}`, { stageId: renamed.body[4]!.id });
    expect(won.body.closedAt).not.toBeNull();
    const removeUsed = await api('PUT', '/v1/crm/pipeline/stages', {
      stages: [{ id: renamed.body[0]!.id, name: 'Solo' }],
    });
    expect(removeUsed.status).toBe(409);

    const task = await api<Activity>('POST', '/v1/crm/activities', {
      kind: 'task',
      companyId: company.id,
      body: 'Enviar contrato',
      dueAt: ago(-2),
    });
    expect(task.body).toMatchObject({ ownerId: me.id, completedAt: null });
    await api('POST', '/v1/crm/activities', { kind: 'note', companyId: company.id, body: 'Quiere factura mensual' });
    await api('POST', '/v1/crm/activities', {
      kind: 'call',
      dealId: deal.body.id,
      body: 'Llamada de cierre',
      subject: 'Cierre',
    });
    const noteWithDue = await api('POST', '/v1/crm/activities', {
      kind: 'note',
      companyId: company.id,
      body: 'x',
      dueAt: ago(1),
    });
    expect(noteWithDue.status).toBe(400);
    const open = await api<Activity[]>('GET', `/v1/crm/activities?open=true&ownerId=${me.id}`);
    expect(open.body.map((a) => a.body)).toEqual(['Enviar contrato']);
    await api('PATCH', `/v1/crm/activities/${task.body.id}`, { isCompleted: true });
    expect((await api<Activity[]>('GET', `/v1/crm/activities?open=true&ownerId=${me.id}`)).body).toEqual([]);

    const timeline = await api<Timeline>('GET', `/v1/crm/companies/${company.id}/timeline`);
    expect(timeline.body.missingSources).toEqual([]);
    expect(timeline.body.entries.map((e) => e.kind)).toEqual(
      expect.arrayContaining(['task', 'note', 'call', 'deal.created', 'deal.stage']),
    );
    expect(timeline.body.entries.find((e) => e.kind === 'deal.stage')).toMatchObject({
      title: 'Plan Pro anual: Prospecto → Won',
      amount: { amountMinor: 1_200_000, currency: 'MXN' },
    });
    const first = await api<Timeline>('GET', `/v1/crm/companies/${company.id}/timeline?limit=2`);
    expect(first.body.entries).toHaveLength(2);
    const rest = await api<Timeline>('GET', `/v1/crm/companies/${company.id}/timeline?before=${first.body.nextBefore}`);
    expect(rest.body.entries.every((e) => e.at < first.body.entries[1]!.at)).toBe(true);
    expect((await api('DELETE', `/v1/crm/companies/${company.id}`)).status).toBe(409);
  });

  it("merges other modules' timeline sources and the tenant's pauses, and tells which source failed", async () => {
    const tenant = (await api<Tenant>('POST', '/v1/tenants', { name: 'Timeline SA' })).body;
    const company = (await api<Company>('POST', '/v1/crm/companies', { name: 'Timeline SA', tenantId: tenant.id }))
      .body;
    await api('POST', `/v1/tenants/${tenant.id}/pause`, { reason: 'dunning' });
    control.app.crmTimeline.register({
      name: 'test-billing',
      entries: async (c) =>
        c.tenantId === tenant.id
          ? [
              {
                at: ago(3),
                source: 'billing',
                kind: 'invoice',
                title: 'A-0001',
                detail: null,
                ref: { type: 'invoice', id: 'inv_1' },
                amount: { amountMinor: 49_900, currency: 'MXN' },
              },
            ]
          : [],
    });
    control.app.crmTimeline.register({
      name: 'test-broken',
      entries: () => Promise.reject(new Error('down')),
    });
    const timeline = (await api<Timeline>('GET', `/v1/crm/companies/${company.id}/timeline`)).body;
    expect(timeline.entries.map((e) => [e.kind, e.detail ?? e.title])).toEqual([
      ['pause', 'dunning'],
      ['invoice', 'A-0001'],
    ]);
    expect(timeline.missingSources).toEqual(['test-broken']);
  });
});

describe('search, tags and segments', () => {
  it('finds companies and contacts by words, prefixes, e-mail parts and phone digits, without accents', async () => {
    await api('POST', '/v1/crm/companies', { name: 'Café Orión', domain: 'orion-cafe.mx', tags: ['coffee'] });
    await api('POST', '/v1/crm/contacts', {
      name: 'José Ñúñez',
      emails: ['jose@orion-cafe.mx'],
      phones: ['+5215559876'],
    });
    const search = async (q: string) =>
      (await api<SearchResults>('GET', `/v1/crm/search?q=${encodeURIComponent(q)}`)).body;
    expect((await search('cafe orion')).companies.map((c) => c.name)).toEqual(['Café Orión']);
    expect((await search('ORIÓ')).companies.map((c) => c.name)).toEqual(['Café Orión']);
    expect((await search('nunez')).contacts.map((c) => c.name)).toEqual(['José Ñúñez']);
    expect((await search('jose@orion-cafe.mx')).contacts.map((c) => c.name)).toEqual(['José Ñúñez']);
    expect((await search('521555987')).contacts.map((c) => c.name)).toEqual(['José Ñúñez']);
    expect((await search('"café orión" -té')).companies).toHaveLength(1);
    expect((await search('orion -cafe')).companies).toEqual([]);
    expect((await search("o'brien")).contacts).toEqual([]);
    const tags = (await api<{ tag: string; contacts: number; companies: number }[]>('GET', '/v1/crm/tags')).body;
    expect(tags.find((t) => t.tag === 'coffee')).toEqual({ tag: 'coffee', contacts: 0, companies: 1 });
    expect((await api<Company[]>('GET', '/v1/crm/companies?tag=coffee')).body.map((c) => c.name)).toEqual([
      'Café Orión',
    ]);
  });

  it('evaluates saved segments over tags, plan, status and last activity, and resolves them to phones', async () => {
    const mark = randomUUID().slice(0, 8);
    const tag = `seg-${mark}`;
    const tenant = (await api<Tenant>('POST', '/v1/tenants', { name: `Pro ${mark}` })).body;
    const pro = (await api<Company>('POST', '/v1/crm/companies', { name: `Pro ${mark}`, tenantId: tenant.id })).body;
    await control.app.crm.recordPlan(tenant.id, 'pro');
    const prospect = (await api<Company>('POST', '/v1/crm/companies', { name: `Prospect ${mark}`, tags: [tag] })).body;
    const contact = async (name: string, companyId: string, extra: object = {}) =>
      (await api<Contact>('POST', '/v1/crm/contacts', { name, companyId, tags: [tag], ...extra })).body;
    const recent = await contact(`Reciente ${mark}`, pro.id, { phones: ['+5215550001'] });
    const old = await contact(`Antiguo ${mark}`, pro.id, { whatsappId: '5215550002' });
    const quiet = await contact(`Sin teléfono ${mark}`, prospect.id);
    await api('POST', '/v1/crm/activities', { kind: 'note', contactId: recent.id, body: 'hoy' });
    await api('POST', '/v1/crm/activities', {
      kind: 'note',
      contactId: old.id,
      body: 'hace tiempo',
      occurredAt: ago(90),
    });

    const segment = async (filter: object) => {
      const created = await api<Segment>('POST', '/v1/crm/segments', { name: `s ${mark}`, filter });
      expect(created.status).toBe(201);
      const members = (await api<SegmentMembers>('GET', `/v1/crm/segments/${created.body.id}/members`)).body;
      return { id: created.body.id, members, names: members.contacts.map((c) => c.name).sort() };
    };
    const active = await segment({
      subject: 'contacts',
      match: 'all',
      conditions: [
        { field: 'tag', op: 'has', value: tag },
        { field: 'lastActivity', op: 'within', days: 30 },
      ],
    });
    expect(active.names).toEqual([`Reciente ${mark}`]);
    const stale = await segment({
      subject: 'contacts',
      match: 'all',
      conditions: [
        { field: 'tag', op: 'has', value: tag },
        { field: 'lastActivity', op: 'notWithin', days: 30 },
      ],
    });
    expect(stale.names).toEqual([`Antiguo ${mark}`, `Sin teléfono ${mark}`]);
    const onPro = await segment({
      subject: 'contacts',
      match: 'all',
      conditions: [
        { field: 'tag', op: 'has', value: tag },
        { field: 'plan', op: 'in', values: ['pro', 'enterprise'] },
        { field: 'status', op: 'in', values: ['active'] },
      ],
    });
    expect(onPro.names).toEqual([`Antiguo ${mark}`, `Reciente ${mark}`]);
    const companies = await segment({
      subject: 'companies',
      match: 'any',
      conditions: [
        { field: 'status', op: 'in', values: ['prospect'] },
        { field: 'plan', op: 'in', values: ['pro'] },
      ],
    });
    expect(companies.members.companies.map((c) => c.id)).toEqual(expect.arrayContaining([pro.id, prospect.id]));
    expect(await control.app.crm.resolveSegment(onPro.id)).toEqual(
      expect.arrayContaining([
        { contactId: recent.id, name: recent.name, companyId: pro.id, phones: ['+5215550001'], whatsappId: null },
        { contactId: old.id, name: old.name, companyId: pro.id, phones: [], whatsappId: '5215550002' },
      ]),
    );
    const reachable = await control.app.crm.resolveSegment(stale.id);
    expect(reachable.map((r) => r.contactId)).toEqual([old.id]);
    expect(quiet.phones).toEqual([]);

    const invalid = await api<{ errors: { field: string }[] }>('POST', '/v1/crm/segments', {
      name: 'bad',
      filter: { subject: 'contacts', match: 'all', conditions: [{ field: 'plan', op: 'like', values: ['x'] }] },
    });
    expect(invalid.status).toBe(400);
    const readOnly = await control.loginAs('read-only');
    expect((await api('POST', '/v1/crm/segments', { name: 'x' }, readOnly)).status).toBe(403);
    expect((await api('GET', `/v1/crm/segments/${onPro.id}`, undefined, readOnly)).status).toBe(200);
  });
});

describe('CSV import and export', () => {
  it('exports contacts and companies, and an export imports back unchanged, with edits applied', async () => {
    const mark = randomUUID().slice(0, 8);
    const imported = await api<ImportResult>(
      'POST',
      '/v1/crm/contacts/import',
      [
        'name,company,emails,phones,whatsapp_id,tags',
        `"Martínez, Laura",Tortillería ${mark},laura@tortilla.mx;ventas@tortilla.mx,+5215551111,,csv-${mark};vip`,
        `"Pedro ""El Güero"" Ruiz",Tortillería ${mark},,+5215552222;+5215553333,5215552222,csv-${mark}`,
        `"Notas
de dos líneas",,,,,csv-${mark}`,
        '',
      ].join('\r\n'),
    );
    expect(imported).toMatchObject({ status: 200, body: { created: 3, updated: 0 } });
    const companies = (await api<Company[]>('GET', `/v1/crm/companies?q=${mark}`)).body;
    expect(companies.map((c) => c.name)).toEqual([`Tortillería ${mark}`]);

    const exported = await api<string>('GET', '/v1/crm/contacts/export');
    expect(exported.status).toBe(200);
    const rows = parseCsv(exported.body);
    const mine = rows.filter((r) => r[7]?.includes(`csv-${mark}`));
    expect(mine.map((r) => [r[1], r[3], r[4], r[5], r[6]])).toEqual([
      ['Martínez, Laura', `Tortillería ${mark}`, 'laura@tortilla.mx;ventas@tortilla.mx', '+5215551111', ''],
      ['Notas\nde dos líneas', '', '', '', ''],
      ['Pedro "El Güero" Ruiz', `Tortillería ${mark}`, '', '+5215552222;+5215553333', '5215552222'],
    ]);

    const before = (await api<Contact[]>('GET', `/v1/crm/contacts?tag=csv-${mark}`)).body;
    const again = await api<ImportResult>('POST', '/v1/crm/contacts/import', exported.body);
    expect(again.status).toBe(200);
    expect(again.body.created).toBe(0);
    const after = (await api<Contact[]>('GET', `/v1/crm/contacts?tag=csv-${mark}`)).body;
    expect(after.map(({ updatedAt: _u, ...c }) => c)).toEqual(before.map(({ updatedAt: _u, ...c }) => c));

    const laura = rows.find((r) => r[1] === 'Martínez, Laura')!;
    const edited = [
      rows[0]!,
      [laura[0]!, 'Laura Martínez', ...laura.slice(2, 5), '+5215551111;+5215554444', ...laura.slice(6)],
    ];
    const edit = await api<ImportResult>(
      'POST',
      '/v1/crm/contacts/import',
      edited.map((r) => r.map((c) => `"${c.replaceAll('"', '""')}"`).join(',')).join('\n'),
    );
    expect(edit.body).toEqual({ created: 0, updated: 1 });
    expect((await api<Contact>('GET', `/v1/crm/contacts/${laura[0]}`)).body).toMatchObject({
      name: 'Laura Martínez',
      phones: ['+5215551111', '+5215554444'],
    });

    const companyCsv = (await api<string>('GET', '/v1/crm/companies/export')).body;
    expect(parseCsv(companyCsv)[0]).toEqual([
      'id',
      'name',
      'domain',
      'tenant_id',
      'tags',
      'status',
      'plan',
      'last_activity_at',
      'created_at',
    ]);
    const companiesAgain = await api<ImportResult>('POST', '/v1/crm/companies/import', companyCsv);
    expect(companiesAgain.body.created).toBe(0);
  });

  it('refuses a bad file whole, naming the line and the field', async () => {
    const before = (await api<Contact[]>('GET', '/v1/crm/contacts?limit=500')).body.length;
    const bad = await api<{ type: string; errors: { field: string; message: string }[] }>(
      'POST',
      '/v1/crm/contacts/import',
      'name,phones\nBuena,+5215557777\nMala,5557777\n,+5215558888\n',
    );
    expect(bad.status).toBe(400);
    expect(bad.body.errors.map((e) => e.field)).toEqual(['line 3: phones', 'line 4: name']);
    const unknownColumn = await api<{ errors: { field: string }[] }>(
      'POST',
      '/v1/crm/contacts/import',
      'name,fax\nX,1\n',
    );
    expect(unknownColumn.body.errors[0]!.field).toBe('column fax');
    const unclosed = await api<{ errors: { field: string }[] }>('POST', '/v1/crm/contacts/import', 'name\n"abierto\n');
    expect(unclosed.status).toBe(400);
    const missing = await api<{ detail: string }>('POST', '/v1/crm/contacts/import', 'id,name\ncon_nothere,X\n');
    expect(missing.status).toBe(400);
    expect(missing.body.detail).toContain('line 2');
    expect((await api<Contact[]>('GET', '/v1/crm/contacts?limit=500')).body.length).toBe(before);
  });
});

describe('conversations from the hub events', () => {
  const hubEvent = (
    data: Record<string, unknown>,
    seq: number,
    extra: Partial<DeliveredEvent> = {},
  ): DeliveredEvent => ({
    id: `evt_${randomUUID()}`,
    type: 'whatsapp.message.received',
    tenantId: 'ten_hub',
    instanceId: 'ins_hub',
    channel: { kind: 'whatsapp', id: '1065400001' },
    conversation: { id: `1065400001:${String(data.from)}`, seq },
    occurredAt: ago(0),
    receivedAt: ago(0),
    data,
    raw: {},
    ...extra,
  });
  const deliver = async (event: DeliveredEvent) => {
    const res = await control.app.inject({
      method: 'POST',
      url: '/internal/v1/hub/events',
      headers: control.auth,
      payload: event,
    });
    expect(res.statusCode).toBe(204);
  };

  it('files messages under the contact with that number, creating one when new, once per event', async () => {
    const known = (
      await api<Contact>('POST', '/v1/crm/contacts', { name: 'Cliente conocido', phones: ['+5215550300'] })
    ).body;
    const first = hubEvent(
      { from: '5215550300', sender: { waId: '5215550300', name: 'Perfil WA' }, messageType: 'text', text: 'hola' },
      1,
    );
    await deliver(first);
    await deliver(first);
    await deliver(hubEvent({ from: '5215550300', messageType: 'image', media: { id: '1', caption: 'foto' } }, 2));
    const conversations = (await api<Conversation[]>('GET', `/v1/crm/conversations?contactId=${known.id}`)).body;
    expect(conversations).toHaveLength(1);
    expect(conversations[0]).toMatchObject({ externalId: '5215550300', unread: 2, channel: { kind: 'whatsapp' } });
    const messages = (await api<ConversationMessage[]>('GET', `/v1/crm/conversations/${conversations[0]!.id}/messages`))
      .body;
    expect(messages.map((m) => [m.direction, m.messageType, m.text])).toEqual([
      ['in', 'text', 'hola'],
      ['in', 'image', 'foto'],
    ]);
    expect((await api<Contact>('GET', `/v1/crm/contacts/${known.id}`)).body.whatsappId).toBe('5215550300');

    await deliver(
      hubEvent({ senderId: '7000000001', recipientId: '682498302938465', text: 'hi from messenger' }, 1, {
        type: 'messenger.message.received',
        channel: { kind: 'messenger', id: '682498302938465' },
      }),
    );
    const created = (await api<Contact[]>('GET', '/v1/crm/contacts?q=7000000001')).body;
    expect(created.map((c) => [c.name, c.pageScopedIds])).toEqual([
      ['Messenger 7000000001', [{ platform: 'messenger', channelId: '682498302938465', userId: '7000000001' }]],
    ]);
  });
});
