import type { MetaWebhookBody } from '../webhooks/bodies.ts';

/**
 * The WhatsApp Business Account side of the Graph sandbox: each account's message templates
 * (`GET /{waba-id}/message_templates`, paginated as Meta does), their status changes with the
 * `message_template_status_update` webhook Meta sends, the business portfolio that owns the account
 * (`GET /{waba-id}?fields=owner_business_info`) and the portfolio's messaging limit
 * (`GET /{phone-number-id}?fields=whatsapp_business_manager_messaging_limit`), with the unique
 * users each portfolio reached by template in a moving 24 h, so tests can check the limit held.
 */

export type TemplateStatus = 'APPROVED' | 'PENDING' | 'REJECTED' | 'PAUSED' | 'DISABLED' | 'IN_APPEAL';
export type TemplateCategory = 'MARKETING' | 'UTILITY' | 'AUTHENTICATION';

/** A template as `message_templates` lists it (Meta's field names). */
export interface SandboxTemplate {
  id: string;
  name: string;
  language: string;
  category: TemplateCategory;
  status: TemplateStatus;
  parameter_format: 'POSITIONAL' | 'NAMED';
  components: Record<string, unknown>[];
}

/** The templates every account starts with: approved ones with and without parameters, one pending. */
export function seededTemplates(): SandboxTemplate[] {
  return [
    {
      id: '1000000000000001',
      name: 'hello_world',
      language: 'en_US',
      category: 'UTILITY',
      status: 'APPROVED',
      parameter_format: 'POSITIONAL',
      components: [
        { type: 'HEADER', format: 'TEXT', text: 'Hello World' },
        {
          type: 'BODY',
          text: 'Welcome and congratulations!! This message demonstrates your ability to send a WhatsApp message notification from the Cloud API.',
        },
        { type: 'FOOTER', text: 'WhatsApp Business Platform sample message' },
      ],
    },
    {
      id: '1000000000000002',
      name: 'order_update',
      language: 'es',
      category: 'UTILITY',
      status: 'APPROVED',
      parameter_format: 'POSITIONAL',
      components: [
        {
          type: 'BODY',
          text: 'Hola {{1}}, tu pedido {{2}} está en camino.',
          example: { body_text: [['Ana', 'A-1042']] },
        },
      ],
    },
    {
      id: '1000000000000003',
      name: 'spring_sale',
      language: 'en_US',
      category: 'MARKETING',
      status: 'APPROVED',
      parameter_format: 'POSITIONAL',
      components: [
        { type: 'HEADER', format: 'TEXT', text: 'Spring sale for {{1}}', example: { header_text: ['Ana'] } },
        { type: 'BODY', text: 'Take {{1}} off everything until Sunday.', example: { body_text: [['20 %']] } },
        { type: 'FOOTER', text: 'Reply STOP to opt out' },
        {
          type: 'BUTTONS',
          buttons: [
            {
              type: 'URL',
              text: 'Shop now',
              url: 'https://shop.example.com/{{1}}',
              example: ['https://shop.example.com/spring'],
            },
            { type: 'QUICK_REPLY', text: 'Stop promotions' },
          ],
        },
      ],
    },
    // The templates of Meta's own send examples (packages/meta's send fixtures).
    {
      id: '1000000000000005',
      name: 'order_confirmation',
      language: 'en_US',
      category: 'UTILITY',
      status: 'APPROVED',
      parameter_format: 'POSITIONAL',
      components: [
        { type: 'HEADER', format: 'IMAGE', example: { header_handle: ['https://example.com/header.png'] } },
        {
          type: 'BODY',
          text: 'Hi {{1}}, your order of {{2}} is confirmed for {{3}}.',
          example: { body_text: [['Pablo', '$1.00', 'MONTH DAY, YEAR']] },
        },
        {
          type: 'BUTTONS',
          buttons: [
            { type: 'QUICK_REPLY', text: 'Track it' },
            { type: 'QUICK_REPLY', text: 'Talk to us' },
          ],
        },
      ],
    },
    {
      id: '1000000000000006',
      name: 'order_shipped',
      language: 'es',
      category: 'UTILITY',
      status: 'APPROVED',
      parameter_format: 'NAMED',
      components: [
        {
          type: 'BODY',
          text: 'Hola {{first_name}}, tu pedido ya salió.',
          example: { body_text_named_params: [{ param_name: 'first_name', example: 'Ana' }] },
        },
        {
          type: 'BUTTONS',
          buttons: [
            {
              type: 'URL',
              text: 'Ver pedido',
              url: 'https://shop.example.com/{{1}}',
              example: ['https://shop.example.com/order/8812'],
            },
          ],
        },
      ],
    },
    {
      id: '1000000000000004',
      name: 'new_collection',
      language: 'en_US',
      category: 'MARKETING',
      status: 'PENDING',
      parameter_format: 'POSITIONAL',
      components: [{ type: 'BODY', text: 'Our new collection is here, {{1}}.', example: { body_text: [['Ana']] } }],
    },
  ];
}

/** Meta's messaging limit tiers and the unique users each allows in a moving 24 h (null: unlimited). */
export const MESSAGING_TIERS = {
  TIER_50: 50,
  TIER_250: 250,
  TIER_2K: 2_000,
  TIER_10K: 10_000,
  TIER_100K: 100_000,
  TIER_UNLIMITED: null,
} as const satisfies Record<string, number | null>;
export type MessagingTier = keyof typeof MESSAGING_TIERS;
export const isMessagingTier = (value: string): value is MessagingTier => Object.hasOwn(MESSAGING_TIERS, value);

const DAY_MS = 24 * 60 * 60 * 1000;
/** Meta's default page size of `message_templates`, and its largest. */
const DEFAULT_PAGE = 25;
const MAX_PAGE = 100;

const cursor = (index: number) => Buffer.from(`tpl:${index}`).toString('base64url');
function fromCursor(value: string | null): number {
  if (value === null) return 0;
  const match = /^tpl:(\d+)$/.exec(Buffer.from(value, 'base64url').toString('utf8'));
  return match ? Number(match[1]) : 0;
}

export class BusinessAccounts {
  readonly #templates = new Map<string, SandboxTemplate[]>();
  readonly #portfolios = new Map<string, string>();
  readonly #tiers = new Map<string, MessagingTier>();
  /** Per portfolio: each user reached by a template and when last. */
  readonly #reach = new Map<string, Map<string, number>>();

  /** The account's templates (seeded on first use). */
  templates(wabaId: string): SandboxTemplate[] {
    let list = this.#templates.get(wabaId);
    if (!list) this.#templates.set(wabaId, (list = seededTemplates()));
    return list;
  }

  /** Replaces the account's templates. */
  setTemplates(wabaId: string, templates: readonly SandboxTemplate[]): void {
    this.#templates.set(
      wabaId,
      templates.map((t) => structuredClone(t)),
    );
  }

  /**
   * Changes a template's status (adding it when `template` is given and unknown) and answers the
   * `message_template_status_update` webhook body Meta sends for it.
   */
  setTemplateStatus(
    wabaId: string,
    name: string,
    language: string,
    status: TemplateStatus,
    options: { reason?: string | null; nowMs?: number } = {},
  ): MetaWebhookBody {
    const template = this.templates(wabaId).find((t) => t.name === name && t.language === language);
    if (!template) throw new RangeError(`no template ${name} (${language}) in ${wabaId}`);
    template.status = status;
    return {
      object: 'whatsapp_business_account',
      entry: [
        {
          id: wabaId,
          time: Math.floor((options.nowMs ?? Date.now()) / 1000),
          changes: [
            {
              value: {
                event: status,
                message_template_id: Number(template.id),
                message_template_name: template.name,
                message_template_language: template.language,
                message_template_category: template.category,
                reason: options.reason ?? (status === 'REJECTED' ? 'INCORRECT_CATEGORY' : null),
              },
              field: 'message_template_status_update',
            },
          ],
        },
      ],
    };
  }

  /** `GET /{waba-id}/message_templates`: a page of `limit` (default 25) after the `after` cursor. */
  templatePage(wabaId: string, query: URLSearchParams): unknown {
    const all = this.templates(wabaId).filter(
      (t) => (query.get('status') ?? t.status) === t.status && (query.get('name') ?? t.name) === t.name,
    );
    const limit = Math.min(MAX_PAGE, Math.max(1, Number(query.get('limit') ?? DEFAULT_PAGE) || DEFAULT_PAGE));
    const start = fromCursor(query.get('after'));
    const data = all.slice(start, start + limit);
    const fields = query
      .get('fields')
      ?.split(',')
      .map((f) => f.trim());
    const shown = data.map((t) =>
      fields ? Object.fromEntries(Object.entries(t).filter(([key]) => key === 'id' || fields.includes(key))) : t,
    );
    if (data.length === 0) return { data: [] };
    const hasNext = start + limit < all.length;
    return {
      data: shown,
      paging: {
        cursors: { before: cursor(start), after: cursor(start + data.length) },
        ...(hasNext
          ? {
              next: `https://graph.facebook.com/${wabaId}/message_templates?limit=${limit}&after=${cursor(start + data.length)}`,
            }
          : {}),
      },
    };
  }

  /** Puts the account in a business portfolio. */
  setPortfolio(wabaId: string, portfolioId: string): void {
    this.#portfolios.set(wabaId, portfolioId);
  }

  portfolioOf(wabaId: string): string | undefined {
    return this.#portfolios.get(wabaId);
  }

  /** Sets a portfolio's messaging limit (new portfolios: TIER_250, as Meta's). */
  setTier(portfolioId: string, tier: MessagingTier): void {
    if (!isMessagingTier(tier)) throw new RangeError(`not a messaging tier: ${String(tier)}`);
    this.#tiers.set(portfolioId, tier);
  }

  tierOf(portfolioId: string): MessagingTier {
    return this.#tiers.get(portfolioId) ?? 'TIER_250';
  }

  /** Records a template reaching `recipient` (digits) from a number of the account. */
  recordReach(wabaId: string | undefined, recipient: string, nowMs: number): void {
    const portfolio = wabaId === undefined ? undefined : this.#portfolios.get(wabaId);
    if (portfolio === undefined) return;
    let users = this.#reach.get(portfolio);
    if (!users) this.#reach.set(portfolio, (users = new Map<string, number>()));
    users.set(recipient.replace(/\D/g, ''), nowMs);
  }

  /** Unique users the portfolio reached by template in the 24 h before `nowMs`. */
  reach(portfolioId: string, nowMs: number): number {
    let count = 0;
    for (const at of this.#reach.get(portfolioId)?.values() ?? []) if (nowMs - at < DAY_MS) count++;
    return count;
  }

  /** The most unique users the portfolio had reached in any moving 24 h, as of each reach. */
  maxReach(portfolioId: string): number {
    const times = [...(this.#reach.get(portfolioId)?.values() ?? [])].sort((a, b) => a - b);
    let max = 0;
    let start = 0;
    for (let end = 0; end < times.length; end++) {
      while (times[end]! - times[start]! >= DAY_MS) start++;
      max = Math.max(max, end - start + 1);
    }
    return max;
  }

  /**
   * Answers the account reads Meta serves for `GET /{id}?fields=…`: the account's owner portfolio,
   * a number's messaging limit. Null when the fields ask for something else.
   */
  objectFields(
    object: { id: string; kind: string; businessAccountId?: string | undefined },
    fields: readonly string[],
  ): Record<string, unknown> | null {
    const body: Record<string, unknown> = {};
    if (fields.includes('owner_business_info') && object.kind === 'whatsapp-business-account') {
      const portfolio = this.#portfolios.get(object.id);
      if (portfolio) body.owner_business_info = { name: `Portfolio ${portfolio}`, id: portfolio };
    }
    if (fields.includes('whatsapp_business_manager_messaging_limit') && object.kind === 'whatsapp-phone-number') {
      const portfolio =
        object.businessAccountId === undefined ? undefined : this.#portfolios.get(object.businessAccountId);
      body.whatsapp_business_manager_messaging_limit = portfolio === undefined ? 'TIER_250' : this.tierOf(portfolio);
    }
    if (Object.keys(body).length === 0) return null;
    return { ...body, id: object.id };
  }
}
