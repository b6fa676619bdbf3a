import { createHmac } from 'node:crypto';
import { createTransport, type Transporter } from 'nodemailer';
import type { Logger } from 'pino';
import { fields, type ConfigOf, type Field } from '../config/index.ts';

/**
 * Operator notifications, shared by both planes: e-mail over SMTP and an outgoing webhook (a JSON
 * body with a Slack-compatible `text`). Control sends its alerts through it; the engine uses it
 * only when control cannot be reached, since control cannot report its own absence.
 */
export interface Notice {
  /** One line: the e-mail subject, the webhook's title. */
  title: string;
  /** A few lines for a person. */
  text: string;
  severity: 'critical' | 'warning' | 'info';
  source: 'control' | 'engine';
  /** `raised` (or re-opened), `resolved`. */
  state: 'raised' | 'resolved';
  /** The alert's key, so a receiver can thread or deduplicate. */
  key?: string;
  type?: string;
  at: Date;
  fields?: Record<string, string | number | null>;
}

export interface NoticeOutcome {
  channel: 'email' | 'webhook';
  ok: boolean;
  error?: string;
}

export class NoticeFailedError extends Error {
  readonly outcomes: readonly NoticeOutcome[];
  constructor(outcomes: readonly NoticeOutcome[]) {
    super(`no notification channel took the notice: ${outcomes.map((o) => `${o.channel}: ${o.error}`).join('; ')}`);
    this.name = 'NoticeFailedError';
    this.outcomes = outcomes;
  }
}

function addressList(env: string, description: string): Field<string[]> {
  return {
    env,
    description,
    fallback: [],
    isOptional: false,
    parse(raw) {
      const list = raw
        .split(',')
        .map((a) => a.trim())
        .filter(Boolean);
      const bad = list.find((a) => !/^[^\s@<>]+@[^\s@<>]+$/.test(a));
      if (bad) throw new Error(`${bad} is not an e-mail address`);
      return list;
    },
  };
}

/** The notifier's settings, the same variables on both planes. */
export const notifyFields = {
  alertSmtpUrl: fields.optionalUrl(
    'ALERT_SMTP_URL',
    'SMTP server for operator alerts, smtp://user:password@host:port',
    {
      protocols: ['smtp:', 'smtps:'],
      example: 'a URL such as smtp://user:password@host:587 or smtps://user:password@host:465',
      isSecret: true,
    },
  ),
  alertEmailFrom: fields.string('ALERT_EMAIL_FROM', 'sender of operator alert e-mails', 'MIC <mic@localhost>'),
  alertEmailTo: addressList('ALERT_EMAIL_TO', 'operators who get alert e-mails, comma-separated'),
  // Slack-style webhook URLs carry their token in the path.
  alertWebhookUrl: fields.optionalUrl('ALERT_WEBHOOK_URL', 'outgoing webhook for alerts (Slack-compatible `text`)', {
    protocols: ['http:', 'https:'],
    isSecret: true,
  }),
  alertWebhookSecret: {
    ...fields.optionalString('ALERT_WEBHOOK_SECRET', 'signs alert webhooks (x-mic-signature, HMAC-SHA256)'),
    isSecret: true,
  } satisfies Field<string | undefined>,
  alertNotifyTimeout: fields.duration('ALERT_NOTIFY_TIMEOUT', 'deadline of one alert e-mail or webhook', 10_000),
};

export type NotifySettings = ConfigOf<typeof notifyFields>;

export const SIGNATURE_HEADER = 'x-mic-signature';
export const TIMESTAMP_HEADER = 'x-mic-timestamp';

/** `sha256=<hex HMAC-SHA256 of "<timestamp>.<body>">`, what a receiver recomputes. */
export function signNotice(secret: string, timestamp: string, body: string): string {
  return `sha256=${createHmac('sha256', secret).update(`${timestamp}.${body}`).digest('hex')}`;
}

const EMOJI = { critical: ':red_circle:', warning: ':warning:', info: ':information_source:' } as const;

/** The webhook body: Slack reads `text`; other tools read the structured fields. */
export function webhookBody(notice: Notice) {
  const head = notice.state === 'resolved' ? ':white_check_mark: Resolved' : `${EMOJI[notice.severity]}`;
  return {
    text: `${head} *${notice.title}*\n${notice.text}`,
    title: notice.title,
    message: notice.text,
    severity: notice.severity,
    state: notice.state,
    source: notice.source,
    ...(notice.key ? { key: notice.key } : {}),
    ...(notice.type ? { type: notice.type } : {}),
    at: notice.at.toISOString(),
    fields: notice.fields ?? {},
  };
}

function emailText(notice: Notice): string {
  const lines = [notice.text, ''];
  for (const [name, value] of Object.entries(notice.fields ?? {})) lines.push(`${name}: ${value ?? '-'}`);
  lines.push(`severity: ${notice.severity}`, `source: ${notice.source}`, `at: ${notice.at.toISOString()}`);
  if (notice.key) lines.push(`key: ${notice.key}`);
  return lines.join('\n');
}

/** Where a URL points, for logs: never its credentials, path or query (tokens live there). */
export function describeEndpoint(raw: string): string {
  try {
    const url = new URL(raw);
    return `${url.protocol}//${url.host}`;
  } catch {
    return 'an invalid URL';
  }
}

/** Sends notices to every configured channel; a notice counts as sent when one channel took it. */
export class Notifier {
  readonly #settings: NotifySettings;
  readonly #logger: Logger;
  readonly #mail: Transporter | undefined;

  constructor(settings: NotifySettings, logger: Logger) {
    this.#settings = settings;
    this.#logger = logger.child({ component: 'notify' });
    const timeout = settings.alertNotifyTimeout;
    this.#mail =
      settings.alertSmtpUrl && settings.alertEmailTo.length > 0
        ? createTransport({
            url: settings.alertSmtpUrl,
            connectionTimeout: timeout,
            greetingTimeout: timeout,
            socketTimeout: timeout,
          })
        : undefined;
  }

  /** The channels that will be tried, for health and logs. */
  get channels(): ('email' | 'webhook')[] {
    return [
      ...(this.#mail ? (['email'] as const) : []),
      ...(this.#settings.alertWebhookUrl ? (['webhook'] as const) : []),
    ];
  }

  /**
   * Sends to every channel at once. Resolves with each outcome; throws NoticeFailedError when
   * channels are configured and none took it (the caller retries). With no channel configured the
   * notice is only logged.
   */
  async send(notice: Notice): Promise<NoticeOutcome[]> {
    const attempts: Promise<NoticeOutcome>[] = [];
    if (this.#mail) attempts.push(this.#attempt('email', () => this.#email(notice)));
    if (this.#settings.alertWebhookUrl) {
      const url = this.#settings.alertWebhookUrl;
      attempts.push(this.#attempt('webhook', () => this.#webhook(url, notice)));
    }
    const outcomes = await Promise.all(attempts);
    const log = { title: notice.title, key: notice.key, state: notice.state, outcomes };
    if (outcomes.length === 0) this.#logger.warn(log, 'operator notice (no notification channel configured)');
    else if (outcomes.every((o) => !o.ok)) {
      this.#logger.error(log, 'operator notice not sent');
      throw new NoticeFailedError(outcomes);
    } else this.#logger.info(log, 'operator notice sent');
    return outcomes;
  }

  async #attempt(channel: NoticeOutcome['channel'], run: () => Promise<void>): Promise<NoticeOutcome> {
    try {
      await run();
      return { channel, ok: true };
    } catch (error) {
      return { channel, ok: false, error: (error as Error).message };
    }
  }

  async #email(notice: Notice): Promise<void> {
    const prefix = notice.state === 'resolved' ? '[MIC resolved]' : `[MIC ${notice.severity}]`;
    await this.#mail!.sendMail({
      from: this.#settings.alertEmailFrom,
      to: this.#settings.alertEmailTo,
      subject: `${prefix} ${notice.title}`,
      text: emailText(notice),
    });
  }

  async #webhook(url: string, notice: Notice): Promise<void> {
    const body = JSON.stringify(webhookBody(notice));
    const timestamp = String(Math.floor(Date.now() / 1000));
    const secret = this.#settings.alertWebhookSecret;
    let response: Response;
    try {
      response = await fetch(url, {
        method: 'POST',
        headers: {
          'content-type': 'application/json',
          ...(secret ? { [TIMESTAMP_HEADER]: timestamp, [SIGNATURE_HEADER]: signNotice(secret, timestamp, body) } : {}),
        },
        body,
        redirect: 'manual',
        signal: AbortSignal.timeout(this.#settings.alertNotifyTimeout),
      });
    } catch (error) {
      const reason =
        (error as Error).name === 'TimeoutError'
          ? `no answer within ${this.#settings.alertNotifyTimeout} ms`
          : 'unreachable';
      throw new Error(`webhook at ${describeEndpoint(url)} ${reason}`, { cause: error });
    }
    await response.body?.cancel().catch(() => {});
    if (!response.ok) throw new Error(`webhook at ${describeEndpoint(url)} answered ${response.status}`);
  }

  close(): void {
    this.#mail?.close();
  }
}
export { Mailer, type Mail, type MailerSettings } from './mailer.ts';
