import { useState } from 'react';
import { useTranslation } from 'react-i18next';
import type { MessageState, MessageTimelineEntry } from '@mic/contracts';
import { outboundMessages, tenants, type OutboundMessage } from '../api/admin.ts';
import { useResource } from '../api/resource.ts';
import { FilterField, NamedOptions, Options } from '../components/forms.tsx';
import { ResourceTable } from '../components/table.tsx';
import { Badge, ClosablePanel, Field, Loaded, type Tone } from '../components/ui.tsx';
import { useFormat } from '../format.ts';
import { useQueryParams } from '../search-params.ts';

const STATES: readonly MessageState[] = ['queued', 'sending', 'sent', 'delivered', 'read', 'failed'];

const messageTone = (state: MessageState): Tone =>
  state === 'failed' ? 'fail' : state === 'queued' || state === 'sending' ? 'warn' : 'pass';

function TimelineEntry({ entry }: { entry: MessageTimelineEntry }) {
  const { t } = useTranslation();
  const format = useFormat();
  return (
    <li>
      <Badge tone={messageTone(entry.state)}>{t(`messageState.${entry.state}`)}</Badge>{' '}
      <time dateTime={entry.at}>{format.dateTime(entry.at)}</time>
      {entry.error ? (
        <p className="timeline-error">
          {entry.error.code !== null
            ? t('outbound.metaError', { code: entry.error.code, title: entry.error.title })
            : entry.error.title}
          {' — '}
          {entry.error.message}
        </p>
      ) : null}
      {entry.isOutcomeUnknown ? <p className="muted">{t('outbound.outcomeUnknown')}</p> : null}
    </li>
  );
}

function MessageTimeline({ message, onClose }: { message: OutboundMessage; onClose: () => void }) {
  const { t } = useTranslation();
  const status = useResource(() => outboundMessages.get(message.instanceId, message.id), [message.id]);
  return (
    <ClosablePanel id="message-title" title={t('outbound.timelineTitle', { to: message.to })} onClose={onClose}>
      <Loaded resource={status}>
        {(found) => (
          <>
            <dl className="facts">
              <dt>{t('deliveries.id')}</dt>
              <dd className="mono">{found.id}</dd>
              <dt>{t('outbound.metaId')}</dt>
              <dd className="mono">{found.metaMessageId ?? '—'}</dd>
              <dt>{t('outbound.channel')}</dt>
              <dd className="mono">
                {found.channel.kind}:{found.channel.id}
              </dd>
              <dt>{t('outbound.priority')}</dt>
              <dd>{t(`outbound.priorities.${found.priority}`)}</dd>
            </dl>
            <h3>{t('outbound.timeline')}</h3>
            <ol className="timeline" data-testid="message-timeline">
              {found.timeline.map((entry, n) => (
                <TimelineEntry key={n} entry={entry} />
              ))}
            </ol>
          </>
        )}
      </Loaded>
    </ClosablePanel>
  );
}

/** What instances sent through the engine, and each message's way from queued to read or failed. */
export function OutboundMessagesPanel() {
  const { t } = useTranslation();
  const format = useFormat();
  const query = useQueryParams();
  const tenantId = query.get('tenant');
  const state = STATES.find((s) => s === query.get('state'));
  const to = query.get('to');
  const list = useResource(
    (signal) =>
      outboundMessages.list(
        { ...(tenantId ? { tenantId } : {}), ...(state ? { state } : {}), ...(to ? { to } : {}) },
        signal,
      ),
    [tenantId, state, to],
  );
  const tenantList = useResource(() => tenants.list(), []);
  const [open, setOpen] = useState<OutboundMessage | null>(null);
  const tenantName = (id: string) => tenantList.data?.find((x) => x.id === id)?.name ?? id;
  return (
    <>
      <div className="filters" role="search">
        <Field label={t('outbound.tenant')}>
          <select value={tenantId} onChange={(e) => query.set('tenant', e.target.value)}>
            <NamedOptions items={tenantList.data ?? []} allLabel={t('common.all')} />
          </select>
        </Field>
        <Field label={t('deliveries.state')}>
          <select value={state ?? ''} onChange={(e) => query.set('state', e.target.value)}>
            <Options items={STATES} value={(s) => s} label={(s) => t(`messageState.${s}`)} allLabel={t('common.all')} />
          </select>
        </Field>
        <FilterField label={t('outbound.to')} value={to} onApply={(value) => query.set('to', value)} />
        <button type="button" onClick={list.reload}>
          {t('common.refresh')}
        </button>
      </div>
      <ResourceTable
        resource={list}
        empty={t('outbound.empty')}
        caption={t('deliveries.tabs.messages')}
        rowKey={(m: OutboundMessage) => m.id}
        rowProps={(m) => (open?.id === m.id ? { className: 'selected' } : {})}
        columns={[
          { header: t('outbound.to'), className: 'mono', cell: (m) => m.to },
          { header: t('outbound.tenant'), cell: (m) => tenantName(m.tenantId) },
          { header: t('outbound.channel'), className: 'mono', cell: (m) => m.channel },
          {
            header: t('deliveries.state'),
            cell: (m) => <Badge tone={messageTone(m.state)}>{t(`messageState.${m.state}`)}</Badge>,
          },
          { header: t('deliveries.attempts'), numeric: true, cell: (m) => format.number(m.attempts) },
          { header: t('deliveries.when'), cell: (m) => format.dateTime(m.createdAt) },
          {
            header: <span className="visually-hidden">{t('common.actions')}</span>,
            cell: (m) => (
              <button type="button" onClick={() => setOpen(m)}>
                {t('outbound.open')}
              </button>
            ),
          },
        ]}
      />
      {open ? <MessageTimeline message={open} onClose={() => setOpen(null)} /> : null}
    </>
  );
}
