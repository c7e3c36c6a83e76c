// Who is signed in, with which permissions; sign-in, sign-out, and the return to sign-in
// when the session expires (any 401 from the API).
import { createContext, useCallback, useContext, useEffect, useMemo, useState, type ReactNode } from 'react';
import { api, readCookie, setCsrfToken, setUnauthorizedHandler } from './api';
import type { Me, Permission, SignInResponse } from './api-types';
import type { KeyProof } from './webauthn';

type State =
  | { status: 'loading' }
  | { status: 'signedOut'; notice?: string }
  | { status: 'signedIn'; me: Me };

interface AuthApi {
  state: State;
  signIn(input: { username: string; password: string; totp?: string; webauthn?: KeyProof }): Promise<void>;
  signOut(): Promise<void>;
  refresh(): Promise<void>;
}

const Ctx = createContext<AuthApi | null>(null);

export const EXPIRED = 'Your session expired; sign in again.';

export function AuthProvider({ children }: { children: ReactNode }) {
  const [state, setState] = useState<State>({ status: 'loading' });

  const refresh = useCallback(async () => {
    const me = await api.get<Me>('/me', { anonymous: true });
    setState({ status: 'signedIn', me });
  }, []);

  useEffect(() => {
    setUnauthorizedHandler(() => {
      setCsrfToken(null);
      setState((s) => (s.status === 'signedIn' ? { status: 'signedOut', notice: EXPIRED } : s));
    });
    const hadSession = readCookie('__Host-gh_csrf') !== null;
    refresh().catch(() => setState({ status: 'signedOut', notice: hadSession ? EXPIRED : undefined }));
    return () => setUnauthorizedHandler(null);
  }, [refresh]);

  const signIn = useCallback(
    async (input: { username: string; password: string; totp?: string; webauthn?: KeyProof }) => {
      const r = await api.post<SignInResponse>('/auth/session', input, { anonymous: true });
      setCsrfToken(r.csrfToken);
      await refresh();
    },
    [refresh],
  );

  const signOut = useCallback(async () => {
    try {
      await api.del('/auth/session', { anonymous: true });
    } catch {
      /* already gone: signing out anyway */
    }
    setCsrfToken(null);
    setState({ status: 'signedOut', notice: 'You signed out.' });
  }, []);

  const value = useMemo(() => ({ state, signIn, signOut, refresh }), [state, signIn, signOut, refresh]);
  return <Ctx.Provider value={value}>{children}</Ctx.Provider>;
}

export function useAuth(): AuthApi {
  const c = useContext(Ctx);
  if (!c) throw new Error('useAuth outside AuthProvider');
  return c;
}

/** The signed-in user (only inside the signed-in part of the app). */
export function useMe(): Me & { can(p: Permission): boolean } {
  const { state } = useAuth();
  if (state.status !== 'signedIn') throw new Error('useMe while not signed in');
  const me = state.me;
  return useMemo(() => ({ ...me, can: (p: Permission) => me.permissions.includes(p) }), [me]);
}
