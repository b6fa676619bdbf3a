import { retryAfterMs } from './schedule.ts';

export type AttemptOutcome =
  | { outcome: 'delivered'; status: number; durationMs: number }
  | { outcome: 'gone'; status: 410; durationMs: number }
  | {
      outcome: 'failed';
      status: number | null;
      error: string;
      retryAfterMs: number | null;
      durationMs: number;
      /** Failed before any request left (e.g. no signing secret): says nothing of the endpoint. */
      isLocal?: boolean;
    };

/**
 * One HTTP attempt. 2xx is success; 410 means the endpoint is gone; anything else (3xx, 4xx, 5xx,
 * timeout, network error) is a failure to retry, honouring `Retry-After` on 429 and 503.
 */
export async function attemptDelivery(request: {
  url: string;
  headers: Record<string, string>;
  body: string;
  timeoutMs: number;
  now: Date;
}): Promise<AttemptOutcome> {
  const started = performance.now();
  const elapsed = () => Math.round(performance.now() - started);
  try {
    const response = await fetch(request.url, {
      method: 'POST',
      headers: request.headers,
      body: request.body,
      redirect: 'manual',
      signal: AbortSignal.timeout(request.timeoutMs),
    });
    await response.body?.cancel().catch(() => {});
    if (response.status >= 200 && response.status < 300)
      return { outcome: 'delivered', status: response.status, durationMs: elapsed() };
    if (response.status === 410) return { outcome: 'gone', status: 410, durationMs: elapsed() };
    const honoursRetryAfter = response.status === 429 || response.status === 503;
    return {
      outcome: 'failed',
      status: response.status,
      error: `instance answered ${response.status}`,
      retryAfterMs: honoursRetryAfter ? retryAfterMs(response.headers.get('retry-after'), request.now) : null,
      durationMs: elapsed(),
    };
  } catch (error) {
    const isTimeout = (error as Error).name === 'TimeoutError';
    const cause = (error as { cause?: { code?: string } }).cause?.code;
    return {
      outcome: 'failed',
      status: null,
      error: isTimeout ? `no answer within ${request.timeoutMs} ms` : `connection failed${cause ? ` (${cause})` : ''}`,
      retryAfterMs: null,
      durationMs: elapsed(),
    };
  }
}
