import { useSearchParams } from 'react-router';

/**
 * Filters kept in the address, so a filtered view can be bookmarked and shared: `set` replaces the
 * current history entry rather than adding one per keystroke, and an empty value removes the key.
 */
export function useQueryParams() {
  const [params, setParams] = useSearchParams();
  const get = (key: string) => params.get(key) ?? '';
  const set = (key: string, value: string) => {
    const next = new URLSearchParams(params);
    if (value) next.set(key, value);
    else next.delete(key);
    setParams(next, { replace: true });
  };
  return { get, set };
}

/** The page's tab, from `?tab=`; anything unknown shows the first one. */
export function useTabParam<K extends string>(tabs: readonly [K, ...K[]]): [K, (tab: K) => void] {
  const [params, setParams] = useSearchParams();
  const asked = params.get('tab');
  const tab = tabs.find((name) => name === asked) ?? tabs[0];
  return [tab, (name: K) => setParams({ tab: name })];
}
