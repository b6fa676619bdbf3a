import { setTimeout as sleep } from 'node:timers/promises';
import { whatsappStatus, type MetaWebhookBody, type WhatsAppStatusName } from '../webhooks/bodies.ts';
import { sendWebhooks } from '../webhooks/send.ts';
import type { GraphSend } from './sends.ts';

/**
 * The status webhooks Meta sends after accepting a message, posted signed to the engine's webhook
 * URL: WhatsApp `statuses` (sent, delivered, read, or failed with its error); Messenger
 * `message_deliveries` and `message_reads` (watermarks); Instagram `messaging_seen` only (Instagram
 * reports no delivery, and neither Messenger nor Instagram reports a failure or a "sent").
 */

export type StatusName = WhatsAppStatusName;

export interface StatusWebhooksConfig {
  /** The engine's Meta webhook URL. */
  url: string;
  /** The Meta app secret the bodies are signed with. */
  appSecret: string;
  /** The statuses to report, in order, for each message. Default sent, delivered, read. */
  statuses?: readonly StatusName[];
  /** The wait before each status, in ms. Default 20. */
  delayMs?: number;
  /** Per webhook request. Default 5 s. */
  timeoutMs?: number;
  /** A webhook that gets no 2xx is sent again, up to this many more times. Default 2. */
  retries?: number;
}

/** An asynchronous failure (a `failed` status): WhatsApp only, as Meta reports them. */
export interface DeliveryFailure {
  code: number;
  title: string;
  message?: string;
  details?: string;
}

export const DELIVERY_FAILURES = {
  undeliverable: {
    code: 131026,
    title: 'Message undeliverable',
    details:
      'Unable to deliver message. Reasons can include: the recipient phone number is not a WhatsApp phone number.',
  },
  'outside-window': {
    code: 131047,
    title: 'Re-engagement message',
    details:
      'Message failed to send because more than 24 hours have passed since the customer last replied to this number.',
  },
  'ecosystem-engagement': {
    code: 131049,
    title: 'This message was not delivered to maintain healthy ecosystem engagement.',
    details: 'In order to maintain a healthy ecosystem engagement, the message failed to be delivered.',
  },
} as const satisfies Record<string, DeliveryFailure>;
export type DeliveryFailureName = keyof typeof DELIVERY_FAILURES;

/** Where a WhatsApp number sits, for the webhook's `entry.id` and `metadata`. */
export interface StatusScope {
  businessAccountId?: string;
  displayPhoneNumber?: string;
}

/** One status webhook the sandbox posted, and how the engine answered (0: no answer). */
export interface StatusWebhook {
  messageId: string;
  objectId: string;
  status: StatusName | 'failed';
  httpStatus: number;
  at: string;
}

const DEFAULT_STATUSES: readonly StatusName[] = ['sent', 'delivered', 'read'];

function whatsappFailed(send: GraphSend, scope: StatusScope, failure: DeliveryFailure, at: Date): MetaWebhookBody {
  const body = whatsappStatus({
    messageId: send.messageId,
    status: 'read',
    recipientId: send.recipient.replace(/\D/g, ''),
    phoneNumberId: send.objectId,
    timestamp: at,
    ...scope,
  });
  const value = (body.entry[0] as { changes: { value: { statuses: Record<string, unknown>[] } }[] }).changes[0]!.value;
  value.statuses = [
    {
      ...value.statuses[0],
      status: 'failed',
      errors: [
        {
          code: failure.code,
          title: failure.title,
          message: failure.message ?? failure.title,
          ...(failure.details === undefined ? {} : { error_data: { details: failure.details } }),
          href: 'https://developers.facebook.com/docs/whatsapp/cloud-api/support/error-codes/',
        },
      ],
    },
  ];
  return body;
}

function messagingStatus(send: GraphSend, status: StatusName, at: Date): MetaWebhookBody | null {
  const ms = at.getTime();
  const parties = { sender: { id: send.recipient }, recipient: { id: send.objectId } };
  let item: Record<string, unknown> | null = null;
  if (send.platform === 'messenger' && status === 'delivered') {
    item = { ...parties, delivery: { mids: [send.messageId], watermark: ms } };
  } else if (send.platform === 'messenger' && status === 'read') {
    item = { ...parties, timestamp: ms, read: { watermark: ms } };
  } else if (send.platform === 'instagram' && status === 'read') {
    item = { ...parties, timestamp: ms, read: { mid: send.messageId } };
  }
  if (!item) return null;
  return {
    object: send.platform === 'messenger' ? 'page' : 'instagram',
    entry: [{ id: send.objectId, time: ms, messaging: [item] }],
  };
}

/** The webhook body for one status of one send, or null when the platform reports no such status. */
export function statusWebhookBody(
  send: GraphSend,
  status: StatusName | 'failed',
  options: { scope?: StatusScope; failure?: DeliveryFailure; at?: Date } = {},
): MetaWebhookBody | null {
  const at = options.at ?? new Date();
  if (send.platform !== 'whatsapp') return status === 'failed' ? null : messagingStatus(send, status, at);
  if (status === 'failed') {
    return whatsappFailed(send, options.scope ?? {}, options.failure ?? DELIVERY_FAILURES.undeliverable, at);
  }
  return whatsappStatus({
    messageId: send.messageId,
    status,
    recipientId: send.recipient.replace(/\D/g, ''),
    phoneNumberId: send.objectId,
    timestamp: at,
    ...options.scope,
  });
}

/** Posts each accepted send's statuses in the background; `stop()` abandons the ones not yet sent. */
export class StatusReporter {
  readonly #sent: StatusWebhook[] = [];
  readonly #pending = new Set<Promise<void>>();
  #abort = new AbortController();

  /** Every status webhook posted so far, oldest first. */
  get sent(): readonly StatusWebhook[] {
    return this.#sent;
  }

  report(
    config: StatusWebhooksConfig,
    send: GraphSend,
    options: { scope?: StatusScope; failure?: DeliveryFailure | undefined },
  ): void {
    const statuses: readonly (StatusName | 'failed')[] = options.failure
      ? ['failed']
      : (config.statuses ?? DEFAULT_STATUSES);
    const signal = this.#abort.signal;
    const run = (async () => {
      for (const status of statuses) {
        await sleep(config.delayMs ?? 20, undefined, { signal });
        const body = statusWebhookBody(send, status, {
          ...(options.scope ? { scope: options.scope } : {}),
          ...(options.failure ? { failure: options.failure } : {}),
        });
        if (!body) continue;
        const { results } = await sendWebhooks({
          url: config.url,
          appSecret: config.appSecret,
          bodies: [body],
          retries: config.retries ?? 2,
          timeoutMs: config.timeoutMs ?? 5_000,
          signal,
        });
        const last = results.at(-1);
        this.#sent.push({
          messageId: send.messageId,
          objectId: send.objectId,
          status,
          httpStatus: last?.status ?? 0,
          at: new Date().toISOString(),
        });
      }
    })().catch(() => {
      // Aborted by stop(): the rest is abandoned, as when Meta gives up.
    });
    this.#pending.add(run);
    void run.finally(() => this.#pending.delete(run));
  }

  /** Resolves once every status scheduled so far has been posted. */
  async idle(): Promise<void> {
    while (this.#pending.size > 0) await Promise.all([...this.#pending]);
  }

  stop(): void {
    this.#abort.abort();
    this.#abort = new AbortController();
  }

  clear(): void {
    this.#sent.length = 0;
  }
}
