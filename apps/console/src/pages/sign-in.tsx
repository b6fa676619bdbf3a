import { useState } from 'react';
import { Link, Navigate, useNavigate, useSearchParams } from 'react-router';
import { useTranslation } from 'react-i18next';
import type { SecondFactorChallenge } from '@mic/contracts';
import { ApiError } from '../api/client.ts';
import { ErrorNotice, SubmitButton, TextField, useSubmission } from '../components/forms.tsx';
import { errorText, Notice } from '../components/ui.tsx';
import { LanguageSwitch } from '../layout.tsx';
import { useSession } from '../session.tsx';

/** Only paths inside the console, so a crafted link cannot send the operator elsewhere after signing in. */
const safeNext = (next: string | null) => (next && next.startsWith('/') && !next.startsWith('//') ? next : '/');

export function AuthFrame({ title, children }: { title: string; children: React.ReactNode }) {
  return (
    <div className="auth">
      <div className="auth-card">
        <div className="auth-top">
          <span className="brand">MIC</span>
          <LanguageSwitch />
        </div>
        <main id="main">
          <h1>{title}</h1>
          {children}
        </main>
      </div>
    </div>
  );
}

export function SignInPage() {
  const { t } = useTranslation();
  const { session, endedReason, signIn, completeSecondFactor } = useSession();
  const [params] = useSearchParams();
  const navigate = useNavigate();
  const [email, setEmail] = useState('');
  const [password, setPassword] = useState('');
  const [challenge, setChallenge] = useState<SecondFactorChallenge | null>(null);
  const [code, setCode] = useState('');
  const [useRecovery, setUseRecovery] = useState(false);
  const { pending, error, submit } = useSubmission();
  const next = safeNext(params.get('next'));

  if (session) return <Navigate to={next} replace />;

  const failed = (caught: unknown) =>
    caught instanceof ApiError && caught.status === 401
      ? t('auth.invalid')
      : caught instanceof ApiError && caught.status === 429
        ? t('auth.tooMany')
        : errorText(caught, t);

  const submitPassword = submit(async () => {
    const outcome = await signIn(email, password);
    if (outcome.kind === 'second-factor') setChallenge(outcome.challenge);
    else void navigate(next, { replace: true });
  }, failed);

  const submitCode = submit(
    async () => {
      if (!challenge) return;
      await completeSecondFactor(
        challenge.challenge,
        useRecovery ? { recoveryCode: code.trim() } : { code: code.trim() },
      );
      void navigate(next, { replace: true });
    },
    (caught) => {
      if (caught instanceof ApiError && caught.status === 401 && caught.problem?.type?.includes('challenge')) {
        setChallenge(null);
        return t('auth.challengeExpired');
      }
      return failed(caught);
    },
  );

  return (
    <AuthFrame title={challenge ? t('auth.secondFactorTitle') : t('auth.signInTitle')}>
      {endedReason === 'expired' ? <Notice tone="error">{t('auth.expired')}</Notice> : null}
      <ErrorNotice error={error} />
      {challenge ? (
        <form onSubmit={submitCode} className="stack">
          <p>{useRecovery ? t('auth.recoveryHelp') : t('auth.secondFactorHelp')}</p>
          <TextField
            label={useRecovery ? t('auth.recoveryCode') : t('auth.code')}
            name="code"
            value={code}
            onChange={setCode}
            autoComplete="one-time-code"
            inputMode={useRecovery ? 'text' : 'numeric'}
            {...(useRecovery ? {} : { pattern: '[0-9]{6}', maxLength: 6 })}
            required
            autoFocus
          />
          <SubmitButton pending={pending}>{t('auth.verify')}</SubmitButton>
          <button type="button" className="link" onClick={() => setUseRecovery((v) => !v)}>
            {useRecovery ? t('auth.useCode') : t('auth.useRecovery')}
          </button>
        </form>
      ) : (
        <form onSubmit={submitPassword} className="stack">
          <TextField
            label={t('auth.email')}
            type="email"
            name="email"
            value={email}
            onChange={setEmail}
            autoComplete="username"
            required
            autoFocus
          />
          <TextField
            label={t('auth.password')}
            type="password"
            name="password"
            value={password}
            onChange={setPassword}
            autoComplete="current-password"
            required
          />
          <SubmitButton pending={pending}>{t('auth.signIn')}</SubmitButton>
          <Link to="/forgot-password">{t('auth.forgot')}</Link>
        </form>
      )}
    </AuthFrame>
  );
}
