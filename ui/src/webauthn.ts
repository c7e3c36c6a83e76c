// Passkeys and security keys in the portal: the browser side of the WebAuthn ceremonies
// (@simplewebauthn/browser turns the server's JSON options into navigator.credentials calls
// and the answers back into JSON). The server hands out every challenge and checks every
// answer; nothing here decides anything.
import { browserSupportsWebAuthn, startAuthentication, startRegistration } from '@simplewebauthn/browser';
import { api, setCsrfToken } from './api';
import type { KeyChallenge, KeyRegistration, RegistrationChallenge, SignInResponse, StepUpVerified } from './api-types';

export const keysSupported = (): boolean => browserSupportsWebAuthn();

/** An answer to a challenge, as the sign-in and step-up bodies carry it. */
export interface KeyProof {
  challengeId: string;
  response: Awaited<ReturnType<typeof startAuthentication>>;
}

async function answer(c: KeyChallenge): Promise<KeyProof> {
  const response = await startAuthentication({ optionsJSON: c.options as Parameters<typeof startAuthentication>[0]['optionsJSON'] });
  return { challengeId: c.challengeId, response };
}

/** The second factor after the password: the account's keys are offered only to someone who knows it. */
export async function keyAfterPassword(username: string, password: string): Promise<KeyProof> {
  return answer(await api.post<KeyChallenge>('/auth/webauthn/options', { username, password }, { anonymous: true }));
}

/** A passwordless sign-in: any passkey of this site; the browser asks which. */
export async function passkeySignIn(): Promise<void> {
  const proof = await answer(await api.post<KeyChallenge>('/auth/webauthn/options', {}, { anonymous: true }));
  const r = await api.post<SignInResponse>('/auth/webauthn/session', proof, { anonymous: true });
  setCsrfToken(r.csrfToken);
}

/** A step-up with a key: remembered on this browser session like a verified code. */
export async function stepUpWithKey(): Promise<StepUpVerified> {
  const proof = await answer(await api.post<KeyChallenge>('/auth/step-up/webauthn/options'));
  return api.post<StepUpVerified>('/auth/step-up/webauthn', proof);
}

/** Registers a new key under `name`. */
export async function registerKey(name: string): Promise<KeyRegistration> {
  const c = await api.post<RegistrationChallenge>('/me/webauthn/options');
  const response = await startRegistration({ optionsJSON: c.options as Parameters<typeof startRegistration>[0]['optionsJSON'] });
  return api.post<KeyRegistration>('/me/webauthn', { challengeId: c.challengeId, name, response });
}

/** What to tell a person whose browser or key gave up (cancelled, timed out, no matching key). */
export function keyErrorText(e: unknown): string | null {
  if (e instanceof Error && (e.name === 'NotAllowedError' || e.name === 'AbortError')) return 'The security key request was cancelled or timed out. Try again, or use a code.';
  if (e instanceof Error && e.name === 'InvalidStateError') return 'This key is already registered to your account.';
  if (e instanceof Error && e.name === 'SecurityError') return 'This browser refused the key for this address. Ask an administrator to check the publicUrl and webauthnRpId settings.';
  return null;
}
