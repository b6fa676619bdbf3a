import { useState } from 'react';
import { useTranslation } from 'react-i18next';
import { events, type InboundEvent } from '../api/admin.ts';
import { useResource } from '../api/resource.ts';
import { FilterField, Options } from '../components/forms.tsx';
import { ResourceTable } from '../components/table.tsx';
import { ClosablePanel, Field, Loaded } from '../components/ui.tsx';
import { useFormat } from '../format.ts';
import { useQueryParams } from '../search-params.ts';

const PLATFORMS = ['whatsapp', 'messenger', 'instagram'] as const;

function EventInspector({ id, onClose }: { id: string; onClose: () => void }) {
  const { t } = useTranslation();
  const format = useFormat();
  const detail = useResource(() => events.get(id), [id]);
  return (
    <ClosablePanel id="event-title" title={t('unrouted.inspect.title')} onClose={onClose}>
      <Loaded resource={detail}>
        {({ event, data, raw }) => (
          <>
            <dl className="facts">
              <dt>{t('deliveries.id')}</dt>
              <dd className="mono">{event.id}</dd>
              <dt>{t('deliveries.type')}</dt>
              <dd className="mono">{event.type}</dd>
              <dt>{t('unrouted.channel')}</dt>
              <dd className="mono">
                {event.platform}:{event.channelId ?? '—'}
              </dd>
              <dt>{t('unrouted.occurredAt')}</dt>
              <dd>{format.dateTime(event.occurredAt)}</dd>
              <dt>{t('unrouted.receivedAt')}</dt>
              <dd>{format.dateTime(event.receivedAt)}</dd>
              <dt>{t('unrouted.dedupKey')}</dt>
              <dd className="mono">{event.dedupKey}</dd>
            </dl>
            <h3>{t('unrouted.inspect.raw')}</h3>
            <pre className="payload" tabIndex={0} data-testid="event-raw">
              {JSON.stringify(raw, null, 2)}
            </pre>
            <h3>{t('unrouted.inspect.data')}</h3>
            <pre className="payload" tabIndex={0} data-testid="event-data">
              {JSON.stringify(data, null, 2)}
            </pre>
          </>
        )}
      </Loaded>
    </ClosablePanel>
  );
}

/** Events Meta sent for a channel no instance has: kept until the channel gets one, then delivered. */
export function UnroutedEventsPanel() {
  const { t } = useTranslation();
  const format = useFormat();
  const query = useQueryParams();
  const platform = query.get('platform');
  const channelId = query.get('channel');
  const type = query.get('type');
  const list = useResource(
    (signal) =>
      events.unrouted(
        { ...(platform ? { platform } : {}), ...(channelId ? { channelId } : {}), ...(type ? { type } : {}) },
        signal,
      ),
    [platform, channelId, type],
  );
  const [inspecting, setInspecting] = useState<string | null>(null);
  return (
    <>
      <p className="muted">{t('unrouted.help')}</p>
      <div className="filters" role="search">
        <Field label={t('unrouted.platform')}>
          <select value={platform} onChange={(e) => query.set('platform', e.target.value)}>
            <Options items={PLATFORMS} value={(p) => p} label={(p) => t(`platforms.${p}`)} allLabel={t('common.all')} />
          </select>
        </Field>
        <FilterField label={t('unrouted.channel')} value={channelId} onApply={(value) => query.set('channel', value)} />
        <FilterField
          label={t('deliveries.type')}
          value={type}
          placeholder="whatsapp.message.received"
          onApply={(value) => query.set('type', value)}
        />
        <button type="button" onClick={list.reload}>
          {t('common.refresh')}
        </button>
      </div>
      <ResourceTable
        resource={list}
        empty={t('unrouted.empty')}
        caption={t('deliveries.tabs.unrouted')}
        rowKey={(e: InboundEvent) => e.id}
        rowProps={(e) => (inspecting === e.id ? { className: 'selected' } : {})}
        columns={[
          { header: t('deliveries.type'), className: 'mono', cell: (e) => e.type },
          { header: t('unrouted.channel'), className: 'mono', cell: (e) => `${e.platform}:${e.channelId ?? '—'}` },
          { header: t('unrouted.occurredAt'), cell: (e) => format.dateTime(e.occurredAt) },
          { header: t('unrouted.receivedAt'), cell: (e) => format.relative(e.receivedAt) },
          {
            header: <span className="visually-hidden">{t('common.actions')}</span>,
            cell: (e) => (
              <button type="button" onClick={() => setInspecting(e.id)}>
                {t('deliveries.inspect.open')}
              </button>
            ),
          },
        ]}
      />
      {inspecting ? <EventInspector id={inspecting} onClose={() => setInspecting(null)} /> : null}
    </>
  );
}
