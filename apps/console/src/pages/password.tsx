import { useState, type FormEvent } from 'react';
import { Link, useSearchParams } from 'react-router';
import { useTranslation } from 'react-i18next';
import type { OPERATOR_PASSWORD_MIN_LENGTH as CONTRACT_MIN_LENGTH } from '@mic/contracts';
import { api, ApiError } from '../api/client.ts';
import { ErrorNotice, SubmitButton, TextField, useSubmission } from '../components/forms.tsx';
import { errorText, Notice } from '../components/ui.tsx';
import { AuthFrame } from './sign-in.tsx';

// Typed as the contract's constant, so a change there fails the type check here; the console
// imports no runtime code from the contracts.
const OPERATOR_PASSWORD_MIN_LENGTH: typeof CONTRACT_MIN_LENGTH = 12;

export function ForgotPasswordPage() {
  const { t } = useTranslation();
  const [email, setEmail] = useState('');
  const [sent, setSent] = useState(false);
  const { pending, error, submit } = useSubmission();
  const request = submit(async () => {
    await api.post('/v1/auth/password-reset/request', { email });
    setSent(true);
  });

  return (
    <AuthFrame title={t('auth.forgotTitle')}>
      {sent ? (
        <Notice tone="success">{t('auth.forgotSent')}</Notice>
      ) : (
        <form onSubmit={request} className="stack">
          <p>{t('auth.forgotHelp')}</p>
          <ErrorNotice error={error} />
          <TextField label={t('auth.email')} type="email" value={email} onChange={setEmail} required autoFocus />
          <SubmitButton pending={pending}>{t('auth.sendLink')}</SubmitButton>
        </form>
      )}
      <Link to="/sign-in">{t('auth.backToSignIn')}</Link>
    </AuthFrame>
  );
}

export function ResetPasswordPage() {
  const { t } = useTranslation();
  const [params] = useSearchParams();
  const token = params.get('token') ?? '';
  const [password, setPassword] = useState('');
  const [repeat, setRepeat] = useState('');
  const [done, setDone] = useState(false);
  const { pending, error, setError, run } = useSubmission();
  // A spent, expired or unknown link all read the same; a password the server refuses says why.
  const describe = (caught: unknown) =>
    caught instanceof ApiError &&
    (caught.status === 400 || caught.status === 410 || caught.status === 401) &&
    !caught.problem?.type?.includes('validation')
      ? t('auth.resetInvalid')
      : errorText(caught, t);

  const submit = (event: FormEvent) => {
    event.preventDefault();
    if (password !== repeat) {
      setError(t('auth.passwordsDiffer'));
      return;
    }
    void run(async () => {
      await api.post('/v1/auth/password-reset', { token, newPassword: password });
      setDone(true);
    }, describe);
  };

  return (
    <AuthFrame title={t('auth.resetTitle')}>
      {!token ? <Notice tone="error">{t('auth.resetInvalid')}</Notice> : null}
      {done ? (
        <Notice tone="success">{t('auth.resetDone')}</Notice>
      ) : token ? (
        <form onSubmit={submit} className="stack">
          <ErrorNotice error={error} />
          <TextField
            label={t('auth.newPassword')}
            hint={t('auth.passwordRule', { min: OPERATOR_PASSWORD_MIN_LENGTH })}
            type="password"
            value={password}
            onChange={setPassword}
            minLength={OPERATOR_PASSWORD_MIN_LENGTH}
            autoComplete="new-password"
            required
            autoFocus
          />
          <TextField
            label={t('auth.repeatPassword')}
            type="password"
            value={repeat}
            onChange={setRepeat}
            minLength={OPERATOR_PASSWORD_MIN_LENGTH}
            autoComplete="new-password"
            required
          />
          <SubmitButton pending={pending}>{t('auth.setPassword')}</SubmitButton>
        </form>
      ) : null}
      <Link to="/sign-in">{t('auth.backToSignIn')}</Link>
    </AuthFrame>
  );
}
