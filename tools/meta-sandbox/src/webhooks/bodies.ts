import { randomBytes } from 'node:crypto';

/**
 * Meta webhook bodies as Meta sends them (WhatsApp Cloud API, Messenger, Instagram messaging), for
 * load and resilience tests. Every message id is new unless one is given, so each body is a new
 * event; to send the same event again, send the same body (see `sendWebhooks`' duplicates).
 * Shapes follow packages/meta/src/webhooks/fixtures, which cite Meta's documentation.
 */
export type MetaWebhookBody = { object: string; entry: unknown[] } & Record<string, unknown>;

const DEFAULTS = {
  businessAccountId: '102290129340398',
  phoneNumberId: '106540352242922',
  displayPhoneNumber: '15550783881',
  customer: '16505551234',
  customerName: 'Sheena Nelson',
  pageId: '682498302938465',
  psid: '6945793142124621',
  instagramAccountId: '17841405822304914',
  igsid: '1254459154682919',
} as const;

/** A new WhatsApp message id, shaped like Meta's (`wamid.` and base64). */
export const newWamid = (): string => `wamid.${randomBytes(30).toString('base64')}`;
/** A new Messenger message id. */
export const newMessengerMid = (): string => `m_${randomBytes(48).toString('base64url')}`;
/** A new Instagram message id. */
export const newInstagramMid = (): string => randomBytes(96).toString('base64url');

const unixSeconds = (at: Date) => String(Math.floor(at.getTime() / 1000));

/** The WhatsApp Business Account and number a body is addressed to. */
export interface WhatsAppScope {
  businessAccountId?: string;
  /** The business number's phone_number_id: the channel. */
  phoneNumberId?: string;
  displayPhoneNumber?: string;
  timestamp?: Date;
}

function whatsappBody(scope: WhatsAppScope, value: Record<string, unknown>): MetaWebhookBody {
  return {
    object: 'whatsapp_business_account',
    entry: [
      {
        id: scope.businessAccountId ?? DEFAULTS.businessAccountId,
        changes: [
          {
            value: {
              messaging_product: 'whatsapp',
              metadata: {
                display_phone_number: scope.displayPhoneNumber ?? DEFAULTS.displayPhoneNumber,
                phone_number_id: scope.phoneNumberId ?? DEFAULTS.phoneNumberId,
              },
              ...value,
            },
            field: 'messages',
          },
        ],
      },
    ],
  };
}

export interface WhatsAppTextOptions extends WhatsAppScope {
  /** The customer's wa_id. */
  from?: string;
  name?: string;
  text?: string;
  /** The message's wamid; a new one by default. */
  messageId?: string;
}

/** An inbound text message from a customer to the business number. */
export function whatsappTextMessage(options: WhatsAppTextOptions = {}): MetaWebhookBody {
  const from = options.from ?? DEFAULTS.customer;
  return whatsappBody(options, {
    contacts: [{ profile: { name: options.name ?? DEFAULTS.customerName }, wa_id: from }],
    messages: [
      {
        from,
        id: options.messageId ?? newWamid(),
        timestamp: unixSeconds(options.timestamp ?? new Date()),
        type: 'text',
        text: { body: options.text ?? 'Hello from the meta-sandbox' },
      },
    ],
  });
}

export type WhatsAppStatusName = 'sent' | 'delivered' | 'read';
export const WHATSAPP_STATUSES: readonly WhatsAppStatusName[] = ['sent', 'delivered', 'read'];

export interface WhatsAppStatusOptions extends WhatsAppScope {
  /** The wamid of the business's outbound message the status is about. */
  messageId: string;
  status: WhatsAppStatusName;
  /** The customer's wa_id. */
  recipientId?: string;
}

/** A status (sent, delivered, read) of a message the business sent: one wamid gets all three. */
export function whatsappStatus(options: WhatsAppStatusOptions): MetaWebhookBody {
  const billing =
    options.status === 'read'
      ? {}
      : {
          conversation: { id: `conv-${options.messageId.slice(-12)}`, origin: { type: 'service' } },
          pricing: { billable: false, pricing_model: 'PMP', category: 'service', type: 'free_customer_service' },
        };
  return whatsappBody(options, {
    statuses: [
      {
        id: options.messageId,
        status: options.status,
        timestamp: unixSeconds(options.timestamp ?? new Date()),
        recipient_id: options.recipientId ?? DEFAULTS.customer,
        ...billing,
      },
    ],
  });
}

export interface WhatsAppReactionOptions extends WhatsAppScope {
  /** The wamid of the message reacted to. */
  messageId: string;
  /** The emoji; an empty string or undefined removes the reaction, as Meta reports it. */
  emoji?: string;
  from?: string;
  name?: string;
  /** The reaction's own wamid; a new one by default. */
  reactionId?: string;
}

/** A customer's reaction to a message, or the removal of one (no emoji). */
export function whatsappReaction(options: WhatsAppReactionOptions): MetaWebhookBody {
  const from = options.from ?? DEFAULTS.customer;
  return whatsappBody(options, {
    contacts: [{ profile: { name: options.name ?? DEFAULTS.customerName }, wa_id: from }],
    messages: [
      {
        from,
        id: options.reactionId ?? newWamid(),
        timestamp: unixSeconds(options.timestamp ?? new Date()),
        type: 'reaction',
        reaction: { message_id: options.messageId, ...(options.emoji ? { emoji: options.emoji } : {}) },
      },
    ],
  });
}

export interface MessagingTextOptions {
  /** The Facebook Page id (Messenger) or Instagram account id: the channel. */
  recipientId?: string;
  /** The customer's PSID (Messenger) or IGSID (Instagram). */
  senderId?: string;
  text?: string;
  /** The message id (`mid`); a new one by default. */
  messageId?: string;
  timestamp?: Date;
}

function messagingBody(object: 'page' | 'instagram', recipient: string, sender: string, options: MessagingTextOptions) {
  const at = (options.timestamp ?? new Date()).getTime();
  return {
    object,
    entry: [
      {
        id: recipient,
        time: at,
        messaging: [
          {
            sender: { id: sender },
            recipient: { id: recipient },
            timestamp: at,
            message: {
              mid: options.messageId ?? (object === 'page' ? newMessengerMid() : newInstagramMid()),
              text: options.text ?? 'Hello from the meta-sandbox',
            },
          },
        ],
      },
    ],
  };
}

/** An inbound Messenger text message to a Facebook Page. */
export function messengerTextMessage(options: MessagingTextOptions = {}): MetaWebhookBody {
  return messagingBody('page', options.recipientId ?? DEFAULTS.pageId, options.senderId ?? DEFAULTS.psid, options);
}

/** An inbound Instagram direct message to a professional account. */
export function instagramTextMessage(options: MessagingTextOptions = {}): MetaWebhookBody {
  return messagingBody(
    'instagram',
    options.recipientId ?? DEFAULTS.instagramAccountId,
    options.senderId ?? DEFAULTS.igsid,
    options,
  );
}

/** The kinds of body the CLI and `bodyGenerator` make. */
export const WEBHOOK_KINDS = [
  'whatsapp-text',
  'whatsapp-status',
  'whatsapp-reaction',
  'messenger-text',
  'instagram-text',
  'mixed',
] as const;
export type WebhookKind = (typeof WEBHOOK_KINDS)[number];

export interface GeneratorOptions {
  /** WhatsApp phone_number_id, Facebook Page id or Instagram account id, as the kind needs. */
  channelId?: string;
  /** The first customer id (wa_id, PSID or IGSID); further customers count up from it. */
  customer?: string;
  /** How many different customers (conversations) the bodies spread over, round robin. Default 1. */
  customers?: number;
  /** The time the bodies carry; now by default, read at each body. */
  now?: () => Date;
}

const isDigits = (value: string) => /^\d+$/.test(value);

/**
 * Makes the `index`-th body of one kind, each a new event: a new message id for messages and
 * reactions; for `whatsapp-status`, each outbound wamid gets sent, delivered and read in turn
 * (bodies 0-2 share one wamid, 3-5 the next). `mixed` takes the other kinds in turn.
 */
export function bodyGenerator(kind: WebhookKind, options: GeneratorOptions = {}): (index: number) => MetaWebhookBody {
  const customers = Math.max(1, options.customers ?? 1);
  const now = options.now ?? (() => new Date());
  const customerAt = (base: string, index: number) => {
    const offset = index % customers;
    if (offset === 0) return base;
    return isDigits(base) ? String(BigInt(base) + BigInt(offset)) : `${base}-${offset}`;
  };
  const scope = (): WhatsAppScope => ({
    ...(options.channelId ? { phoneNumberId: options.channelId } : {}),
    timestamp: now(),
  });
  const statusWamids = new Map<number, string>();

  const make: Record<Exclude<WebhookKind, 'mixed'>, (index: number) => MetaWebhookBody> = {
    'whatsapp-text': (index) =>
      whatsappTextMessage({
        ...scope(),
        from: customerAt(options.customer ?? DEFAULTS.customer, index),
        text: `sandbox message ${index + 1}`,
      }),
    'whatsapp-status': (index) => {
      const message = Math.floor(index / WHATSAPP_STATUSES.length);
      let wamid = statusWamids.get(message);
      if (wamid === undefined) {
        wamid = newWamid();
        statusWamids.clear(); // only the current message's id is needed again
        statusWamids.set(message, wamid);
      }
      return whatsappStatus({
        ...scope(),
        messageId: wamid,
        status: WHATSAPP_STATUSES[index % WHATSAPP_STATUSES.length] ?? 'sent',
        recipientId: customerAt(options.customer ?? DEFAULTS.customer, message),
      });
    },
    'whatsapp-reaction': (index) =>
      whatsappReaction({
        ...scope(),
        messageId: newWamid(),
        emoji: ['👍', '❤️', '😂', '🙏'][index % 4] ?? '👍',
        from: customerAt(options.customer ?? DEFAULTS.customer, index),
      }),
    'messenger-text': (index) =>
      messengerTextMessage({
        ...(options.channelId ? { recipientId: options.channelId } : {}),
        senderId: customerAt(options.customer ?? DEFAULTS.psid, index),
        text: `sandbox message ${index + 1}`,
        timestamp: now(),
      }),
    'instagram-text': (index) =>
      instagramTextMessage({
        ...(options.channelId ? { recipientId: options.channelId } : {}),
        senderId: customerAt(options.customer ?? DEFAULTS.igsid, index),
        text: `sandbox message ${index + 1}`,
        timestamp: now(),
      }),
  };
  if (kind !== 'mixed') return make[kind];
  // A channel id or customer given for one platform would be wrong for the others: in `mixed`,
  // each kind keeps its own defaults.
  const generators = WEBHOOK_KINDS.filter((k) => k !== 'mixed').map((k) => bodyGenerator(k, { customers, now }));
  return (index) => {
    const generate = generators[index % generators.length] ?? make['whatsapp-text'];
    return generate(Math.floor(index / generators.length));
  };
}
