import { and, eq, lt } from 'drizzle-orm';
import { uuidv7 } from 'uuidv7';
import type { Clock, Db } from '@mic/platform';
import { Problem, problems } from '@mic/platform';
import type { SecretInfo, SecretKind } from '@mic/contracts';
import { fingerprint, open, rewrap, seal } from './envelope.ts';
import type { Keyring } from './keyring.ts';
import { secretVersions, secrets } from './schema.ts';
import { secretQueries as q, type SecretRow, type VersionRow } from './store.ts';

const eqId = (id: string) => eq(secrets.id, id);
const sqlVersionBelow = (secretId: string, version: number) =>
  and(eq(secretVersions.secretId, secretId), lt(secretVersions.version, version));

const aadOf = (secretId: string, version: number) => `secret:${secretId}:v${version}`;

function versionInfo(v: VersionRow) {
  return {
    version: v.version,
    fingerprint: v.fingerprint,
    last4: v.last4,
    createdAt: v.createdAt.toISOString(),
    expiresAt: v.expiresAt?.toISOString() ?? null,
  };
}

/**
 * The only place where Meta tokens, app secrets and instance signing secrets can be read. Values
 * are sealed with envelope encryption; the API built on this is write-only.
 */
export class SecretStore {
  readonly #db: Db;
  readonly #keyring: Keyring;
  readonly #clock: Clock;

  constructor(db: Db, keyring: Keyring, clock: Clock) {
    this.#db = db;
    this.#keyring = keyring;
    this.#clock = clock;
  }

  get keyring(): Keyring {
    return this.#keyring;
  }

  /**
   * Sets or rotates a secret. On rotation the previous value stays readable for `graceMs`
   * (0: replaced at once). Returns metadata only.
   */
  async put(ref: string, kind: SecretKind, value: string, graceMs = 0): Promise<SecretInfo> {
    const now = this.#clock.now();
    const fp = fingerprint(value, this.#keyring.fingerprintKey);
    await this.#db.transaction(async (tx) => {
      let secret = await q.lockByRef(tx, ref);
      if (secret && secret.kind !== kind) {
        throw new Problem({
          status: 409,
          type: 'secret-kind-mismatch',
          title: 'The secret holds another kind of value',
          detail: `${ref} is a ${secret.kind}, not a ${kind}`,
          ref,
        });
      }
      const version = secret ? secret.currentVersion + 1 : 1;
      if (secret) {
        await q.expireVersion(tx, secret.id, secret.currentVersion, new Date(now.getTime() + graceMs));
        await q.deleteExpired(tx, secret.id, now);
        // Only one previous value is ever kept: an older one still in its grace period ends now.
        await tx.delete(secretVersions).where(sqlVersionBelow(secret.id, secret.currentVersion));
        [secret] = await tx
          .update(secrets)
          .set({ currentVersion: version, updatedAt: now })
          .where(eqId(secret.id))
          .returning();
      } else {
        [secret] = await tx
          .insert(secrets)
          .values({ id: uuidv7(), ref, kind, currentVersion: 1, createdAt: now, updatedAt: now })
          .returning();
      }
      const sealed = seal(value, aadOf(secret!.id, version), {
        version: this.#keyring.activeVersion,
        key: this.#keyring.key(this.#keyring.activeVersion),
      });
      await tx.insert(secretVersions).values({
        id: uuidv7(),
        secretId: secret!.id,
        version,
        ...sealed,
        fingerprint: fp,
        last4: value.slice(-4),
        createdAt: now,
        expiresAt: null,
      });
    });
    return (await this.info(ref))!;
  }

  /** The current value, or null when there is no such secret. Engine-internal: never returned by an API. */
  async reveal(ref: string): Promise<string | null> {
    const current = await q.currentByRef(this.#db, ref);
    return current
      ? open(current, aadOf(current.secretId, current.version), this.#keyring.key(current.kekVersion))
      : null;
  }

  /** Every value accepted now: the current one, then a previous one in its grace period. */
  async revealValid(ref: string): Promise<string[]> {
    return (await this.revealLive(ref)).values;
  }

  /** The values accepted now, and when that set changes next (a grace period ends), for caches. */
  async revealLive(ref: string): Promise<{ values: string[]; changesAt: Date | null }> {
    const secret = await q.byRef(this.#db, ref);
    if (!secret) return { values: [], changesAt: null };
    const versions = await q.liveVersions(this.#db, secret.id, this.#clock.now());
    const expiries = versions.map((v) => v.expiresAt?.getTime()).filter((t) => t !== undefined);
    return {
      values: versions.map((v) => open(v, aadOf(secret.id, v.version), this.#keyring.key(v.kekVersion))),
      changesAt: expiries.length ? new Date(Math.min(...expiries)) : null,
    };
  }

  async info(ref: string): Promise<SecretInfo | null> {
    const secret = await q.byRef(this.#db, ref);
    return secret ? this.#describe(secret) : null;
  }

  async list(): Promise<SecretInfo[]> {
    return Promise.all((await q.all(this.#db)).map((s) => this.#describe(s)));
  }

  async remove(ref: string): Promise<void> {
    const secret = await q.byRef(this.#db, ref);
    if (!secret) throw problems.notFound(`no secret ${ref}`);
    await this.#db.delete(secrets).where(eqId(secret.id));
  }

  /**
   * Makes a new key-encryption key active and re-wraps every data key under it, in small batches
   * while the engine serves: a read meanwhile finds each row under the old or the new key, and
   * the keyring holds both.
   */
  async rotateKey(batchSize = 100): Promise<{ kekVersion: number; rewrapped: number }> {
    const kekVersion = this.#keyring.rotate();
    const target = { version: kekVersion, key: this.#keyring.key(kekVersion) };
    let rewrapped = 0;
    for (;;) {
      const batch = await q.notUnderKek(this.#db, kekVersion, batchSize);
      if (batch.length === 0) break;
      for (const row of batch) {
        const next = rewrap(row, aadOf(row.secretId, row.version), this.#keyring.key(row.kekVersion), target);
        if (await q.rewrapped(this.#db, row, next.wrappedKey, next.kekVersion)) rewrapped += 1;
      }
    }
    return { kekVersion, rewrapped };
  }

  async #describe(secret: SecretRow): Promise<SecretInfo> {
    const [current, previous] = await q.liveVersions(this.#db, secret.id, this.#clock.now());
    return {
      ref: secret.ref,
      kind: secret.kind as SecretKind,
      current: versionInfo(current!),
      previous: previous ? versionInfo(previous) : null,
      updatedAt: secret.updatedAt.toISOString(),
    };
  }
}
