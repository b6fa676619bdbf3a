export interface GroupWriterOptions<T, R> {
  /** Writes a batch (one transaction, a few statements); answers one result per item, in order. */
  write: (items: readonly T[]) => Promise<R[]>;
  /** Items written together at most. */
  maxBatch?: number;
  /** How long the first item of an idle writer waits for others (0: it starts at once). */
  gatherMs?: number;
  /** Items with the same key never share a batch: the later one waits for the next. */
  keyOf?: (item: T) => string;
}

interface Pending<T, R> {
  item: T;
  resolve(result: R): void;
  reject(error: unknown): void;
}

/**
 * Group commit: items that come while a write is under way (or within `gatherMs` of the first) are
 * written together in the next one, so a busy writer spends one transaction on many items and an
 * idle one adds no wait. A batch that fails is written again item by item: one bad item fails only
 * itself.
 */
export class GroupWriter<T, R> {
  readonly #write: GroupWriterOptions<T, R>['write'];
  readonly #maxBatch: number;
  readonly #gatherMs: number;
  readonly #keyOf: ((item: T) => string) | undefined;
  readonly #pending: Pending<T, R>[] = [];
  #isFlushing = false;
  #gathering: NodeJS.Timeout | undefined;

  constructor(options: GroupWriterOptions<T, R>) {
    this.#write = options.write;
    this.#maxBatch = options.maxBatch ?? 100;
    this.#gatherMs = options.gatherMs ?? 0;
    this.#keyOf = options.keyOf;
  }

  /** Resolves with the item's result once its batch is written; rejects when the item cannot be. */
  write(item: T): Promise<R> {
    return new Promise((resolve, reject) => {
      this.#pending.push({ item, resolve, reject });
      if (this.#isFlushing || this.#gathering) return;
      if (this.#gatherMs <= 0) {
        void this.#flush();
        return;
      }
      this.#gathering = setTimeout(() => {
        this.#gathering = undefined;
        void this.#flush();
      }, this.#gatherMs);
    });
  }

  async #flush(): Promise<void> {
    if (this.#isFlushing) return;
    this.#isFlushing = true;
    try {
      while (this.#pending.length > 0) {
        const batch = this.#takeBatch();
        try {
          const results = await this.#write(batch.map((p) => p.item));
          batch.forEach((p, i) => p.resolve(results[i]!));
        } catch (error) {
          if (batch.length === 1) {
            batch[0]!.reject(error);
            continue;
          }
          for (const p of batch) {
            await this.#write([p.item]).then(
              ([result]) => p.resolve(result!),
              (reason: unknown) => p.reject(reason),
            );
          }
        }
      }
    } finally {
      this.#isFlushing = false;
    }
  }

  #takeBatch(): Pending<T, R>[] {
    if (!this.#keyOf) return this.#pending.splice(0, this.#maxBatch);
    const keys = new Set<string>();
    let n = 0;
    while (n < this.#pending.length && n < this.#maxBatch) {
      const key = this.#keyOf(this.#pending[n]!.item);
      if (keys.has(key)) break;
      keys.add(key);
      n += 1;
    }
    return this.#pending.splice(0, n);
  }
}
