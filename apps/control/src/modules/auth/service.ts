import { createHash, randomBytes } from 'node:crypto';
import { and, asc, count, desc, eq, gt, isNull, lt, lte, ne, or, sql } from 'drizzle-orm';
import { uuidv7 } from 'uuidv7';
import { Problem, problems, type Clock, type Db } from '@mic/platform';
import type { Operator, OperatorLocale, SecondFactorStatus, TotpEnrolment } from '@mic/contracts';
import type { AuditActor, AuditRecord, DbTransaction } from '../audit/index.ts';
import {
  loginFailures,
  operatorLoginChallenges,
  operatorRecoveryCodes,
  operatorSessions,
  operators,
} from './schema.ts';
import { assertAcceptablePassword, checkPassword, generatePassword, hashPassword } from './passwords.ts';
import { ROLE_PERMISSIONS, roleHas, type Permission, type Role } from './permissions.ts';
import { hashRecoveryCode, newRecoveryCodes, newTotp, totpStep, type SecondFactorKey } from './second-factor.ts';

export type OperatorRow = typeof operators.$inferSelect;

export interface AuthSettings {
  /** A session ends after this long without a request... */
  sessionIdleMs: number;
  /** ...and this long after sign-in in any case. */
  sessionMaxMs: number;
  /** Failed logins per email within the window before logins to it are refused. */
  loginMaxFailures: number;
  /** Failed logins per client address within the window (any email). */
  loginMaxFailuresPerIp: number;
  loginFailureWindowMs: number;
  /** Owners and admins must sign in with a second factor (OPERATOR_SECOND_FACTOR_REQUIRED). */
  secondFactorRequired: boolean;
  /** How long a sign-in that passed the password waits for its code. */
  loginChallengeTtlMs: number;
}

/** A session's reach: everything its role allows, or only enrolling the second factor the hub requires. */
export type SessionScope = 'full' | 'enrolment';

/** What signing in yields: a session, or (with a second factor) a challenge to answer with a code. */
export type LoginOutcome =
  | { kind: 'session'; token: string; operator: SignedInOperator; row: OperatorRow }
  | { kind: 'challenge'; challenge: string; expiresAt: Date };

/** Where the audit rows go (the audit module's `record`), so this service can also run without Fastify. */
export interface AuditRecorder {
  record(entry: AuditRecord, tx?: DbTransaction): Promise<unknown>;
}

/** The operator a request is authenticated as (`req.operator`). */
export interface SignedInOperator {
  id: string;
  email: string;
  name: string;
  role: Role;
  permissions: ReadonlySet<Permission>;
  session: { id: string; csrfToken: string; expiresAt: Date; scope: SessionScope };
}

/** Who asks for a change to an account: an operator (with a role) or a command (no role: anything goes). */
export interface Acting {
  actor: AuditActor;
  role?: Role;
}

export interface ClientInfo {
  ip: string;
  userAgent?: string | undefined;
  requestId?: string | undefined;
}

export const SESSION_COOKIE = 'mic_session';

const sha256 = (value: string) => createHash('sha256').update(value, 'utf8').digest('hex');
const newOperatorId = () => `op_${uuidv7().replaceAll('-', '')}`;

export function describeOperator(row: OperatorRow): Operator {
  return {
    id: row.id,
    email: row.email,
    name: row.name,
    role: row.role as Role,
    disabledAt: row.disabledAt?.toISOString() ?? null,
    createdAt: row.createdAt.toISOString(),
    updatedAt: row.updatedAt.toISOString(),
    lastLoginAt: row.lastLoginAt?.toISOString() ?? null,
    passwordChangedAt: row.passwordChangedAt.toISOString(),
    locale: row.locale as OperatorLocale,
    secondFactorEnabled: row.totpEnabledAt !== null,
  };
}

const invalidCredentials = () =>
  new Problem({ status: 401, type: 'invalid-credentials', title: 'The email or the password is wrong' });

export const forbidden = (permission: Permission, detail?: string) =>
  new Problem({
    status: 403,
    type: 'forbidden',
    title: 'Your role does not allow this',
    detail: detail ?? `this needs the permission ${permission}`,
    permission,
  });

function tooManyAttempts(retryAfterSeconds: number) {
  return new Problem({
    status: 429,
    type: 'too-many-login-attempts',
    title: 'Too many failed logins',
    detail: `try again in ${retryAfterSeconds} s`,
    retryAfterSeconds,
  });
}

const notFound = (id: string) => problems.notFound(`no operator ${id}`);

const invalidSecondFactor = () =>
  new Problem({
    status: 401,
    type: 'invalid-second-factor',
    title: 'The code is wrong, used or expired',
    detail: 'sign in again if the challenge has expired',
  });

const wrongCode = (field = 'body.code') =>
  problems.validation([{ field, message: 'is not the current code of your authenticator app' }]);

const conflict = (type: string, title: string, detail: string) => new Problem({ status: 409, type, title, detail });

/** Owners and admins can do the most harm with a stolen password: the hub may require them to have a second factor. */
const SECOND_FACTOR_ROLES: readonly Role[] = ['owner', 'admin'];

/**
 * Operator accounts, sign-in and sessions. Failed logins are counted in the database per email and
 * per client address over a sliding window, so the limit holds across restarts and replicas.
 */
export class Operators {
  readonly #db: Db;
  readonly #clock: Clock;
  readonly #audit: AuditRecorder;
  readonly #settings: AuthSettings;
  readonly #key: SecondFactorKey;

  constructor(db: Db, clock: Clock, audit: AuditRecorder, settings: AuthSettings, key: SecondFactorKey) {
    this.#db = db;
    this.#clock = clock;
    this.#audit = audit;
    this.#settings = settings;
    this.#key = key;
  }

  async list(): Promise<OperatorRow[]> {
    return this.#db.select().from(operators).orderBy(asc(operators.createdAt), asc(operators.id));
  }

  async get(id: string): Promise<OperatorRow | undefined> {
    const [row] = await this.#db.select().from(operators).where(eq(operators.id, id));
    return row;
  }

  async create(
    input: {
      email: string;
      name: string;
      role: Role;
      password?: string | undefined;
      locale?: OperatorLocale | undefined;
    },
    by: Acting,
    /** Runs in the creating transaction (an invitation): the operator exists only if it succeeds. */
    within?: (tx: DbTransaction, created: OperatorRow) => Promise<void>,
  ): Promise<{ operator: OperatorRow; generatedPassword?: string }> {
    if (input.role === 'owner') this.#assertManagesOwners(by);
    const email = input.email.trim().toLowerCase();
    if (!/^[^\s@]+@[^\s@]+$/.test(email)) {
      throw problems.validation([{ field: 'body.email', message: 'is not an email address' }]);
    }
    // An invited operator's password is random and never shown: they choose their own.
    const isShown = input.password === undefined && !within;
    const generatedPassword = input.password === undefined ? generatePassword() : undefined;
    const password = input.password ?? generatedPassword!;
    assertAcceptablePassword(password, email);
    const passwordHash = await hashPassword(password);
    const now = this.#clock.now();
    const row = {
      id: newOperatorId(),
      email,
      name: input.name.trim(),
      role: input.role,
      passwordHash,
      disabledAt: null,
      createdAt: now,
      updatedAt: now,
      lastLoginAt: null,
      passwordChangedAt: now,
      locale: input.locale ?? 'es',
      totpSecret: null,
      totpEnabledAt: null,
      totpLastStep: null,
    };
    const operator = await this.#db.transaction(async (tx) => {
      const [created] = await tx
        .insert(operators)
        .values(row)
        .onConflictDoNothing({ target: operators.email })
        .returning();
      if (!created) {
        throw new Problem({
          status: 409,
          type: 'operator-exists',
          title: 'An operator with this email exists',
          detail: `${email} already has an account`,
        });
      }
      await this.#audit.record(
        {
          actor: by.actor,
          action: 'operator.create',
          target: { type: 'operator', id: created.id },
          after: describeOperator(created),
        },
        tx,
      );
      await within?.(tx, created);
      return created;
    });
    return generatedPassword && isShown ? { operator, generatedPassword } : { operator };
  }

  /**
   * Changes an operator's name, role or disabled state. Only an owner touches an owner (or makes
   * one), and the last active owner is never demoted or disabled: someone must be able to manage.
   */
  async update(
    id: string,
    patch: {
      name?: string | undefined;
      role?: Role | undefined;
      locale?: OperatorLocale | undefined;
      disabled?: boolean | undefined;
    },
    by: Acting,
  ): Promise<OperatorRow> {
    return this.#db.transaction(async (tx) => {
      // Two owners demoting each other at once must not both succeed.
      await tx.execute(sql`select pg_advisory_xact_lock(hashtext(current_schema() || '.operators'))`);
      const [current] = await tx.select().from(operators).where(eq(operators.id, id));
      if (!current) throw notFound(id);
      if (current.role === 'owner' || patch.role === 'owner') this.#assertManagesOwners(by);
      const losesOwner =
        current.role === 'owner' &&
        current.disabledAt === null &&
        ((patch.role !== undefined && patch.role !== 'owner') || patch.disabled === true);
      if (losesOwner) {
        const [others] = await tx
          .select({ n: count() })
          .from(operators)
          .where(and(eq(operators.role, 'owner'), isNull(operators.disabledAt), ne(operators.id, id)));
        if (!others?.n) {
          throw new Problem({
            status: 409,
            type: 'last-owner',
            title: 'The last active owner cannot be demoted or disabled',
            detail: 'make another operator an owner first',
          });
        }
      }
      const now = this.#clock.now();
      const disabling = patch.disabled === true && current.disabledAt === null;
      const enabling = patch.disabled === false && current.disabledAt !== null;
      const [updated] = await tx
        .update(operators)
        .set({
          ...(patch.name !== undefined ? { name: patch.name.trim() } : {}),
          ...(patch.role !== undefined ? { role: patch.role } : {}),
          ...(patch.locale !== undefined ? { locale: patch.locale } : {}),
          ...(disabling ? { disabledAt: now } : enabling ? { disabledAt: null } : {}),
          updatedAt: now,
        })
        .where(eq(operators.id, id))
        .returning();
      if (disabling) await tx.delete(operatorSessions).where(eq(operatorSessions.operatorId, id));
      await this.#audit.record(
        {
          actor: by.actor,
          action: disabling ? 'operator.disable' : enabling ? 'operator.enable' : 'operator.update',
          target: { type: 'operator', id },
          before: describeOperator(current),
          after: describeOperator(updated!),
        },
        tx,
      );
      return updated!;
    });
  }

  /**
   * Signs in: refused while the email or the address is over its failure limit (even with the right
   * password). A wrong password, an unknown email and a disabled account get the same answer. With a
   * second factor the password only earns a challenge; without one that the hub requires, a session
   * limited to enrolling it.
   */
  async login(emailGiven: string, password: string, client: ClientInfo): Promise<LoginOutcome> {
    const email = emailGiven.trim().toLowerCase();
    await this.#assertNotLimited(email, client.ip);
    const [row] = await this.#db.select().from(operators).where(eq(operators.email, email));
    const matches = await checkPassword(row?.passwordHash, password);
    const actor = this.#loginActor(email, row?.id ?? null, client);
    if (!row || !matches || row.disabledAt) {
      const reason = !row ? 'unknown email' : !matches ? 'wrong password' : 'account disabled';
      await this.#recordFailure(email, client.ip, actor, reason, row?.id);
      throw invalidCredentials();
    }
    if (row.totpEnabledAt) {
      const now = this.#clock.now();
      const challenge = randomBytes(32).toString('base64url');
      const expiresAt = new Date(now.getTime() + this.#settings.loginChallengeTtlMs);
      await this.#db.transaction(async (tx) => {
        await tx
          .delete(operatorLoginChallenges)
          .where(and(eq(operatorLoginChallenges.operatorId, row.id), lte(operatorLoginChallenges.expiresAt, now)));
        await tx
          .insert(operatorLoginChallenges)
          .values({ id: sha256(challenge), operatorId: row.id, createdAt: now, expiresAt, ip: client.ip });
        await this.#audit.record(
          { actor, action: 'operator.login-challenge', target: { type: 'operator', id: row.id }, after: { expiresAt } },
          tx,
        );
      });
      return { kind: 'challenge', challenge, expiresAt };
    }
    const scope: SessionScope = this.isSecondFactorRequired(row.role as Role) ? 'enrolment' : 'full';
    return { kind: 'session', ...(await this.#startSession(row, client, actor, { scope })) };
  }

  /** Whether the hub requires a second factor of this role. */
  isSecondFactorRequired(role: Role): boolean {
    return this.#settings.secondFactorRequired && SECOND_FACTOR_ROLES.includes(role);
  }

  /**
   * The second step of signing in: the challenge from the first and a code of the authenticator
   * app, or a recovery code (which then stops working). Wrong codes count as failed logins of the
   * account and the address, under the same limits as passwords.
   */
  async completeLogin(
    challenge: string,
    answer: { code?: string | undefined; recoveryCode?: string | undefined },
    client: ClientInfo,
  ): Promise<{ token: string; operator: SignedInOperator; row: OperatorRow }> {
    const now = this.#clock.now();
    const [found] = await this.#db
      .select({ operator: operators })
      .from(operatorLoginChallenges)
      .innerJoin(operators, eq(operators.id, operatorLoginChallenges.operatorId))
      .where(and(eq(operatorLoginChallenges.id, sha256(challenge)), gt(operatorLoginChallenges.expiresAt, now)));
    const row = found?.operator;
    const email = row?.email ?? '';
    await this.#assertNotLimited(email, client.ip);
    const actor = this.#loginActor(email, row?.id ?? null, client);
    const method = answer.recoveryCode !== undefined ? 'recovery-code' : 'totp';
    const fail = async (reason: string) => {
      await this.#recordFailure(email, client.ip, actor, reason, row?.id, 'operator.second-factor-failed');
      return invalidSecondFactor();
    };
    if (!row || row.disabledAt || !row.totpEnabledAt || !row.totpSecret)
      throw await fail('unknown or expired challenge');
    if ((answer.code === undefined) === (answer.recoveryCode === undefined)) {
      throw problems.validation([{ field: 'body', message: 'send either code or recoveryCode' }]);
    }
    const signedIn = await this.#db.transaction(async (tx) => {
      // Deleting the challenge claims it: of two answers racing with it, one goes on.
      const [claimed] = await tx
        .delete(operatorLoginChallenges)
        .where(eq(operatorLoginChallenges.id, sha256(challenge)))
        .returning();
      if (!claimed) return null;
      const accepted =
        method === 'totp'
          ? await this.#acceptTotp(tx, row, answer.code!, now)
          : await this.#acceptRecoveryCode(tx, row.id, answer.recoveryCode!, now);
      if (accepted === null) {
        // Put the challenge back: a typo must not cost the operator their password step.
        await tx.insert(operatorLoginChallenges).values(claimed);
        return null;
      }
      if (method === 'recovery-code') {
        await this.#audit.record(
          {
            actor,
            action: 'operator.recovery-code-used',
            target: { type: 'operator', id: row.id },
            after: { recoveryCodesLeft: accepted },
          },
          tx,
        );
      }
      return this.#startSession(row, client, actor, { scope: 'full', tx, secondFactor: method });
    });
    if (!signedIn) throw await fail(method === 'totp' ? 'wrong second-factor code' : 'wrong recovery code');
    return signedIn;
  }

  #loginActor(email: string, id: string | null, client: ClientInfo): AuditActor {
    return { type: 'operator', id, label: email, requestId: client.requestId ?? null, ip: client.ip };
  }

  async #startSession(
    row: OperatorRow,
    client: ClientInfo,
    actor: AuditActor,
    options: { scope: SessionScope; tx?: DbTransaction; secondFactor?: string },
  ): Promise<{ token: string; operator: SignedInOperator; row: OperatorRow }> {
    const now = this.#clock.now();
    const token = randomBytes(32).toString('base64url');
    const session = {
      id: sha256(token),
      operatorId: row.id,
      csrfToken: randomBytes(32).toString('base64url'),
      createdAt: now,
      lastSeenAt: now,
      expiresAt: this.#expiry(now, now),
      ip: client.ip,
      userAgent: client.userAgent?.slice(0, 512) ?? null,
      scope: options.scope,
    };
    const write = async (tx: DbTransaction) => {
      await tx.delete(loginFailures).where(eq(loginFailures.email, row.email));
      await tx
        .delete(operatorSessions)
        .where(and(eq(operatorSessions.operatorId, row.id), lte(operatorSessions.expiresAt, now)));
      await tx.insert(operatorSessions).values(session);
      const [updated] = await tx
        .update(operators)
        .set({ lastLoginAt: now })
        .where(eq(operators.id, row.id))
        .returning();
      await this.#audit.record(
        {
          actor,
          action: 'operator.login',
          target: { type: 'operator', id: row.id },
          after: {
            sessionExpiresAt: session.expiresAt,
            scope: options.scope,
            ...(options.secondFactor ? { secondFactor: options.secondFactor } : {}),
          },
        },
        tx,
      );
      return updated!;
    };
    const signedIn = options.tx ? await write(options.tx) : await this.#db.transaction(write);
    return { token, row: signedIn, operator: this.#signedIn(signedIn, session) };
  }

  async logout(operator: SignedInOperator, actor: AuditActor): Promise<void> {
    await this.#db.transaction(async (tx) => {
      await tx.delete(operatorSessions).where(eq(operatorSessions.id, operator.session.id));
      await this.#audit.record({ actor, action: 'operator.logout', target: { type: 'operator', id: operator.id } }, tx);
    });
  }

  /** The operator a session token belongs to, or null; a used session's idle timeout starts again. */
  async authenticate(token: string): Promise<SignedInOperator | null> {
    const now = this.#clock.now();
    const [found] = await this.#db
      .select({ session: operatorSessions, operator: operators })
      .from(operatorSessions)
      .innerJoin(operators, eq(operators.id, operatorSessions.operatorId))
      .where(
        and(eq(operatorSessions.id, sha256(token)), gt(operatorSessions.expiresAt, now), isNull(operators.disabledAt)),
      );
    if (!found) return null;
    let { session } = found;
    // Written at most every minute (or tenth of the idle timeout), not on every request.
    if (now.getTime() - session.lastSeenAt.getTime() >= Math.min(60_000, this.#settings.sessionIdleMs / 10)) {
      const expiresAt = this.#expiry(session.createdAt, now);
      await this.#db
        .update(operatorSessions)
        .set({ lastSeenAt: now, expiresAt })
        .where(eq(operatorSessions.id, session.id));
      session = { ...session, lastSeenAt: now, expiresAt };
    }
    return this.#signedIn(found.operator, session);
  }

  /**
   * Changes the signed-in operator's own password; every other session of theirs ends. A wrong
   * current password counts as a failed login, so a stolen session cannot guess it freely.
   */
  async changePassword(
    operator: SignedInOperator,
    currentPassword: string,
    newPassword: string,
    client: ClientInfo & { actor: AuditActor },
  ): Promise<void> {
    await this.#assertNotLimited(operator.email, client.ip);
    const row = await this.get(operator.id);
    if (!row) throw notFound(operator.id);
    if (!(await checkPassword(row.passwordHash, currentPassword))) {
      await this.#recordFailure(
        operator.email,
        client.ip,
        client.actor,
        'wrong current password',
        row.id,
        'operator.password-change-failed',
      );
      throw problems.validation([{ field: 'body.currentPassword', message: 'is not your current password' }]);
    }
    assertAcceptablePassword(newPassword, row.email, 'body.newPassword');
    const passwordHash = await hashPassword(newPassword);
    const now = this.#clock.now();
    await this.#db.transaction(async (tx) => {
      await tx
        .update(operators)
        .set({ passwordHash, passwordChangedAt: now, updatedAt: now })
        .where(eq(operators.id, row.id));
      await tx
        .delete(operatorSessions)
        .where(and(eq(operatorSessions.operatorId, row.id), ne(operatorSessions.id, operator.session.id)));
      await this.#audit.record(
        { actor: client.actor, action: 'operator.password-change', target: { type: 'operator', id: row.id } },
        tx,
      );
    });
  }

  async secondFactorStatus(operatorId: string): Promise<SecondFactorStatus> {
    const row = await this.get(operatorId);
    if (!row) throw notFound(operatorId);
    const [left] = await this.#db
      .select({ n: count() })
      .from(operatorRecoveryCodes)
      .where(and(eq(operatorRecoveryCodes.operatorId, operatorId), isNull(operatorRecoveryCodes.usedAt)));
    return {
      enabled: row.totpEnabledAt !== null,
      enabledAt: row.totpEnabledAt?.toISOString() ?? null,
      required: this.isSecondFactorRequired(row.role as Role),
      recoveryCodesLeft: row.totpEnabledAt ? (left?.n ?? 0) : 0,
    };
  }

  /**
   * Starts (or starts over) enrolling a TOTP second factor: a new secret, stored encrypted, that
   * counts only once a code from it is confirmed. An enabled one must be reset by another owner.
   */
  async startEnrolment(operator: SignedInOperator, actor: AuditActor): Promise<TotpEnrolment> {
    const row = await this.get(operator.id);
    if (!row) throw notFound(operator.id);
    if (row.totpEnabledAt) {
      throw conflict(
        'second-factor-enabled',
        'A second factor is already enabled',
        'to move it to another device, use a recovery code to sign in and ask another owner to reset it',
      );
    }
    const enrolment = await newTotp(row.email);
    await this.#db.transaction(async (tx) => {
      await tx
        .update(operators)
        .set({ totpSecret: this.#key.encrypt(enrolment.secret, row.id), totpLastStep: null })
        .where(eq(operators.id, row.id));
      await this.#audit.record(
        { actor, action: 'operator.second-factor-enrolment', target: { type: 'operator', id: row.id } },
        tx,
      );
    });
    return enrolment;
  }

  /**
   * Confirms an enrolment with a code from the new secret: the second factor is on from now, the
   * recovery codes are returned (once), this session gets its full reach and the others end.
   */
  async confirmEnrolment(
    operator: SignedInOperator,
    code: string,
    client: ClientInfo & { actor: AuditActor },
  ): Promise<string[]> {
    await this.#assertNotLimited(operator.email, client.ip);
    const row = await this.get(operator.id);
    if (!row) throw notFound(operator.id);
    if (!row.totpSecret || row.totpEnabledAt) {
      throw conflict(
        'no-second-factor-enrolment',
        'There is no enrolment to confirm',
        'start one with POST /v1/auth/second-factor/enrolment',
      );
    }
    const now = this.#clock.now();
    const codes = await this.#db.transaction(async (tx) => {
      if ((await this.#acceptTotp(tx, row, code, now)) === null) return null;
      await tx.update(operators).set({ totpEnabledAt: now, updatedAt: now }).where(eq(operators.id, row.id));
      const recoveryCodes = await this.#replaceRecoveryCodes(tx, row.id, now);
      await tx.update(operatorSessions).set({ scope: 'full' }).where(eq(operatorSessions.id, operator.session.id));
      await tx
        .delete(operatorSessions)
        .where(and(eq(operatorSessions.operatorId, row.id), ne(operatorSessions.id, operator.session.id)));
      await this.#audit.record(
        { actor: client.actor, action: 'operator.second-factor-enable', target: { type: 'operator', id: row.id } },
        tx,
      );
      return recoveryCodes;
    });
    if (!codes) {
      await this.#recordFailure(
        row.email,
        client.ip,
        client.actor,
        'wrong enrolment code',
        row.id,
        'operator.second-factor-failed',
      );
      throw wrongCode();
    }
    return codes;
  }

  /** New recovery codes (the old ones stop working), for a code of the authenticator app. */
  async regenerateRecoveryCodes(
    operator: SignedInOperator,
    code: string,
    client: ClientInfo & { actor: AuditActor },
  ): Promise<string[]> {
    await this.#assertNotLimited(operator.email, client.ip);
    const row = await this.get(operator.id);
    if (!row) throw notFound(operator.id);
    if (!row.totpEnabledAt) {
      throw conflict('no-second-factor', 'No second factor is enabled', 'enrol one first');
    }
    const now = this.#clock.now();
    const codes = await this.#db.transaction(async (tx) => {
      if ((await this.#acceptTotp(tx, row, code, now)) === null) return null;
      const recoveryCodes = await this.#replaceRecoveryCodes(tx, row.id, now);
      await this.#audit.record(
        { actor: client.actor, action: 'operator.recovery-codes-renew', target: { type: 'operator', id: row.id } },
        tx,
      );
      return recoveryCodes;
    });
    if (!codes) {
      await this.#recordFailure(
        row.email,
        client.ip,
        client.actor,
        'wrong second-factor code',
        row.id,
        'operator.second-factor-failed',
      );
      throw wrongCode();
    }
    return codes;
  }

  /**
   * Another owner removes an operator's second factor (a lost device without recovery codes): its
   * secret and recovery codes go, and the operator is signed out everywhere; if the hub requires a
   * second factor, their next sign-in can only enrol a new one. Never one's own.
   */
  async resetSecondFactor(id: string, by: Acting): Promise<OperatorRow> {
    if (by.actor.id === id) {
      throw conflict(
        'own-second-factor',
        'You cannot reset your own second factor',
        'sign in with a recovery code, or ask another owner',
      );
    }
    return this.#db.transaction(async (tx) => {
      const [current] = await tx.select().from(operators).where(eq(operators.id, id));
      if (!current) throw notFound(id);
      const now = this.#clock.now();
      const [updated] = await tx
        .update(operators)
        .set({ totpSecret: null, totpEnabledAt: null, totpLastStep: null, updatedAt: now })
        .where(eq(operators.id, id))
        .returning();
      await tx.delete(operatorRecoveryCodes).where(eq(operatorRecoveryCodes.operatorId, id));
      await tx.delete(operatorLoginChallenges).where(eq(operatorLoginChallenges.operatorId, id));
      await tx.delete(operatorSessions).where(eq(operatorSessions.operatorId, id));
      await this.#audit.record(
        {
          actor: by.actor,
          action: 'operator.second-factor-reset',
          target: { type: 'operator', id },
          before: { secondFactorEnabled: current.totpEnabledAt !== null },
          after: { secondFactorEnabled: false, signedOut: true },
        },
        tx,
      );
      return updated!;
    });
  }

  /** The step of a valid code not used before (recorded as used), or null. */
  async #acceptTotp(tx: DbTransaction, row: OperatorRow, code: string, now: Date): Promise<number | null> {
    if (!row.totpSecret) return null;
    const step = totpStep(this.#key.decrypt(row.totpSecret, row.id), code, now);
    if (step === null) return null;
    const [used] = await tx
      .update(operators)
      .set({ totpLastStep: step })
      .where(and(eq(operators.id, row.id), or(isNull(operators.totpLastStep), lt(operators.totpLastStep, step))))
      .returning({ id: operators.id });
    return used ? step : null;
  }

  /** How many recovery codes are left once `code` is spent, or null when it is not an unused one. */
  async #acceptRecoveryCode(tx: DbTransaction, operatorId: string, code: string, now: Date): Promise<number | null> {
    const [spent] = await tx
      .update(operatorRecoveryCodes)
      .set({ usedAt: now })
      .where(
        and(
          eq(operatorRecoveryCodes.operatorId, operatorId),
          eq(operatorRecoveryCodes.codeHash, hashRecoveryCode(code)),
          isNull(operatorRecoveryCodes.usedAt),
        ),
      )
      .returning({ id: operatorRecoveryCodes.id });
    if (!spent) return null;
    const [left] = await tx
      .select({ n: count() })
      .from(operatorRecoveryCodes)
      .where(and(eq(operatorRecoveryCodes.operatorId, operatorId), isNull(operatorRecoveryCodes.usedAt)));
    return left?.n ?? 0;
  }

  async #replaceRecoveryCodes(tx: DbTransaction, operatorId: string, now: Date): Promise<string[]> {
    const codes = newRecoveryCodes();
    await tx.delete(operatorRecoveryCodes).where(eq(operatorRecoveryCodes.operatorId, operatorId));
    await tx.insert(operatorRecoveryCodes).values(
      codes.map((code) => ({
        id: uuidv7(),
        operatorId,
        codeHash: hashRecoveryCode(code),
        createdAt: now,
        usedAt: null,
      })),
    );
    return codes;
  }

  #assertManagesOwners(by: Acting): void {
    if (by.role !== undefined && !roleHas(by.role, 'operators.owners')) {
      throw forbidden('operators.owners', 'only an owner can create, promote, change or disable an owner');
    }
  }

  #expiry(createdAt: Date, now: Date): Date {
    return new Date(
      Math.min(now.getTime() + this.#settings.sessionIdleMs, createdAt.getTime() + this.#settings.sessionMaxMs),
    );
  }

  #signedIn(
    row: OperatorRow,
    session: { id: string; csrfToken: string; expiresAt: Date; scope: string },
  ): SignedInOperator {
    const role = row.role as Role;
    return {
      id: row.id,
      email: row.email,
      name: row.name,
      role,
      permissions: ROLE_PERMISSIONS[role],
      session: {
        id: session.id,
        csrfToken: session.csrfToken,
        expiresAt: session.expiresAt,
        scope: session.scope === 'enrolment' ? 'enrolment' : 'full',
      },
    };
  }

  /** 429 while the email, or the address, has its limit of failures within the window. */
  async #assertNotLimited(email: string, ip: string): Promise<void> {
    const { loginMaxFailures, loginMaxFailuresPerIp, loginFailureWindowMs } = this.#settings;
    const now = this.#clock.now();
    const since = new Date(now.getTime() - loginFailureWindowMs);
    // An unknown second-factor challenge has no account (email ''): only its address is counted.
    const limits = [
      ...(email ? [{ where: eq(loginFailures.email, email), max: loginMaxFailures }] : []),
      { where: eq(loginFailures.ip, ip), max: loginMaxFailuresPerIp },
    ];
    let freeAt = 0;
    for (const limit of limits) {
      // The window slides: the limit lifts when the max-th most recent failure leaves it.
      const [nth] = await this.#db
        .select({ at: loginFailures.at })
        .from(loginFailures)
        .where(and(limit.where, gt(loginFailures.at, since)))
        .orderBy(desc(loginFailures.at))
        .offset(limit.max - 1)
        .limit(1);
      if (nth) freeAt = Math.max(freeAt, nth.at.getTime() + loginFailureWindowMs);
    }
    if (freeAt > now.getTime()) throw tooManyAttempts(Math.max(1, Math.ceil((freeAt - now.getTime()) / 1000)));
  }

  async #recordFailure(
    email: string,
    ip: string,
    actor: AuditActor,
    reason: string,
    operatorId: string | undefined,
    action = 'operator.login-failed',
  ) {
    const now = this.#clock.now();
    await this.#db.transaction(async (tx) => {
      await tx
        .delete(loginFailures)
        .where(lte(loginFailures.at, new Date(now.getTime() - this.#settings.loginFailureWindowMs)));
      await tx.insert(loginFailures).values({ id: uuidv7(), email, ip, at: now });
      await this.#audit.record(
        {
          actor,
          action,
          target: { type: 'operator', id: operatorId ?? null },
          after: { reason },
        },
        tx,
      );
    });
  }
}
