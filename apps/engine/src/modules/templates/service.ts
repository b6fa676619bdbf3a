import {
  type ChannelConnection,
  type ChannelPlatform,
  type ConfigSnapshot,
  type MessageTemplate,
  type SendFieldError,
  type SendMessageRequest,
  type TemplateList,
  type TemplateParameterCounts,
  type TemplatesQuery,
  type WhatsAppTemplateComponent,
} from '@mic/contracts';
import { GraphError, type GraphClient } from '@mic/meta';
import { Problem, type Clock, type Db, type JobQueue, type Logger } from '@mic/platform';
import { parameterCounts, parameterErrors } from './parameters.ts';
import { TemplateStore, type AccountSnapshot, type TemplateRow } from './store.ts';

export const TEMPLATE_SYNC_QUEUE = 'whatsapp-template-sync';

/** Meta's messaging limit tiers: unique users reached outside the service window in a moving 24 h. */
export const MESSAGING_TIER_LIMITS: Record<string, number | null> = {
  TIER_50: 50,
  TIER_250: 250,
  TIER_1K: 1_000,
  TIER_2K: 2_000,
  TIER_10K: 10_000,
  TIER_100K: 100_000,
  TIER_UNLIMITED: null,
};
/** What Meta gives a new business portfolio, and what the engine assumes while it does not know better. */
export const DEFAULT_MESSAGING_TIER = 'TIER_250';

/** The messaging limit a WhatsApp number sends under. */
export interface MessagingLimit {
  /** Who shares the limit: Meta's business portfolio, else the account, else the number. */
  scope: string;
  tier: string;
  /** Unique users per moving 24 h; null: unlimited. */
  limit: number | null;
}

export interface TemplatesDeps {
  db: Db;
  clock: Clock;
  graph: GraphClient;
  queue: JobQueue;
  logger: Pick<Logger, 'info' | 'warn' | 'error'>;
  snapshot: () => ConfigSnapshot | undefined;
  connections: {
    get(platform: ChannelPlatform, channelId: string): Promise<ChannelConnection | null>;
    list(): Promise<ChannelConnection[]>;
    accessToken(platform: ChannelPlatform, channelId: string): Promise<string | null>;
  };
}

/** Pages of `message_templates` read at most per sync (100 each). */
const MAX_PAGES = 100;

const describe = (row: TemplateRow): MessageTemplate => ({
  id: row.templateId,
  businessAccountId: row.wabaId,
  name: row.name,
  language: row.language,
  category: row.category,
  status: row.status,
  parameterFormat: row.parameterFormat,
  components: row.components as unknown[],
  parameters: row.parameters as TemplateParameterCounts,
  updatedAt: row.updatedAt.toISOString(),
});

const text = (value: unknown): string | undefined =>
  typeof value === 'string' ? value : typeof value === 'number' ? String(value) : undefined;

/**
 * WhatsApp message templates and the accounts they belong to: synced from the Graph API, kept
 * current from Meta's status webhooks, and the check a template send passes before it is queued.
 */
export class Templates {
  readonly #deps: TemplatesDeps;
  readonly #store: TemplateStore;

  constructor(deps: TemplatesDeps) {
    this.#deps = deps;
    this.#store = new TemplateStore(deps.db);
  }

  /** The WhatsApp Business Account of a phone number, from its channel connection. */
  async accountOf(phoneNumberId: string): Promise<string | undefined> {
    return (await this.#deps.connections.get('whatsapp', phoneNumberId))?.objectId;
  }

  /** The instance's WhatsApp numbers (from the config snapshot). */
  #numbersOf(instanceId: string): string[] {
    return (this.#deps.snapshot()?.channels ?? [])
      .filter((c) => c.platform === 'whatsapp' && c.instanceId === instanceId)
      .map((c) => c.channelId);
  }

  async #accountsOf(instanceId: string, channel?: string): Promise<string[]> {
    const numbers = this.#numbersOf(instanceId).filter((n) => channel === undefined || n === channel);
    const accounts = await Promise.all(numbers.map((n) => this.accountOf(n)));
    return [...new Set(accounts.filter((a): a is string => a !== undefined))];
  }

  /** `GET /v1/templates`: the templates of the instance's accounts. */
  async list(instanceId: string, query: TemplatesQuery = {}): Promise<TemplateList> {
    const wabaIds = await this.#accountsOf(instanceId, query.channel);
    const [rows, accounts] = await Promise.all([
      this.#store.templates(wabaIds, {
        ...(query.name === undefined ? {} : { name: query.name }),
        ...(query.status === undefined ? {} : { status: query.status }),
      }),
      this.#store.accounts(wabaIds),
    ]);
    return {
      templates: rows.map(describe),
      accounts: wabaIds.map((wabaId) => {
        const account = accounts.find((a) => a.wabaId === wabaId);
        return {
          businessAccountId: wabaId,
          syncedAt: account?.syncedAt?.toISOString() ?? null,
          error: account?.syncError ?? null,
        };
      }),
    };
  }

  /** `POST /v1/templates/sync`: syncs the instance's accounts now, then lists. */
  async syncInstance(instanceId: string): Promise<TemplateList> {
    for (const wabaId of await this.#accountsOf(instanceId)) {
      await this.sync(wabaId).catch(() => {}); // recorded on the account, shown in the list
    }
    return this.list(instanceId);
  }

  /** Queues a background sync of an account (one queued per account at a time). */
  async requestSync(wabaId: string, tx?: Db): Promise<void> {
    await this.#deps.queue.send(TEMPLATE_SYNC_QUEUE, { wabaId }, { singletonKey: wabaId }, tx);
  }

  /** Queues a sync of every account a WhatsApp channel is connected to (the periodic sync). */
  async requestSyncAll(): Promise<void> {
    const accounts = new Set(
      (await this.#deps.connections.list()).filter((c) => c.platform === 'whatsapp').map((c) => c.objectId),
    );
    for (const wabaId of accounts) await this.requestSync(wabaId);
  }

  /**
   * Reads the account from the Graph API (its templates, page by page; its owner portfolio; each of
   * its connected numbers' messaging limit) and stores it. A failure is recorded on the account and
   * thrown.
   */
  async sync(wabaId: string): Promise<void> {
    const { graph, connections, clock, logger } = this.#deps;
    const numbers = (await connections.list()).filter((c) => c.platform === 'whatsapp' && c.objectId === wabaId);
    let token: string | null = null;
    for (const number of numbers) {
      token = await connections.accessToken('whatsapp', number.channelId);
      if (token) break;
    }
    try {
      if (!token) throw new Error(`no WhatsApp channel of account ${wabaId} has an access token`);
      const templates: AccountSnapshot['templates'] = [];
      let after: string | undefined;
      for (let page = 0; page < MAX_PAGES; page++) {
        const body = (await graph.get(`${wabaId}/message_templates`, token, {
          fields: 'id,name,language,category,status,parameter_format,components',
          limit: '100',
          ...(after ? { after } : {}),
        })) as { data?: unknown; paging?: { cursors?: { after?: unknown }; next?: unknown } } | null;
        const data = Array.isArray(body?.data) ? (body.data as Record<string, unknown>[]) : [];
        for (const t of data) {
          const name = text(t.name);
          const language = text(t.language);
          if (!name || !language) continue;
          const components = Array.isArray(t.components) ? t.components : [];
          templates.push({
            wabaId,
            name,
            language,
            templateId: text(t.id) ?? '',
            category: text(t.category) ?? 'UNKNOWN',
            status: text(t.status) ?? 'UNKNOWN',
            parameterFormat: text(t.parameter_format) ?? 'POSITIONAL',
            components,
            parameters: parameterCounts(components),
          });
        }
        // Meta gives `next` only while there are more pages.
        after = body?.paging?.next ? text(body.paging.cursors?.after) : undefined;
        if (!after || data.length === 0) break;
      }
      const owner = (await graph.get(wabaId, token, { fields: 'owner_business_info' })) as {
        owner_business_info?: { id?: unknown };
      } | null;
      const snapshotNumbers: AccountSnapshot['numbers'] = [];
      for (const number of numbers) {
        const numberToken = (await connections.accessToken('whatsapp', number.channelId)) ?? token;
        const limit = (await graph.get(number.channelId, numberToken, {
          fields: 'whatsapp_business_manager_messaging_limit',
        })) as { whatsapp_business_manager_messaging_limit?: unknown } | null;
        snapshotNumbers.push({
          phoneNumberId: number.channelId,
          messagingTier: text(limit?.whatsapp_business_manager_messaging_limit) ?? null,
        });
      }
      await this.#store.saveSync(
        { wabaId, portfolioId: text(owner?.owner_business_info?.id) ?? null, templates, numbers: snapshotNumbers },
        clock.now(),
      );
      logger.info({ wabaId, templates: templates.length }, 'whatsapp templates synced');
    } catch (error) {
      const message =
        error instanceof GraphError
          ? `Graph API error ${error.code ?? error.status}: ${error.message}`
          : error instanceof Error
            ? error.message
            : String(error);
      logger.warn({ wabaId, error: message }, 'whatsapp template sync failed');
      await this.#store.saveSyncError(wabaId, message, clock.now());
      throw error;
    }
  }

  /**
   * Meta's `message_template_status_update` webhooks, in the transaction that stores them: the
   * template's status changes at once; a template the engine does not know yet brings a sync.
   */
  async applyStatusEvents(
    tx: Db,
    events: readonly { type: string; businessAccountId?: string | null; channelId: string | null; data: unknown }[],
  ): Promise<void> {
    for (const event of events) {
      if (event.type !== 'whatsapp.template.status_updated') continue;
      const wabaId = event.businessAccountId ?? event.channelId;
      const data = (event.data ?? {}) as Record<string, unknown>;
      const status = text(data.event);
      if (!wabaId || !status) continue;
      const isKnown = await this.#store.setStatus(
        tx,
        { wabaId, templateId: text(data.templateId), name: text(data.templateName), language: text(data.language) },
        status,
        this.#deps.clock.now(),
      );
      if (!isKnown) await this.requestSync(wabaId, tx);
    }
  }

  /**
   * The approved template a send names, on the channel's account. `isStrict`: an account whose
   * templates cannot be read refuses the send (a broadcast); otherwise the engine lets Meta judge it.
   */
  async approved(
    phoneNumberId: string,
    template: { name: string; language: { code: string } },
    options: { isStrict: boolean; field: string },
  ): Promise<TemplateRow | undefined> {
    const wabaId = await this.accountOf(phoneNumberId);
    if (!wabaId) {
      if (!options.isStrict) return undefined;
      throw new Problem({
        status: 409,
        type: 'channel-not-connected',
        title: 'The channel is not connected to Meta',
        detail: `WhatsApp number ${phoneNumberId} has no connection, so its templates are unknown`,
      });
    }
    let [account] = await this.#store.accounts([wabaId]);
    if (!account?.syncedAt) {
      try {
        await this.sync(wabaId);
        [account] = await this.#store.accounts([wabaId]);
      } catch {
        if (!options.isStrict) return undefined;
        throw new Problem({
          status: 503,
          type: 'templates-unavailable',
          title: 'The account’s templates could not be read',
          detail: `the templates of WhatsApp Business Account ${wabaId} could not be synced from Meta: try again later`,
        });
      }
    }
    const row = await this.#store.template(wabaId, template.name, template.language.code);
    const field = `${options.field}.name`;
    if (!row) {
      throw new Problem({
        status: 422,
        type: 'template-not-found',
        title: 'The template does not exist',
        detail: `${field}: no template ${template.name} in ${template.language.code} on WhatsApp Business Account ${wabaId}`,
        errors: [{ field, message: `no template ${template.name} in ${template.language.code}` }],
      });
    }
    if (row.status !== 'APPROVED') {
      throw new Problem({
        status: 422,
        type: 'template-not-approved',
        title: 'The template is not approved',
        detail: `${field}: template ${template.name} (${template.language.code}) is ${row.status}`,
        errors: [{ field, message: `is ${row.status}, not APPROVED` }],
        templateStatus: row.status,
      });
    }
    return row;
  }

  /** Errors of a send's components against the template's parameter counts. */
  parameterErrors(row: TemplateRow, components: readonly WhatsAppTemplateComponent[], field: string): SendFieldError[] {
    return parameterErrors(row.parameters as TemplateParameterCounts, components, field);
  }

  /** The send check of `POST /v1/messages`: a WhatsApp template must be approved and given its parameters. */
  readonly checkSend = async (_instanceId: string, request: SendMessageRequest): Promise<void> => {
    if (request.channel.kind !== 'whatsapp' || request.message.type !== 'template') return;
    const { template } = request.message;
    const row = await this.approved(request.channel.id, template, { isStrict: false, field: 'message.template' });
    if (!row) return;
    const errors = this.parameterErrors(row, template.components ?? [], 'message.template.components');
    if (errors.length > 0) throw templateMismatch(errors);
  };

  /** The messaging limit a WhatsApp number sends under (synced with its account). */
  async messagingLimit(phoneNumberId: string): Promise<MessagingLimit> {
    let number = await this.#store.number(phoneNumberId);
    if (!number) {
      const wabaId = await this.accountOf(phoneNumberId);
      if (wabaId) {
        await this.sync(wabaId).catch(() => {});
        number = await this.#store.number(phoneNumberId);
      }
    }
    const tier =
      number?.messagingTier && number.messagingTier in MESSAGING_TIER_LIMITS
        ? number.messagingTier
        : DEFAULT_MESSAGING_TIER;
    return {
      scope: number?.portfolioId
        ? `portfolio:${number.portfolioId}`
        : number
          ? `waba:${number.wabaId}`
          : `number:${phoneNumberId}`,
      tier,
      limit: MESSAGING_TIER_LIMITS[tier] ?? null,
    };
  }
}

/** A template send whose components do not match the template: 422 naming each field. */
export function templateMismatch(errors: SendFieldError[]): Problem {
  return new Problem({
    status: 422,
    type: 'template-parameters',
    title: 'The parameters do not match the template',
    detail: errors.map((e) => `${e.field}: ${e.message}`).join('; '),
    errors,
  });
}
