import { createContext, useCallback, useContext, useEffect, useMemo, useState, type ReactNode } from 'react';
import type { OperatorSession, SecondFactorChallenge } from '@mic/contracts';
import { api } from './api/client.ts';

export type SignInOutcome = { kind: 'signed-in' } | { kind: 'second-factor'; challenge: SecondFactorChallenge };

interface SessionContextValue {
  /** undefined while the first check runs; null when nobody is signed in. */
  session: OperatorSession | null | undefined;
  /** How the last session ended: on its own ('expired', told on the sign-in page) or by signing out. */
  endedReason: 'expired' | 'signed-out' | null;
  signIn: (email: string, password: string) => Promise<SignInOutcome>;
  completeSecondFactor: (challenge: string, code: { code: string } | { recoveryCode: string }) => Promise<void>;
  signOut: () => Promise<void>;
  can: (permission: string) => boolean;
  /** Reads the session again (its scope and permissions change once a second factor is enrolled). */
  refresh: () => Promise<void>;
}

const SessionContext = createContext<SessionContextValue | null>(null);

export function SessionProvider({ children }: { children: ReactNode }) {
  const [session, setSession] = useState<OperatorSession | null | undefined>(undefined);
  const [endedReason, setEndedReason] = useState<'expired' | 'signed-out' | null>(null);

  const adopt = useCallback((next: OperatorSession | null) => {
    api.setCsrfToken(next?.csrfToken ?? null);
    setSession(next);
    if (next) setEndedReason(null);
  }, []);

  useEffect(() => {
    api.onSessionEnded(() => {
      api.setCsrfToken(null);
      setSession((current) => {
        if (current) setEndedReason('expired');
        return null;
      });
    });
    api.get<OperatorSession>('/v1/auth/session').then(adopt, () => adopt(null));
    return () => api.onSessionEnded(null);
  }, [adopt]);

  const value = useMemo<SessionContextValue>(
    () => ({
      session,
      endedReason,
      async signIn(email, password) {
        const answer = await api.post<OperatorSession | SecondFactorChallenge>('/v1/auth/login', { email, password });
        if ('secondFactorRequired' in answer) return { kind: 'second-factor', challenge: answer };
        adopt(answer);
        return { kind: 'signed-in' };
      },
      async completeSecondFactor(challenge, code) {
        adopt(await api.post<OperatorSession>('/v1/auth/login/second-factor', { challenge, ...code }));
      },
      async signOut() {
        try {
          await api.post('/v1/auth/logout');
        } finally {
          adopt(null);
          setEndedReason('signed-out');
        }
      },
      can: (permission) => session?.permissions.includes(permission) ?? false,
      async refresh() {
        adopt(await api.get<OperatorSession>('/v1/auth/session'));
      },
    }),
    [session, endedReason, adopt],
  );
  return <SessionContext.Provider value={value}>{children}</SessionContext.Provider>;
}

export function useSession(): SessionContextValue {
  const value = useContext(SessionContext);
  if (!value) throw new Error('useSession outside SessionProvider');
  return value;
}
