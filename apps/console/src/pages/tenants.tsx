import { useState } from 'react';
import { Link, useNavigate } from 'react-router';
import { useTranslation } from 'react-i18next';
import type { Tenant } from '@mic/contracts';
import { tenants } from '../api/admin.ts';
import { useResource } from '../api/resource.ts';
import { ErrorNotice, SubmitButton, TextField, useSubmission } from '../components/forms.tsx';
import { DataTable } from '../components/table.tsx';
import { Badge, Field, Loaded, PageHeader } from '../components/ui.tsx';
import { useFormat } from '../format.ts';
import { useQueryParams } from '../search-params.ts';
import { useSession } from '../session.tsx';

function CreateTenantForm({ onCancel }: { onCancel: () => void }) {
  const { t } = useTranslation();
  const navigate = useNavigate();
  const [name, setName] = useState('');
  const [email, setEmail] = useState('');
  const [locale, setLocale] = useState<'es' | 'en'>('es');
  const { pending, error, submit } = useSubmission();
  const create = submit(async () => {
    const tenant = await tenants.create({
      name: name.trim(),
      ...(email.trim() ? { adminContact: { email: email.trim(), locale } } : {}),
    });
    void navigate(`/tenants/${tenant.id}`, { state: { created: true } });
  });
  return (
    <form className="panel stack" onSubmit={create} aria-labelledby="new-tenant-title">
      <h2 id="new-tenant-title">{t('tenants.new')}</h2>
      <ErrorNotice error={error} />
      <TextField
        label={t('tenants.name')}
        name="name"
        value={name}
        onChange={setName}
        required
        maxLength={200}
        autoFocus
      />
      <div className="row">
        <TextField
          label={t('tenants.adminEmail')}
          hint={t('tenants.adminEmailHint')}
          type="email"
          name="adminEmail"
          value={email}
          onChange={setEmail}
        />
        <Field label={t('tenants.adminLocale')}>
          <select value={locale} onChange={(e) => setLocale(e.target.value as 'es' | 'en')}>
            <option value="es">{t('language.es')}</option>
            <option value="en">{t('language.en')}</option>
          </select>
        </Field>
      </div>
      <div className="row">
        <SubmitButton pending={pending}>{t('tenants.create')}</SubmitButton>
        <button type="button" onClick={onCancel}>
          {t('common.cancel')}
        </button>
      </div>
    </form>
  );
}

export function TenantsPage() {
  const { t } = useTranslation();
  const format = useFormat();
  const { can } = useSession();
  const query = useQueryParams();
  const [creating, setCreating] = useState(false);
  const q = query.get('q');
  const status = query.get('status');
  const list = useResource(() => tenants.list(), []);
  const matches = (tenant: Tenant) =>
    (!status || tenant.status === status) &&
    (!q ||
      tenant.name.toLowerCase().includes(q.toLowerCase()) ||
      tenant.id.toLowerCase().includes(q.toLowerCase()) ||
      (tenant.adminContact?.email.toLowerCase().includes(q.toLowerCase()) ?? false));

  return (
    <>
      <PageHeader
        title={t('tenants.title')}
        actions={
          can('tenants.write') && !creating ? (
            <button type="button" className="primary" onClick={() => setCreating(true)}>
              {t('tenants.new')}
            </button>
          ) : null
        }
      />
      {creating ? <CreateTenantForm onCancel={() => setCreating(false)} /> : null}
      <div className="filters" role="search">
        <TextField
          label={t('common.search')}
          type="search"
          value={q}
          onChange={(value) => query.set('q', value)}
          placeholder={t('tenants.searchHint')}
        />
        <Field label={t('tenants.status')}>
          <select value={status} onChange={(e) => query.set('status', e.target.value)}>
            <option value="">{t('common.all')}</option>
            <option value="active">{t('tenantStatus.active')}</option>
            <option value="paused">{t('tenantStatus.paused')}</option>
          </select>
        </Field>
      </div>
      <Loaded resource={list} isEmpty={(l) => l.length === 0} empty={t('tenants.empty')}>
        {(all) => {
          const shown = all.filter(matches);
          if (shown.length === 0) return <p className="state state-empty">{t('tenants.noMatch')}</p>;
          return (
            <DataTable
              caption={t('tenants.title')}
              rows={shown}
              rowKey={(tenant) => tenant.id}
              columns={[
                {
                  header: t('tenants.name'),
                  cell: (tenant) => (
                    <>
                      <Link to={`/tenants/${tenant.id}`}>{tenant.name}</Link>
                      <div className="muted mono">{tenant.id}</div>
                    </>
                  ),
                },
                {
                  header: t('tenants.status'),
                  cell: (tenant) => (
                    <Badge tone={tenant.status === 'active' ? 'pass' : 'warn'}>
                      {t(`tenantStatus.${tenant.status}`)}
                    </Badge>
                  ),
                },
                {
                  header: t('tenants.modules'),
                  cell: (tenant) =>
                    Object.entries(tenant.modules)
                      .filter(([, on]) => on)
                      .map(([module]) => t(`modules.${module}` as 'modules.whatsapp'))
                      .join(', ') || '—',
                },
                { header: t('tenants.createdAt'), cell: (tenant) => format.date(tenant.createdAt) },
              ]}
            />
          );
        }}
      </Loaded>
    </>
  );
}
