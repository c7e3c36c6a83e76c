// MFA step-up in the portal: when a launch answers mfa_required (the secret's access policy
// asks for a fresh second factor), a small dialog asks for the TOTP code — or, for someone
// with a security key or passkey, the key — and the launch is tried once more (with the code;
// a verified key is remembered on the session, so without one). Cancel leaves the original
// refusal to be shown.
import { useEffect, useState, type ReactNode } from 'react';
import { api, ApiError, errorText } from '../api';
import type { SecurityKeyPage } from '../api-types';
import { keyErrorText, keysSupported, stepUpWithKey } from '../webauthn';
import { Button, InlineError, Modal, TextField } from './ui';

/** The answer meaning "verified with a security key": launch again without a code. */
const KEY = Symbol('security key');

interface Asking {
  message: string;
  answer(code: string | typeof KEY | null): void;
}

function StepUpModal({ asking }: { asking: Asking }) {
  const [code, setCode] = useState('');
  const [hasKey, setHasKey] = useState(false);
  const [busy, setBusy] = useState(false);
  const [keyError, setKeyError] = useState<string | null>(null);
  useEffect(() => {
    if (!keysSupported()) return;
    api.get<SecurityKeyPage>('/me/webauthn?limit=1').then((p) => setHasKey(p.total > 0), () => setHasKey(false));
  }, []);
  const withKey = async () => {
    setBusy(true);
    setKeyError(null);
    try {
      await stepUpWithKey();
      asking.answer(KEY);
    } catch (e) {
      setBusy(false);
      setKeyError(keyErrorText(e) ?? errorText(e));
    }
  };
  return (
    <Modal
      title="Verify it is you"
      onClose={() => asking.answer(null)}
      footer={
        <>
          <Button onClick={() => asking.answer(null)}>Cancel</Button>
          {hasKey && (
            <Button icon="key" busy={busy} onClick={() => void withKey()}>
              Use security key
            </Button>
          )}
          <Button variant="primary" type="submit" form="step-up-form" disabled={!code.trim()}>
            Verify and launch
          </Button>
        </>
      }
    >
      <form
        id="step-up-form"
        onSubmit={(e) => {
          e.preventDefault();
          if (code.trim()) asking.answer(code.trim());
        }}
      >
        <p>{asking.message}</p>
        <InlineError error={keyError} />
        <TextField label="Verification code" value={code} onChange={(e) => setCode(e.target.value)} inputMode="numeric" autoComplete="one-time-code" autoFocus />
      </form>
    </Modal>
  );
}

/** `run(fn)`: calls fn(); on mfa_required asks for the code (or a key) and calls fn(code) (or fn()). Render `dialog`. */
export function useStepUp(): { run<T>(fn: (totp?: string) => Promise<T>): Promise<T>; dialog: ReactNode } {
  const [asking, setAsking] = useState<Asking | null>(null);
  const run = async <T,>(fn: (totp?: string) => Promise<T>): Promise<T> => {
    try {
      return await fn();
    } catch (e) {
      if (!(e instanceof ApiError) || e.code !== 'mfa_required') throw e;
      const code = await new Promise<string | typeof KEY | null>((resolve) => setAsking({ message: e.message, answer: resolve }));
      setAsking(null);
      if (code === null) throw e;
      return code === KEY ? fn() : fn(code);
    }
  };
  return { run, dialog: asking ? <StepUpModal asking={asking} /> : null };
}
