import { timingSafeEqual } from 'node:crypto';
import type { SecretStore } from '../secrets/index.ts';
import { metaAppRefs } from '../secrets/index.ts';

interface Entry {
  appSecrets: string[];
  verifyTokens: string[];
  loadedAt: number;
}

/**
 * Meta apps' secrets as ingress needs them, held in memory for a short while: a flood of forged
 * webhooks is refused without a database query per request, and a rotated secret is picked up
 * within `ttlMs`.
 */
export class MetaAppSecrets {
  readonly #store: SecretStore;
  readonly #ttlMs: number;
  readonly #cache = new Map<string, Entry>();

  constructor(store: SecretStore, ttlMs: number) {
    this.#store = store;
    this.#ttlMs = ttlMs;
  }

  async #entry(app: string): Promise<Entry> {
    const cached = this.#cache.get(app);
    if (cached && Date.now() - cached.loadedAt < this.#ttlMs) return cached;
    const refs = metaAppRefs(app);
    const entry = {
      appSecrets: await this.#store.revealValid(refs.appSecret),
      verifyTokens: await this.#store.revealValid(refs.verifyToken),
      loadedAt: Date.now(),
    };
    this.#cache.set(app, entry);
    return entry;
  }

  /** The app's valid secrets (current, and a previous one during a rotation); empty when unknown. */
  async appSecrets(app: string): Promise<string[]> {
    return (await this.#entry(app)).appSecrets;
  }

  async isVerifyToken(app: string, candidate: string): Promise<boolean> {
    const given = Buffer.from(candidate);
    return (await this.#entry(app)).verifyTokens.some((token) => {
      const expected = Buffer.from(token);
      return expected.length === given.length && timingSafeEqual(expected, given);
    });
  }
}
