import { useState } from 'react';
import { useTranslation } from 'react-i18next';
import type { HubPost, PostContent, PostTimelineEntry } from '@mic/contracts';
import { hub } from '../api/admin.ts';
import { useResource } from '../api/resource.ts';
import { ResourceTable } from '../components/table.tsx';
import {
  Badge,
  ClosablePanel,
  ConfirmDialog,
  errorText,
  Loaded,
  OutcomeNotice,
  type Outcome,
  type Tone,
} from '../components/ui.tsx';
import { useFormat } from '../format.ts';
import { useSession } from '../session.tsx';

type State = HubPost['state'];

/** A post can be cancelled until the engine starts publishing it. */
const CANCELLABLE: readonly State[] = ['pending', 'scheduled', 'queued'];

const stateTone = (state: State | PostTimelineEntry['state']): Tone =>
  state === 'published'
    ? 'pass'
    : state === 'failed' || state === 'refused'
      ? 'fail'
      : state === 'cancelled'
        ? 'neutral'
        : 'info';

/** The words of a post, whatever its type: its message or caption. */
function textOf(post: PostContent): string {
  if ('message' in post && post.message) return post.message;
  if ('caption' in post && post.caption) return post.caption;
  return '';
}

function PostDetail({ id, onClose }: { id: string; onClose: () => void }) {
  const { t } = useTranslation();
  const format = useFormat();
  const detail = useResource(() => hub.post(id), [id]);
  return (
    <ClosablePanel id="post-title" title={t('hubPosts.detail')} onClose={onClose}>
      <Loaded resource={detail}>
        {(post) => (
          <>
            <dl className="facts">
              <dt>{t('outbound.channel')}</dt>
              <dd className="mono">
                {post.channel.kind}:{post.channel.id}
              </dd>
              <dt>{t('hubPosts.type')}</dt>
              <dd>{post.post.type}</dd>
              <dt>{t('hubPosts.text')}</dt>
              <dd>{textOf(post.post) || '—'}</dd>
              <dt>{t('hubPosts.publishedId')}</dt>
              <dd className="mono">{post.publishedId ?? '—'}</dd>
              {post.error ? (
                <>
                  <dt>{t('hubBroadcasts.error')}</dt>
                  <dd>
                    {post.error.title}: {post.error.message}
                  </dd>
                </>
              ) : null}
            </dl>
            <h3>{t('outbound.timeline')}</h3>
            {post.enginePost ? (
              <ol className="timeline" data-testid="post-timeline">
                {post.enginePost.timeline.map((entry, n) => (
                  <li key={n}>
                    <Badge tone={stateTone(entry.state)}>{t(`postState.${entry.state}`)}</Badge>{' '}
                    <time dateTime={entry.at}>{format.dateTime(entry.at)}</time>
                    {entry.detail ? <p className="muted">{entry.detail}</p> : null}
                    {entry.error ? (
                      <p className="timeline-error">
                        {entry.error.code !== null
                          ? t('outbound.metaError', { code: entry.error.code, title: entry.error.title })
                          : entry.error.title}
                        {' — '}
                        {entry.error.message}
                      </p>
                    ) : null}
                  </li>
                ))}
              </ol>
            ) : (
              <p className="muted">{t('hubPosts.noTimeline')}</p>
            )}
          </>
        )}
      </Loaded>
    </ClosablePanel>
  );
}

/** The posts on the hub's own Facebook Page and Instagram account, each with its engine timeline. */
export function HubPostsPanel() {
  const { t } = useTranslation();
  const format = useFormat();
  const { can } = useSession();
  const list = useResource((signal) => hub.posts(signal), []);
  const [open, setOpen] = useState<string | null>(null);
  const [cancelling, setCancelling] = useState<HubPost | null>(null);
  const [pending, setPending] = useState(false);
  const [result, setResult] = useState<Outcome | null>(null);
  const cancel = async (post: HubPost) => {
    setPending(true);
    try {
      await hub.cancelPost(post.id);
      setResult({ tone: 'success', text: t('hubPosts.cancelled') });
    } catch (error) {
      setResult({ tone: 'error', text: errorText(error, t) });
    } finally {
      setPending(false);
      setCancelling(null);
      list.reload();
    }
  };
  return (
    <>
      <div className="toolbar">
        <button type="button" onClick={list.reload}>
          {t('common.refresh')}
        </button>
      </div>
      <OutcomeNotice outcome={result} testId="post-result" onDismiss={() => setResult(null)} />
      <ResourceTable
        resource={list}
        empty={t('hubPosts.empty')}
        caption={t('deliveries.tabs.posts')}
        rowKey={(p: HubPost) => p.id}
        rowProps={(p) => (open === p.id ? { className: 'selected' } : {})}
        columns={[
          { header: t('outbound.channel'), className: 'mono', cell: (p) => `${p.channel.kind}:${p.channel.id}` },
          { header: t('hubPosts.text'), cell: (p) => textOf(p.post) || p.post.type },
          {
            header: t('deliveries.state'),
            cell: (p) => <Badge tone={stateTone(p.state)}>{t(`postState.${p.state}`)}</Badge>,
          },
          { header: t('hubPosts.publishAt'), cell: (p) => format.dateTime(p.publishAt ?? p.createdAt) },
          {
            header: <span className="visually-hidden">{t('common.actions')}</span>,
            className: 'actions',
            cell: (p) => (
              <>
                <button type="button" onClick={() => setOpen(p.id)}>
                  {t('outbound.open')}
                </button>
                {can('publishing.write') && CANCELLABLE.includes(p.state) ? (
                  <button type="button" className="danger" onClick={() => setCancelling(p)}>
                    {t('hubPosts.cancel')}
                  </button>
                ) : null}
              </>
            ),
          },
        ]}
      />
      <ConfirmDialog
        open={cancelling !== null}
        title={t('hubPosts.confirmTitle')}
        confirmLabel={t('hubPosts.cancel')}
        danger
        pending={pending}
        onCancel={() => setCancelling(null)}
        onConfirm={() => cancelling && void cancel(cancelling)}
      >
        <p>
          {cancelling
            ? t('hubPosts.confirmText', {
                channel: `${cancelling.channel.kind}:${cancelling.channel.id}`,
                text: textOf(cancelling.post) || cancelling.post.type,
              })
            : null}
        </p>
      </ConfirmDialog>
      {open ? <PostDetail id={open} onClose={() => setOpen(null)} /> : null}
    </>
  );
}
