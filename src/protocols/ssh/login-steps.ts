// The steps of a `<user>:<secret>` login at the SSH door after the first factor, as one small
// state machine (socket-free; connection.ts drives it from ssh2's auth callbacks). A login
// whose secret's access policy asks for them goes: first factor (key or password) → a
// verification code (MFA step-up, only after a key) → consent to recording → done. Each step
// is a keyboard-interactive round after a partial success; a step belongs to the user name
// and secret it was reached with, so a client that changes either starts over.
//
//   idle ──key, step-up needed──▶ code ──right code──▶ (consent needed?) ──▶ consent ──yes──▶ done
//     │                            └─wrong code: stays at code            └─no: idle (declined)
//     └──first factor, no step-up──▶ (consent needed?) ── no ──▶ done

export interface LoginIdentity {
  username: string;
  secretRef: string;
  userId: string;
}

export type LoginState =
  | { step: 'idle' }
  /** A key was accepted; the policy asks for a verification code next. */
  | ({ step: 'code' } & LoginIdentity)
  /** Authenticated (with a second factor at secondFactorAt, if any); the policy's consent text is asked next. */
  | ({ step: 'consent'; text: string; secondFactorAt?: number } & LoginIdentity)
  /** Authenticated, and consented where asked: the session opens with the first channel. */
  | ({ step: 'done'; consented: boolean; secondFactorAt?: number } & LoginIdentity);

export class LoginSteps {
  state: LoginState = { step: 'idle' };

  /** The step waiting for this user name and secret (code or consent), or null. */
  waiting(username: string, secretRef: string): Extract<LoginState, { step: 'code' | 'consent' }> | null {
    const s = this.state;
    return (s.step === 'code' || s.step === 'consent') && s.username === username && s.secretRef === secretRef ? s : null;
  }

  /** The first factor was a key and the policy asks for a code. */
  needCode(who: LoginIdentity): void {
    this.state = { step: 'code', ...who };
  }

  /**
   * Authenticated (after the first factor, or the code): done, or on to the consent when the
   * policy has a consent text. Answers the new step.
   */
  authenticated(who: LoginIdentity, consentText: string | null, secondFactorAt?: number): 'done' | 'consent' {
    const factor = secondFactorAt !== undefined ? { secondFactorAt } : {};
    this.state = consentText ? { step: 'consent', text: consentText, ...who, ...factor } : { step: 'done', consented: false, ...who, ...factor };
    return this.state.step as 'done' | 'consent';
  }

  /** The consent prompt was answered: "yes" finishes the login, anything else declines it (back to idle). */
  answered(answer: string): boolean {
    const s = this.state;
    if (s.step !== 'consent') return false;
    const yes = answer.trim().toLowerCase() === 'yes';
    const { username, secretRef, userId } = s;
    this.state = yes ? { step: 'done', consented: true, username, secretRef, userId, ...(s.secondFactorAt !== undefined ? { secondFactorAt: s.secondFactorAt } : {}) } : { step: 'idle' };
    return yes;
  }

  /** The finished login the session opens for, or null. */
  get done(): Extract<LoginState, { step: 'done' }> | null {
    return this.state.step === 'done' ? this.state : null;
  }
}
