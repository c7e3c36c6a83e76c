// WebAuthn passkeys and security keys (issue 15 point 3, docs/identity.md): the ceremonies
// around @simplewebauthn/server. Registration (options, then the authenticator's answer) adds
// a key to a person's account; an assertion answers a challenge given for a sign-in after the
// password, a passwordless sign-in (setting webauthnPasswordless) or a step-up. Auth
// (identity/auth.ts) asks `verify` through its SecurityKeys seam, next to TOTP, and audits
// sign-ins and step-ups; this service audits what it changes (register, delete, reset) and
// refused registrations.
//
// Replay: every challenge is single use (challenges.ts) and the authenticator's signature
// counter must grow when it keeps one (checked by the library; the new value is stored).
import {
  generateAuthenticationOptions,
  generateRegistrationOptions,
  verifyAuthenticationResponse,
  verifyRegistrationResponse,
  type AuthenticationResponseJSON,
  type AuthenticatorTransportFuture,
  type PublicKeyCredentialCreationOptionsJSON,
  type PublicKeyCredentialRequestOptionsJSON,
  type RegistrationResponseJSON,
} from '@simplewebauthn/server';
import type { Store } from '../../../store/db.js';
import type { Actor, AuditService } from '../../audit/service.js';
import { AppError, badRequest, conflict, forbidden, notFound } from '../../errors.js';
import type { SettingsService } from '../../settings.js';
import { newId } from '../../util.js';
import type { Auth, KeyAssertion, KeyCheck, KeyPurpose, SecurityKeys } from '../auth.js';
import type { Directory } from '../directory.js';
import { CEREMONY_TIMEOUT_MS, Challenges } from './challenges.js';
import { Credentials, viewCredential, type CredentialView } from './credentials.js';
import { relyingParty, type RelyingParty } from './relying-party.js';

/** A challenge handed to the browser: its id (sent back with the answer) and the options for navigator.credentials. */
export interface Ceremony<O> {
  challengeId: string;
  options: O;
}

/** A key's name: printable, trimmed, 1–64 characters. */
function keyName(name: string): string {
  const n = name.trim();
  if (!n || n.length > 64 || /[\u0000-\u001f\u007f]/.test(n)) throw badRequest('a key name is 1–64 printable characters', 'invalid_name');
  return n;
}

/** The options as JSON carries them (the library leaves unset members as undefined). */
const plain = <T>(o: T): T => JSON.parse(JSON.stringify(o)) as T;

/** The library's words for why an answer was refused (for the audit trail, never a stack). */
const why = (e: unknown) => (e instanceof Error ? e.message : String(e)).slice(0, 300);

export class WebAuthn implements SecurityKeys {
  /** The clock: tests move it instead of waiting. */
  now: () => number = Date.now;
  private readonly challenges: Challenges;
  readonly credentials: Credentials;

  constructor(
    private readonly store: Store,
    private readonly dir: Directory,
    private readonly auth: Auth,
    private readonly audit: AuditService,
    private readonly settings: SettingsService,
    /** The URL people reach this node by when the publicUrl setting is empty. */
    private readonly baseUrl: () => string,
  ) {
    this.challenges = new Challenges(store, () => this.now());
    this.credentials = new Credentials(store);
  }

  rp(): Promise<RelyingParty> {
    return relyingParty(this.settings, this.baseUrl);
  }

  count(userId: string): Promise<number> {
    return this.credentials.count(userId);
  }

  async list(userId: string): Promise<CredentialView[]> {
    return (await this.credentials.ofUser(userId)).map(viewCredential);
  }

  // ---- registration

  async registrationOptions(userId: string): Promise<Ceremony<PublicKeyCredentialCreationOptionsJSON>> {
    const user = await this.dir.userRow(userId);
    if (user.isApplication) throw forbidden('application accounts cannot have security keys or passkeys');
    const rp = await this.rp();
    const mine = await this.credentials.ofUser(userId);
    const ch = await this.challenges.create('register', userId);
    const options = await generateRegistrationOptions({
      rpName: rp.name,
      rpID: rp.id,
      userName: user.username,
      userDisplayName: user.displayName || user.username,
      // The user handle: what a passkey hands back at a passwordless sign-in.
      userID: new TextEncoder().encode(user.id),
      // Bytes: a string would be taken as text and encoded once more.
      challenge: Buffer.from(ch.challenge, 'base64url'),
      timeout: CEREMONY_TIMEOUT_MS,
      attestationType: 'none',
      excludeCredentials: mine.map((c) => ({ id: c.credentialId, transports: JSON.parse(c.transports) as AuthenticatorTransportFuture[] })),
      authenticatorSelection: { residentKey: 'preferred', userVerification: 'preferred' },
    });
    return { challengeId: ch.id, options: plain(options) };
  }

  /** Adds the key the authenticator made; answers it and, for a first second factor, new recovery codes (shown once). */
  async register(actor: Actor & { id: string }, input: { challengeId: string; name: string; response: RegistrationResponseJSON }): Promise<{ key: CredentialView; recoveryCodes: string[] | null }> {
    const name = keyName(input.name);
    const rp = await this.rp();
    const refuse = async (reason: string, err: AppError): Promise<never> => {
      await this.audit.record(actor, { action: 'webauthn.register', outcome: 'failure', target: { type: 'user', id: actor.id }, details: { name, reason } });
      throw err;
    };
    const ch = await this.challenges.consume(input.challengeId, 'register', actor.id);
    if ('refused' in ch) return refuse(ch.refused, badRequest(`the registration cannot be finished: ${ch.refused}; start again`, 'webauthn_challenge'));
    let info;
    try {
      const r = await verifyRegistrationResponse({ response: input.response, expectedChallenge: ch.challenge, expectedOrigin: rp.origin, expectedRPID: rp.id, requireUserVerification: false });
      if (!r.verified) throw new Error('not verified');
      info = r.registrationInfo;
    } catch (e) {
      return refuse(why(e), badRequest('the security key\'s answer was refused; try again', 'webauthn_refused'));
    }
    if (await this.credentials.byCredentialId(info.credential.id, null)) return refuse('key already registered', conflict('this key is already registered', 'webauthn_duplicate'));
    const row = {
      id: newId(),
      userId: actor.id,
      credentialId: info.credential.id,
      publicKey: Buffer.from(info.credential.publicKey).toString('base64url'),
      counter: info.credential.counter,
      transports: JSON.stringify(input.response.response.transports ?? []),
      deviceType: info.credentialDeviceType,
      backedUp: info.credentialBackedUp ? 1 : 0,
      discoverable: input.response.clientExtensionResults?.credProps?.rk ? 1 : 0,
      aaguid: info.aaguid,
      name,
      createdAt: this.now(),
      lastUsedAt: null,
    } as const;
    await this.credentials.insert(row);
    await this.audit.record(actor, { action: 'webauthn.register', target: { type: 'user', id: actor.id }, details: { keyId: row.id, name, deviceType: row.deviceType, discoverable: !!row.discoverable, aaguid: row.aaguid } });
    return { key: viewCredential(row), recoveryCodes: await this.auth.recoveryCodesIfNone(actor) };
  }

  // ---- assertions

  /** A challenge for a sign-in or step-up: `userId` null is a passwordless sign-in (any discoverable key). */
  async assertionOptions(purpose: KeyPurpose, userId: string | null): Promise<Ceremony<PublicKeyCredentialRequestOptionsJSON>> {
    const mine = userId ? await this.credentials.ofUser(userId) : [];
    if (userId && mine.length === 0) throw badRequest('this account has no security key or passkey', 'no_security_keys');
    const rp = await this.rp();
    const ch = await this.challenges.create(purpose, userId);
    const options = await generateAuthenticationOptions({
      rpID: rp.id,
      // Bytes: a string would be taken as text and encoded once more.
      challenge: Buffer.from(ch.challenge, 'base64url'),
      timeout: CEREMONY_TIMEOUT_MS,
      allowCredentials: mine.map((c) => ({ id: c.credentialId, transports: JSON.parse(c.transports) as AuthenticatorTransportFuture[] })),
      // Passwordless: the key is the only factor, so it must verify the person (PIN, biometrics).
      userVerification: purpose === 'passwordless' ? 'required' : 'preferred',
    });
    return { challengeId: ch.id, options: plain(options) };
  }

  async verify(proof: KeyAssertion, purpose: KeyPurpose, userId: string | null): Promise<KeyCheck> {
    const rp = await this.rp();
    const ch = await this.challenges.consume(proof.challengeId, purpose, userId);
    if ('refused' in ch) return { ok: false, reason: ch.refused };
    const response = proof.response as AuthenticationResponseJSON;
    const cred = await this.credentials.byCredentialId(response.id, ch.userId);
    if (!cred) return { ok: false, reason: ch.userId ? 'not a key of this user' : 'unknown key' };
    if (purpose === 'passwordless') {
      // The user handle the passkey keeps must be the one it was registered for.
      const handle = response.response.userHandle ? Buffer.from(response.response.userHandle, 'base64url').toString('utf8') : null;
      if (handle !== cred.userId) return { ok: false, reason: 'user handle does not match the key' };
    }
    try {
      const r = await verifyAuthenticationResponse({
        response,
        expectedChallenge: ch.challenge,
        expectedOrigin: rp.origin,
        expectedRPID: rp.id,
        credential: { id: cred.credentialId, publicKey: Buffer.from(cred.publicKey, 'base64url'), counter: cred.counter, transports: JSON.parse(cred.transports) as AuthenticatorTransportFuture[] },
        requireUserVerification: purpose === 'passwordless',
      });
      if (!r.verified) return { ok: false, reason: 'signature not verified' };
      await this.credentials.used(cred.id, r.authenticationInfo.newCounter, this.now());
    } catch (e) {
      return { ok: false, reason: why(e) };
    }
    return { ok: true, userId: cred.userId, key: { id: cred.id, name: cred.name } };
  }

  // ---- removal

  /** A person deletes one of their own keys. */
  async remove(actor: Actor & { id: string }, keyId: string): Promise<void> {
    const gone = await this.credentials.remove(actor.id, keyId);
    if (!gone) throw notFound('security key');
    await this.audit.record(actor, { action: 'webauthn.delete', target: { type: 'user', id: actor.id }, details: { keyId, name: gone.name } });
    await this.auth.dropRecoveryCodesIfUnused(actor.id);
  }

  /** An administrator removes every key of a user (a lost device). */
  async reset(actor: Actor, userId: string): Promise<number> {
    const user = await this.dir.userRow(userId);
    const gone = await this.credentials.removeAll(userId);
    await this.audit.record(actor, { action: 'webauthn.reset', target: { type: 'user', id: userId }, details: { username: user.username, removed: gone.length, keys: gone.map((k) => k.name) } });
    await this.auth.dropRecoveryCodesIfUnused(userId);
    return gone.length;
  }
}
