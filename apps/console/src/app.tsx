import { Navigate, Route, Routes, useLocation } from 'react-router';
import { useTranslation } from 'react-i18next';
import { Layout } from './layout.tsx';
import { useSession } from './session.tsx';
import { Loading } from './components/ui.tsx';
import { SignInPage } from './pages/sign-in.tsx';
import { ForgotPasswordPage, ResetPasswordPage } from './pages/password.tsx';
import { OverviewPage } from './pages/overview.tsx';
import { TenantsPage } from './pages/tenants.tsx';
import { TenantPage } from './pages/tenant.tsx';
import { DeliveriesPage } from './pages/deliveries.tsx';
import { HubBroadcastPage } from './pages/hub-broadcasts.tsx';
import { BillingPage } from './pages/billing.tsx';
import { CrmPage } from './pages/crm.tsx';
import { SettingsPage } from './pages/settings.tsx';

function RequireSession() {
  const { session, endedReason } = useSession();
  const location = useLocation();
  const { t } = useTranslation();
  if (session === undefined) return <Loading label={t('auth.checking')} />;
  if (session === null) {
    // After a deliberate sign-out the next session starts on the overview, not on the page left.
    if (endedReason === 'signed-out') return <Navigate to="/sign-in" replace />;
    const next = location.pathname + location.search;
    return <Navigate to={`/sign-in${next === '/' ? '' : `?next=${encodeURIComponent(next)}`}`} replace />;
  }
  // The hub requires a second factor this operator has not enrolled: enrolling is all it may do.
  if (session.scope === 'enrolment' && location.pathname !== '/settings') return <Navigate to="/settings" replace />;
  return <Layout />;
}

function NotFound() {
  const { t } = useTranslation();
  return (
    <section>
      <h1>{t('errors.pageNotFound')}</h1>
    </section>
  );
}

export function App() {
  return (
    <Routes>
      <Route path="/sign-in" element={<SignInPage />} />
      <Route path="/forgot-password" element={<ForgotPasswordPage />} />
      <Route path="/reset-password" element={<ResetPasswordPage />} />
      <Route element={<RequireSession />}>
        <Route index element={<OverviewPage />} />
        <Route path="/tenants" element={<TenantsPage />} />
        <Route path="/tenants/:tenantId" element={<TenantPage />} />
        <Route path="/deliveries" element={<DeliveriesPage />} />
        <Route path="/deliveries/broadcasts/:broadcastId" element={<HubBroadcastPage />} />
        <Route path="/billing" element={<BillingPage />} />
        <Route path="/crm" element={<CrmPage />} />
        <Route path="/settings" element={<SettingsPage />} />
        <Route path="*" element={<NotFound />} />
      </Route>
    </Routes>
  );
}
