import pRetry from 'p-retry';
import type { Logger } from '../logging/index.ts';

export interface PersistentlyOptions {
  /** Each failed try but the last is logged here (warn) before the next. */
  logger: Pick<Logger, 'warn'>;
  /** What the write does, for the log: `recording Meta's answer` logs "recording Meta's answer failed: trying again". */
  what: string;
}

/**
 * Makes a database write that must not be lost (what Meta answered to a call that cannot be
 * undone), trying again while the database refuses (a full pool, a failover): 8 tries, waiting
 * 0.1 s, 0.2 s, … up to 2 s between them, about 7 s in all, then the write's last error.
 * A TypeError (a bug, not the database) is thrown at once.
 */
export async function persistently<T>(write: () => Promise<T>, { logger, what }: PersistentlyOptions): Promise<T> {
  return pRetry(() => write(), {
    retries: 7,
    factor: 2,
    minTimeout: 100,
    maxTimeout: 2_000,
    // Called only when another try will be made (not after the last, nor after a TypeError).
    shouldRetry: ({ error, attemptNumber }) => {
      logger.warn({ err: error, attempt: attemptNumber }, `${what} failed: trying again`);
      return true;
    },
  });
}
