import { useId, useRef, type KeyboardEvent, type ReactNode } from 'react';
import { useTabParam } from '../search-params.ts';
import { PageHeader } from './ui.tsx';

/** The tab a key press in a horizontal tab list moves to (wrapping at both ends), if it moves. */
export function tabAfterKey<K>(tabs: readonly K[], current: K, key: string): K | undefined {
  const at = tabs.indexOf(current);
  if (key === 'ArrowRight') return tabs[(at + 1) % tabs.length];
  if (key === 'ArrowLeft') return tabs[(at - 1 + tabs.length) % tabs.length];
  if (key === 'Home') return tabs[0];
  if (key === 'End') return tabs.at(-1);
  return undefined;
}

/**
 * A WAI-ARIA tab list and its panel: only the selected tab is in the Tab order, and the arrow keys,
 * Home and End move between tabs and select them (automatic activation).
 */
export function Tabs<K extends string>({
  label,
  tabs,
  current,
  labelOf,
  onSelect,
  children,
}: {
  label: string;
  tabs: readonly K[];
  current: K;
  labelOf: (tab: K) => string;
  onSelect: (tab: K) => void;
  children: ReactNode;
}) {
  const id = useId();
  const buttons = useRef(new Map<K, HTMLButtonElement>());
  const tabId = (tab: K) => `${id}-tab-${tab}`;
  const panelId = `${id}-panel`;
  const onKeyDown = (event: KeyboardEvent<HTMLDivElement>) => {
    const next = tabAfterKey(tabs, current, event.key);
    if (next === undefined) return;
    event.preventDefault();
    onSelect(next);
    buttons.current.get(next)?.focus();
  };
  return (
    <>
      <div className="tabs" role="tablist" aria-label={label} onKeyDown={onKeyDown}>
        {tabs.map((tab) => (
          <button
            key={tab}
            ref={(button) => {
              if (button) buttons.current.set(tab, button);
              else buttons.current.delete(tab);
            }}
            id={tabId(tab)}
            type="button"
            role="tab"
            aria-selected={tab === current}
            aria-controls={panelId}
            tabIndex={tab === current ? 0 : -1}
            className={tab === current ? 'tab active' : 'tab'}
            onClick={() => onSelect(tab)}
          >
            {labelOf(tab)}
          </button>
        ))}
      </div>
      <div role="tabpanel" id={panelId} aria-labelledby={tabId(current)} tabIndex={0}>
        {children}
      </div>
    </>
  );
}

/** A page made of tabs, the current one kept in the address (`?tab=`) so it can be linked to. */
export function TabbedPage<K extends string>({
  title,
  tabs,
  labelOf,
  children,
}: {
  title: string;
  tabs: readonly [K, ...K[]];
  labelOf: (tab: K) => string;
  children: (tab: K) => ReactNode;
}) {
  const [tab, setTab] = useTabParam(tabs);
  return (
    <>
      <PageHeader title={title} />
      <Tabs label={title} tabs={tabs} current={tab} onSelect={setTab} labelOf={labelOf}>
        {children(tab)}
      </Tabs>
    </>
  );
}
