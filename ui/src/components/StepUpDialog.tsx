// MFA step-up in the portal: when a launch answers mfa_required (the secret's access policy
// asks for a fresh second factor), a small dialog asks for the TOTP code and the launch is
// tried once more with it. Cancel leaves the original refusal to be shown.
import { useState, type ReactNode } from 'react';
import { ApiError } from '../api';
import { Button, Modal, TextField } from './ui';

interface Asking {
  message: string;
  answer(code: string | null): void;
}

function StepUpModal({ asking }: { asking: Asking }) {
  const [code, setCode] = useState('');
  return (
    <Modal
      title="Verify it is you"
      onClose={() => asking.answer(null)}
      footer={
        <>
          <Button onClick={() => asking.answer(null)}>Cancel</Button>
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
        <TextField label="Verification code" value={code} onChange={(e) => setCode(e.target.value)} inputMode="numeric" autoComplete="one-time-code" autoFocus />
      </form>
    </Modal>
  );
}

/** `run(fn)`: calls fn(); on mfa_required asks for the code and calls fn(code). Render `dialog`. */
export function useStepUp(): { run<T>(fn: (totp?: string) => Promise<T>): Promise<T>; dialog: ReactNode } {
  const [asking, setAsking] = useState<Asking | null>(null);
  const run = async <T,>(fn: (totp?: string) => Promise<T>): Promise<T> => {
    try {
      return await fn();
    } catch (e) {
      if (!(e instanceof ApiError) || e.code !== 'mfa_required') throw e;
      const code = await new Promise<string | null>((resolve) => setAsking({ message: e.message, answer: resolve }));
      setAsking(null);
      if (code === null) throw e;
      return fn(code);
    }
  };
  return { run, dialog: asking ? <StepUpModal asking={asking} /> : null };
}
