import { useState } from 'react';
import { useTranslation } from 'react-i18next';
import { deliveries, tenants, type DeliveryFilter, type DeliveryRow } from '../api/admin.ts';
import { useResource } from '../api/resource.ts';
import { FilterField, NamedOptions, Options } from '../components/forms.tsx';
import { DataTable } from '../components/table.tsx';
import { TabbedPage } from '../components/tabs.tsx';
import {
  Badge,
  ClosablePanel,
  ConfirmDialog,
  errorText,
  Field,
  Loaded,
  Loading,
  OutcomeNotice,
  type Outcome,
} from '../components/ui.tsx';
import { useFormat } from '../format.ts';
import { useQueryParams } from '../search-params.ts';
import { useSession } from '../session.tsx';
import { HubBroadcastsPanel } from './hub-broadcasts.tsx';
import { HubPostsPanel } from './hub-posts.tsx';
import { OutboundMessagesPanel } from './outbound-messages.tsx';
import { UnroutedEventsPanel } from './unrouted-events.tsx';

type State = NonNullable<DeliveryFilter['state']>;
const STATES: readonly State[] = ['dead', 'pending', 'delivered'];

function Inspector({ id, onClose }: { id: string; onClose: () => void }) {
  const { t } = useTranslation();
  const format = useFormat();
  const detail = useResource(() => deliveries.get(id), [id]);
  return (
    <ClosablePanel id="inspect-title" title={t('deliveries.inspect.title')} onClose={onClose}>
      <Loaded resource={detail}>
        {({ delivery, payload, attempts }) => (
          <>
            <dl className="facts">
              <dt>{t('deliveries.id')}</dt>
              <dd className="mono">{delivery.id}</dd>
              <dt>{t('deliveries.type')}</dt>
              <dd className="mono">{delivery.type}</dd>
              <dt>{t('deliveries.conversation')}</dt>
              <dd className="mono">
                {delivery.conversation} #{delivery.seq}
              </dd>
              <dt>{t('deliveries.lastError')}</dt>
              <dd>{delivery.lastError ?? '—'}</dd>
            </dl>
            <h3>{t('deliveries.inspect.attempts')}</h3>
            {attempts.length === 0 ? (
              <p className="state state-empty">{t('deliveries.inspect.noAttempts')}</p>
            ) : (
              <DataTable
                rows={attempts}
                rowKey={(a) => a.attempt}
                columns={[
                  { header: '#', cell: (a) => format.number(a.attempt) },
                  { header: t('deliveries.inspect.at'), cell: (a) => format.dateTime(a.at) },
                  { header: t('deliveries.inspect.outcome'), cell: (a) => a.outcome },
                  { header: t('deliveries.inspect.status'), cell: (a) => a.status ?? '—' },
                  { header: t('deliveries.inspect.duration'), cell: (a) => `${format.number(a.durationMs)} ms` },
                  { header: t('deliveries.lastError'), cell: (a) => a.error ?? '—' },
                ]}
              />
            )}
            <h3>{t('deliveries.inspect.payload')}</h3>
            <pre className="payload" tabIndex={0} data-testid="payload">
              {JSON.stringify(payload, null, 2)}
            </pre>
          </>
        )}
      </Loaded>
    </ClosablePanel>
  );
}

/** Deliveries to instances, dead letters first: inspect and replay. */
function DeliveriesPanel() {
  const { t } = useTranslation();
  const format = useFormat();
  const { can } = useSession();
  const query = useQueryParams();
  const state = STATES.find((s) => s === query.get('state')) ?? 'dead';
  const instanceId = query.get('instance');
  const type = query.get('type');
  const filter: DeliveryFilter = { state, ...(instanceId ? { instanceId } : {}), ...(type ? { type } : {}) };
  const list = useResource((signal) => deliveries.list(filter, signal), [state, instanceId, type]);
  const instances = useResource(() => tenants.instances(), []);
  const [selected, setSelected] = useState<ReadonlySet<string>>(new Set());
  const [inspecting, setInspecting] = useState<string | null>(null);
  const [confirm, setConfirm] = useState<'selected' | 'matching' | null>(null);
  const [progress, setProgress] = useState<{ done: number; total: number } | null>(null);
  const [result, setResult] = useState<Outcome | null>(null);

  const setParam = (key: string, value: string) => {
    query.set(key, value);
    setSelected(new Set());
  };
  const toggle = (id: string) => {
    const next = new Set(selected);
    if (next.has(id)) next.delete(id);
    else next.add(id);
    setSelected(next);
  };

  const replaySelected = async () => {
    const ids = [...selected];
    let replayed = 0;
    const failures: string[] = [];
    setProgress({ done: 0, total: ids.length });
    for (const [n, id] of ids.entries()) {
      try {
        replayed += (await deliveries.replay(id)).replayed;
      } catch (error) {
        failures.push(errorText(error, t));
      }
      setProgress({ done: n + 1, total: ids.length });
    }
    setProgress(null);
    setConfirm(null);
    setSelected(new Set());
    setResult(
      failures.length
        ? {
            tone: 'error',
            text: t('deliveries.replayPartial', { replayed, failed: failures.length, why: failures[0] }),
          }
        : { tone: 'success', text: t('deliveries.replayed', { count: replayed }) },
    );
    list.reload();
  };
  const replayMatching = async () => {
    setProgress({ done: 0, total: 1 });
    try {
      const { replayed } = await deliveries.replayMatching({
        ...(instanceId ? { instanceId } : {}),
        ...(type ? { type } : {}),
      });
      setResult({ tone: 'success', text: t('deliveries.replayed', { count: replayed }) });
    } catch (error) {
      setResult({ tone: 'error', text: errorText(error, t) });
    } finally {
      setProgress(null);
      setConfirm(null);
      list.reload();
    }
  };

  const instanceName = (id: string) => instances.data?.find((i) => i.id === id)?.name ?? id;
  const canReplay = can('deliveries.replay') && state === 'dead';

  return (
    <>
      <div className="filters" role="search">
        <Field label={t('deliveries.state')}>
          <select value={state} onChange={(e) => setParam('state', e.target.value)}>
            <Options items={STATES} value={(s) => s} label={(s) => t(`deliveryState.${s}`)} />
          </select>
        </Field>
        <Field label={t('deliveries.instance')}>
          <select value={instanceId} onChange={(e) => setParam('instance', e.target.value)}>
            <NamedOptions items={instances.data ?? []} allLabel={t('common.all')} />
          </select>
        </Field>
        <FilterField
          label={t('deliveries.type')}
          value={type}
          placeholder="whatsapp.message.received"
          onApply={(value) => setParam('type', value)}
        />
        <button type="button" onClick={list.reload}>
          {t('common.refresh')}
        </button>
      </div>
      <OutcomeNotice outcome={result} testId="replay-result" onDismiss={() => setResult(null)} />
      {canReplay ? (
        <div className="toolbar">
          <button type="button" disabled={selected.size === 0} onClick={() => setConfirm('selected')}>
            {t('deliveries.replaySelected', { count: selected.size })}
          </button>
          <button type="button" disabled={!list.data?.length} onClick={() => setConfirm('matching')}>
            {t('deliveries.replayMatching')}
          </button>
        </div>
      ) : null}
      <ConfirmDialog
        open={confirm !== null}
        title={t('deliveries.confirmTitle')}
        confirmLabel={t('deliveries.replay')}
        pending={progress !== null}
        onCancel={() => setConfirm(null)}
        onConfirm={() => void (confirm === 'selected' ? replaySelected() : replayMatching())}
      >
        <p>
          {confirm === 'selected'
            ? t('deliveries.confirmSelected', { count: selected.size })
            : t('deliveries.confirmMatching', {
                instance: instanceId ? instanceName(instanceId) : t('common.all'),
                type: type || t('common.all'),
              })}
        </p>
        {progress ? (
          <>
            <progress max={progress.total} value={progress.done} aria-label={t('deliveries.progress')} />
            <Loading label={t('deliveries.progressText', progress)} />
          </>
        ) : null}
      </ConfirmDialog>
      <Loaded
        resource={list}
        isEmpty={(l) => l.length === 0}
        empty={state === 'dead' ? t('deliveries.emptyDead') : t('deliveries.empty')}
      >
        {(rows: DeliveryRow[]) => (
          <DataTable
            rows={rows}
            rowKey={(d) => d.id}
            rowProps={(d) => (inspecting === d.id ? { className: 'selected' } : {})}
            columns={[
              canReplay && {
                header: (
                  <input
                    type="checkbox"
                    aria-label={t('deliveries.selectAll')}
                    checked={rows.length > 0 && rows.every((r) => selected.has(r.id))}
                    onChange={(e) => setSelected(e.target.checked ? new Set(rows.map((r) => r.id)) : new Set())}
                  />
                ),
                cell: (d) => (
                  <input
                    type="checkbox"
                    aria-label={t('deliveries.select', { type: d.type })}
                    checked={selected.has(d.id)}
                    onChange={() => toggle(d.id)}
                  />
                ),
              },
              { header: t('deliveries.type'), className: 'mono', cell: (d) => d.type },
              { header: t('deliveries.instance'), cell: (d) => instanceName(d.instanceId) },
              { header: t('deliveries.attempts'), cell: (d) => format.number(d.attempts) },
              {
                header: t('deliveries.lastError'),
                cell: (d) => (
                  <>
                    <Badge tone={d.state === 'dead' ? 'fail' : d.state === 'pending' ? 'warn' : 'pass'}>
                      {d.lastStatus ?? t(`deliveryState.${d.state}`)}
                    </Badge>{' '}
                    {d.lastError ?? ''}
                  </>
                ),
              },
              { header: t('deliveries.when'), cell: (d) => format.dateTime(d.deadAt ?? d.deliveredAt ?? d.createdAt) },
              {
                header: <span className="visually-hidden">{t('common.actions')}</span>,
                cell: (d) => (
                  <button type="button" onClick={() => setInspecting(d.id)}>
                    {t('deliveries.inspect.open')}
                  </button>
                ),
              },
            ]}
          />
        )}
      </Loaded>
      {inspecting ? <Inspector id={inspecting} onClose={() => setInspecting(null)} /> : null}
    </>
  );
}

const TABS = ['deliveries', 'unrouted', 'messages', 'broadcasts', 'posts'] as const;
const PANELS = {
  deliveries: DeliveriesPanel,
  unrouted: UnroutedEventsPanel,
  messages: OutboundMessagesPanel,
  broadcasts: HubBroadcastsPanel,
  posts: HubPostsPanel,
};

export function DeliveriesPage() {
  const { t } = useTranslation();
  return (
    <TabbedPage title={t('deliveries.title')} tabs={TABS} labelOf={(name) => t(`deliveries.tabs.${name}`)}>
      {(tab) => {
        const Panel = PANELS[tab];
        return <Panel />;
      }}
    </TabbedPage>
  );
}
