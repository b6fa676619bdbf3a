import { useTranslation } from 'react-i18next';
import type { UsageCounter } from '@mic/contracts';
import { useFormat } from '../format.ts';
import { Figures } from './ui.tsx';

const METRICS = ['events.received', 'events.delivered', 'messages.sent'] as const;

/** Counters summed by metric over every label (channel, instance) they were counted under. */
export function usageTotals(counters: readonly UsageCounter[]): Map<string, number> {
  const totals = new Map<string, number>();
  for (const c of counters) totals.set(c.metric, (totals.get(c.metric) ?? 0) + c.value);
  return totals;
}

/** This month's usage figures: events in, events delivered, messages sent. */
export function UsageFigures({ totals, testId }: { totals: ReadonlyMap<string, number>; testId?: string }) {
  const { t } = useTranslation();
  const format = useFormat();
  return (
    <Figures
      {...(testId ? { testId } : {})}
      items={METRICS.map((metric) => ({
        key: metric,
        label: t(`overview.usage.${metric}`),
        value: format.number(totals.get(metric) ?? 0),
        metric,
      }))}
    />
  );
}
