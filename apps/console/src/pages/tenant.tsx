import { useState } from 'react';
import { Link, useParams } from 'react-router';
import { useTranslation } from 'react-i18next';
import type {
  Channel,
  ChannelPlatform,
  CreatedInstance,
  Instance,
  Tenant,
  TenantLimits,
  TenantModules,
} from '@mic/contracts';
import { monitoring, tenants, type SecretRefInfo } from '../api/admin.ts';
import { useResource } from '../api/resource.ts';
import { ErrorNotice, NamedOptions, Options, SubmitButton, TextField, useSubmission } from '../components/forms.tsx';
import { DataTable } from '../components/table.tsx';
import {
  Badge,
  ConfirmDialog,
  errorText,
  Field,
  Loaded,
  Notice,
  OutcomeNotice,
  PageHeader,
  Section,
  type Outcome,
  type Tone,
} from '../components/ui.tsx';
import { UsageFigures, usageTotals } from '../components/usage.tsx';
import { useFormat } from '../format.ts';
import { useSession } from '../session.tsx';
import { TenantTimeline } from './tenant-timeline.tsx';

type Result = (Outcome & { link?: string }) | null;

type PendingAction =
  | { kind: 'pause-tenant' | 'resume-tenant' }
  | { kind: 'pause' | 'resume' | 'password-reset' | 'backup'; instance: Instance };

const stateTone = (state: Instance['state']): Tone =>
  state === 'active' ? 'pass' : state === 'paused' ? 'warn' : state === 'suspended' ? 'fail' : 'neutral';

function ActionDialog({
  tenant,
  action,
  onClose,
  onDone,
}: {
  tenant: Tenant;
  action: PendingAction;
  onClose: () => void;
  onDone: (result: Result) => void;
}) {
  const { t } = useTranslation();
  const [reason, setReason] = useState('');
  const [pending, setPending] = useState(false);
  const needsReason = action.kind !== 'password-reset' && action.kind !== 'backup';
  const instanceName = 'instance' in action ? action.instance.name : '';
  const names = { tenant: tenant.name, instance: instanceName };
  const run = async () => {
    if (needsReason && !reason.trim()) return;
    setPending(true);
    try {
      switch (action.kind) {
        case 'pause-tenant':
        case 'resume-tenant': {
          const paused = action.kind === 'pause-tenant';
          const answer = await tenants.setPaused(tenant.id, paused, reason.trim());
          onDone({
            tone: 'success',
            text: t(paused ? 'tenant.result.tenantPaused' : 'tenant.result.tenantResumed', {
              ...names,
              count: answer.instances.length,
            }),
          });
          break;
        }
        case 'pause':
        case 'resume': {
          const instance = await tenants.setInstancePaused(action.instance.id, action.kind === 'pause', reason.trim());
          onDone({
            tone: 'success',
            text: t(`tenant.result.${action.kind === 'pause' ? 'paused' : 'resumed'}`, {
              ...names,
              state: t(`instanceState.${instance.state}`),
            }),
          });
          break;
        }
        case 'password-reset': {
          const answer = await tenants.passwordReset(action.instance.id);
          onDone({
            tone: 'success',
            text: t('tenant.result.passwordReset', names),
            ...(answer.resetUrl ? { link: answer.resetUrl } : {}),
          });
          break;
        }
        case 'backup': {
          const command = await tenants.backup(action.instance.id);
          onDone({
            tone: 'success',
            text: t('tenant.result.backup', { ...names, state: t(`commandState.${command.state}`) }),
          });
          break;
        }
      }
    } catch (error) {
      onDone({ tone: 'error', text: errorText(error, t) });
    } finally {
      setPending(false);
    }
  };
  const danger = action.kind === 'pause' || action.kind === 'pause-tenant';
  return (
    <ConfirmDialog
      open
      title={t(`tenant.confirm.${action.kind}.title`, names)}
      confirmLabel={t(`tenant.confirm.${action.kind}.action`)}
      danger={danger}
      pending={pending}
      onCancel={onClose}
      onConfirm={() => void run()}
    >
      <p>{t(`tenant.confirm.${action.kind}.body`, names)}</p>
      {needsReason ? (
        <TextField
          label={t('tenant.reason')}
          value={reason}
          onChange={setReason}
          required
          maxLength={500}
          name="reason"
        />
      ) : null}
    </ConfirmDialog>
  );
}

function NewInstanceForm({ tenantId, onCreated }: { tenantId: string; onCreated: (created: CreatedInstance) => void }) {
  const { t } = useTranslation();
  const [name, setName] = useState('');
  const [webhookUrl, setWebhookUrl] = useState('');
  const [controlUrl, setControlUrl] = useState('');
  const [format, setFormat] = useState<'standard-webhooks' | 'meta'>('standard-webhooks');
  const { pending, error, submit } = useSubmission();
  const create = submit(async () => {
    onCreated(
      await tenants.createInstance(tenantId, {
        name: name.trim(),
        webhookUrl: webhookUrl.trim(),
        ...(controlUrl.trim() ? { controlUrl: controlUrl.trim() } : {}),
        deliveryFormat: format,
      }),
    );
    setName('');
    setWebhookUrl('');
    setControlUrl('');
  });
  return (
    <form className="panel stack" onSubmit={create} aria-label={t('tenant.instances.new')}>
      <h3>{t('tenant.instances.new')}</h3>
      <ErrorNotice error={error} />
      <div className="row">
        <TextField
          label={t('tenant.instances.name')}
          name="instanceName"
          value={name}
          onChange={setName}
          required
          maxLength={200}
        />
        <Field label={t('tenant.instances.format')}>
          <select value={format} onChange={(e) => setFormat(e.target.value as typeof format)}>
            <option value="standard-webhooks">{t('tenant.instances.formats.standard-webhooks')}</option>
            <option value="meta">{t('tenant.instances.formats.meta')}</option>
          </select>
        </Field>
      </div>
      <TextField
        label={t('tenant.instances.webhookUrl')}
        name="webhookUrl"
        type="url"
        value={webhookUrl}
        onChange={setWebhookUrl}
        required
      />
      <TextField
        label={t('tenant.instances.controlUrl')}
        hint={t('tenant.instances.controlUrlHint')}
        name="controlUrl"
        type="url"
        value={controlUrl}
        onChange={setControlUrl}
      />
      <div>
        <SubmitButton pending={pending}>{t('tenant.instances.create')}</SubmitButton>
      </div>
    </form>
  );
}

function NewChannelForm({ instances, onAdded }: { instances: Instance[]; onAdded: (channel: Channel) => void }) {
  const { t } = useTranslation();
  const [instanceId, setInstanceId] = useState(instances[0]?.id ?? '');
  const [platform, setPlatform] = useState<ChannelPlatform>('whatsapp');
  const [channelId, setChannelId] = useState('');
  const [name, setName] = useState('');
  const [wabaId, setWabaId] = useState('');
  const [pageId, setPageId] = useState('');
  const [accessToken, setAccessToken] = useState('');
  const { pending, error, submit } = useSubmission();
  const add = submit(async () => {
    const channel = await tenants.addChannel(instanceId, {
      platform,
      channelId: channelId.trim(),
      accessToken,
      ...(name.trim() ? { name: name.trim() } : {}),
      ...(platform === 'whatsapp' && wabaId.trim() ? { wabaId: wabaId.trim() } : {}),
      ...(platform === 'instagram' && pageId.trim() ? { pageId: pageId.trim() } : {}),
    });
    // The token is write-only: it leaves the form as soon as the engine has it.
    setAccessToken('');
    setChannelId('');
    setName('');
    onAdded(channel);
  });
  if (instances.length === 0) return <p className="muted">{t('tenant.channels.needInstance')}</p>;
  return (
    <form className="panel stack" onSubmit={add} aria-label={t('tenant.channels.new')}>
      <h3>{t('tenant.channels.new')}</h3>
      <ErrorNotice error={error} />
      <div className="row">
        <Field label={t('tenant.channels.instance')}>
          <select value={instanceId} onChange={(e) => setInstanceId(e.target.value)} name="channelInstance">
            <NamedOptions items={instances} />
          </select>
        </Field>
        <Field label={t('tenant.channels.platform')}>
          <select value={platform} onChange={(e) => setPlatform(e.target.value as ChannelPlatform)} name="platform">
            <Options
              items={['whatsapp', 'messenger', 'instagram'] as const}
              value={(p) => p}
              label={(p) => t(`platforms.${p}`)}
            />
          </select>
        </Field>
      </div>
      <div className="row">
        <TextField
          label={t(`tenant.channels.channelId.${platform}`)}
          name="channelId"
          value={channelId}
          onChange={setChannelId}
          required
          maxLength={64}
        />
        <TextField
          label={t('tenant.channels.name')}
          name="channelName"
          value={name}
          onChange={setName}
          maxLength={200}
        />
      </div>
      {platform === 'whatsapp' ? (
        <TextField
          label={t('tenant.channels.wabaId')}
          name="wabaId"
          value={wabaId}
          onChange={setWabaId}
          maxLength={64}
        />
      ) : null}
      {platform === 'instagram' ? (
        <TextField
          label={t('tenant.channels.pageId')}
          name="pageId"
          value={pageId}
          onChange={setPageId}
          required
          maxLength={64}
        />
      ) : null}
      <TextField
        label={t('tenant.channels.token')}
        hint={t('tenant.channels.tokenHint')}
        name="accessToken"
        type="password"
        value={accessToken}
        onChange={setAccessToken}
        autoComplete="off"
        required
        minLength={8}
      />
      <div>
        <SubmitButton pending={pending}>{t('tenant.channels.add')}</SubmitButton>
      </div>
    </form>
  );
}

function LimitsForm({ tenant, onSaved }: { tenant: Tenant; onSaved: (tenant: Tenant) => void }) {
  const { t } = useTranslation();
  const { can } = useSession();
  const [modules, setModules] = useState<TenantModules>(tenant.modules);
  const [limits, setLimits] = useState<TenantLimits>(tenant.limits);
  const [saved, setSaved] = useState(false);
  const { pending, error, submit } = useSubmission();
  const editable = can('tenants.write');
  const numberOrNull = (text: string) => (text.trim() === '' ? null : Math.max(0, Math.floor(Number(text))));
  const save = submit(async () => {
    setSaved(false);
    onSaved(await tenants.update(tenant.id, { modules, limits }));
    setSaved(true);
  });
  return (
    <form className="stack" onSubmit={save}>
      <ErrorNotice error={error} />
      {saved ? <Notice tone="success">{t('tenant.limits.saved')}</Notice> : null}
      <fieldset disabled={!editable}>
        <legend>{t('tenant.limits.modules')}</legend>
        <div className="checks">
          {(Object.keys(modules) as (keyof TenantModules)[]).map((module) => (
            <label key={module} className="check">
              <input
                type="checkbox"
                checked={modules[module]}
                onChange={(e) => setModules({ ...modules, [module]: e.target.checked })}
              />
              {t(`modules.${module}`)}
            </label>
          ))}
        </div>
      </fieldset>
      <fieldset disabled={!editable}>
        <legend>{t('tenant.limits.title')}</legend>
        <div className="row">
          <TextField
            label={t('tenant.limits.messagesPerMonth')}
            hint={t('tenant.limits.emptyUnlimited')}
            type="number"
            min={0}
            value={limits.messagesPerMonth ?? ''}
            onChange={(value) => setLimits({ ...limits, messagesPerMonth: numberOrNull(value) })}
          />
          <TextField
            label={t('tenant.limits.sendsPerSecond')}
            type="number"
            min={1}
            max={1000}
            required
            value={limits.sendsPerSecond}
            onChange={(value) => setLimits({ ...limits, sendsPerSecond: Math.max(1, Math.floor(Number(value))) })}
          />
          <TextField
            label={t('tenant.limits.broadcastSize')}
            hint={t('tenant.limits.emptyUnlimited')}
            type="number"
            min={0}
            value={limits.broadcastSize ?? ''}
            onChange={(value) => setLimits({ ...limits, broadcastSize: numberOrNull(value) })}
          />
        </div>
      </fieldset>
      {editable ? (
        <div>
          <SubmitButton pending={pending}>{t('common.save')}</SubmitButton>
        </div>
      ) : null}
    </form>
  );
}

function Usage({ tenant }: { tenant: Tenant }) {
  const { t } = useTranslation();
  const format = useFormat();
  const usage = useResource(() => monitoring.usage(tenant.id), [tenant.id]);
  return (
    <Loaded resource={usage}>
      {(counters) => {
        const totals = usageTotals(counters);
        const sent = totals.get('messages.sent') ?? 0;
        const quota = tenant.limits.messagesPerMonth;
        return (
          <>
            <UsageFigures totals={totals} />
            <p>
              {quota === null
                ? t('tenant.usage.unlimited', { sent: format.number(sent) })
                : t('tenant.usage.ofQuota', {
                    sent: format.number(sent),
                    quota: format.number(quota),
                    percent: format.number(quota === 0 ? 1 : sent / quota, { style: 'percent' }),
                  })}
            </p>
            {quota !== null ? (
              <progress
                max={Math.max(quota, 1)}
                value={Math.min(sent, Math.max(quota, 1))}
                aria-label={t('tenant.usage.title')}
              />
            ) : null}
          </>
        );
      }}
    </Loaded>
  );
}

export function TenantPage() {
  const { tenantId = '' } = useParams();
  const { t } = useTranslation();
  const format = useFormat();
  const { can } = useSession();
  const data = useResource(async () => {
    const [tenant, instances, channels, secrets] = await Promise.all([
      tenants.get(tenantId),
      tenants.instances(tenantId),
      tenants.channels(tenantId),
      can('secrets.read')
        ? tenants.secrets().catch(() => [] as SecretRefInfo[])
        : Promise.resolve([] as SecretRefInfo[]),
    ]);
    return { tenant, instances, channels, secrets };
  }, [tenantId]);
  const [action, setAction] = useState<PendingAction | null>(null);
  const [result, setResult] = useState<Result>(null);
  const [credentials, setCredentials] = useState<CreatedInstance | null>(null);

  return (
    <Loaded resource={data}>
      {({ tenant, instances, channels, secrets }) => {
        const tokenOf = (channel: Channel) =>
          secrets.find((s) => s.ref === `channel/${channel.platform}/${channel.channelId}/access-token`);
        const instanceName = (id: string) => instances.find((i) => i.id === id)?.name ?? id;
        return (
          <>
            <nav aria-label={t('common.breadcrumb')} className="breadcrumb">
              <Link to="/tenants">{t('tenants.title')}</Link>
            </nav>
            <PageHeader
              title={tenant.name}
              actions={
                can('instances.pause') ? (
                  tenant.status === 'active' ? (
                    <button type="button" className="danger" onClick={() => setAction({ kind: 'pause-tenant' })}>
                      {t('tenant.pauseTenant')}
                    </button>
                  ) : (
                    <button type="button" onClick={() => setAction({ kind: 'resume-tenant' })}>
                      {t('tenant.resumeTenant')}
                    </button>
                  )
                ) : null
              }
            />
            <p className="subtitle">
              <Badge tone={tenant.status === 'active' ? 'pass' : 'warn'}>{t(`tenantStatus.${tenant.status}`)}</Badge>{' '}
              <span className="mono muted">{tenant.id}</span> · {t('tenants.createdAt')} {format.date(tenant.createdAt)}
              {tenant.adminContact ? ` · ${tenant.adminContact.email}` : ''}
            </p>
            <OutcomeNotice outcome={result} testId="action-result" onDismiss={() => setResult(null)}>
              {result?.link ? (
                <p>
                  {t('tenant.result.linkOnce')} <code className="secret">{result.link}</code>
                </p>
              ) : null}
            </OutcomeNotice>
            {action ? (
              <ActionDialog
                tenant={tenant}
                action={action}
                onClose={() => setAction(null)}
                onDone={(r) => {
                  setAction(null);
                  setResult(r);
                  data.reload();
                }}
              />
            ) : null}

            <Section id="instances-title" title={t('tenant.instances.title')}>
              {credentials ? (
                <Notice tone="success" onDismiss={() => setCredentials(null)}>
                  <p>{t('tenant.instances.created', { name: credentials.instance.name })}</p>
                  {credentials.credentials ? (
                    <>
                      <p>{t('tenant.instances.credentialsOnce')}</p>
                      <dl className="secrets">
                        <dt>{t('tenant.instances.apiToken')}</dt>
                        <dd>
                          <code className="secret">{credentials.credentials.apiToken}</code>
                        </dd>
                        <dt>{t('tenant.instances.signingSecret')}</dt>
                        <dd>
                          <code className="secret">{credentials.credentials.signingSecret}</code>
                        </dd>
                      </dl>
                    </>
                  ) : (
                    <p>{t('tenant.instances.credentialsLater', { why: credentials.credentialsError ?? '' })}</p>
                  )}
                </Notice>
              ) : null}
              {instances.length === 0 ? (
                <p className="state state-empty">{t('tenant.instances.empty')}</p>
              ) : (
                <DataTable
                  rows={instances}
                  rowKey={(instance) => instance.id}
                  rowProps={(instance) => ({ 'data-instance': instance.name })}
                  columns={[
                    {
                      header: t('tenant.instances.name'),
                      cell: (instance) => (
                        <>
                          {instance.name}
                          <div className="muted mono">{instance.id}</div>
                        </>
                      ),
                    },
                    {
                      header: t('tenant.instances.state'),
                      cell: (instance) => (
                        <>
                          <Badge tone={stateTone(instance.state)}>{t(`instanceState.${instance.state}`)}</Badge>
                          {instance.stateReason ? <div className="muted">{instance.stateReason}</div> : null}
                        </>
                      ),
                    },
                    {
                      header: t('tenant.instances.webhookUrl'),
                      className: 'mono wrap',
                      cell: (instance) => instance.webhookUrl ?? '—',
                    },
                    {
                      header: t('common.actions'),
                      className: 'actions',
                      cell: (instance) => (
                        <>
                          {can('instances.pause') && instance.state === 'active' ? (
                            <button type="button" onClick={() => setAction({ kind: 'pause', instance })}>
                              {t('tenant.actions.pause')}
                            </button>
                          ) : null}
                          {can('instances.pause') && instance.state === 'paused' ? (
                            <button type="button" onClick={() => setAction({ kind: 'resume', instance })}>
                              {t('tenant.actions.resume')}
                            </button>
                          ) : null}
                          {can('instances.password-reset') && instance.controlUrl ? (
                            <button type="button" onClick={() => setAction({ kind: 'password-reset', instance })}>
                              {t('tenant.actions.passwordReset')}
                            </button>
                          ) : null}
                          {can('instances.command') && instance.controlUrl ? (
                            <button type="button" onClick={() => setAction({ kind: 'backup', instance })}>
                              {t('tenant.actions.backup')}
                            </button>
                          ) : null}
                        </>
                      ),
                    },
                  ]}
                />
              )}
              {can('instances.write') ? (
                <NewInstanceForm
                  tenantId={tenant.id}
                  onCreated={(created) => {
                    setCredentials(created);
                    data.reload();
                  }}
                />
              ) : null}
            </Section>

            <Section id="channels-title" title={t('tenant.channels.title')}>
              {channels.length === 0 ? (
                <p className="state state-empty">{t('tenant.channels.empty')}</p>
              ) : (
                <DataTable
                  rows={channels}
                  rowKey={(channel) => `${channel.platform}/${channel.channelId}`}
                  columns={[
                    { header: t('tenant.channels.platform'), cell: (channel) => t(`platforms.${channel.platform}`) },
                    {
                      header: t('tenant.channels.channel'),
                      cell: (channel) => (
                        <>
                          {channel.name ?? '—'}
                          <div className="muted mono">{channel.channelId}</div>
                        </>
                      ),
                    },
                    { header: t('tenant.channels.instance'), cell: (channel) => instanceName(channel.instanceId) },
                    {
                      header: t('tenant.channels.connection'),
                      cell: (channel) => (
                        <>
                          <Badge
                            tone={
                              channel.connection.state === 'subscribed'
                                ? 'pass'
                                : channel.connection.state === 'failed'
                                  ? 'fail'
                                  : 'warn'
                            }
                          >
                            {t(`connectionState.${channel.connection.state}`)}
                          </Badge>
                          {channel.connection.error ? <div className="muted">{channel.connection.error}</div> : null}
                        </>
                      ),
                    },
                    {
                      header: t('tenant.channels.token'),
                      className: 'mono',
                      cell: (channel) => {
                        const token = tokenOf(channel);
                        return token
                          ? t('tenant.channels.tokenShown', {
                              fingerprint: token.fingerprint.slice(0, 12),
                              last4: token.last4,
                            })
                          : t('tenant.channels.tokenStored');
                      },
                    },
                  ]}
                />
              )}
              {can('channels.write') ? (
                <NewChannelForm
                  key={instances.map((i) => i.id).join()}
                  instances={instances.filter((i) => i.state !== 'deprovisioned')}
                  onAdded={(channel) => {
                    setResult({
                      tone: 'success',
                      text: t('tenant.channels.added', {
                        channel: channel.name ?? channel.channelId,
                        state: t(`connectionState.${channel.connection.state}`),
                      }),
                    });
                    data.reload();
                  }}
                />
              ) : null}
            </Section>

            <Section id="usage-title" title={t('tenant.usage.title')}>
              <Usage tenant={tenant} />
            </Section>

            <Section id="limits-title" title={t('tenant.limits.heading')}>
              <LimitsForm key={tenant.updatedAt} tenant={tenant} onSaved={() => data.reload()} />
            </Section>

            <Section id="timeline-title" title={t('tenant.timeline.title')}>
              <TenantTimeline tenant={tenant} instances={instances} />
            </Section>
          </>
        );
      }}
    </Loaded>
  );
}
