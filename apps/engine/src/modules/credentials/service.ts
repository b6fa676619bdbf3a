import { randomBytes } from 'node:crypto';
import { and, desc, eq, gt, isNull, lte, or } from 'drizzle-orm';
import { Webhook } from 'standardwebhooks';
import { signMetaBody } from '@mic/meta';
import { uuidv7 } from 'uuidv7';
import { Problem, generateToken, hashToken, lastFour, problems, type Clock, type Db } from '@mic/platform';
import type { CredentialsInfo } from '@mic/contracts';
import type { SecretStore } from '../secrets/index.ts';
import { instanceTokens } from './schema.ts';

export const INSTANCE_TOKEN_PREFIX = 'mic_it';
const signingSecretRef = (instanceId: string) => `instance/${instanceId}/signing-secret`;
const newSigningSecret = () => `whsec_${randomBytes(24).toString('base64')}`;

/** Issues, rotates and checks instances' API tokens and delivery signing secrets. */
export class InstanceCredentials {
  readonly #db: Db;
  readonly #secrets: SecretStore;
  readonly #clock: Clock;

  /**
   * Signers per instance, kept briefly (by the business clock, and never past the end of a grace
   * period): reading a secret costs a query and a decryption per delivery otherwise.
   */
  readonly #signers = new Map<string, { signers: Webhook[]; until: number }>();
  readonly #signerCacheMs: number;

  constructor(db: Db, secrets: SecretStore, clock: Clock, signerCacheMs = 5_000) {
    this.#db = db;
    this.#secrets = secrets;
    this.#clock = clock;
    this.#signerCacheMs = signerCacheMs;
  }

  /** Both credentials of a new instance, returned once. */
  async issue(instanceId: string): Promise<{ apiToken: string; signingSecret: string; info: CredentialsInfo }> {
    if ((await this.#liveTokens(instanceId)).length > 0 || (await this.#secrets.info(signingSecretRef(instanceId)))) {
      throw new Problem({
        status: 409,
        type: 'credentials-exist',
        title: 'The instance already has credentials',
        detail: `rotate them instead: POST /internal/v1/instances/${instanceId}/credentials/api-token/rotate or …/signing-secret/rotate`,
        instanceId,
      });
    }
    const apiToken = await this.#insertToken(instanceId);
    const signingSecret = newSigningSecret();
    await this.#secrets.put(signingSecretRef(instanceId), 'instance-signing-secret', signingSecret);
    return { apiToken, signingSecret, info: await this.describe(instanceId) };
  }

  /** A new API token; the current one stays valid for `graceMs`. */
  async rotateApiToken(instanceId: string, graceMs: number): Promise<{ apiToken: string; info: CredentialsInfo }> {
    await this.describe(instanceId); // 404 for an unknown instance
    const now = this.#clock.now();
    await this.#db
      .update(instanceTokens)
      .set({ expiresAt: new Date(now.getTime() + graceMs) })
      .where(and(eq(instanceTokens.instanceId, instanceId), isNull(instanceTokens.expiresAt)));
    await this.#db
      .delete(instanceTokens)
      .where(and(eq(instanceTokens.instanceId, instanceId), lte(instanceTokens.expiresAt, now)));
    const apiToken = await this.#insertToken(instanceId);
    return { apiToken, info: await this.describe(instanceId) };
  }

  /** A new signing secret; deliveries carry both signatures for `graceMs`. */
  async rotateSigningSecret(
    instanceId: string,
    graceMs: number,
  ): Promise<{ signingSecret: string; info: CredentialsInfo }> {
    await this.describe(instanceId);
    const signingSecret = newSigningSecret();
    await this.#secrets.put(signingSecretRef(instanceId), 'instance-signing-secret', signingSecret, graceMs);
    this.#signers.delete(instanceId);
    return { signingSecret, info: await this.describe(instanceId) };
  }

  /** The instance a token belongs to, or null (unknown or past its grace period). */
  async authenticate(token: string): Promise<string | null> {
    if (!token.startsWith(`${INSTANCE_TOKEN_PREFIX}_`)) return null;
    const [row] = await this.#db
      .select({ instanceId: instanceTokens.instanceId })
      .from(instanceTokens)
      .where(
        and(
          eq(instanceTokens.tokenHash, hashToken(token)),
          or(isNull(instanceTokens.expiresAt), gt(instanceTokens.expiresAt, this.#clock.now())),
        ),
      );
    return row?.instanceId ?? null;
  }

  /**
   * The Standard Webhooks `webhook-signature` header for one delivery attempt: one `v1,…`
   * signature per valid secret, so an instance verifies with either during a rotation.
   */
  async signDelivery(instanceId: string, messageId: string, timestamp: Date, payload: string): Promise<string> {
    const now = this.#clock.now().getTime();
    let cached = this.#signers.get(instanceId);
    if (!cached || cached.until <= now) {
      const live = await this.#secrets.revealLive(signingSecretRef(instanceId));
      if (live.values.length === 0) throw new Error(`instance ${instanceId} has no signing secret`);
      const until = Math.min(now + this.#signerCacheMs, live.changesAt?.getTime() ?? Infinity);
      cached = { signers: live.values.map((s) => new Webhook(s)), until };
      this.#signers.set(instanceId, cached);
    }
    return cached.signers.map((w) => w.sign(messageId, timestamp, payload)).join(' ');
  }

  /**
   * Meta's `X-Hub-Signature-256` for a delivery in Meta's format: it carries one signature, so it
   * is made with the current secret (an instance accepts the previous one too during a rotation).
   */
  async signMetaDelivery(instanceId: string, payload: string): Promise<string> {
    const [current] = await this.#secrets.revealValid(signingSecretRef(instanceId));
    if (current === undefined) throw new Error(`instance ${instanceId} has no signing secret`);
    return signMetaBody(payload, current);
  }

  async describe(instanceId: string): Promise<CredentialsInfo> {
    const tokens = await this.#liveTokens(instanceId);
    const signingSecret = await this.#secrets.info(signingSecretRef(instanceId));
    const current = tokens.find((t) => t.expiresAt === null);
    if (!current || !signingSecret) throw problems.notFound(`instance ${instanceId} has no credentials`);
    const previous = tokens.find((t) => t.expiresAt !== null);
    return {
      instanceId,
      apiToken: {
        last4: current.last4,
        createdAt: current.createdAt.toISOString(),
        previous: previous ? { last4: previous.last4, expiresAt: previous.expiresAt!.toISOString() } : null,
      },
      signingSecret,
    };
  }

  /** Removes every credential of an instance (deprovisioning). */
  async revokeAll(instanceId: string): Promise<void> {
    this.#signers.delete(instanceId);
    await this.#db.delete(instanceTokens).where(eq(instanceTokens.instanceId, instanceId));
    if (await this.#secrets.info(signingSecretRef(instanceId)))
      await this.#secrets.remove(signingSecretRef(instanceId));
  }

  async #insertToken(instanceId: string): Promise<string> {
    const token = generateToken(INSTANCE_TOKEN_PREFIX);
    await this.#db.insert(instanceTokens).values({
      id: uuidv7(),
      instanceId,
      tokenHash: hashToken(token),
      last4: lastFour(token),
      createdAt: this.#clock.now(),
    });
    return token;
  }

  async #liveTokens(instanceId: string) {
    return this.#db
      .select()
      .from(instanceTokens)
      .where(
        and(
          eq(instanceTokens.instanceId, instanceId),
          or(isNull(instanceTokens.expiresAt), gt(instanceTokens.expiresAt, this.#clock.now())),
        ),
      )
      .orderBy(desc(instanceTokens.createdAt));
  }
}
