import { useCallback, useEffect, useRef, useState } from 'react';
import { ApiError } from './client.ts';

export type Resource<T> =
  | { state: 'loading'; data: T | undefined; error: undefined; reload: () => void }
  | { state: 'ready'; data: T; error: undefined; reload: () => void }
  | { state: 'error'; data: T | undefined; error: ApiError; reload: () => void };

const asApiError = (error: unknown): ApiError =>
  error instanceof ApiError ? error : new ApiError(0, undefined, (error as Error).message);

/**
 * Loads what a page shows and reloads it when its inputs change or on demand; `refreshMs` polls
 * (keeping the last good data on screen while it does). A newer load always wins over an older one.
 */
export function useResource<T>(
  load: (signal: AbortSignal) => Promise<T>,
  deps: readonly unknown[],
  refreshMs?: number,
): Resource<T> {
  const [state, setState] = useState<{ data: T | undefined; error: ApiError | undefined; loading: boolean }>({
    data: undefined,
    error: undefined,
    loading: true,
  });
  const [tick, setTick] = useState(0);
  const loadRef = useRef(load);
  loadRef.current = load;
  const reload = useCallback(() => setTick((n) => n + 1), []);

  useEffect(() => {
    const controller = new AbortController();
    setState((s) => ({ ...s, loading: true }));
    loadRef.current(controller.signal).then(
      (data) => {
        if (!controller.signal.aborted) setState({ data, error: undefined, loading: false });
      },
      (error: unknown) => {
        if (!controller.signal.aborted) setState((s) => ({ data: s.data, error: asApiError(error), loading: false }));
      },
    );
    return () => controller.abort();
  }, [...deps, tick]);

  useEffect(() => {
    if (!refreshMs) return;
    const timer = setInterval(reload, refreshMs);
    return () => clearInterval(timer);
  }, [refreshMs, reload]);

  if (state.error) return { state: 'error', data: state.data, error: state.error, reload };
  if (state.loading && state.data === undefined) return { state: 'loading', data: undefined, error: undefined, reload };
  return { state: 'ready', data: state.data as T, error: undefined, reload };
}
