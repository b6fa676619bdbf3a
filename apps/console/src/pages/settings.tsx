import { useState } from 'react';
import { useTranslation } from 'react-i18next';
import type { AuditVerification, TotpEnrolment } from '@mic/contracts';
import { settings } from '../api/admin.ts';
import { useResource } from '../api/resource.ts';
import { ErrorNotice, SubmitButton, TextField, useSubmission } from '../components/forms.tsx';
import { DataTable } from '../components/table.tsx';
import { Badge, Loaded, Notice, PageHeader, Section } from '../components/ui.tsx';
import { useFormat } from '../format.ts';
import { useSession } from '../session.tsx';
import { Backups } from './backups.tsx';
import { Operators } from './operators.tsx';

function OwnSecondFactor() {
  const { t } = useTranslation();
  const format = useFormat();
  const { session, refresh } = useSession();
  const status = useResource(() => settings.secondFactor(), []);
  const [enrolment, setEnrolment] = useState<TotpEnrolment | null>(null);
  const [code, setCode] = useState('');
  const [codes, setCodes] = useState<string[] | null>(null);
  const { pending, error, run, submit } = useSubmission();
  const start = () => run(async () => setEnrolment(await settings.enrol()));
  const confirm = submit(async () => {
    setCodes((await settings.confirmSecondFactor(code.trim())).recoveryCodes);
    setEnrolment(null);
    setCode('');
    status.reload();
    await refresh();
  });
  return (
    <>
      {session?.scope === 'enrolment' ? <Notice tone="error">{t('settings.secondFactor.required')}</Notice> : null}
      <ErrorNotice error={error} />
      {codes ? (
        <Notice tone="success" onDismiss={() => setCodes(null)}>
          <p>{t('settings.secondFactor.codesOnce')}</p>
          <ul className="codes">
            {codes.map((c) => (
              <li key={c}>
                <code className="secret">{c}</code>
              </li>
            ))}
          </ul>
        </Notice>
      ) : null}
      <Loaded resource={status}>
        {(s) => (
          <>
            <p>
              <Badge tone={s.enabled ? 'pass' : s.required ? 'fail' : 'warn'}>
                {s.enabled ? t('settings.on') : t('settings.off')}
              </Badge>{' '}
              {s.enabled
                ? t('settings.secondFactor.enabled', {
                    since: format.date(s.enabledAt),
                    codes: format.number(s.recoveryCodesLeft),
                  })
                : t('settings.secondFactor.disabled')}
            </p>
            {!s.enabled && !enrolment ? (
              <button type="button" className="primary" onClick={() => void start()} disabled={pending}>
                {t('settings.secondFactor.enrol')}
              </button>
            ) : null}
          </>
        )}
      </Loaded>
      {enrolment ? (
        <form className="panel stack" onSubmit={confirm}>
          <p>{t('settings.secondFactor.scan')}</p>
          <img src={enrolment.qrCode} alt={t('settings.secondFactor.qrAlt')} width={180} height={180} />
          <p>
            {t('settings.secondFactor.orType')} <code className="secret">{enrolment.secret}</code>
          </p>
          <TextField
            label={t('auth.code')}
            value={code}
            onChange={setCode}
            inputMode="numeric"
            pattern="[0-9]{6}"
            maxLength={6}
            autoComplete="one-time-code"
            required
          />
          <div>
            <SubmitButton pending={pending}>{t('settings.secondFactor.confirm')}</SubmitButton>
          </div>
        </form>
      ) : null}
    </>
  );
}

function Flags() {
  const { t } = useTranslation();
  const { can } = useSession();
  const list = useResource(() => settings.flags(), []);
  const { error, run } = useSubmission();
  const toggle = (key: string, enabled: boolean) =>
    run(async () => {
      await settings.setFlag(key, enabled);
      list.reload();
    });
  return (
    <>
      <ErrorNotice error={error} />
      <Loaded resource={list} isEmpty={(l) => l.length === 0} empty={t('settings.flags.empty')}>
        {(flags) => (
          <ul className="flag-list">
            {flags.map((flag) => (
              <li key={flag.key}>
                <label className="check">
                  <input
                    type="checkbox"
                    checked={flag.enabled}
                    disabled={!can('flags.write')}
                    onChange={(e) => void toggle(flag.key, e.target.checked)}
                  />
                  <span className="mono">{flag.key}</span>
                </label>
                <span className="muted">{flag.description}</span>
              </li>
            ))}
          </ul>
        )}
      </Loaded>
    </>
  );
}

function Audit() {
  const { t } = useTranslation();
  const format = useFormat();
  const page = useResource(() => settings.audit(), []);
  const [verification, setVerification] = useState<AuditVerification | null>(null);
  const { pending: checking, error, run } = useSubmission();
  const verify = () => run(async () => setVerification(await settings.verifyAudit()));
  return (
    <>
      <div className="toolbar">
        <button type="button" onClick={() => void verify()} disabled={checking}>
          {checking ? t('common.working') : t('settings.audit.verify')}
        </button>
      </div>
      <ErrorNotice error={error} />
      {verification ? (
        verification.ok ? (
          <Notice tone="success">{t('settings.audit.intact', { rows: format.number(verification.rows) })}</Notice>
        ) : (
          <Notice tone="error">
            {t('settings.audit.broken', { seq: verification.brokenAt, reason: verification.reason })}
          </Notice>
        )
      ) : null}
      <Loaded resource={page} isEmpty={(p) => p.items.length === 0} empty={t('settings.audit.empty')}>
        {({ items }) => (
          <DataTable
            rows={items}
            rowKey={(entry) => entry.id}
            columns={[
              { header: '#', cell: (entry) => entry.seq },
              { header: t('settings.audit.at'), cell: (entry) => format.dateTime(entry.at) },
              { header: t('settings.audit.actor'), cell: (entry) => entry.actorLabel ?? entry.actorType },
              { header: t('settings.audit.action'), className: 'mono', cell: (entry) => entry.action },
              {
                header: t('settings.audit.target'),
                className: 'mono',
                cell: (entry) => [entry.targetType, entry.targetId].filter(Boolean).join(':') || '—',
              },
            ]}
          />
        )}
      </Loaded>
    </>
  );
}

export function SettingsPage() {
  const { t } = useTranslation();
  const { can } = useSession();
  return (
    <>
      <PageHeader title={t('settings.title')} />
      <Section id="own-2fa" title={t('settings.secondFactor.title')}>
        <OwnSecondFactor />
      </Section>
      {can('operators.read') ? (
        <Section id="operators-title" title={t('settings.operators.title')}>
          <Operators />
        </Section>
      ) : null}
      {can('flags.read') ? (
        <Section id="flags-title" title={t('settings.flags.title')}>
          <Flags />
        </Section>
      ) : null}
      {can('audit.read') ? (
        <Section id="audit-title" title={t('settings.audit.title')}>
          <Audit />
        </Section>
      ) : null}
      {can('backups.read') ? (
        <Section id="backups-title" title={t('settings.backups.title')}>
          <Backups />
        </Section>
      ) : null}
    </>
  );
}
