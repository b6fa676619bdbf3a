import { createHash, randomBytes } from 'node:crypto';
import { and, asc, count, desc, eq, gt, isNull, lte, ne, sql } from 'drizzle-orm';
import { uuidv7 } from 'uuidv7';
import { Problem, problems, type Clock, type Db } from '@mic/platform';
import type { Operator } from '@mic/contracts';
import type { AuditActor, AuditRecord, DbTransaction } from '../audit/index.ts';
import { loginFailures, operatorSessions, operators } from './schema.ts';
import { assertAcceptablePassword, checkPassword, generatePassword, hashPassword } from './passwords.ts';
import { ROLE_PERMISSIONS, roleHas, type Permission, type Role } from './permissions.ts';

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
}

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
  session: { id: string; csrfToken: string; expiresAt: Date };
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

/**
 * Operator accounts, sign-in and sessions. Failed logins are counted in the database per email and
 * per client address over a sliding window, so the limit holds across restarts and replicas.
 */
export class Operators {
  readonly #db: Db;
  readonly #clock: Clock;
  readonly #audit: AuditRecorder;
  readonly #settings: AuthSettings;

  constructor(db: Db, clock: Clock, audit: AuditRecorder, settings: AuthSettings) {
    this.#db = db;
    this.#clock = clock;
    this.#audit = audit;
    this.#settings = settings;
  }

  async list(): Promise<OperatorRow[]> {
    return this.#db.select().from(operators).orderBy(asc(operators.createdAt), asc(operators.id));
  }

  async get(id: string): Promise<OperatorRow | undefined> {
    const [row] = await this.#db.select().from(operators).where(eq(operators.id, id));
    return row;
  }

  async create(
    input: { email: string; name: string; role: Role; password?: string | undefined },
    by: Acting,
  ): Promise<{ operator: OperatorRow; generatedPassword?: string }> {
    if (input.role === 'owner') this.#assertManagesOwners(by);
    const email = input.email.trim().toLowerCase();
    if (!/^[^\s@]+@[^\s@]+$/.test(email)) {
      throw problems.validation([{ field: 'body.email', message: 'is not an email address' }]);
    }
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
      return created;
    });
    return generatedPassword ? { operator, generatedPassword } : { operator };
  }

  /**
   * Changes an operator's name, role or disabled state. Only an owner touches an owner (or makes
   * one), and the last active owner is never demoted or disabled: someone must be able to manage.
   */
  async update(
    id: string,
    patch: { name?: string | undefined; role?: Role | undefined; disabled?: boolean | undefined },
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
   * password). A wrong password, an unknown email and a disabled account get the same answer.
   */
  async login(
    emailGiven: string,
    password: string,
    client: ClientInfo,
  ): Promise<{ token: string; operator: SignedInOperator; row: OperatorRow }> {
    const email = emailGiven.trim().toLowerCase();
    await this.#assertNotLimited(email, client.ip);
    const [row] = await this.#db.select().from(operators).where(eq(operators.email, email));
    const matches = await checkPassword(row?.passwordHash, password);
    const actor: AuditActor = {
      type: 'operator',
      id: row?.id ?? null,
      label: email,
      requestId: client.requestId ?? null,
      ip: client.ip,
    };
    if (!row || !matches || row.disabledAt) {
      const reason = !row ? 'unknown email' : !matches ? 'wrong password' : 'account disabled';
      await this.#recordFailure(email, client.ip, actor, reason, row?.id);
      throw invalidCredentials();
    }
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
    };
    const signedIn = await this.#db.transaction(async (tx) => {
      await tx.delete(loginFailures).where(eq(loginFailures.email, email));
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
          after: { sessionExpiresAt: session.expiresAt },
        },
        tx,
      );
      return updated!;
    });
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

  #signedIn(row: OperatorRow, session: { id: string; csrfToken: string; expiresAt: Date }): SignedInOperator {
    const role = row.role as Role;
    return {
      id: row.id,
      email: row.email,
      name: row.name,
      role,
      permissions: ROLE_PERMISSIONS[role],
      session: { id: session.id, csrfToken: session.csrfToken, expiresAt: session.expiresAt },
    };
  }

  /** 429 while the email, or the address, has its limit of failures within the window. */
  async #assertNotLimited(email: string, ip: string): Promise<void> {
    const { loginMaxFailures, loginMaxFailuresPerIp, loginFailureWindowMs } = this.#settings;
    const now = this.#clock.now();
    const since = new Date(now.getTime() - loginFailureWindowMs);
    const limits = [
      { where: eq(loginFailures.email, email), max: loginMaxFailures },
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
