import { Type, type Static, type TSchema } from 'typebox';
import { Settings } from 'typebox/system';
import { Value } from 'typebox/value';
import { SendPriority } from './config-snapshot.ts';
import { ChannelKind } from './events.ts';

/**
 * The Send API an instance calls: `POST /v1/messages` (answered 202 `SendAccepted`) and
 * `GET /v1/messages/{id}` (`MessageStatus`). Version 1, part of the product's public API: fields
 * are only ever added, never renamed or removed.
 *
 * A request names the channel and the recipient, and carries one message whose `type` selects an
 * object of the same name (`{ type: 'text', text: { … } }`), shaped like Meta's own send bodies
 * in camelCase: the engine translates it into the Graph API call (packages/meta `toGraphRequest`).
 * The limits below are Meta's documented ones; the schema holds the lengths and counts, and
 * `validateSendRequest` adds the rules a schema cannot say (which types a platform takes, link or
 * id, unique button ids, rows over all sections, …), each error naming its field
 * (`message.interactive.action.buttons[3]`) for an RFC 9457 validation problem.
 *
 * Sources (packages/meta/src/webhooks/fixtures/SOURCES.md, "Send API"): WhatsApp Cloud API messages
 * reference and its per-type guides; Messenger Send API reference, quick replies and message tags;
 * Instagram messaging "Send a Message".
 */

const text = (maxLength: number, description: string) => Type.String({ minLength: 1, maxLength, description });
const optional = <T extends TSchema>(schema: T) => Type.Optional(schema);
const closed = { additionalProperties: false } as const;

// ---------------------------------------------------------------------------------------------
// WhatsApp (Cloud API, POST /{phone-number-id}/messages)

/** A media object by public HTTPS `link` or by uploaded media `id`: exactly one of the two. */
const mediaSource = {
  link: optional(Type.String({ format: 'uri', maxLength: 2048, description: 'A public HTTP(S) URL Meta downloads.' })),
  id: optional(Type.String({ pattern: '^[0-9]{1,64}$', description: 'A media id from the Media upload API.' })),
};

export const WhatsAppMedia = Type.Object(
  { ...mediaSource, caption: optional(text(1024, 'At most 1,024 characters.')) },
  { ...closed, description: 'An image or video: `link` or `id`, with an optional caption.' },
);
export const WhatsAppDocument = Type.Object(
  {
    ...mediaSource,
    caption: optional(text(1024, 'At most 1,024 characters.')),
    filename: optional(text(240, 'The file name the recipient sees, with its extension.')),
  },
  closed,
);
/** Audio and stickers take no caption. */
export const WhatsAppBareMedia = Type.Object(mediaSource, closed);

const WhatsAppText = Type.Object(
  {
    type: Type.Literal('text'),
    text: Type.Object(
      {
        body: text(4096, 'At most 4,096 characters.'),
        previewUrl: optional(Type.Boolean({ description: 'Render a preview of the first URL in the body.' })),
      },
      closed,
    ),
  },
  closed,
);

const currency = Type.Object(
  {
    fallbackValue: text(1024, 'Shown where the currency cannot be localized.'),
    code: Type.String({ pattern: '^[A-Z]{3}$', description: 'ISO 4217 code.' }),
    amount1000: Type.Integer({ description: 'The amount times 1,000.' }),
  },
  closed,
);
const dateTime = Type.Object({ fallbackValue: text(1024, 'The date as text.') }, closed);
const location = Type.Object(
  {
    latitude: Type.Number({ minimum: -90, maximum: 90 }),
    longitude: Type.Number({ minimum: -180, maximum: 180 }),
    name: optional(text(1024, 'The place name.')),
    address: optional(text(1024, 'The address.')),
  },
  closed,
);
const parameterName = optional(
  Type.String({ pattern: '^[a-z0-9_]{1,512}$', description: 'For templates with named parameters.' }),
);

const TemplateTextParameter = Type.Object(
  { type: Type.Literal('text'), text: text(32768, 'The value.'), parameterName },
  closed,
);
const TemplateBodyParameter = Type.Union([
  TemplateTextParameter,
  Type.Object({ type: Type.Literal('currency'), currency, parameterName }, closed),
  Type.Object({ type: Type.Literal('date_time'), dateTime, parameterName }, closed),
]);
const TemplateHeaderParameter = Type.Union([
  Type.Object({ type: Type.Literal('text'), text: text(60, 'At most 60 characters.'), parameterName }, closed),
  Type.Object({ type: Type.Literal('image'), image: WhatsAppBareMedia }, closed),
  Type.Object({ type: Type.Literal('video'), video: WhatsAppBareMedia }, closed),
  Type.Object({ type: Type.Literal('document'), document: WhatsAppDocument }, closed),
  Type.Object({ type: Type.Literal('location'), location }, closed),
]);
const TemplateButtonParameter = Type.Union([
  Type.Object({ type: Type.Literal('payload'), payload: text(1000, 'Returned in the button-reply webhook.') }, closed),
  Type.Object({ type: Type.Literal('text'), text: text(2000, 'The dynamic URL suffix.') }, closed),
  Type.Object({ type: Type.Literal('coupon_code'), couponCode: text(15, 'At most 15 characters.') }, closed),
]);

export const WhatsAppTemplateComponent = Type.Union([
  Type.Object(
    { type: Type.Literal('header'), parameters: Type.Array(TemplateHeaderParameter, { minItems: 1, maxItems: 1 }) },
    closed,
  ),
  Type.Object({ type: Type.Literal('body'), parameters: Type.Array(TemplateBodyParameter, { minItems: 1 }) }, closed),
  Type.Object(
    {
      type: Type.Literal('button'),
      subType: Type.Union([Type.Literal('quick_reply'), Type.Literal('url'), Type.Literal('copy_code')]),
      index: Type.Integer({ minimum: 0, maximum: 9, description: "The button's position in the template." }),
      parameters: Type.Array(TemplateButtonParameter, { minItems: 1, maxItems: 1 }),
    },
    closed,
  ),
]);
export type WhatsAppTemplateComponent = Static<typeof WhatsAppTemplateComponent>;

const WhatsAppTemplate = Type.Object(
  {
    type: Type.Literal('template'),
    template: Type.Object(
      {
        name: Type.String({ pattern: '^[a-z0-9_]{1,512}$', description: 'An approved template of the account.' }),
        language: Type.Object(
          { code: Type.String({ pattern: '^[a-z]{2,3}(_[A-Za-z]{2,4})?$', description: 'e.g. en_US, es, pt_BR.' }) },
          closed,
        ),
        components: optional(Type.Array(WhatsAppTemplateComponent, { maxItems: 12 })),
      },
      closed,
    ),
  },
  closed,
);

const WhatsAppImage = Type.Object({ type: Type.Literal('image'), image: WhatsAppMedia }, closed);
const WhatsAppVideo = Type.Object({ type: Type.Literal('video'), video: WhatsAppMedia }, closed);
const WhatsAppAudio = Type.Object({ type: Type.Literal('audio'), audio: WhatsAppBareMedia }, closed);
const WhatsAppSticker = Type.Object({ type: Type.Literal('sticker'), sticker: WhatsAppBareMedia }, closed);
const WhatsAppDocumentMessage = Type.Object({ type: Type.Literal('document'), document: WhatsAppDocument }, closed);

const interactiveBody = Type.Object({ text: text(1024, 'At most 1,024 characters.') }, closed);
const interactiveFooter = Type.Object({ text: text(60, 'At most 60 characters.') }, closed);
const textHeader = Type.Object({ type: Type.Literal('text'), text: text(60, 'At most 60 characters.') }, closed);

const WhatsAppInteractiveButtons = Type.Object(
  {
    type: Type.Literal('button'),
    header: optional(
      Type.Union([
        textHeader,
        Type.Object({ type: Type.Literal('image'), image: WhatsAppBareMedia }, closed),
        Type.Object({ type: Type.Literal('video'), video: WhatsAppBareMedia }, closed),
        Type.Object({ type: Type.Literal('document'), document: WhatsAppDocument }, closed),
      ]),
    ),
    body: interactiveBody,
    footer: optional(interactiveFooter),
    action: Type.Object(
      {
        buttons: Type.Array(
          Type.Object(
            {
              id: text(256, 'Returned in the button-reply webhook; unique in the message.'),
              title: text(20, 'At most 20 characters; unique in the message.'),
            },
            closed,
          ),
          { minItems: 1, maxItems: 3, description: '1 to 3 reply buttons.' },
        ),
      },
      closed,
    ),
  },
  closed,
);

const WhatsAppInteractiveList = Type.Object(
  {
    type: Type.Literal('list'),
    header: optional(textHeader),
    body: interactiveBody,
    footer: optional(interactiveFooter),
    action: Type.Object(
      {
        button: text(20, 'The label of the button that opens the list; at most 20 characters.'),
        sections: Type.Array(
          Type.Object(
            {
              title: optional(text(24, 'At most 24 characters; required when there is more than one section.')),
              rows: Type.Array(
                Type.Object(
                  {
                    id: text(200, 'Returned in the list-reply webhook; unique in the message.'),
                    title: text(24, 'At most 24 characters.'),
                    description: optional(text(72, 'At most 72 characters.')),
                  },
                  closed,
                ),
                { minItems: 1, maxItems: 10 },
              ),
            },
            closed,
          ),
          { minItems: 1, maxItems: 10, description: 'Up to 10 sections, with up to 10 rows over all sections.' },
        ),
      },
      closed,
    ),
  },
  closed,
);

const WhatsAppInteractive = Type.Object(
  { type: Type.Literal('interactive'), interactive: Type.Union([WhatsAppInteractiveButtons, WhatsAppInteractiveList]) },
  closed,
);

const WhatsAppLocation = Type.Object({ type: Type.Literal('location'), location }, closed);

const WhatsAppContact = Type.Object(
  {
    name: Type.Object(
      {
        formattedName: text(512, 'The full name as shown.'),
        firstName: optional(text(256, 'First name.')),
        lastName: optional(text(256, 'Last name.')),
        middleName: optional(text(256, 'Middle name.')),
        suffix: optional(text(64, 'Suffix.')),
        prefix: optional(text(64, 'Prefix.')),
      },
      closed,
    ),
    phones: optional(
      Type.Array(
        Type.Object(
          {
            phone: text(64, 'The number.'),
            type: optional(text(32, 'CELL, MAIN, IPHONE, HOME, WORK.')),
            waId: optional(Type.String({ pattern: '^[0-9]{5,20}$' })),
          },
          closed,
        ),
        { maxItems: 20 },
      ),
    ),
    emails: optional(
      Type.Array(Type.Object({ email: text(320, 'The address.'), type: optional(text(32, 'HOME, WORK.')) }, closed), {
        maxItems: 20,
      }),
    ),
    addresses: optional(
      Type.Array(
        Type.Object(
          {
            street: optional(text(512, 'Street.')),
            city: optional(text(256, 'City.')),
            state: optional(text(256, 'State.')),
            zip: optional(text(64, 'Postal code.')),
            country: optional(text(256, 'Country.')),
            countryCode: optional(text(8, 'ISO country code.')),
            type: optional(text(32, 'HOME, WORK.')),
          },
          closed,
        ),
        { maxItems: 20 },
      ),
    ),
    org: optional(
      Type.Object(
        {
          company: optional(text(256, 'Company.')),
          department: optional(text(256, 'Department.')),
          title: optional(text(256, 'Job title.')),
        },
        closed,
      ),
    ),
    urls: optional(
      Type.Array(Type.Object({ url: text(2048, 'The URL.'), type: optional(text(32, 'HOME, WORK.')) }, closed), {
        maxItems: 20,
      }),
    ),
    birthday: optional(Type.String({ pattern: '^\\d{4}-\\d{2}-\\d{2}$', description: 'YYYY-MM-DD.' })),
  },
  closed,
);
const WhatsAppContacts = Type.Object(
  { type: Type.Literal('contacts'), contacts: Type.Array(WhatsAppContact, { minItems: 1, maxItems: 257 }) },
  closed,
);

const WhatsAppReaction = Type.Object(
  {
    type: Type.Literal('reaction'),
    reaction: Type.Object(
      {
        messageId: text(512, 'The wamid of the message reacted to.'),
        emoji: Type.String({ maxLength: 32, description: 'One emoji; an empty string removes the reaction.' }),
      },
      closed,
    ),
  },
  closed,
);

const WhatsAppMarkAsRead = Type.Object(
  {
    type: Type.Literal('mark_as_read'),
    markAsRead: Type.Object({ messageId: text(512, 'The wamid of the received message.') }, closed),
  },
  closed,
);

export const WhatsAppMessage = Type.Union(
  [
    WhatsAppText,
    WhatsAppTemplate,
    WhatsAppImage,
    WhatsAppAudio,
    WhatsAppVideo,
    WhatsAppDocumentMessage,
    WhatsAppSticker,
    WhatsAppInteractive,
    WhatsAppLocation,
    WhatsAppContacts,
    WhatsAppReaction,
    WhatsAppMarkAsRead,
  ],
  { description: 'A WhatsApp message: its `type` names the object that carries it.' },
);
export type WhatsAppMessage = Static<typeof WhatsAppMessage>;

// ---------------------------------------------------------------------------------------------
// Messenger and Instagram (POST /{page-id}/messages)

export const MESSENGER_TAGS = [
  'CONFIRMED_EVENT_UPDATE',
  'POST_PURCHASE_UPDATE',
  'ACCOUNT_UPDATE',
  'HUMAN_AGENT',
] as const;
/** Instagram accepts one tag only. */
export const INSTAGRAM_TAGS = ['HUMAN_AGENT'] as const;

export const MessagingTag = Type.Union(
  MESSENGER_TAGS.map((tag) => Type.Literal(tag)),
  {
    description:
      'A message tag for a send outside the 24 h window: Messenger takes the four; Instagram only `HUMAN_AGENT` ' +
      '(7 days, replies by a person).',
  },
);
export type MessagingTag = Static<typeof MessagingTag>;

const messagingCommon = {
  messagingType: optional(
    Type.Union([Type.Literal('RESPONSE'), Type.Literal('UPDATE'), Type.Literal('MESSAGE_TAG')], {
      description: 'Default `MESSAGE_TAG` when a tag is given, `RESPONSE` otherwise.',
    }),
  ),
  tag: optional(MessagingTag),
  quickReplies: optional(
    Type.Array(
      Type.Object(
        {
          title: text(20, 'At most 20 characters.'),
          payload: text(1000, 'Returned in the message webhook; at most 1,000 characters.'),
          imageUrl: optional(Type.String({ format: 'uri', maxLength: 2048 })),
        },
        closed,
      ),
      { minItems: 1, maxItems: 13, description: 'Up to 13 quick replies.' },
    ),
  ),
};

const MessagingText = Type.Object(
  {
    type: Type.Literal('text'),
    text: Type.Object(
      { body: text(2000, 'Messenger: at most 2,000 characters. Instagram: at most 1,000 bytes of UTF-8.') },
      closed,
    ),
    ...messagingCommon,
  },
  closed,
);
const MessagingAttachment = Type.Object(
  {
    type: Type.Literal('attachment'),
    attachment: Type.Object(
      {
        type: Type.Union([Type.Literal('image'), Type.Literal('audio'), Type.Literal('video'), Type.Literal('file')]),
        url: Type.String({
          format: 'uri',
          maxLength: 2048,
          description: 'A public URL Meta downloads (25 MB at most).',
        }),
        isReusable: optional(Type.Boolean({ description: 'Messenger: keep the upload for reuse.' })),
      },
      closed,
    ),
    ...messagingCommon,
  },
  closed,
);

export const MessagingMessage = Type.Union([MessagingText, MessagingAttachment], {
  description: 'A Messenger or Instagram message.',
});
export type MessagingMessage = Static<typeof MessagingMessage>;

// ---------------------------------------------------------------------------------------------
// The request

export const SendChannel = Type.Object(
  {
    kind: ChannelKind,
    id: Type.String({
      pattern: '^[0-9]{1,64}$',
      description: 'The WhatsApp phone_number_id, the Facebook Page id or the Instagram account id.',
    }),
  },
  closed,
);
export type SendChannel = Static<typeof SendChannel>;

export const SendMessageRequest = Type.Object(
  {
    channel: SendChannel,
    to: Type.String({
      minLength: 1,
      maxLength: 64,
      description:
        "WhatsApp: the customer's number in international form (digits, an optional leading +) or wa_id. " +
        'Messenger: the PSID. Instagram: the IGSID.',
    }),
    priority: optional(SendPriority),
    replyTo: optional(
      text(512, "WhatsApp only: the wamid of the customer's message this one replies to (shown quoted)."),
    ),
    message: Type.Union([WhatsAppMessage, MessagingMessage], {
      description: 'One message; which types a channel takes depends on its kind (see validateSendRequest).',
    }),
  },
  {
    ...closed,
    description:
      'The body of `POST /v1/messages` (version 1). `priority`: in a backlog critical goes before ' +
      "conversation, before marketing; default conversation; the tenant's limits may cap it.",
  },
);
export type SendMessageRequest = Static<typeof SendMessageRequest>;
/** A request already checked to be for a WhatsApp channel. */
export type WhatsAppSendRequest = SendMessageRequest & { channel: { kind: 'whatsapp' }; message: WhatsAppMessage };
export type MessagingSendRequest = SendMessageRequest & {
  channel: { kind: 'messenger' | 'instagram' };
  message: MessagingMessage;
};

/** One problem with a request, naming its field (`message.interactive.action.buttons[3].title`). */
export interface SendFieldError {
  field: string;
  message: string;
}

export type SendValidation = { ok: true; value: SendMessageRequest } | { ok: false; errors: SendFieldError[] };

const WHATSAPP_TYPES: Record<string, TSchema> = {
  text: WhatsAppText,
  template: WhatsAppTemplate,
  image: WhatsAppImage,
  audio: WhatsAppAudio,
  video: WhatsAppVideo,
  document: WhatsAppDocumentMessage,
  sticker: WhatsAppSticker,
  interactive: WhatsAppInteractive,
  location: WhatsAppLocation,
  contacts: WhatsAppContacts,
  reaction: WhatsAppReaction,
  mark_as_read: WhatsAppMarkAsRead,
};
const MESSAGING_TYPES: Record<string, TSchema> = { text: MessagingText, attachment: MessagingAttachment };

const Envelope = Type.Object(
  { ...SendMessageRequest.properties, message: Type.Object({ type: Type.String() }) },
  closed,
);

/** `/message/interactive/action/buttons/3` → `message.interactive.action.buttons[3]` */
function fieldName(prefix: string, pointer: string): string {
  let field = prefix;
  for (const raw of pointer.split('/').slice(1)) {
    const part = raw.replaceAll('~1', '/').replaceAll('~0', '~');
    field += /^\d+$/.test(part) ? `[${part}]` : field === '' ? part : `.${part}`;
  }
  return field;
}

interface SchemaError {
  keyword: string;
  schemaPath: string;
  instancePath: string;
  params: unknown;
  message: string;
}

const within = (path: string, prefix: string) => path === prefix || path.startsWith(`${prefix}/`);

/**
 * The schema's errors, with field names. Inside a union discriminated by `type` (a message, an
 * interactive object, a template parameter) TypeBox reports every branch's complaints; only those
 * of the branch whose `type` matched are kept, and an unknown `type` is reported once.
 */
function schemaErrors(schema: TSchema, value: unknown, prefix: string): SendFieldError[] {
  // TypeBox stops at 8 errors (a global setting), too few to see past a union's other branches.
  const { maxErrors } = Settings.Get();
  let all: SchemaError[];
  try {
    Settings.Set({ maxErrors: 1000 });
    all = [...Value.Errors(schema, value)] as SchemaError[];
  } finally {
    Settings.Set({ maxErrors });
  }
  const rejected: { branch: string; instance: string }[] = [];
  for (const error of all) {
    const match = /^(.*\/anyOf\/\d+)\/properties\/type$/.exec(error.schemaPath);
    if (error.keyword === 'const' && match && error.instancePath.endsWith('/type')) {
      rejected.push({ branch: match[1]!, instance: error.instancePath.slice(0, -'/type'.length) });
    }
  }
  const isRejected = (error: SchemaError) =>
    rejected.some((r) => within(error.schemaPath, r.branch) && within(error.instancePath, r.instance));
  // A closed object reports an extra property twice (as `false` and as additionalProperties).
  const kept = all.filter((e) => e.keyword !== 'boolean' && e.keyword !== 'anyOf' && !isRejected(e));
  const found: SendFieldError[] = [];
  for (const error of all) {
    if (error.keyword !== 'anyOf' || isRejected(error)) continue;
    const hasBranchErrors = kept.some(
      (e) => e.schemaPath.startsWith(`${error.schemaPath}/anyOf/`) && within(e.instancePath, error.instancePath),
    );
    if (!hasBranchErrors) {
      const isTyped = rejected.some((r) => r.instance === error.instancePath);
      found.push({
        field: fieldName(prefix, isTyped ? `${error.instancePath}/type` : error.instancePath) || '(body)',
        message: isTyped ? 'is not a type this field takes' : 'does not match any allowed shape',
      });
    }
  }
  for (const error of kept) {
    if (error.keyword === 'additionalProperties') {
      const extra = (error.params as { additionalProperties?: string[] }).additionalProperties ?? [];
      for (const name of extra) {
        found.push({ field: fieldName(prefix, `${error.instancePath}/${name}`), message: 'is not a known field' });
      }
    } else {
      found.push({ field: fieldName(prefix, error.instancePath) || '(body)', message: error.message });
    }
  }
  const seen = new Set<string>();
  return found.filter((e) => {
    const key = `${e.field}|${e.message}`;
    if (seen.has(key)) return false;
    seen.add(key);
    return true;
  });
}

// TextEncoder rather than Buffer: the console (a browser) type-checks these contracts too.
const utf8Bytes = (value: string) => new TextEncoder().encode(value).length;

/**
 * Checks a `POST /v1/messages` body against the schema and Meta's documented limits. On success
 * `value` is the request with defaults applied (`priority: 'conversation'`).
 */
export function validateSendRequest(req: unknown): SendValidation {
  const errors = schemaErrors(Envelope, req, '');
  if (errors.length > 0) return { ok: false, errors };
  const request = req as SendMessageRequest;
  const { kind } = request.channel;
  const types = kind === 'whatsapp' ? WHATSAPP_TYPES : MESSAGING_TYPES;
  const schema = types[request.message.type];
  if (!schema) {
    return {
      ok: false,
      errors: [
        {
          field: 'message.type',
          message: `a ${kind} channel sends ${Object.keys(types).join(', ')}; not ${request.message.type}`,
        },
      ],
    };
  }
  errors.push(...schemaErrors(schema, request.message, 'message'));
  if (errors.length > 0) return { ok: false, errors };
  errors.push(...(kind === 'whatsapp' ? whatsappRules(request as WhatsAppSendRequest) : messagingRules(request)));
  if (errors.length > 0) return { ok: false, errors };
  return { ok: true, value: { ...request, priority: request.priority ?? 'conversation' } };
}

function exactlyOneSource(media: { link?: string; id?: string }, field: string, errors: SendFieldError[]): void {
  if ((media.link === undefined) === (media.id === undefined)) {
    errors.push({ field, message: 'must have either link or id' });
  }
}

function duplicates(values: readonly string[]): number[] {
  const seen = new Set<string>();
  const at: number[] = [];
  values.forEach((value, index) => {
    if (seen.has(value)) at.push(index);
    seen.add(value);
  });
  return at;
}

function whatsappRules(request: WhatsAppSendRequest): SendFieldError[] {
  const errors: SendFieldError[] = [];
  if (!/^\+?[0-9]{5,20}$/.test(request.to)) {
    errors.push({ field: 'to', message: 'must be a phone number in international form (digits, optional +)' });
  }
  const { message } = request;
  if ((message.type === 'reaction' || message.type === 'mark_as_read') && request.replyTo !== undefined) {
    errors.push({ field: 'replyTo', message: `a ${message.type} cannot reply to a message` });
  }
  switch (message.type) {
    case 'image':
      exactlyOneSource(message.image, 'message.image', errors);
      break;
    case 'video':
      exactlyOneSource(message.video, 'message.video', errors);
      break;
    case 'audio':
      exactlyOneSource(message.audio, 'message.audio', errors);
      break;
    case 'sticker':
      exactlyOneSource(message.sticker, 'message.sticker', errors);
      break;
    case 'document':
      exactlyOneSource(message.document, 'message.document', errors);
      break;
    case 'template':
      templateRules(message.template.components ?? [], errors);
      break;
    case 'interactive': {
      const { interactive } = message;
      if (interactive.type === 'button') {
        const header = interactive.header;
        if (header && header.type !== 'text') {
          const media =
            header.type === 'image' ? header.image : header.type === 'video' ? header.video : header.document;
          exactlyOneSource(media, `message.interactive.header.${header.type}`, errors);
        }
        const { buttons } = interactive.action;
        for (const i of duplicates(buttons.map((b) => b.id))) {
          errors.push({ field: `message.interactive.action.buttons[${i}].id`, message: 'must be unique' });
        }
        for (const i of duplicates(buttons.map((b) => b.title))) {
          errors.push({ field: `message.interactive.action.buttons[${i}].title`, message: 'must be unique' });
        }
      } else {
        const { sections } = interactive.action;
        const rows = sections.flatMap((s, si) =>
          s.rows.map((r, ri) => ({ id: r.id, field: `sections[${si}].rows[${ri}]` })),
        );
        if (rows.length > 10) {
          errors.push({
            field: 'message.interactive.action.sections',
            message: `must have at most 10 rows over all sections (has ${rows.length})`,
          });
        }
        for (const i of duplicates(rows.map((r) => r.id))) {
          errors.push({ field: `message.interactive.action.${rows[i]!.field}.id`, message: 'must be unique' });
        }
        if (sections.length > 1) {
          sections.forEach((section, i) => {
            if (section.title === undefined) {
              errors.push({
                field: `message.interactive.action.sections[${i}].title`,
                message: 'is required when there is more than one section',
              });
            }
          });
        }
      }
      break;
    }
    default:
      break;
  }
  return errors;
}

function templateRules(components: readonly WhatsAppTemplateComponent[], errors: SendFieldError[]): void {
  const counts = { header: 0, body: 0 };
  const buttonIndexes = new Set<number>();
  components.forEach((component, i) => {
    const field = `message.template.components[${i}]`;
    if (component.type === 'header' || component.type === 'body') {
      counts[component.type] += 1;
      if (counts[component.type] > 1)
        errors.push({ field, message: `only one ${component.type} component is allowed` });
    }
    if (component.type === 'header') {
      const parameter = component.parameters[0]!;
      if (parameter.type === 'image' || parameter.type === 'video' || parameter.type === 'document') {
        const media =
          parameter.type === 'image'
            ? parameter.image
            : parameter.type === 'video'
              ? parameter.video
              : parameter.document;
        exactlyOneSource(media, `${field}.parameters[0].${parameter.type}`, errors);
      }
    }
    if (component.type === 'button') {
      if (buttonIndexes.has(component.index)) errors.push({ field: `${field}.index`, message: 'must be unique' });
      buttonIndexes.add(component.index);
      const parameter = component.parameters[0]!;
      const expected = { quick_reply: 'payload', url: 'text', copy_code: 'coupon_code' }[component.subType];
      if (parameter.type !== expected) {
        errors.push({
          field: `${field}.parameters[0].type`,
          message: `a ${component.subType} button takes a ${expected} parameter`,
        });
      }
    }
  });
}

function messagingRules(request: SendMessageRequest): SendFieldError[] {
  const errors: SendFieldError[] = [];
  const { kind } = request.channel;
  const message = request.message as MessagingMessage;
  if (!/^[0-9]{1,64}$/.test(request.to)) {
    errors.push({ field: 'to', message: `must be a ${kind === 'messenger' ? 'PSID' : 'IGSID'} (digits)` });
  }
  if (request.replyTo !== undefined) {
    errors.push({ field: 'replyTo', message: `${kind} sends take no replyTo` });
  }
  if (message.type === 'text' && kind === 'instagram' && utf8Bytes(message.text.body) > 1000) {
    errors.push({ field: 'message.text.body', message: 'must be at most 1,000 bytes of UTF-8 on Instagram' });
  }
  if (kind === 'instagram' && message.type === 'attachment' && message.attachment.isReusable !== undefined) {
    errors.push({ field: 'message.attachment.isReusable', message: 'is a Messenger option' });
  }
  if (message.tag !== undefined && message.messagingType !== undefined && message.messagingType !== 'MESSAGE_TAG') {
    errors.push({ field: 'message.tag', message: 'is only sent with messagingType MESSAGE_TAG' });
  }
  if (message.messagingType === 'MESSAGE_TAG' && message.tag === undefined) {
    errors.push({ field: 'message.tag', message: 'is required with messagingType MESSAGE_TAG' });
  }
  if (
    kind === 'instagram' &&
    message.tag !== undefined &&
    !(INSTAGRAM_TAGS as readonly string[]).includes(message.tag)
  ) {
    errors.push({ field: 'message.tag', message: 'Instagram accepts only HUMAN_AGENT' });
  }
  return errors;
}

// ---------------------------------------------------------------------------------------------
// Answers and events

export const SendAccepted = Type.Object(
  {
    id: Type.String({ description: "The engine's id of the message: `GET /v1/messages/{id}`." }),
    state: Type.Literal('queued'),
  },
  { description: '202 answer to `POST /v1/messages`: queued for its channel, not yet sent to Meta.' },
);
export type SendAccepted = Static<typeof SendAccepted>;

export const MESSAGE_STATES = ['queued', 'sending', 'sent', 'delivered', 'read', 'failed'] as const;
export const MessageState = Type.Union(
  [
    Type.Literal('queued'),
    Type.Literal('sending'),
    Type.Literal('sent'),
    Type.Literal('delivered'),
    Type.Literal('read'),
    Type.Literal('failed'),
  ],
  {
    description:
      'queued (accepted, waiting for its lane), sending (a Graph call in flight), sent (Meta accepted it and ' +
      'gave its id), delivered, read (Instagram reports no delivery; Messenger reports both by watermark), ' +
      "failed (with Meta's error).",
  },
);
export type MessageState = Static<typeof MessageState>;

export const MessageError = Type.Object(
  {
    code: Type.Union([Type.Integer(), Type.Null()], { description: "Meta's error code (131047, …); null if none." }),
    subcode: Type.Union([Type.Integer(), Type.Null()]),
    title: Type.String({ description: "Meta's title, or the engine's when Meta gave none." }),
    message: Type.String({ description: "Meta's message and details." }),
  },
  { description: 'Why a send failed, as Meta said it.' },
);
export type MessageError = Static<typeof MessageError>;

export const MessageTimelineEntry = Type.Object({
  state: MessageState,
  at: Type.String({ format: 'date-time' }),
  error: optional(MessageError),
  isOutcomeUnknown: optional(
    Type.Boolean({
      description:
        'A Graph call got no answer in time: Meta may have sent the message, so the retry that follows may ' +
        'deliver it twice (Meta has no idempotency key).',
    }),
  ),
});
export type MessageTimelineEntry = Static<typeof MessageTimelineEntry>;

export const MessageStatus = Type.Object(
  {
    id: Type.String(),
    channel: SendChannel,
    to: Type.String(),
    priority: SendPriority,
    state: MessageState,
    metaMessageId: Type.Union([Type.String(), Type.Null()], {
      description: "Meta's id (wamid or mid) once sent; status webhooks are matched on it.",
    }),
    createdAt: Type.String({ format: 'date-time' }),
    timeline: Type.Array(MessageTimelineEntry, { description: 'Every state change, oldest first.' }),
  },
  { description: 'The answer of `GET /v1/messages/{id}`.' },
);
export type MessageStatus = Static<typeof MessageStatus>;

export const MessageParams = Type.Object({ id: Type.String({ minLength: 1 }) });

/**
 * Events delivered to the instance when one of its messages changes state: `<platform>.outbound.<state>`
 * (`whatsapp.outbound.sent`, `messenger.outbound.read`, …). They are not `<platform>.message.*`
 * because Messenger's `messenger.message.delivered` and `.read` already name Meta's watermark
 * webhooks, which the instance keeps receiving as they are; an outbound event is about one message
 * the instance sent, by its engine id. Instagram never emits `instagram.outbound.delivered`.
 */
export const OUTBOUND_EVENT_STATES = ['sent', 'delivered', 'read', 'failed'] as const;
export type OutboundEventState = (typeof OUTBOUND_EVENT_STATES)[number];
export const OUTBOUND_EVENT_TYPES = (['whatsapp', 'messenger', 'instagram'] as const).flatMap((platform) =>
  OUTBOUND_EVENT_STATES.map((state) => `${platform}.outbound.${state}` as const),
);
export type OutboundEventType = (typeof OUTBOUND_EVENT_TYPES)[number];

export const OutboundMessageEventData = Type.Object(
  {
    messageId: Type.String({ description: "The engine's id, as `POST /v1/messages` answered it." }),
    metaMessageId: Type.Union([Type.String(), Type.Null()]),
    to: Type.String(),
    state: Type.Union([Type.Literal('sent'), Type.Literal('delivered'), Type.Literal('read'), Type.Literal('failed')]),
    at: Type.String({ format: 'date-time', description: 'When the state changed, per Meta.' }),
    error: optional(MessageError),
    broadcastId: optional(Type.String({ description: 'The broadcast this message is part of, if any.' })),
  },
  { description: 'The `data` of a `<platform>.outbound.<state>` event.' },
);
export type OutboundMessageEventData = Static<typeof OutboundMessageEventData>;
