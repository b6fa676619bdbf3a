import { useState } from 'react';
import { useTranslation } from 'react-i18next';
import type { Activity, ActivityKind, Company } from '@mic/contracts';
import { crm } from '../api/admin.ts';
import { useResource } from '../api/resource.ts';
import { ErrorNotice, NamedOptions, Options, SubmitButton, TextField, useSubmission } from '../components/forms.tsx';
import { ResourceTable } from '../components/table.tsx';
import { Badge, errorText, Field, Notice, type Tone } from '../components/ui.tsx';
import { useFormat } from '../format.ts';
import { useQueryParams } from '../search-params.ts';
import { useSession } from '../session.tsx';

const KINDS: readonly ActivityKind[] = ['task', 'call', 'note'];
const kindTone = (kind: ActivityKind): Tone => (kind === 'task' ? 'info' : 'neutral');

function NewActivityForm({ companies, onAdded }: { companies: readonly Company[]; onAdded: (a: Activity) => void }) {
  const { t } = useTranslation();
  const [kind, setKind] = useState<ActivityKind>('task');
  const [subject, setSubject] = useState('');
  const [body, setBody] = useState('');
  const [companyId, setCompanyId] = useState('');
  const [due, setDue] = useState('');
  const { pending, error, submit } = useSubmission();
  return (
    <form
      className="panel stack"
      aria-labelledby="new-activity-title"
      onSubmit={submit(async () => {
        const added = await crm.addActivity({
          kind,
          body: body.trim(),
          ...(subject.trim() ? { subject: subject.trim() } : {}),
          ...(companyId ? { companyId } : {}),
          // datetime-local is the operator's local time; the API takes an instant.
          ...(kind === 'task' && due ? { dueAt: new Date(due).toISOString() } : {}),
        });
        setSubject('');
        setBody('');
        setDue('');
        onAdded(added);
      })}
    >
      <h2 id="new-activity-title">{t('crm.activities.new')}</h2>
      <ErrorNotice error={error} />
      <div className="row">
        <Field label={t('crm.activities.kind')}>
          <select value={kind} onChange={(e) => setKind(e.target.value as ActivityKind)}>
            <Options items={KINDS} value={(k) => k} label={(k) => t(`crm.activities.kinds.${k}`)} />
          </select>
        </Field>
        <Field label={t('crm.activities.company')}>
          <select value={companyId} onChange={(e) => setCompanyId(e.target.value)}>
            <NamedOptions items={companies} allLabel={t('crm.activities.noCompany')} />
          </select>
        </Field>
        {kind === 'task' ? (
          <TextField label={t('crm.activities.due')} type="datetime-local" value={due} onChange={setDue} />
        ) : null}
      </div>
      <TextField label={t('crm.activities.subject')} value={subject} onChange={setSubject} maxLength={200} />
      <Field label={t('crm.activities.body')}>
        <textarea value={body} onChange={(e) => setBody(e.target.value)} required maxLength={20_000} rows={3} />
      </Field>
      <div>
        <SubmitButton pending={pending}>{t('crm.activities.add')}</SubmitButton>
      </div>
    </form>
  );
}

/** Notes, calls and tasks across the CRM; open tasks by due date, done or reopened in place. */
export function ActivitiesPanel() {
  const { t } = useTranslation();
  const format = useFormat();
  const { can } = useSession();
  const query = useQueryParams();
  const kind = KINDS.find((k) => k === query.get('kind'));
  const isOpenOnly = query.get('open') === '1';
  const list = useResource(
    () => crm.activities({ ...(kind ? { kind } : {}), ...(isOpenOnly ? { open: true } : {}) }),
    [kind, isOpenOnly],
  );
  const companies = useResource(() => crm.companies(), []);
  const [error, setError] = useState<string | null>(null);
  const [added, setAdded] = useState<Activity | null>(null);
  const companyName = (id: string | null) => (id ? (companies.data?.find((c) => c.id === id)?.name ?? id) : '—');
  const isOverdue = (a: Activity) =>
    a.kind === 'task' && !a.completedAt && a.dueAt !== null && Date.parse(a.dueAt) < Date.now();
  const toggle = async (a: Activity) => {
    setError(null);
    try {
      await crm.updateActivity(a.id, { isCompleted: !a.completedAt });
      list.reload();
    } catch (caught) {
      setError(errorText(caught, t));
    }
  };
  return (
    <>
      {can('crm.write') && companies.data ? (
        <NewActivityForm
          companies={companies.data}
          onAdded={(activity) => {
            setAdded(activity);
            list.reload();
          }}
        />
      ) : null}
      {added ? (
        <Notice tone="success" onDismiss={() => setAdded(null)}>
          <span data-testid="activity-result">
            {t('crm.activities.added', { kind: t(`crm.activities.kinds.${added.kind}`) })}
          </span>
        </Notice>
      ) : null}
      <ErrorNotice error={error} />
      <div className="filters" role="search">
        <Field label={t('crm.activities.kind')}>
          <select value={kind ?? ''} onChange={(e) => query.set('kind', e.target.value)}>
            <Options
              items={KINDS}
              value={(k) => k}
              label={(k) => t(`crm.activities.kinds.${k}`)}
              allLabel={t('common.all')}
            />
          </select>
        </Field>
        <label className="check">
          <input
            type="checkbox"
            checked={isOpenOnly}
            onChange={(e) => query.set('open', e.target.checked ? '1' : '')}
          />
          {t('crm.activities.openOnly')}
        </label>
      </div>
      <ResourceTable
        resource={list}
        empty={t('crm.activities.empty')}
        caption={t('crm.tabs.activities')}
        rowKey={(a: Activity) => a.id}
        columns={[
          {
            header: t('crm.activities.kind'),
            cell: (a) => <Badge tone={kindTone(a.kind)}>{t(`crm.activities.kinds.${a.kind}`)}</Badge>,
          },
          {
            header: t('crm.activities.subject'),
            cell: (a) => (
              <>
                {a.subject ? <strong>{a.subject}</strong> : null}
                {a.subject ? ' — ' : null}
                {a.body}
              </>
            ),
          },
          { header: t('crm.activities.company'), cell: (a) => companyName(a.companyId) },
          {
            header: t('crm.activities.due'),
            cell: (a) =>
              a.kind !== 'task' ? (
                format.dateTime(a.occurredAt)
              ) : (
                <>
                  {format.dateTime(a.dueAt)}
                  {isOverdue(a) ? (
                    <>
                      {' '}
                      <Badge tone="fail">{t('crm.activities.overdue')}</Badge>
                    </>
                  ) : null}
                </>
              ),
          },
          {
            header: t('crm.activities.state'),
            cell: (a) =>
              a.kind !== 'task' ? (
                '—'
              ) : a.completedAt ? (
                <Badge tone="pass">{t('crm.activities.done', { at: format.dateTime(a.completedAt) })}</Badge>
              ) : (
                <Badge tone="warn">{t('crm.activities.open')}</Badge>
              ),
          },
          can('crm.write') && {
            header: <span className="visually-hidden">{t('common.actions')}</span>,
            cell: (a) =>
              a.kind === 'task' ? (
                <button type="button" onClick={() => void toggle(a)}>
                  {a.completedAt ? t('crm.activities.reopen') : t('crm.activities.complete')}
                </button>
              ) : null,
          },
        ]}
      />
    </>
  );
}
