import { Type, type Static } from 'typebox';

/**
 * WhatsApp message templates as the engine keeps them: synced from each WhatsApp Business
 * Account (`GET /{waba-id}/message_templates`) when a channel is connected, periodically and on
 * demand (`POST /v1/templates/sync`), and kept current from Meta's
 * `message_template_status_update` webhooks. Instance API: `GET /v1/templates`. A template send
 * (`POST /v1/messages`, a broadcast) is checked against an APPROVED template of the channel's
 * account and its parameter counts before it is queued.
 */
export const TEMPLATE_STATUSES = [
  'APPROVED',
  'PENDING',
  'REJECTED',
  'PAUSED',
  'DISABLED',
  'IN_APPEAL',
  'PENDING_DELETION',
  'DELETED',
  'LIMIT_EXCEEDED',
] as const;

export const TemplateParameterCounts = Type.Object(
  {
    header: Type.Integer({ minimum: 0, description: 'Text placeholders of a TEXT header; 1 for a media header.' }),
    body: Type.Integer({ minimum: 0 }),
    buttons: Type.Array(
      Type.Object({
        index: Type.Integer({ minimum: 0 }),
        type: Type.String({ description: "Meta's button type (URL, QUICK_REPLY, COPY_CODE, …)." }),
        parameters: Type.Integer({ minimum: 0 }),
      }),
      { description: 'Only the buttons that take a parameter.' },
    ),
  },
  { description: 'The parameters a send of the template must give, per component.' },
);
export type TemplateParameterCounts = Static<typeof TemplateParameterCounts>;

export const MessageTemplate = Type.Object(
  {
    id: Type.String({ description: "Meta's template id." }),
    businessAccountId: Type.String({ description: 'The WhatsApp Business Account the template belongs to.' }),
    name: Type.String(),
    language: Type.String({ description: 'e.g. en_US, es.' }),
    category: Type.String({ description: 'MARKETING, UTILITY or AUTHENTICATION.' }),
    status: Type.String({ description: `Meta's status: ${TEMPLATE_STATUSES.join(', ')}; only APPROVED ones send.` }),
    parameterFormat: Type.String({ description: 'POSITIONAL or NAMED.' }),
    components: Type.Array(Type.Unknown(), { description: "Meta's components, as Meta lists them." }),
    parameters: TemplateParameterCounts,
    updatedAt: Type.String({ format: 'date-time' }),
  },
  { description: 'A message template of a WhatsApp Business Account.' },
);
export type MessageTemplate = Static<typeof MessageTemplate>;

export const TemplatesQuery = Type.Object({
  channel: Type.Optional(Type.String({ description: 'Only the templates of this WhatsApp phone number id.' })),
  name: Type.Optional(Type.String({ pattern: '^[a-z0-9_]{1,512}$' })),
  status: Type.Optional(Type.String({ description: 'e.g. APPROVED.' })),
});
export type TemplatesQuery = Static<typeof TemplatesQuery>;

export const TemplateAccountSync = Type.Object({
  businessAccountId: Type.String(),
  syncedAt: Type.Union([Type.String({ format: 'date-time' }), Type.Null()]),
  error: Type.Union([Type.String(), Type.Null()], { description: 'Why the last sync failed, if it did.' }),
});
export type TemplateAccountSync = Static<typeof TemplateAccountSync>;

export const TemplateList = Type.Object(
  {
    templates: Type.Array(MessageTemplate),
    accounts: Type.Array(TemplateAccountSync, {
      description: "The instance's WhatsApp Business Accounts and their last sync.",
    }),
  },
  { description: 'The answer of `GET /v1/templates` and `POST /v1/templates/sync`.' },
);
export type TemplateList = Static<typeof TemplateList>;
