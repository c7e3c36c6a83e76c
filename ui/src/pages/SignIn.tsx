import { useEffect, useRef, useState, type FormEvent } from 'react';
import { api, ApiError, errorText } from '../api';
import type { SignInOptions } from '../api-types';
import { dayOrTime, duration } from '../format';
import { useAuth } from '../auth';
import { Alert, Button, TextField } from '../components/ui';
import { useTitle } from '../hooks';
import { keyAfterPassword, keyErrorText, keysSupported, passkeySignIn } from '../webauthn';
import './SignIn.css';

function signInError(e: unknown): string {
  if (!(e instanceof ApiError)) return errorText(e);
  switch (e.code) {
    case 'invalid_credentials':
      return 'The username or password is not right. Check them and try again.';
    case 'invalid_totp':
      return 'That authentication code is not right. Use the current code from your authenticator app, or one of your recovery codes.';
    case 'account_locked': {
      // The server says when the lock ends (for any name, so it tells nothing about accounts).
      const until = typeof e.details.lockedUntil === 'string' ? e.details.lockedUntil : null;
      return until
        ? `This account is locked after too many failed sign-in attempts, until ${dayOrTime(until)}. Try again then, or ask an administrator to unlock it.`
        : 'This account is locked after too many failed sign-in attempts. Try again later, or ask an administrator to unlock it.';
    }
    case 'too_many_attempts': {
      const secs = typeof e.details.retryAfter === 'number' ? e.details.retryAfter : null;
      return `Too many failed sign-in attempts from your address. Try again ${secs ? `in ${duration(secs * 1000)}` : 'later'}.`;
    }
    case 'invalid_webauthn':
      return 'Your security key or passkey was not accepted. Try again, or use a code.';
    case 'passwordless_disabled':
      return 'Signing in with a passkey alone is turned off here: sign in with your password.';
    case 'account_disabled':
      return 'This account is disabled. Ask an administrator if you need access.';
    case 'application_account':
      return 'This is an application account: it can only use the API, not the portal.';
    default:
      return errorText(e);
  }
}

export function SignIn({ notice }: { notice?: string }) {
  useTitle('Sign in');
  const { signIn, refresh } = useAuth();
  const [username, setUsername] = useState('');
  const [password, setPassword] = useState('');
  const [totp, setTotp] = useState('');
  const [needTotp, setNeedTotp] = useState(false);
  // The account has a security key: it is asked for after the password (a code still does).
  const [needKey, setNeedKey] = useState(false);
  const [passkey, setPasskey] = useState(false);
  const [error, setError] = useState<string | null>(null);
  const [busy, setBusy] = useState(false);
  const totpRef = useRef<HTMLInputElement>(null);
  const passwordRef = useRef<HTMLInputElement>(null);
  // The OIDC providers an administrator turned on (public list; none on error).
  const [providers, setProviders] = useState<SignInOptions['oidc']>([]);
  useEffect(() => {
    api.get<SignInOptions>('/auth/providers', { anonymous: true }).then(
      (o) => {
        setProviders(o.oidc);
        setPasskey(o.passkey && keysSupported());
      },
      () => setProviders([]),
    );
  }, []);

  /** Runs a key ceremony (the browser asks for the key) and shows why it failed. */
  const withKey = async (ceremony: () => Promise<void>) => {
    setBusy(true);
    setError(null);
    try {
      await ceremony();
    } catch (err) {
      setBusy(false);
      setError(keyErrorText(err) ?? signInError(err));
    }
  };
  const askKey = () => withKey(async () => signIn({ username: username.trim(), password, webauthn: await keyAfterPassword(username.trim(), password) }));

  const submit = async (e: FormEvent) => {
    e.preventDefault();
    if (needKey && !totp.trim()) return askKey();
    setBusy(true);
    setError(null);
    try {
      await signIn({ username: username.trim(), password, ...(needTotp && totp.trim() ? { totp: totp.replace(/\s+/g, '') } : {}) });
    } catch (err) {
      setBusy(false);
      if (err instanceof ApiError && err.code === 'webauthn_required') {
        setNeedKey(true);
        setNeedTotp(true);
        return askKey();
      }
      if (err instanceof ApiError && err.code === 'totp_required') {
        setNeedTotp(true);
        setTimeout(() => totpRef.current?.focus(), 0);
        if (needTotp) setError('Enter the authentication code from your authenticator app.');
        return;
      }
      setError(signInError(err));
      if (err instanceof ApiError && err.code === 'invalid_totp') {
        setTotp('');
        setTimeout(() => totpRef.current?.focus(), 0);
      } else if (err instanceof ApiError && err.code === 'invalid_credentials') {
        setPassword('');
        setTimeout(() => passwordRef.current?.focus(), 0);
      }
    }
  };

  return (
    <div className="signin-page">
      <div className="signin-panel">
        <div className="signin-brand">
          <svg width="40" height="40" viewBox="0 0 32 32" aria-hidden="true">
            <rect width="32" height="32" rx="7" fill="var(--brand)" />
            <path d="M8 26V13l8-6 8 6v13h-5v-7h-6v7z" fill="#fff" />
          </svg>
          <div>
            <div className="signin-title">Gatehouse</div>
            <div className="muted">Privileged access gateway</div>
          </div>
        </div>
        <form className="signin-card" onSubmit={submit} noValidate>
          <h1>Sign in</h1>
          {notice && !error && !needTotp && <Alert kind={notice.startsWith('Your session expired') ? 'warning' : 'info'}>{notice}</Alert>}
          {error && <Alert kind="error">{error}</Alert>}
          <TextField label="Username" name="username" autoComplete="username" autoCapitalize="none" spellCheck={false} value={username} onChange={(e) => setUsername(e.target.value)} autoFocus required disabled={needTotp && busy} />
          <TextField label="Password" name="password" type="password" autoComplete="current-password" value={password} onChange={(e) => setPassword(e.target.value)} required ref={passwordRef} />
          {needKey && (
            <div className="signin-key">
              <p>Use your security key or passkey: your browser asks for it.</p>
              <Button type="button" icon="key" busy={busy} onClick={() => void askKey()}>
                Use security key
              </Button>
            </div>
          )}
          {needTotp && (
            <TextField
              ref={totpRef}
              label="Authentication code"
              name="totp"
              inputMode="numeric"
              autoComplete="one-time-code"
              value={totp}
              onChange={(e) => setTotp(e.target.value)}
              hint={needKey ? 'Or the 6-digit code from your authenticator app, or one of your recovery codes.' : 'The 6-digit code from your authenticator app, or one of your recovery codes.'}
              maxLength={32}
              required={!needKey}
            />
          )}
          <Button type="submit" variant="primary" busy={busy} className="btn-block" disabled={!username.trim() || !password}>
            {needTotp ? 'Verify and sign in' : 'Sign in'}
          </Button>
        </form>
        {passkey && !needTotp && (
          <div className="signin-card signin-sso">
            <Button type="button" icon="key" className="btn-block" busy={busy} onClick={() => void withKey(async () => { await passkeySignIn(); await refresh(); })}>
              Sign in with a passkey
            </Button>
          </div>
        )}
        {providers.length > 0 && (
          <div className="signin-card signin-sso">
            {providers.map((p) => (
              // A full page navigation: the provider's sign-in page, then back to /auth/oidc/callback.
              <a key={p.name} className="btn btn-block" href={p.startUrl}>
                Sign in with {p.displayName}
              </a>
            ))}
          </div>
        )}
        <p className="signin-foot muted">Every sign-in and session is recorded in the audit trail.</p>
      </div>
    </div>
  );
}
