import { useEffect, useState } from 'react';
import { Link, useParams } from 'react-router';
import { useTranslation } from 'react-i18next';
import type {
  BroadcastRecipient,
  BroadcastRecipientState,
  BroadcastTotals,
  HubBroadcast,
  TenantBroadcastFigures,
} from '@mic/contracts';
import { broadcastFigures, hub, tenants } from '../api/admin.ts';
import { useResource } from '../api/resource.ts';
import { Options } from '../components/forms.tsx';
import { DataTable, ResourceTable } from '../components/table.tsx';
import {
  Badge,
  ConfirmDialog,
  errorText,
  Field,
  Figures,
  Loaded,
  OutcomeNotice,
  PageHeader,
  Section,
  type Outcome,
  type Tone,
} from '../components/ui.tsx';
import { useFormat } from '../format.ts';
import { useSession } from '../session.tsx';

type State = HubBroadcast['state'];
type Action = 'pause' | 'resume' | 'cancel';

/** States in which the broadcast still changes: its page follows it. */
const LIVE: readonly State[] = ['pending', 'scheduled', 'running', 'waiting'];
const RECIPIENT_STATES: readonly BroadcastRecipientState[] = [
  'pending',
  'queued',
  'sent',
  'delivered',
  'read',
  'failed',
  'suppressed',
  'skipped',
  'cancelled',
];
const TOTALS: readonly (keyof BroadcastTotals)[] = ['recipients', 'duplicates', ...RECIPIENT_STATES];

const stateTone = (state: State): Tone =>
  state === 'completed'
    ? 'pass'
    : state === 'refused' || state === 'cancelled'
      ? 'fail'
      : state === 'paused' || state === 'waiting'
        ? 'warn'
        : 'info';

const recipientTone = (state: BroadcastRecipientState): Tone =>
  state === 'failed' ? 'fail' : state === 'delivered' || state === 'read' || state === 'sent' ? 'pass' : 'neutral';

/** Recipients settled (sent or beyond, failed, left out) of those the engine kept. */
function progressOf(broadcast: HubBroadcast): { done: number; total: number } {
  const totals = broadcast.totals;
  if (!totals) return { done: 0, total: broadcast.recipients };
  return { done: totals.recipients - totals.pending - totals.queued, total: totals.recipients };
}

/** What an operator may do with a broadcast in its state. */
function actionsOf(state: State): Action[] {
  if (state === 'paused') return ['resume', 'cancel'];
  if (state === 'scheduled' || state === 'running' || state === 'waiting') return ['pause', 'cancel'];
  return [];
}

function Progress({ broadcast }: { broadcast: HubBroadcast }) {
  const { t } = useTranslation();
  const format = useFormat();
  const { done, total } = progressOf(broadcast);
  const percent = total === 0 ? 0 : done / total;
  return (
    <span className="progress-cell">
      <progress
        max={Math.max(total, 1)}
        value={done}
        aria-label={t('hubBroadcasts.progressOf', { name: nameOf(broadcast, t) })}
      />{' '}
      {t('hubBroadcasts.progressText', {
        done: format.number(done),
        total: format.number(total),
        percent: format.number(percent, { style: 'percent' }),
      })}
    </span>
  );
}

const nameOf = (broadcast: HubBroadcast, t: ReturnType<typeof useTranslation>['t']) =>
  broadcast.name ?? t('hubBroadcasts.unnamed');

/** The hub's broadcasts on its own WhatsApp numbers, newest first, each linking to its progress. */
export function HubBroadcastsPanel() {
  const { t } = useTranslation();
  const format = useFormat();
  const list = useResource((signal) => hub.broadcasts(signal), []);
  return (
    <>
      <div className="toolbar">
        <button type="button" onClick={list.reload}>
          {t('common.refresh')}
        </button>
      </div>
      <ResourceTable
        resource={list}
        empty={t('hubBroadcasts.empty')}
        caption={t('deliveries.tabs.broadcasts')}
        rowKey={(b: HubBroadcast) => b.id}
        columns={[
          {
            header: t('hubBroadcasts.name'),
            cell: (b) => <Link to={`/deliveries/broadcasts/${b.id}`}>{nameOf(b, t)}</Link>,
          },
          { header: t('outbound.channel'), className: 'mono', cell: (b) => b.channel.id },
          {
            header: t('deliveries.state'),
            cell: (b) => <Badge tone={stateTone(b.state)}>{t(`broadcastState.${b.state}`)}</Badge>,
          },
          { header: t('hubBroadcasts.progress'), cell: (b) => <Progress broadcast={b} /> },
          { header: t('deliveries.when'), cell: (b) => format.dateTime(b.createdAt) },
        ]}
      />
      <TenantFigures />
    </>
  );
}

const FIGURE_DAYS = 30;

/** Every tenant's broadcasts of the last 30 days (the hub's own included), most recipients first. */
function TenantFigures() {
  const { t } = useTranslation();
  const format = useFormat();
  const figures = useResource(async (signal) => (await broadcastFigures(FIGURE_DAYS, signal)).tenants, []);
  const tenantList = useResource(() => tenants.list(), []);
  const tenantName = (id: string) => tenantList.data?.find((x) => x.id === id)?.name ?? id;
  const n = (value: number) => format.number(value);
  return (
    <Section id="tenant-broadcast-figures" title={t('hubBroadcasts.figures.title', { days: FIGURE_DAYS })}>
      <ResourceTable
        resource={figures}
        empty={t('hubBroadcasts.figures.empty', { days: FIGURE_DAYS })}
        caption={t('hubBroadcasts.figures.title', { days: FIGURE_DAYS })}
        rowKey={(f: TenantBroadcastFigures) => f.tenantId}
        columns={[
          { header: t('hubBroadcasts.figures.tenant'), cell: (f) => tenantName(f.tenantId) },
          { header: t('hubBroadcasts.figures.broadcasts'), cell: (f) => n(f.broadcasts) },
          { header: t('hubBroadcasts.figures.active'), cell: (f) => n(f.active) },
          { header: t('hubBroadcasts.totals.recipients'), cell: (f) => n(f.totals.recipients) },
          {
            header: t('hubBroadcasts.totals.sent'),
            cell: (f) => n(f.totals.sent + f.totals.delivered + f.totals.read),
          },
          { header: t('hubBroadcasts.totals.delivered'), cell: (f) => n(f.totals.delivered + f.totals.read) },
          { header: t('hubBroadcasts.totals.read'), cell: (f) => n(f.totals.read) },
          { header: t('hubBroadcasts.totals.failed'), cell: (f) => n(f.totals.failed) },
        ]}
      />
    </Section>
  );
}

function Recipients({ id, version }: { id: string; version: string }) {
  const { t } = useTranslation();
  const format = useFormat();
  const [state, setState] = useState<BroadcastRecipientState | ''>('');
  const first = useResource(() => hub.recipients(id, state ? { state } : {}), [id, state, version]);
  const [more, setMore] = useState<{ rows: BroadcastRecipient[]; cursor: string | null; error: string | null }>();
  useEffect(() => setMore(undefined), [first.data]);
  const cursor = more ? more.cursor : (first.data?.nextCursor ?? null);
  const loadMore = async () => {
    if (!cursor) return;
    try {
      const page = await hub.recipients(id, { ...(state ? { state } : {}), after: cursor });
      setMore({ rows: [...(more?.rows ?? []), ...page.recipients], cursor: page.nextCursor, error: null });
    } catch (error) {
      setMore({ rows: more?.rows ?? [], cursor, error: errorText(error, t) });
    }
  };
  return (
    <Section id="recipients-title" title={t('hubBroadcasts.recipients')}>
      <div className="filters" role="search">
        <Field label={t('deliveries.state')}>
          <select value={state} onChange={(e) => setState(e.target.value as BroadcastRecipientState | '')}>
            <Options
              items={RECIPIENT_STATES}
              value={(s) => s}
              label={(s) => t(`recipientState.${s}`)}
              allLabel={t('common.all')}
            />
          </select>
        </Field>
      </div>
      <Loaded resource={first} isEmpty={(page) => page.recipients.length === 0} empty={t('hubBroadcasts.noRecipients')}>
        {(page) => (
          <>
            <DataTable
              rows={[...page.recipients, ...(more?.rows ?? [])]}
              rowKey={(r) => r.to}
              caption={t('hubBroadcasts.recipients')}
              columns={[
                { header: t('outbound.to'), className: 'mono', cell: (r) => r.to },
                {
                  header: t('deliveries.state'),
                  cell: (r) => <Badge tone={recipientTone(r.state)}>{t(`recipientState.${r.state}`)}</Badge>,
                },
                {
                  header: t('hubBroadcasts.error'),
                  cell: (r) =>
                    r.error
                      ? `${r.error.code !== null ? t('outbound.metaError', { code: r.error.code, title: r.error.title }) : r.error.title} — ${r.error.message}`
                      : '—',
                },
                { header: t('deliveries.when'), cell: (r) => format.dateTime(r.updatedAt) },
              ]}
            />
            {more?.error ? (
              <p className="state state-error" role="alert">
                {more.error}
              </p>
            ) : null}
            {cursor ? (
              <button type="button" onClick={() => void loadMore()}>
                {t('hubBroadcasts.more')}
              </button>
            ) : null}
          </>
        )}
      </Loaded>
    </Section>
  );
}

/** One broadcast as it goes: totals, progress, pause, resume or cancel, and every recipient. */
export function HubBroadcastPage() {
  const { t } = useTranslation();
  const format = useFormat();
  const { can } = useSession();
  const { broadcastId = '' } = useParams();
  const [isLive, setLive] = useState(true);
  const broadcast = useResource(() => hub.broadcast(broadcastId), [broadcastId], isLive ? 2_000 : undefined);
  const live = broadcast.data ? LIVE.includes(broadcast.data.state) : true;
  useEffect(() => setLive(live), [live]);
  const [asking, setAsking] = useState<Action | null>(null);
  const [pending, setPending] = useState(false);
  const [result, setResult] = useState<Outcome | null>(null);

  const act = async (b: HubBroadcast, action: Action) => {
    setPending(true);
    try {
      const after = await hub.act(b.id, action);
      setResult({
        tone: 'success',
        text: t(`hubBroadcasts.done.${action}`, { name: nameOf(b, t), state: t(`broadcastState.${after.state}`) }),
      });
    } catch (error) {
      setResult({ tone: 'error', text: errorText(error, t) });
    } finally {
      setPending(false);
      setAsking(null);
      broadcast.reload();
    }
  };

  return (
    <>
      <nav aria-label={t('common.breadcrumb')} className="breadcrumb">
        <Link to="/deliveries?tab=broadcasts">{t('deliveries.tabs.broadcasts')}</Link>
      </nav>
      <Loaded resource={broadcast}>
        {(b) => (
          <>
            <PageHeader
              title={nameOf(b, t)}
              actions={
                can('marketing.write')
                  ? actionsOf(b.state).map((action) => (
                      <button
                        key={action}
                        type="button"
                        className={action === 'cancel' ? 'danger' : undefined}
                        disabled={pending}
                        onClick={() => setAsking(action)}
                      >
                        {t(`hubBroadcasts.actions.${action}`)}
                      </button>
                    ))
                  : null
              }
            />
            <OutcomeNotice outcome={result} testId="broadcast-result" onDismiss={() => setResult(null)} />
            <dl className="facts">
              <dt>{t('deliveries.state')}</dt>
              <dd data-testid="broadcast-state">
                <Badge tone={stateTone(b.state)}>{t(`broadcastState.${b.state}`)}</Badge>
                {b.waitingReason ? ` ${b.waitingReason}` : ''}
              </dd>
              <dt>{t('outbound.channel')}</dt>
              <dd className="mono">
                {b.channel.kind}:{b.channel.id}
              </dd>
              <dt>{t('hubBroadcasts.progress')}</dt>
              <dd data-testid="broadcast-progress">
                <Progress broadcast={b} />
              </dd>
              <dt>{t('deliveries.when')}</dt>
              <dd>{format.dateTime(b.createdAt)}</dd>
              {b.error ? (
                <>
                  <dt>{t('hubBroadcasts.error')}</dt>
                  <dd>
                    {b.error.title}: {b.error.message}
                  </dd>
                </>
              ) : null}
            </dl>
            {b.totals ? (
              <Figures
                testId="broadcast-totals"
                items={TOTALS.map((key) => ({
                  key,
                  label: t(`hubBroadcasts.totals.${key}`),
                  value: format.number(b.totals![key]),
                  metric: key,
                }))}
              />
            ) : (
              <p className="muted">{t('hubBroadcasts.notTaken')}</p>
            )}
            <Recipients id={b.id} version={b.updatedAt} />
            <ConfirmDialog
              open={asking !== null}
              title={asking ? t(`hubBroadcasts.confirm.${asking}`, { name: nameOf(b, t) }) : ''}
              confirmLabel={asking ? t(`hubBroadcasts.actions.${asking}`) : ''}
              danger={asking === 'cancel'}
              pending={pending}
              onCancel={() => setAsking(null)}
              onConfirm={() => asking && void act(b, asking)}
            >
              <p>
                {asking
                  ? t(`hubBroadcasts.confirmText.${asking}`, {
                      name: nameOf(b, t),
                      left: format.number((b.totals?.pending ?? 0) + (b.totals?.queued ?? 0)),
                    })
                  : null}
              </p>
            </ConfirmDialog>
          </>
        )}
      </Loaded>
    </>
  );
}
