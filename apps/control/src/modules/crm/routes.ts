import { Type } from 'typebox';
import {
  Activity,
  ActivityKind,
  Company,
  Contact,
  Conversation,
  ConversationMessage,
  CreateActivity,
  CreateCompany,
  CreateContact,
  CreateDeal,
  CreateReply,
  CreateSegment,
  CrmIdParams,
  Deal,
  ImportResult,
  ListQuery,
  PipelineStage,
  PutPipelineStages,
  SearchResults,
  Segment,
  SegmentMembers,
  TagCount,
  Timeline,
  UpdateActivity,
  UpdateCompany,
  UpdateContact,
  UpdateDeal,
  UpdateSegment,
} from '@mic/contracts';
import type { HttpServer } from '@mic/platform';
import { actorOf } from '../audit/index.ts';

const tags = ['crm'];
const read = { permission: 'crm.read' } as const;
const write = { permission: 'crm.write' } as const;
const params = CrmIdParams;
const Limit = (max: number, fallback: number) =>
  Type.Optional(Type.Integer({ minimum: 1, maximum: max, default: fallback }));
const DateTime = Type.String({ format: 'date-time' });
/** CSV bodies: up to 10,000 rows of a few hundred bytes. */
const CSV_BODY_LIMIT = 16 * 1024 * 1024;

export async function registerCrmRoutes(app: HttpServer): Promise<void> {
  const { crm, crmConversations: conversations, crmTransfer: transfer } = app;

  // Companies

  app.get(
    '/v1/crm/companies',
    {
      config: read,
      schema: {
        tags,
        summary: 'Companies: tenants and prospects',
        querystring: ListQuery,
        response: { 200: Type.Array(Company) },
      },
    },
    async (req) => crm.listCompanies(req.query),
  );
  app.post(
    '/v1/crm/companies',
    {
      config: write,
      schema: {
        tags,
        summary: 'Create a company (with a tenantId: that tenant)',
        body: CreateCompany,
        response: { 201: Company },
      },
    },
    async (req, reply) => {
      void reply.status(201);
      return crm.createCompany(req.body, actorOf(req));
    },
  );
  app.get(
    '/v1/crm/companies/export',
    { config: read, schema: { tags, summary: 'Companies as CSV (RFC 4180; lists separated by semicolons)' } },
    async (_req, reply) => {
      void reply.type('text/csv; charset=utf-8').header('content-disposition', 'attachment; filename="companies.csv"');
      return transfer.exportCompanies();
    },
  );
  app.get(
    '/v1/crm/companies/:id',
    { config: read, schema: { tags, summary: 'A company', params, response: { 200: Company } } },
    async (req) => crm.company(req.params.id),
  );
  app.patch(
    '/v1/crm/companies/:id',
    {
      config: write,
      schema: {
        tags,
        summary: 'Change a company; a tenantId links it to that tenant',
        params,
        body: UpdateCompany,
        response: { 200: Company },
      },
    },
    async (req) => crm.updateCompany(req.params.id, req.body, actorOf(req)),
  );
  app.delete(
    '/v1/crm/companies/:id',
    { config: write, schema: { tags, summary: 'Delete a company without deals (its contacts stay)', params } },
    async (req, reply) => {
      await crm.deleteCompany(req.params.id, actorOf(req));
      void reply.status(204);
    },
  );
  app.get(
    '/v1/crm/companies/:id/timeline',
    {
      config: read,
      schema: {
        tags,
        summary: "The company's timeline: notes, calls, tasks, deals, messages, pauses, invoices, payments",
        params,
        querystring: Type.Object({ before: Type.Optional(DateTime), limit: Limit(200, 50) }),
        response: { 200: Timeline },
      },
    },
    async (req) => {
      const company = await crm.company(req.params.id);
      return app.crmTimeline.of(company, {
        before: req.query.before ? new Date(req.query.before) : null,
        limit: req.query.limit ?? 50,
      });
    },
  );

  // Contacts

  app.get(
    '/v1/crm/contacts',
    {
      config: read,
      schema: {
        tags,
        summary: 'Contacts',
        querystring: Type.Object({ ...ListQuery.properties, companyId: Type.Optional(Type.String()) }),
        response: { 200: Type.Array(Contact) },
      },
    },
    async (req) => crm.listContacts(req.query),
  );
  app.post(
    '/v1/crm/contacts',
    { config: write, schema: { tags, summary: 'Create a contact', body: CreateContact, response: { 201: Contact } } },
    async (req, reply) => {
      void reply.status(201);
      return crm.createContact(req.body, actorOf(req));
    },
  );
  app.get(
    '/v1/crm/contacts/export',
    { config: read, schema: { tags, summary: 'Contacts as CSV (RFC 4180; lists separated by semicolons)' } },
    async (_req, reply) => {
      void reply.type('text/csv; charset=utf-8').header('content-disposition', 'attachment; filename="contacts.csv"');
      return transfer.exportContacts();
    },
  );
  app.get(
    '/v1/crm/contacts/:id',
    { config: read, schema: { tags, summary: 'A contact', params, response: { 200: Contact } } },
    async (req) => crm.contact(req.params.id),
  );
  app.patch(
    '/v1/crm/contacts/:id',
    {
      config: write,
      schema: { tags, summary: 'Change a contact', params, body: UpdateContact, response: { 200: Contact } },
    },
    async (req) => crm.updateContact(req.params.id, req.body, actorOf(req)),
  );
  app.delete(
    '/v1/crm/contacts/:id',
    { config: write, schema: { tags, summary: 'Delete a contact without conversations, with its activities', params } },
    async (req, reply) => {
      await crm.deleteContact(req.params.id, actorOf(req), (tx, id) => conversations.hasConversations(tx, id));
      void reply.status(204);
    },
  );

  // CSV imports take a text/csv body: parsed in their own context, so no other module sees the parser.
  await app.register(async (csv: HttpServer) => {
    csv.addContentTypeParser('text/csv', { parseAs: 'string', bodyLimit: CSV_BODY_LIMIT }, (_req, body, done) =>
      done(null, body),
    );
    const importSchema = (what: string) => ({
      tags,
      summary: `Import ${what} from CSV: a row with an id updates, one without creates; all or nothing`,
      consumes: ['text/csv'],
      body: Type.String({ description: 'The CSV, with a header row (the columns of the export).' }),
      response: { 200: ImportResult },
    });
    csv.post('/v1/crm/companies/import', { config: write, schema: importSchema('companies') }, async (req) =>
      transfer.importCompanies(req.body, actorOf(req)),
    );
    csv.post('/v1/crm/contacts/import', { config: write, schema: importSchema('contacts') }, async (req) =>
      transfer.importContacts(req.body, actorOf(req)),
    );
  });

  app.get(
    '/v1/crm/tags',
    {
      config: read,
      schema: {
        tags,
        summary: 'Tags in use, with how many contacts and companies have each',
        response: { 200: Type.Array(TagCount) },
      },
    },
    async () => crm.tags(),
  );
  app.get(
    '/v1/crm/search',
    {
      config: read,
      schema: {
        tags,
        summary: 'Full-text search over companies and contacts (web syntax: "exact words", or, -word; prefixes match)',
        querystring: Type.Object({ q: Type.String({ minLength: 1, maxLength: 200 }), limit: Limit(100, 20) }),
        response: { 200: SearchResults },
      },
    },
    async (req) => {
      const page = { q: req.query.q, limit: req.query.limit ?? 20 };
      const [companies, contacts] = await Promise.all([crm.listCompanies(page), crm.listContacts(page)]);
      return { companies, contacts };
    },
  );

  // Pipeline and deals

  app.get(
    '/v1/crm/pipeline/stages',
    {
      config: read,
      schema: {
        tags,
        summary: 'The stages of the deal pipeline, in order',
        response: { 200: Type.Array(PipelineStage) },
      },
    },
    async () => crm.stages(),
  );
  app.put(
    '/v1/crm/pipeline/stages',
    {
      config: write,
      schema: {
        tags,
        summary: 'Set the whole pipeline',
        body: PutPipelineStages,
        response: { 200: Type.Array(PipelineStage) },
      },
    },
    async (req) => crm.putStages(req.body, actorOf(req)),
  );
  app.get(
    '/v1/crm/deals',
    {
      config: read,
      schema: {
        tags,
        summary: 'Deals, newest first',
        querystring: Type.Object({
          companyId: Type.Optional(Type.String()),
          stageId: Type.Optional(Type.String()),
          ownerId: Type.Optional(Type.String()),
        }),
        response: { 200: Type.Array(Deal) },
      },
    },
    async (req) => crm.listDeals(req.query),
  );
  app.post(
    '/v1/crm/deals',
    {
      config: write,
      schema: {
        tags,
        summary: 'Create a deal (in the first stage unless given)',
        body: CreateDeal,
        response: { 201: Deal },
      },
    },
    async (req, reply) => {
      void reply.status(201);
      return crm.createDeal(req.body, actorOf(req));
    },
  );
  app.get(
    '/v1/crm/deals/:id',
    { config: read, schema: { tags, summary: 'A deal', params, response: { 200: Deal } } },
    async (req) => crm.deal(req.params.id),
  );
  app.patch(
    '/v1/crm/deals/:id',
    {
      config: write,
      schema: {
        tags,
        summary: 'Change a deal or move it to another stage',
        params,
        body: UpdateDeal,
        response: { 200: Deal },
      },
    },
    async (req) => crm.updateDeal(req.params.id, req.body, actorOf(req)),
  );
  app.delete(
    '/v1/crm/deals/:id',
    { config: write, schema: { tags, summary: 'Delete a deal', params } },
    async (req, reply) => {
      await crm.deleteDeal(req.params.id, actorOf(req));
      void reply.status(204);
    },
  );

  // Activities

  app.get(
    '/v1/crm/activities',
    {
      config: read,
      schema: {
        tags,
        summary: 'Notes, calls and tasks; `open=true`: open tasks by due date',
        querystring: Type.Object({
          companyId: Type.Optional(Type.String()),
          contactId: Type.Optional(Type.String()),
          dealId: Type.Optional(Type.String()),
          kind: Type.Optional(ActivityKind),
          ownerId: Type.Optional(Type.String()),
          open: Type.Optional(Type.Boolean()),
          limit: Limit(500, 100),
        }),
        response: { 200: Type.Array(Activity) },
      },
    },
    async (req) => crm.listActivities({ ...req.query, isOpen: req.query.open }),
  );
  app.post(
    '/v1/crm/activities',
    {
      config: write,
      schema: { tags, summary: 'Add a note, a call or a task', body: CreateActivity, response: { 201: Activity } },
    },
    async (req, reply) => {
      void reply.status(201);
      return crm.createActivity(req.body, actorOf(req));
    },
  );
  app.patch(
    '/v1/crm/activities/:id',
    {
      config: write,
      schema: {
        tags,
        summary: 'Change an activity; complete or reopen a task',
        params,
        body: UpdateActivity,
        response: { 200: Activity },
      },
    },
    async (req) => crm.updateActivity(req.params.id, req.body, actorOf(req)),
  );
  app.delete(
    '/v1/crm/activities/:id',
    { config: write, schema: { tags, summary: 'Delete an activity', params } },
    async (req, reply) => {
      await crm.deleteActivity(req.params.id, actorOf(req));
      void reply.status(204);
    },
  );

  // Segments

  app.get(
    '/v1/crm/segments',
    { config: read, schema: { tags, summary: 'Saved segments', response: { 200: Type.Array(Segment) } } },
    async () => crm.listSegments(),
  );
  app.post(
    '/v1/crm/segments',
    { config: write, schema: { tags, summary: 'Save a segment', body: CreateSegment, response: { 201: Segment } } },
    async (req, reply) => {
      void reply.status(201);
      return crm.createSegment(req.body, actorOf(req));
    },
  );
  app.get(
    '/v1/crm/segments/:id',
    { config: read, schema: { tags, summary: 'A segment', params, response: { 200: Segment } } },
    async (req) => crm.segment(req.params.id),
  );
  app.patch(
    '/v1/crm/segments/:id',
    {
      config: write,
      schema: { tags, summary: 'Change a segment', params, body: UpdateSegment, response: { 200: Segment } },
    },
    async (req) => crm.updateSegment(req.params.id, req.body, actorOf(req)),
  );
  app.delete(
    '/v1/crm/segments/:id',
    { config: write, schema: { tags, summary: 'Delete a segment', params } },
    async (req, reply) => {
      await crm.deleteSegment(req.params.id, actorOf(req));
      void reply.status(204);
    },
  );
  app.get(
    '/v1/crm/segments/:id/members',
    { config: read, schema: { tags, summary: 'Who is in the segment now', params, response: { 200: SegmentMembers } } },
    async (req) => crm.segmentMembers(req.params.id),
  );

  // Conversations on the hub's own channels

  app.get(
    '/v1/crm/conversations',
    {
      config: read,
      schema: {
        tags,
        summary: "Conversations on the hub's own channels, latest first",
        querystring: Type.Object({ contactId: Type.Optional(Type.String()), limit: Limit(500, 100) }),
        response: { 200: Type.Array(Conversation) },
      },
    },
    async (req) => conversations.list(req.query),
  );
  app.get(
    '/v1/crm/conversations/:id',
    { config: read, schema: { tags, summary: 'A conversation', params, response: { 200: Conversation } } },
    async (req) => conversations.conversation(req.params.id),
  );
  app.get(
    '/v1/crm/conversations/:id/messages',
    {
      config: read,
      schema: {
        tags,
        summary: 'Its latest messages (older than `before`), in the order they happened',
        params,
        querystring: Type.Object({ before: Type.Optional(DateTime), limit: Limit(500, 100) }),
        response: { 200: Type.Array(ConversationMessage) },
      },
    },
    async (req) =>
      conversations.messages(req.params.id, {
        limit: req.query.limit ?? 100,
        before: req.query.before ? new Date(req.query.before) : undefined,
      }),
  );
  app.post(
    '/v1/crm/conversations/:id/read',
    { config: write, schema: { tags, summary: 'Mark the conversation read', params, response: { 200: Conversation } } },
    async (req) => conversations.markRead(req.params.id),
  );
  app.post(
    '/v1/crm/conversations/:id/replies',
    {
      config: write,
      schema: {
        tags,
        summary: 'Reply on the conversation’s channel (queued: 202; its state follows the engine)',
        params,
        body: CreateReply,
        response: { 202: ConversationMessage },
      },
    },
    async (req, reply) => {
      void reply.status(202);
      return conversations.reply(req.params.id, req.body.text, actorOf(req));
    },
  );
}
