import { NavLink, Outlet, useLocation } from 'react-router';
import { useTranslation } from 'react-i18next';
import { changeLanguage, LANGUAGES, type Language } from './i18n/index.ts';
import { useSession } from './session.tsx';
import { PageErrorBoundary } from './components/error-boundary.tsx';
import { Options } from './components/forms.tsx';

const NAV = [
  { to: '/', key: 'nav.overview', end: true },
  { to: '/tenants', key: 'nav.tenants', end: false },
  { to: '/deliveries', key: 'nav.deliveries', end: false },
  { to: '/billing', key: 'nav.billing', end: false },
  { to: '/crm', key: 'nav.crm', end: false },
  { to: '/settings', key: 'nav.settings', end: false },
] as const;

export function LanguageSwitch() {
  const { t, i18n } = useTranslation();
  return (
    <label className="language">
      <span className="visually-hidden">{t('language.label')}</span>
      <select
        value={i18n.language}
        onChange={(event) => void changeLanguage(event.target.value as Language)}
        data-testid="language"
      >
        <Options items={LANGUAGES} value={(language) => language} label={(language) => t(`language.${language}`)} />
      </select>
    </label>
  );
}

export function Layout() {
  const { t } = useTranslation();
  const { session, signOut } = useSession();
  const { pathname } = useLocation();
  return (
    <div className="shell">
      <a className="skip-link" href="#main">
        {t('nav.skip')}
      </a>
      <header className="topbar">
        <span className="brand">MIC</span>
        <nav aria-label={t('nav.label')} className="nav">
          <ul>
            {NAV.map((item) => (
              <li key={item.to}>
                <NavLink to={item.to} end={item.end}>
                  {t(item.key)}
                </NavLink>
              </li>
            ))}
          </ul>
        </nav>
        <div className="account">
          <LanguageSwitch />
          <span className="who" title={session?.operator.email}>
            {session?.operator.name}
          </span>
          <button type="button" onClick={() => void signOut()}>
            {t('auth.signOut')}
          </button>
        </div>
      </header>
      <main id="main" tabIndex={-1}>
        <PageErrorBoundary key={pathname}>
          <Outlet />
        </PageErrorBoundary>
      </main>
    </div>
  );
}
