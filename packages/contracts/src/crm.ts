import { Type, type Static, type TSchema } from 'typebox';
import { ChannelKind } from './events.ts';

/**
 * The operator's CRM (`/v1/crm/...`): companies (a tenant is a company; a prospect is a company
 * without one), contacts, deals on a pipeline of stages, activities (notes, calls, tasks), tags,
 * saved segments, full-text search, CSV import and export, a timeline per company, and the
 * conversations on the hub's own channels.
 */
const DateTime = Type.String({ format: 'date-time' });
const nullable = <T extends TSchema>(schema: T) => Type.Union([schema, Type.Null()]);
const closed = { additionalProperties: false } as const;
const Id = (prefix: string) => Type.String({ pattern: `^${prefix}_[A-Za-z0-9]+$`, maxLength: 64 });

export const Tag = Type.String({
  minLength: 1,
  maxLength: 64,
  pattern: '^[^;,\\s][^;,]*$',
  description: 'A label; no commas or semicolons (the CSV list separator).',
});
const Tags = Type.Array(Tag, { maxItems: 50, uniqueItems: true });

export const E164 = Type.String({
  pattern: '^\\+[1-9][0-9]{6,14}$',
  description: 'A phone number in E.164: +, country code and number, digits only (+5215550199).',
});
export const Email = Type.String({ format: 'email', maxLength: 320 });

export const Money = Type.Object(
  {
    amountMinor: Type.Integer({ minimum: 0, description: 'Integer minor units (cents).' }),
    currency: Type.String({ pattern: '^[A-Z]{3}$', description: 'ISO 4217 code.' }),
  },
  closed,
);
export type Money = Static<typeof Money>;

// Companies

export const CompanyStatus = Type.Union([Type.Literal('prospect'), Type.Literal('active'), Type.Literal('paused')], {
  description: "prospect: no tenant yet; otherwise its tenant's status.",
});
export type CompanyStatus = Static<typeof CompanyStatus>;

export const Company = Type.Object({
  id: Type.String(),
  name: Type.String(),
  domain: nullable(Type.String()),
  tenantId: nullable(Type.String({ description: 'The tenant this company is; null for a prospect.' })),
  status: CompanyStatus,
  plan: nullable(Type.String({ description: "The tenant's current plan, as billing reports it." })),
  tags: Type.Array(Type.String()),
  lastActivityAt: nullable(DateTime),
  createdAt: DateTime,
  updatedAt: DateTime,
});
export type Company = Static<typeof Company>;

export const CreateCompany = Type.Object(
  {
    name: Type.String({ minLength: 1, maxLength: 200 }),
    domain: Type.Optional(nullable(Type.String({ minLength: 1, maxLength: 253 }))),
    tenantId: Type.Optional(nullable(Id('ten'))),
    tags: Type.Optional(Tags),
  },
  closed,
);
export type CreateCompany = Static<typeof CreateCompany>;
export const UpdateCompany = Type.Partial(CreateCompany, closed);
export type UpdateCompany = Static<typeof UpdateCompany>;

// Contacts

export const PageScopedId = Type.Object(
  {
    platform: Type.Union([Type.Literal('messenger'), Type.Literal('instagram')]),
    channelId: Type.String({ pattern: '^[0-9]{1,64}$', description: 'The Facebook Page or Instagram account id.' }),
    userId: Type.String({ pattern: '^[0-9]{1,64}$', description: 'The PSID (Messenger) or IGSID (Instagram).' }),
  },
  { ...closed, description: 'A Messenger PSID or Instagram IGSID: each is scoped to one page or account.' },
);
export type PageScopedId = Static<typeof PageScopedId>;

export const Contact = Type.Object({
  id: Type.String(),
  companyId: nullable(Type.String()),
  name: Type.String(),
  emails: Type.Array(Type.String()),
  phones: Type.Array(Type.String()),
  whatsappId: nullable(Type.String()),
  pageScopedIds: Type.Array(PageScopedId),
  tags: Type.Array(Type.String()),
  lastActivityAt: nullable(DateTime),
  createdAt: DateTime,
  updatedAt: DateTime,
});
export type Contact = Static<typeof Contact>;

export const CreateContact = Type.Object(
  {
    name: Type.String({ minLength: 1, maxLength: 200 }),
    companyId: Type.Optional(nullable(Id('com'))),
    emails: Type.Optional(Type.Array(Email, { maxItems: 10, uniqueItems: true })),
    phones: Type.Optional(Type.Array(E164, { maxItems: 10, uniqueItems: true })),
    whatsappId: Type.Optional(nullable(Type.String({ pattern: '^[0-9]{5,20}$', description: 'The wa_id.' }))),
    pageScopedIds: Type.Optional(Type.Array(PageScopedId, { maxItems: 20 })),
    tags: Type.Optional(Tags),
  },
  closed,
);
export type CreateContact = Static<typeof CreateContact>;
export const UpdateContact = Type.Partial(CreateContact, closed);
export type UpdateContact = Static<typeof UpdateContact>;

// Pipeline and deals

export const StageKind = Type.Union([Type.Literal('open'), Type.Literal('won'), Type.Literal('lost')]);
export const PipelineStage = Type.Object({
  id: Type.String(),
  name: Type.String(),
  position: Type.Integer(),
  kind: StageKind,
});
export type PipelineStage = Static<typeof PipelineStage>;

export const PutPipelineStages = Type.Object(
  {
    stages: Type.Array(
      Type.Object(
        {
          id: Type.Optional(Id('stg')),
          name: Type.String({ minLength: 1, maxLength: 80 }),
          kind: Type.Optional(StageKind),
        },
        closed,
      ),
      { minItems: 1, maxItems: 30 },
    ),
  },
  {
    ...closed,
    description:
      'The whole pipeline, in order: a stage with an id is kept (renamed, moved), one without is new, and one ' +
      'left out is removed (refused while a deal is in it).',
  },
);
export type PutPipelineStages = Static<typeof PutPipelineStages>;

export const Deal = Type.Object({
  id: Type.String(),
  title: Type.String(),
  companyId: Type.String(),
  contactId: nullable(Type.String()),
  stageId: Type.String(),
  value: Money,
  ownerId: nullable(Type.String({ description: 'The operator who owns the deal.' })),
  expectedCloseOn: nullable(Type.String({ format: 'date' })),
  closedAt: nullable(DateTime),
  createdAt: DateTime,
  updatedAt: DateTime,
});
export type Deal = Static<typeof Deal>;

export const CreateDeal = Type.Object(
  {
    title: Type.String({ minLength: 1, maxLength: 200 }),
    companyId: Id('com'),
    contactId: Type.Optional(nullable(Id('con'))),
    stageId: Type.Optional(Id('stg')),
    value: Money,
    ownerId: Type.Optional(nullable(Type.String({ minLength: 1, maxLength: 64 }))),
    expectedCloseOn: Type.Optional(nullable(Type.String({ format: 'date' }))),
  },
  closed,
);
export type CreateDeal = Static<typeof CreateDeal>;
export const UpdateDeal = Type.Partial(Type.Omit(CreateDeal, ['companyId']), closed);
export type UpdateDeal = Static<typeof UpdateDeal>;

// Activities

export const ActivityKind = Type.Union([Type.Literal('note'), Type.Literal('call'), Type.Literal('task')]);
export type ActivityKind = Static<typeof ActivityKind>;

export const Activity = Type.Object({
  id: Type.String(),
  kind: ActivityKind,
  companyId: nullable(Type.String()),
  contactId: nullable(Type.String()),
  dealId: nullable(Type.String()),
  subject: nullable(Type.String()),
  body: Type.String(),
  ownerId: nullable(Type.String()),
  dueAt: nullable(DateTime),
  completedAt: nullable(DateTime),
  occurredAt: DateTime,
  createdBy: nullable(Type.String()),
  createdAt: DateTime,
});
export type Activity = Static<typeof Activity>;

export const CreateActivity = Type.Object(
  {
    kind: ActivityKind,
    companyId: Type.Optional(nullable(Id('com'))),
    contactId: Type.Optional(nullable(Id('con'))),
    dealId: Type.Optional(nullable(Id('deal'))),
    subject: Type.Optional(nullable(Type.String({ maxLength: 200 }))),
    body: Type.String({ maxLength: 20_000 }),
    ownerId: Type.Optional(nullable(Type.String({ minLength: 1, maxLength: 64 }))),
    dueAt: Type.Optional(nullable(DateTime)),
    occurredAt: Type.Optional(DateTime),
  },
  { ...closed, description: 'A note, a call or a task; a task may have a due date and an owner (an operator).' },
);
export type CreateActivity = Static<typeof CreateActivity>;
export const UpdateActivity = Type.Partial(
  Type.Object(
    {
      subject: nullable(Type.String({ maxLength: 200 })),
      body: Type.String({ maxLength: 20_000 }),
      ownerId: nullable(Type.String({ minLength: 1, maxLength: 64 })),
      dueAt: nullable(DateTime),
      isCompleted: Type.Boolean({ description: 'Tasks: done or not.' }),
    },
    closed,
  ),
  closed,
);
export type UpdateActivity = Static<typeof UpdateActivity>;

// Segments

const Days = Type.Integer({ minimum: 1, maximum: 3650 });
export const SegmentCondition = Type.Union([
  Type.Object(
    {
      field: Type.Literal('tag'),
      op: Type.Union([Type.Literal('has'), Type.Literal('lacks')]),
      value: Tag,
      of: Type.Optional(Type.Union([Type.Literal('contact'), Type.Literal('company')])),
    },
    { ...closed, description: 'A tag of the contact (default) or of its company.' },
  ),
  Type.Object(
    {
      field: Type.Literal('plan'),
      op: Type.Union([Type.Literal('in'), Type.Literal('notIn')]),
      values: Type.Array(Type.String({ minLength: 1, maxLength: 64 }), { minItems: 1, maxItems: 50 }),
    },
    { ...closed, description: "The company's plan; a company without a plan is never `in`." },
  ),
  Type.Object(
    {
      field: Type.Literal('status'),
      op: Type.Union([Type.Literal('in'), Type.Literal('notIn')]),
      values: Type.Array(CompanyStatus, { minItems: 1, maxItems: 3 }),
    },
    closed,
  ),
  Type.Object(
    {
      field: Type.Literal('lastActivity'),
      op: Type.Union([Type.Literal('within'), Type.Literal('notWithin')]),
      days: Days,
      of: Type.Optional(Type.Union([Type.Literal('contact'), Type.Literal('company')])),
    },
    {
      ...closed,
      description: 'Activity (a note, call, task, deal or message) in the last `days` days, or none in them.',
    },
  ),
]);
export type SegmentCondition = Static<typeof SegmentCondition>;

export const SegmentFilter = Type.Object(
  {
    subject: Type.Union([Type.Literal('contacts'), Type.Literal('companies')], {
      description: 'What the segment lists; a companies segment resolves to the contacts of its companies.',
    }),
    match: Type.Union([Type.Literal('all'), Type.Literal('any')]),
    conditions: Type.Array(SegmentCondition, { minItems: 1, maxItems: 20 }),
  },
  { ...closed, description: 'A saved filter, evaluated into SQL each time it is resolved.' },
);
export type SegmentFilter = Static<typeof SegmentFilter>;

export const Segment = Type.Object({
  id: Type.String(),
  name: Type.String(),
  filter: SegmentFilter,
  createdAt: DateTime,
  updatedAt: DateTime,
});
export type Segment = Static<typeof Segment>;

export const CreateSegment = Type.Object(
  { name: Type.String({ minLength: 1, maxLength: 120 }), filter: SegmentFilter },
  closed,
);
export type CreateSegment = Static<typeof CreateSegment>;
export const UpdateSegment = Type.Partial(CreateSegment, closed);
export type UpdateSegment = Static<typeof UpdateSegment>;

export const SegmentMembers = Type.Object({
  companies: Type.Array(Company),
  contacts: Type.Array(Contact),
});
export type SegmentMembers = Static<typeof SegmentMembers>;

// Search, lists, CSV

export const SearchResults = Type.Object({
  companies: Type.Array(Company),
  contacts: Type.Array(Contact),
});
export type SearchResults = Static<typeof SearchResults>;

export const ListQuery = Type.Object({
  q: Type.Optional(Type.String({ minLength: 1, maxLength: 200, description: 'Full-text search (web syntax).' })),
  tag: Type.Optional(Tag),
  limit: Type.Optional(Type.Integer({ minimum: 1, maximum: 500, default: 100 })),
  offset: Type.Optional(Type.Integer({ minimum: 0, default: 0 })),
});
export type ListQuery = Static<typeof ListQuery>;

export const ImportResult = Type.Object({
  created: Type.Integer(),
  updated: Type.Integer(),
});
export type ImportResult = Static<typeof ImportResult>;

export const TagCount = Type.Object({ tag: Type.String(), contacts: Type.Integer(), companies: Type.Integer() });

// Timeline

export const TimelineEntry = Type.Object({
  at: DateTime,
  source: Type.String({ description: 'The module that gave the entry: crm, billing, audit…' }),
  kind: Type.String({ description: 'note, call, task, deal.created, deal.stage, message, invoice, payment, pause…' }),
  title: Type.String(),
  detail: nullable(Type.String()),
  ref: Type.Object({ type: Type.String(), id: Type.String() }),
  amount: Type.Optional(Money),
});
export type TimelineEntry = Static<typeof TimelineEntry>;

export const Timeline = Type.Object({
  entries: Type.Array(TimelineEntry, { description: 'Newest first.' }),
  nextBefore: nullable(Type.String({ format: 'date-time', description: 'Pass as `before` for the next page.' })),
  missingSources: Type.Array(Type.String(), {
    description: 'Sources that failed to answer: the timeline lacks their entries.',
  }),
});
export type Timeline = Static<typeof Timeline>;

// Conversations

export const MessageDirection = Type.Union([Type.Literal('in'), Type.Literal('out')]);
export const ConversationMessageState = Type.Union(
  [
    Type.Literal('received'),
    Type.Literal('pending'),
    Type.Literal('queued'),
    Type.Literal('sent'),
    Type.Literal('delivered'),
    Type.Literal('read'),
    Type.Literal('failed'),
  ],
  {
    description:
      'received (inbound); a reply is pending (waiting in control for the engine), then queued, sent, delivered, ' +
      "read as the engine's outbound events report, or failed (with the reason).",
  },
);
export type ConversationMessageState = Static<typeof ConversationMessageState>;

export const ConversationMessage = Type.Object({
  id: Type.String(),
  conversationId: Type.String(),
  direction: MessageDirection,
  state: ConversationMessageState,
  text: nullable(Type.String()),
  messageType: Type.String({ description: "Meta's type: text, image, …" }),
  error: nullable(Type.Object({ code: nullable(Type.Integer()), title: Type.String(), message: Type.String() })),
  sentBy: nullable(Type.String({ description: 'The operator who replied.' })),
  occurredAt: DateTime,
});
export type ConversationMessage = Static<typeof ConversationMessage>;

export const Conversation = Type.Object({
  id: Type.String(),
  contactId: Type.String(),
  channel: Type.Object({ kind: ChannelKind, id: Type.String() }),
  externalId: Type.String({ description: 'The customer: wa_id, PSID or IGSID.' }),
  lastMessageAt: DateTime,
  unread: Type.Integer(),
  createdAt: DateTime,
});
export type Conversation = Static<typeof Conversation>;

export const CreateReply = Type.Object(
  { text: Type.String({ minLength: 1, maxLength: 4096 }) },
  { ...closed, description: "A text reply on the conversation's channel." },
);
export type CreateReply = Static<typeof CreateReply>;

export const CrmIdParams = Type.Object({ id: Type.String({ minLength: 1, maxLength: 64 }) });
