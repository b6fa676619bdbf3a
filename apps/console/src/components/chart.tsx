import { useId } from 'react';
import { useTranslation } from 'react-i18next';
import { useFormat } from '../format.ts';

export interface ChartLine {
  label: string;
  points: readonly (readonly [string, number])[];
}

const WIDTH = 320;
const HEIGHT = 90;
const COLORS = ['#2563eb', '#dc2626', '#16a34a', '#9333ea'];

/** A small line chart over time (SVG, no library): enough to see a trend and its range. */
export function LineChart({ title, lines, unit }: { title: string; lines: readonly ChartLine[]; unit?: string }) {
  const { t } = useTranslation();
  const format = useFormat();
  const titleId = useId();
  const all = lines.flatMap((l) => l.points);
  if (all.length < 2) {
    return (
      <figure className="chart">
        <figcaption>{title}</figcaption>
        <p className="state state-empty">{t('overview.noHistory')}</p>
      </figure>
    );
  }
  const times = all.map(([at]) => new Date(at).getTime());
  const values = all.map(([, v]) => v);
  const [t0, t1] = [Math.min(...times), Math.max(...times)];
  const max = Math.max(1, ...values);
  const x = (at: string) => ((new Date(at).getTime() - t0) / Math.max(1, t1 - t0)) * WIDTH;
  const y = (v: number) => HEIGHT - (v / max) * (HEIGHT - 4) - 2;
  const suffix = unit ? ` ${unit}` : '';
  return (
    <figure className="chart">
      <figcaption id={titleId}>{title}</figcaption>
      <svg viewBox={`0 0 ${WIDTH} ${HEIGHT}`} role="img" aria-labelledby={titleId} preserveAspectRatio="none">
        {lines.map((line, i) =>
          line.points.length === 1 ? (
            <circle
              key={line.label}
              cx={x(line.points[0]![0])}
              cy={y(line.points[0]![1])}
              r="2.5"
              fill={COLORS[i % COLORS.length]}
            />
          ) : (
            <polyline
              key={line.label}
              fill="none"
              stroke={COLORS[i % COLORS.length]}
              strokeWidth="1.5"
              vectorEffect="non-scaling-stroke"
              points={line.points.map(([at, v]) => `${x(at).toFixed(1)},${y(v).toFixed(1)}`).join(' ')}
            />
          ),
        )}
      </svg>
      <div className="chart-axis">
        <span>{format.time(new Date(t0).toISOString())}</span>
        <span>
          {t('overview.max')} {format.number(max, { maximumFractionDigits: 1 })}
          {suffix}
        </span>
        <span>{format.time(new Date(t1).toISOString())}</span>
      </div>
      {lines.length > 1 ? (
        <ul className="chart-legend">
          {lines.map((line, i) => (
            <li key={line.label}>
              <span className="swatch" style={{ background: COLORS[i % COLORS.length] }} aria-hidden="true" />
              {line.label}
            </li>
          ))}
        </ul>
      ) : null}
    </figure>
  );
}
