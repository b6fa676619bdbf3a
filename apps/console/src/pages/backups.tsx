import { useEffect, useState } from 'react';
import { useTranslation } from 'react-i18next';
import type { Backup, LiveRestore } from '@mic/contracts';
import { settings, type BackupCheck } from '../api/admin.ts';
import { useResource } from '../api/resource.ts';
import { DataTable } from '../components/table.tsx';
import {
  Badge,
  ConfirmDialog,
  errorText,
  Loaded,
  Loading,
  Notice,
  OutcomeNotice,
  type Outcome,
} from '../components/ui.tsx';
import { TextField } from '../components/forms.tsx';
import { useFormat } from '../format.ts';
import { useSession } from '../session.tsx';

/** What the operator types to confirm a restore: the name of the plane whose live database it replaces. */
const PLANE = 'control';

function rowsOf(backup: Backup): number {
  return Object.values(backup.rowCounts).reduce((sum, n) => sum + n, 0);
}

/**
 * A restore under way: control stops, restores the backup as it starts again and comes back; the
 * list is polled (through the restart, when it does not answer) until the restore has an outcome.
 */
function RestoreProgress({ restore, onDone }: { restore: LiveRestore; onDone: () => void }) {
  const { t } = useTranslation();
  const format = useFormat();
  const [current, setCurrent] = useState<LiveRestore>(restore);
  const [isDown, setDown] = useState(false);
  useEffect(() => {
    if (current.state !== 'pending') return;
    const timer = setInterval(() => {
      settings.backups().then(
        (list) => {
          setDown(false);
          if (list.lastRestore?.requestId === restore.requestId) setCurrent(list.lastRestore);
        },
        () => setDown(true),
      );
    }, 1_500);
    return () => clearInterval(timer);
  }, [current.state, restore.requestId]);
  if (current.state === 'pending') {
    return (
      <div className="panel" data-testid="restore-progress">
        <progress aria-label={t('settings.backups.restoreProgress')} />
        <Loading
          label={isDown ? t('settings.backups.restarting') : t('settings.backups.restoring', { id: restore.backupId })}
        />
      </div>
    );
  }
  return (
    <Notice tone={current.state === 'restored' ? 'success' : 'error'} onDismiss={onDone}>
      <span data-testid="restore-progress">
        {current.state === 'restored'
          ? t('settings.backups.restored', {
              id: current.backupId,
              at: format.dateTime(current.completedAt),
              kept: current.keptAs.join(', ') || '—',
            })
          : t('settings.backups.restoreFailed', { id: current.backupId, error: current.error ?? '' })}
      </span>
    </Notice>
  );
}

/** Control's backups: each one verified again on request, or restored into the live database. */
export function Backups() {
  const { t } = useTranslation();
  const format = useFormat();
  const { can } = useSession();
  const list = useResource(() => settings.backups(), []);
  const [verifying, setVerifying] = useState<string | null>(null);
  const [result, setResult] = useState<Outcome | null>(null);
  const [restoring, setRestoring] = useState<Backup | null>(null);
  const [typed, setTyped] = useState('');
  const [pending, setPending] = useState(false);
  const [restore, setRestore] = useState<LiveRestore | null>(null);
  const [dismissed, setDismissed] = useState<string | null>(null);
  // The restore asked for here, else the latest one (after signing in again, say, once control is back).
  const latest = restore ?? list.data?.lastRestore ?? null;

  const describe = (backup: Backup, check: BackupCheck): Outcome =>
    check.ok
      ? {
          tone: 'success',
          text: t('settings.backups.verified', {
            id: backup.id,
            tables: format.number(check.tables),
            rows: format.number(check.rows),
            seconds: format.number(check.durationMs / 1000, { maximumFractionDigits: 1 }),
          }),
        }
      : {
          tone: 'error',
          text: t('settings.backups.verifyFailed', { id: backup.id, problems: check.problems.join('; ') }),
        };
  const verify = async (backup: Backup) => {
    setVerifying(backup.id);
    setResult(null);
    try {
      setResult(describe(backup, await settings.verifyBackup(backup.id)));
    } catch (error) {
      setResult({ tone: 'error', text: errorText(error, t) });
    } finally {
      setVerifying(null);
    }
  };
  const askRestore = (backup: Backup) => {
    setTyped('');
    setRestoring(backup);
  };
  const doRestore = async () => {
    if (!restoring) return;
    setPending(true);
    try {
      setRestore(await settings.restoreBackup(restoring.id));
    } catch (error) {
      setResult({ tone: 'error', text: errorText(error, t) });
    } finally {
      setPending(false);
      setRestoring(null);
    }
  };

  return (
    <>
      <OutcomeNotice outcome={result} testId="backup-result" onDismiss={() => setResult(null)} />
      {verifying ? <Loading label={t('settings.backups.verifying', { id: verifying })} /> : null}
      {latest && latest.requestId !== dismissed ? (
        <RestoreProgress
          key={latest.requestId}
          restore={latest}
          onDone={() => {
            setDismissed(latest.requestId);
            setRestore(null);
            list.reload();
          }}
        />
      ) : null}
      <ConfirmDialog
        open={restoring !== null}
        title={t('settings.backups.confirmTitle')}
        confirmLabel={t('settings.backups.restore')}
        danger
        pending={pending}
        onCancel={() => setRestoring(null)}
        onConfirm={() => {
          if (typed.trim() === PLANE) void doRestore();
        }}
      >
        {restoring ? (
          <>
            <p>
              {t('settings.backups.confirmText', {
                at: format.dateTime(restoring.createdAt),
                label: restoring.label ?? t(`settings.backups.triggers.${restoring.trigger}`),
                id: restoring.id,
                tables: format.number(Object.keys(restoring.rowCounts).length),
                rows: format.number(rowsOf(restoring)),
              })}
            </p>
            <TextField
              label={t('settings.backups.typePlane', { plane: PLANE })}
              value={typed}
              onChange={setTyped}
              autoComplete="off"
              required
              pattern={PLANE}
            />
          </>
        ) : null}
      </ConfirmDialog>
      <Loaded resource={list} isEmpty={(l) => l.backups.length === 0} empty={t('settings.backups.empty')}>
        {({ backups }) => (
          <DataTable
            rows={backups}
            rowKey={(b) => b.id}
            caption={t('settings.backups.title')}
            columns={[
              {
                header: t('settings.backups.at'),
                cell: (b) => (
                  <>
                    {format.dateTime(b.createdAt)}
                    {b.label ? <div className="muted">{b.label}</div> : null}
                  </>
                ),
              },
              { header: t('settings.backups.trigger'), cell: (b) => t(`settings.backups.triggers.${b.trigger}`) },
              {
                header: t('settings.backups.state'),
                cell: (b) => (
                  <Badge tone={b.state === 'verified' ? 'pass' : 'fail'}>
                    {t(`settings.backups.states.${b.state}`)}
                  </Badge>
                ),
              },
              {
                header: t('settings.backups.size'),
                numeric: true,
                cell: (b) =>
                  b.sizeBytes === null
                    ? '—'
                    : format.number(b.sizeBytes / 1024, { style: 'unit', unit: 'kilobyte', maximumFractionDigits: 0 }),
              },
              {
                header: <span className="visually-hidden">{t('common.actions')}</span>,
                className: 'actions',
                cell: (b) =>
                  b.state === 'verified' ? (
                    <>
                      {can('backups.create') ? (
                        <button type="button" disabled={verifying !== null} onClick={() => void verify(b)}>
                          {t('settings.backups.verify')}
                        </button>
                      ) : null}
                      {can('backups.restore') ? (
                        <button
                          type="button"
                          className="danger"
                          disabled={latest?.state === 'pending'}
                          onClick={() => askRestore(b)}
                        >
                          {t('settings.backups.restore')}
                        </button>
                      ) : null}
                    </>
                  ) : null,
              },
            ]}
          />
        )}
      </Loaded>
    </>
  );
}
