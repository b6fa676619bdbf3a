import { Link } from 'react-router';
import { useTranslation } from 'react-i18next';
import type { Alert, HealthReport, Instance, InstanceUptime } from '@mic/contracts';
import { health, monitoring, tenants } from '../api/admin.ts';
import { useResource } from '../api/resource.ts';
import { LineChart } from '../components/chart.tsx';
import { ErrorNotice, useSubmission } from '../components/forms.tsx';
import { DataTable } from '../components/table.tsx';
import { Badge, Figures, Loaded, Notice, PageHeader, Section, type Tone } from '../components/ui.tsx';
import { UsageFigures, usageTotals } from '../components/usage.tsx';
import { useFormat } from '../format.ts';
import { useSession } from '../session.tsx';

const REFRESH_MS = 5_000;
const COMPONENTS = [
  { path: '/health/api', key: 'overview.components.api' },
  { path: '/health/db', key: 'overview.components.db' },
  { path: '/health/engine', key: 'overview.components.engine' },
  { path: '/health/backups', key: 'overview.components.backups' },
] as const;

/** Why a component is not `pass`: the output of each check that is not, or the report's own. */
function reasons(report: HealthReport): string[] {
  const found: string[] = [];
  for (const [name, observations] of Object.entries(report.checks ?? {})) {
    for (const o of observations) if (o.status !== 'pass') found.push(`${name}: ${o.output ?? o.status}`);
  }
  if (found.length === 0 && report.status !== 'pass' && report.output) found.push(report.output);
  return found;
}

function isEngineUnreachable(report: HealthReport | null | undefined): boolean {
  if (!report || report.status !== 'fail') return false;
  const checks = report.checks?.['engine:health'] ?? [];
  return checks.some((o) => o.status === 'fail') || report.output === 'unreachable';
}

function HealthCards() {
  const { t } = useTranslation();
  const reports = useResource(
    async (signal) => Promise.all(COMPONENTS.map(async (c) => ({ ...c, report: await health(c.path, signal) }))),
    [],
    REFRESH_MS,
  );
  return (
    <Section id="components-title" title={t('overview.components.title')}>
      <Loaded resource={reports}>
        {(list) => (
          <>
            {isEngineUnreachable(list.find((c) => c.path === '/health/engine')?.report) ? (
              <Notice tone="error">
                <strong>{t('overview.engineDown')}</strong> {t('overview.engineDownHelp')}
              </Notice>
            ) : null}
            <ul className="cards">
              {list
                .filter((c) => c.report !== null)
                .map(({ path, key, report }) => (
                  <li key={path} className="card" data-testid={`health-${path.split('/').pop()}`}>
                    <div className="card-head">
                      <h3>{t(key)}</h3>
                      <Badge tone={report!.status}>{t(`status.${report!.status}`)}</Badge>
                    </div>
                    {reasons(report!).length > 0 ? (
                      <ul className="reasons">
                        {reasons(report!).map((r) => (
                          <li key={r}>{r}</li>
                        ))}
                      </ul>
                    ) : (
                      <p className="muted">{t('overview.allGood')}</p>
                    )}
                  </li>
                ))}
            </ul>
          </>
        )}
      </Loaded>
    </Section>
  );
}

function instanceStatus(instance: Instance, uptime: InstanceUptime | null): { tone: Tone; why: string } {
  // The hub instance is control itself, whose health the components above show.
  if (instance.kind === 'hub') return { tone: 'pass', why: 'up' };
  if (instance.state !== 'active')
    return { tone: instance.state === 'paused' ? 'warn' : 'neutral', why: instance.state };
  if (!uptime || uptime.state === 'unknown') return { tone: 'warn', why: 'unknown' };
  return uptime.state === 'up' ? { tone: 'pass', why: 'up' } : { tone: 'fail', why: 'down' };
}

function InstancesHealth() {
  const { t } = useTranslation();
  const format = useFormat();
  const instances = useResource(
    async () => {
      const list = await tenants.instances();
      const uptimes = await Promise.all(list.map((i) => tenants.uptime(i.id).catch(() => null)));
      return list.map((instance, n) => ({ instance, uptime: uptimes[n] ?? null }));
    },
    [],
    REFRESH_MS * 2,
  );
  return (
    <Section id="instances-title" title={t('overview.instances.title')}>
      <Loaded resource={instances} isEmpty={(l) => l.length === 0} empty={t('overview.instances.empty')}>
        {(list) => (
          <DataTable
            rows={list.map((row) => ({ ...row, status: instanceStatus(row.instance, row.uptime) }))}
            rowKey={({ instance }) => instance.id}
            columns={[
              {
                header: t('overview.instances.instance'),
                cell: ({ instance }) =>
                  instance.kind === 'hub' ? (
                    instance.name
                  ) : (
                    <Link to={`/tenants/${instance.tenantId}`}>{instance.name}</Link>
                  ),
              },
              {
                header: t('overview.instances.status'),
                cell: ({ status }) => (
                  <Badge tone={status.tone}>{t(`status.${status.tone === 'neutral' ? 'info' : status.tone}`)}</Badge>
                ),
              },
              {
                header: t('overview.instances.why'),
                cell: ({ instance, status }) => (
                  <>
                    {t(`overview.instances.reason.${status.why}` as 'overview.instances.reason.up')}
                    {instance.stateReason ? ` — ${instance.stateReason}` : ''}
                  </>
                ),
              },
              {
                header: t('overview.instances.uptime'),
                cell: ({ uptime }) =>
                  uptime?.ratio24h != null
                    ? format.number(uptime.ratio24h, { style: 'percent', maximumFractionDigits: 1 })
                    : '—',
              },
            ]}
          />
        )}
      </Loaded>
    </Section>
  );
}

const latest = (points: readonly (readonly [string, number])[]) => points.at(-1)?.[1];

function QueuesAndCharts() {
  const { t } = useTranslation();
  const format = useFormat();
  const since = new Date(Date.now() - 24 * 3_600_000).toISOString();
  const metrics = useResource(
    async (signal) => {
      const names = [
        'deliveries.pending',
        'deliveries.due',
        'deliveries.dead',
        'queue.queued',
        'delivery.latency.p50',
        'delivery.latency.p99',
        'deliveries.errors',
        'deliveries.delivered',
      ];
      const series = await Promise.all(names.map((metric) => monitoring.series(metric, since, signal)));
      return Object.fromEntries(names.map((name, i) => [name, series[i]!.series]));
    },
    [],
    REFRESH_MS * 3,
  );
  const usage = useResource(() => monitoring.usage(), [], REFRESH_MS);
  return (
    <Section id="queues-title" title={t('overview.queues.title')}>
      <Loaded resource={usage}>{(counters) => <UsageFigures totals={usageTotals(counters)} testId="usage" />}</Loaded>
      <Loaded resource={metrics}>
        {(m) => {
          const one = (name: string) => latest(m[name]?.[0]?.points ?? []);
          return (
            <>
              <Figures
                items={[
                  ...(['deliveries.pending', 'deliveries.due', 'deliveries.dead'] as const).map((name) => ({
                    key: name,
                    label: t(`overview.queues.${name}`),
                    value: one(name) === undefined ? '—' : format.number(one(name)!),
                  })),
                  ...(m['queue.queued'] ?? []).map((s) => ({
                    key: s.labels,
                    label: t('overview.queues.queue', { name: s.labels.replace(/^queue=/, '') }),
                    value: format.number(latest(s.points) ?? 0),
                  })),
                ]}
              />
              <div className="charts">
                <LineChart
                  title={t('overview.charts.latency')}
                  unit="ms"
                  lines={[
                    { label: 'p50', points: m['delivery.latency.p50']?.[0]?.points ?? [] },
                    { label: 'p99', points: m['delivery.latency.p99']?.[0]?.points ?? [] },
                  ]}
                />
                <LineChart
                  title={t('overview.charts.deliveries')}
                  lines={[
                    { label: t('overview.charts.delivered'), points: m['deliveries.delivered']?.[0]?.points ?? [] },
                    { label: t('overview.charts.errors'), points: m['deliveries.errors']?.[0]?.points ?? [] },
                  ]}
                />
              </div>
            </>
          );
        }}
      </Loaded>
    </Section>
  );
}

function Alerts() {
  const { t } = useTranslation();
  const format = useFormat();
  const { can } = useSession();
  const alerts = useResource(() => monitoring.alerts('active'), [], REFRESH_MS);
  const { error: failure, run } = useSubmission();
  const acknowledge = (alert: Alert) =>
    run(async () => {
      await monitoring.acknowledge(alert.id);
      alerts.reload();
    });
  const tone = (a: Alert): Tone => (a.severity === 'critical' ? 'fail' : a.severity === 'warning' ? 'warn' : 'info');
  return (
    <Section id="alerts-title" title={t('overview.alerts.title')}>
      <ErrorNotice error={failure} />
      <Loaded resource={alerts} isEmpty={(l) => l.length === 0} empty={t('overview.alerts.empty')}>
        {(list) => (
          <ul className="alerts">
            {list.map((alert) => (
              <li key={alert.id} className="alert">
                <Badge tone={tone(alert)}>{t(`severity.${alert.severity}`)}</Badge>
                <div className="alert-body">
                  <p>{alert.message}</p>
                  <p className="muted">
                    {alert.type} · {t('overview.alerts.seen', { count: alert.count })} · {format.relative(alert.lastAt)}
                    {alert.state === 'acknowledged'
                      ? ` · ${t('overview.alerts.acknowledgedBy', { who: alert.acknowledgedBy ?? '' })}`
                      : ''}
                  </p>
                </div>
                {alert.state === 'open' && can('alerts.acknowledge') ? (
                  <button type="button" onClick={() => void acknowledge(alert)}>
                    {t('overview.alerts.acknowledge')}
                  </button>
                ) : null}
              </li>
            ))}
          </ul>
        )}
      </Loaded>
    </Section>
  );
}

export function OverviewPage() {
  const { t } = useTranslation();
  return (
    <>
      <PageHeader title={t('overview.title')} />
      <HealthCards />
      <Alerts />
      <QueuesAndCharts />
      <InstancesHealth />
    </>
  );
}
