import { createTransport, type Transporter } from 'nodemailer';
import type { Logger } from 'pino';

export interface MailerSettings {
  /** smtp:// or smtps:// URL; unset: nothing is sent (`isConfigured` is false). */
  smtpUrl: string | undefined;
  from: string;
  timeoutMs: number;
}

/** One e-mail to one person (an operator, a tenant's contact), unlike notices to every operator. */
export interface Mail {
  to: string;
  subject: string;
  text: string;
  attachments?: { filename: string; content: Buffer; contentType: string }[];
}

/**
 * E-mail over SMTP to one recipient at a time. The log names the recipient and the subject, never
 * the body: bodies may carry links that act as credentials.
 */
export class Mailer {
  readonly #from: string;
  readonly #logger: Pick<Logger, 'info'>;
  readonly #transport: Transporter | undefined;

  constructor(settings: MailerSettings, logger: Pick<Logger, 'info'>) {
    this.#from = settings.from;
    this.#logger = logger;
    const timeout = settings.timeoutMs;
    this.#transport = settings.smtpUrl
      ? createTransport({
          url: settings.smtpUrl,
          connectionTimeout: timeout,
          greetingTimeout: timeout,
          socketTimeout: timeout,
        })
      : undefined;
  }

  get isConfigured(): boolean {
    return this.#transport !== undefined;
  }

  /** Sends one e-mail; throws when the SMTP server refuses it or none is configured. */
  async send(mail: Mail): Promise<void> {
    if (!this.#transport) throw new Error('no SMTP server is configured');
    await this.#transport.sendMail({ from: this.#from, ...mail });
    this.#logger.info({ to: mail.to, subject: mail.subject }, 'e-mail sent');
  }

  close(): void {
    this.#transport?.close();
  }
}
