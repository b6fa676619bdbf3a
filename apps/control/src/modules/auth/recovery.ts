import { createHash, randomBytes } from 'node:crypto';
import { and, count, desc, eq, gt, isNull, lte, ne } from 'drizzle-orm';
import { uuidv7 } from 'uuidv7';
import { Problem, type Clock, type Db, type Logger } from '@mic/platform';
import type { OperatorLocale } from '@mic/contracts';
import type { AuditActor, DbTransaction } from '../audit/index.ts';
import type { Mailer } from '@mic/platform';
import { operatorInviteMail, passwordResetMail, type AccountMail } from './mail.ts';
import { assertAcceptablePassword, hashPassword } from './passwords.ts';
import {
  loginFailures,
  operatorLoginChallenges,
  operatorPasswordResets,
  operatorSessions,
  operators,
  passwordResetRequests,
} from './schema.ts';
import type { AuditRecorder, ClientInfo } from './service.ts';

export interface PasswordRecoverySettings {
  /** How long a link works. */
  ttlMs: number;
  /** How long a new operator's invitation link works. */
  inviteTtlMs: number;
  /** At most one e-mail per account per this interval. */
  emailIntervalMs: number;
  /** Requests per client address within `ipWindowMs`. */
  maxPerIp: number;
  ipWindowMs: number;
  /** The console's public URL: links are `<consoleUrl>/#/reset?token=...`. */
  consoleUrl: string;
}

const sha256 = (value: string) => createHash('sha256').update(value, 'utf8').digest('hex');

const invalidToken = () =>
  new Problem({
    status: 400,
    type: 'invalid-reset-token',
    title: 'This password reset link is not valid',
    detail: 'it was used, it expired, or a newer one was sent: ask for a new one',
  });

function tooManyRequests(retryAfterSeconds: number) {
  return new Problem({
    status: 429,
    type: 'too-many-password-reset-requests',
    title: 'Too many password reset requests from this address',
    detail: `try again in ${retryAfterSeconds} s`,
    retryAfterSeconds,
  });
}

/**
 * "Forgot password". A request is answered the same way whether or not the address has an account,
 * and the e-mail is sent after the answer, so neither the answer nor its timing tells. The link's
 * token is stored only as its SHA-256, works once, and only the newest link of an account works.
 * A reset ends every session of the account; a second factor stays as it was.
 */
export class PasswordRecovery {
  readonly #db: Db;
  readonly #clock: Clock;
  readonly #audit: AuditRecorder;
  readonly #mailer: Mailer;
  readonly #logger: Logger;
  readonly #settings: PasswordRecoverySettings;

  constructor(deps: {
    db: Db;
    clock: Clock;
    audit: AuditRecorder;
    mailer: Mailer;
    logger: Logger;
    settings: PasswordRecoverySettings;
  }) {
    this.#db = deps.db;
    this.#clock = deps.clock;
    this.#audit = deps.audit;
    this.#mailer = deps.mailer;
    this.#logger = deps.logger;
    this.#settings = deps.settings;
  }

  /** The link a token makes (the token rides in the fragment: browsers never send it to a server or a Referer). */
  link(token: string): string {
    return `${this.#settings.consoleUrl}/#/reset?token=${token}`;
  }

  /**
   * Records the request and, for an active account that got no link within the interval, a new
   * link, e-mailed in the background. Throws only for the address's rate limit.
   */
  async request(emailGiven: string, client: ClientInfo): Promise<void> {
    const email = emailGiven.trim().toLowerCase();
    const now = this.#clock.now();
    const mail = await this.#db.transaction(async (tx) => {
      const since = new Date(now.getTime() - this.#settings.ipWindowMs);
      await tx.delete(passwordResetRequests).where(lte(passwordResetRequests.at, since));
      const [nth] = await tx
        .select({ at: passwordResetRequests.at })
        .from(passwordResetRequests)
        .where(and(eq(passwordResetRequests.ip, client.ip), gt(passwordResetRequests.at, since)))
        .orderBy(desc(passwordResetRequests.at))
        .offset(this.#settings.maxPerIp - 1)
        .limit(1);
      if (nth) {
        const freeAt = nth.at.getTime() + this.#settings.ipWindowMs;
        return { limited: Math.max(1, Math.ceil((freeAt - now.getTime()) / 1000)) };
      }
      await tx.insert(passwordResetRequests).values({ id: uuidv7(), ip: client.ip, at: now });

      const [row] = await tx.select().from(operators).where(eq(operators.email, email));
      if (!row || row.disabledAt) return null;
      const [recent] = await tx
        .select({ n: count() })
        .from(operatorPasswordResets)
        .where(
          and(
            eq(operatorPasswordResets.operatorId, row.id),
            gt(operatorPasswordResets.createdAt, new Date(now.getTime() - this.#settings.emailIntervalMs)),
          ),
        );
      if (recent?.n) return null;
      const token = randomBytes(32).toString('base64url');
      const expiresAt = new Date(now.getTime() + this.#settings.ttlMs);
      // Only the newest link works.
      await tx.delete(operatorPasswordResets).where(eq(operatorPasswordResets.operatorId, row.id));
      await tx
        .insert(operatorPasswordResets)
        .values({ id: sha256(token), operatorId: row.id, createdAt: now, expiresAt, usedAt: null, ip: client.ip });
      await this.#audit.record(
        {
          actor: this.#actor(email, row.id, client),
          action: 'operator.password-reset-request',
          target: { type: 'operator', id: row.id },
          after: { expiresAt },
        },
        tx,
      );
      return {
        mail: passwordResetMail(row.locale as OperatorLocale, {
          to: row.email,
          name: row.name,
          link: this.link(token),
          validMinutes: Math.round(this.#settings.ttlMs / 60_000),
        }),
      };
    });
    if (mail && 'limited' in mail) throw tooManyRequests(mail.limited);
    if (mail) {
      void this.#mailer
        .send(mail.mail)
        .catch((error: unknown) =>
          this.#logger.error({ err: error, to: mail.mail.to }, 'password reset e-mail not sent'),
        );
    }
  }

  /** Sets a new password with a link's token: once, before it expires; every session of the account ends. */
  async reset(token: string, newPassword: string, client: ClientInfo): Promise<void> {
    const id = sha256(token);
    const now = this.#clock.now();
    const [found] = await this.#db
      .select({ reset: operatorPasswordResets, operator: operators })
      .from(operatorPasswordResets)
      .innerJoin(operators, eq(operators.id, operatorPasswordResets.operatorId))
      .where(eq(operatorPasswordResets.id, id));
    if (!found || found.reset.usedAt || found.reset.expiresAt <= now || found.operator.disabledAt) {
      throw invalidToken();
    }
    const row = found.operator;
    assertAcceptablePassword(newPassword, row.email, 'body.newPassword');
    const passwordHash = await hashPassword(newPassword);
    await this.#db.transaction(async (tx) => {
      // Claimed here: of two resets racing with one link, one wins.
      const [claimed] = await tx
        .update(operatorPasswordResets)
        .set({ usedAt: now })
        .where(
          and(
            eq(operatorPasswordResets.id, id),
            isNull(operatorPasswordResets.usedAt),
            gt(operatorPasswordResets.expiresAt, now),
          ),
        )
        .returning({ id: operatorPasswordResets.id });
      if (!claimed) throw invalidToken();
      await tx
        .update(operators)
        .set({ passwordHash, passwordChangedAt: now, updatedAt: now })
        .where(eq(operators.id, row.id));
      await tx.delete(operatorSessions).where(eq(operatorSessions.operatorId, row.id));
      await tx.delete(operatorLoginChallenges).where(eq(operatorLoginChallenges.operatorId, row.id));
      await tx.delete(loginFailures).where(eq(loginFailures.email, row.email));
      await tx
        .delete(operatorPasswordResets)
        .where(and(eq(operatorPasswordResets.operatorId, row.id), ne(operatorPasswordResets.id, id)));
      await this.#audit.record(
        {
          actor: this.#actor(row.email, row.id, client),
          action: 'operator.password-reset',
          target: { type: 'operator', id: row.id },
          after: { signedOutEverywhere: true },
        },
        tx,
      );
    });
  }

  /**
   * A new operator's invitation, in the transaction that creates them: a link to choose their
   * password (the same kind of link as "forgot password", valid `inviteTtlMs`). The e-mail is for the
   * caller to send once that transaction committed (`sendInvitation`).
   */
  async invitation(
    tx: DbTransaction,
    operator: { id: string; email: string; name: string; locale: string },
    invitedBy: AuditActor,
  ): Promise<{ mail: AccountMail; expiresAt: Date }> {
    if (!this.#mailer.isConfigured) {
      throw new Problem({
        status: 409,
        type: 'account-mail-not-configured',
        title: 'Account e-mail is not configured',
        detail:
          'an invitation needs an SMTP server (ACCOUNT_SMTP_URL or ALERT_SMTP_URL): create the operator with a password instead',
      });
    }
    const now = this.#clock.now();
    const token = randomBytes(32).toString('base64url');
    const expiresAt = new Date(now.getTime() + this.#settings.inviteTtlMs);
    await tx
      .insert(operatorPasswordResets)
      .values({ id: sha256(token), operatorId: operator.id, createdAt: now, expiresAt, usedAt: null, ip: null });
    await this.#audit.record(
      {
        actor: invitedBy,
        action: 'operator.invite',
        target: { type: 'operator', id: operator.id },
        after: { expiresAt },
      },
      tx,
    );
    const mail = operatorInviteMail(operator.locale as OperatorLocale, {
      to: operator.email,
      name: operator.name,
      invitedBy: invitedBy.label ?? 'MIC',
      link: this.link(token),
      expiresAt,
    });
    return { mail, expiresAt };
  }

  /** Sends an invitation; false (and logged) when the SMTP server does not take it. */
  async sendInvitation(mail: AccountMail): Promise<boolean> {
    try {
      await this.#mailer.send(mail);
      return true;
    } catch (error) {
      this.#logger.error({ err: error, to: mail.to }, 'operator invitation e-mail not sent');
      return false;
    }
  }

  #actor(email: string, id: string, client: ClientInfo): AuditActor {
    return { type: 'operator', id, label: email, requestId: client.requestId ?? null, ip: client.ip };
  }
}
