import { and, desc, eq, gt, isNull, or } from 'drizzle-orm';
import { uuidv7 } from 'uuidv7';
import type { Db } from '../db/index.ts';
import type { Clock } from '../clock/index.ts';
import { serviceTokens } from './schema.ts';
import { generateToken, hashToken, lastFour } from './tokens.ts';

export const SERVICE_TOKEN_PREFIX = 'mic_st';

export interface ServiceTokenInfo {
  id: string;
  caller: string;
  last4: string;
  createdAt: Date;
  expiresAt: Date | null;
  revokedAt: Date | null;
}

function info(row: typeof serviceTokens.$inferSelect): ServiceTokenInfo {
  return {
    id: row.id,
    caller: row.caller,
    last4: row.last4,
    createdAt: row.createdAt,
    expiresAt: row.expiresAt,
    revokedAt: row.revokedAt,
  };
}

/** The service tokens this plane accepts. */
export class ServiceTokens {
  readonly #orm: Db;
  readonly #clock: Clock;

  constructor(orm: Db, clock: Clock) {
    this.#orm = orm;
    this.#clock = clock;
  }

  /** Accepts `token` for `caller` from now on (idempotent: a known token is left as it is). */
  async register(caller: string, token: string): Promise<void> {
    await this.#orm
      .insert(serviceTokens)
      .values({
        id: uuidv7(),
        caller,
        tokenHash: hashToken(token),
        last4: lastFour(token),
        createdAt: this.#clock.now(),
      })
      .onConflictDoNothing({ target: serviceTokens.tokenHash });
  }

  /**
   * Issues a new token for `caller`, shown once. Given `retire`, that token stays valid for
   * `graceMs` and then expires: the caller switches to the new one without downtime.
   */
  async issue(
    caller: string,
    retire?: { id: string; graceMs: number },
  ): Promise<{ token: string; info: ServiceTokenInfo }> {
    const token = generateToken(SERVICE_TOKEN_PREFIX);
    const now = this.#clock.now();
    return this.#orm.transaction(async (tx) => {
      const [row] = await tx
        .insert(serviceTokens)
        .values({ id: uuidv7(), caller, tokenHash: hashToken(token), last4: lastFour(token), createdAt: now })
        .returning();
      if (retire) {
        await tx
          .update(serviceTokens)
          .set({ expiresAt: new Date(now.getTime() + retire.graceMs) })
          .where(and(eq(serviceTokens.id, retire.id), isNull(serviceTokens.expiresAt)));
      }
      return { token, info: info(row!) };
    });
  }

  /** The caller a valid token belongs to, or null (unknown, revoked or expired). */
  async verify(token: string): Promise<{ id: string; caller: string } | null> {
    const [row] = await this.#orm
      .select({ id: serviceTokens.id, caller: serviceTokens.caller })
      .from(serviceTokens)
      .where(
        and(
          eq(serviceTokens.tokenHash, hashToken(token)),
          isNull(serviceTokens.revokedAt),
          or(isNull(serviceTokens.expiresAt), gt(serviceTokens.expiresAt, this.#clock.now())),
        ),
      );
    return row ?? null;
  }

  async list(): Promise<ServiceTokenInfo[]> {
    return (await this.#orm.select().from(serviceTokens).orderBy(desc(serviceTokens.createdAt))).map(info);
  }

  async revoke(id: string): Promise<boolean> {
    const rows = await this.#orm
      .update(serviceTokens)
      .set({ revokedAt: this.#clock.now() })
      .where(and(eq(serviceTokens.id, id), isNull(serviceTokens.revokedAt)))
      .returning({ id: serviceTokens.id });
    return rows.length > 0;
  }
}
