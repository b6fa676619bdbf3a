import { asc, eq } from 'drizzle-orm';
import type { Db, InternalClient } from '@mic/platform';
import { peerProblem } from '@mic/platform';
import type { CredentialsInfo, PutSecret, SecretInfo } from '@mic/contracts';
import { secretRefs } from './schema.ts';

export type SecretRef = typeof secretRefs.$inferSelect;

/**
 * Control's side of the secret store: it sets, rotates and deletes secrets in the engine and keeps
 * only their references. A write needs the engine up (503 otherwise): a secret is never parked in
 * control's outbox, because control must never hold one.
 */
export class ControlSecrets {
  readonly #db: Db;
  readonly #engine: InternalClient;

  constructor(db: Db, engine: InternalClient) {
    this.#db = db;
    this.#engine = engine;
  }

  async put(ref: string, body: PutSecret): Promise<SecretRef> {
    return this.#keep(await this.#call<SecretInfo>('PUT', `/internal/v1/secrets/${ref}`, body));
  }

  /**
   * Records the reference of a secret the engine stored on another path (a channel's token, set
   * with its connection), so `/v1/secrets` shows its fingerprint and last 4 too.
   */
  async refresh(ref: string): Promise<SecretRef> {
    return this.#keep(await this.#call<SecretInfo>('GET', `/internal/v1/secrets/${ref}`));
  }

  async #keep(info: SecretInfo): Promise<SecretRef> {
    const row = {
      ref: info.ref,
      kind: info.kind,
      version: info.current.version,
      fingerprint: info.current.fingerprint,
      last4: info.current.last4,
      updatedAt: new Date(info.updatedAt),
    };
    await this.#db.insert(secretRefs).values(row).onConflictDoUpdate({ target: secretRefs.ref, set: row });
    return row;
  }

  async remove(ref: string): Promise<void> {
    await this.#call('DELETE', `/internal/v1/secrets/${ref}`);
    await this.#db.delete(secretRefs).where(eq(secretRefs.ref, ref));
  }

  /** Works while the engine is down: it reads control's own references. */
  async list(): Promise<SecretRef[]> {
    return this.#db.select().from(secretRefs).orderBy(asc(secretRefs.ref));
  }

  /** The new credentials come back once and pass straight through to the operator. */
  async issueCredentials(instanceId: string) {
    return this.#call<{ instanceId: string; apiToken: string; signingSecret: string; info: CredentialsInfo }>(
      'POST',
      `/internal/v1/instances/${instanceId}/credentials`,
    );
  }

  async rotateCredential(instanceId: string, which: 'api-token' | 'signing-secret', graceSeconds?: number) {
    return this.#call<{ apiToken?: string; signingSecret?: string; info: CredentialsInfo }>(
      'POST',
      `/internal/v1/instances/${instanceId}/credentials/${which}/rotate`,
      graceSeconds === undefined ? {} : { graceSeconds },
    );
  }

  async describeCredentials(instanceId: string): Promise<CredentialsInfo> {
    return this.#call<CredentialsInfo>('GET', `/internal/v1/instances/${instanceId}/credentials`);
  }

  async #call<T>(method: 'GET' | 'POST' | 'PUT' | 'DELETE', path: string, body?: unknown): Promise<T> {
    try {
      return await this.#engine.request<T>(method, path, body);
    } catch (error) {
      throw peerProblem(error, 'engine');
    }
  }
}
