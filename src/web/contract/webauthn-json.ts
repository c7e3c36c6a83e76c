// The WebAuthn JSON shapes (the W3C's PublicKeyCredential*JSON, as @simplewebauthn makes and
// reads them): the options the browser passes to navigator.credentials, and the answers it
// sends back. Their own file because identity.ts (the sign-in body's `webauthn`) and
// webauthn.ts both use them. Closed like every other schema: an answer carrying an extension
// output Gatehouse never asked for is refused.
import { body, bool, int, str, text } from './schema.js';

/** base64url text, bounded. */
const b64 = (max: number) => str(max, { pattern: '^[A-Za-z0-9_-]*$' });
const transports = { type: 'array', maxItems: 10, items: str(32) } as const;
const descriptor = body({ id: text, type: { type: 'string', const: 'public-key' }, transports: { type: 'array', items: text } }, ['id', 'type']);
const attachment = { type: 'string', enum: ['platform', 'cross-platform'] } as const;

export const creationOptionsSchema = body(
  {
    challenge: text,
    rp: body({ name: text, id: text }, ['name']),
    user: body({ id: text, name: text, displayName: text }, ['id', 'name', 'displayName']),
    pubKeyCredParams: { type: 'array', items: body({ alg: int, type: { type: 'string', const: 'public-key' } }, ['alg', 'type']) },
    timeout: int,
    attestation: text,
    excludeCredentials: { type: 'array', items: descriptor },
    authenticatorSelection: body({ authenticatorAttachment: text, residentKey: text, requireResidentKey: bool, userVerification: text }),
    extensions: body({ credProps: bool }),
    hints: { type: 'array', items: text },
  },
  ['challenge', 'rp', 'user', 'pubKeyCredParams'],
);

export const requestOptionsSchema = body(
  {
    challenge: text,
    rpId: text,
    timeout: int,
    allowCredentials: { type: 'array', items: descriptor },
    userVerification: text,
    hints: { type: 'array', items: text },
  },
  ['challenge'],
);

/** What navigator.credentials.create gave, in its JSON form (registration). */
export const registrationResponseSchema = body(
  {
    id: b64(1366),
    rawId: b64(1366),
    type: { type: 'string', const: 'public-key' },
    authenticatorAttachment: attachment,
    clientExtensionResults: body({ credProps: body({ rk: bool }) }),
    response: body(
      {
        clientDataJSON: b64(8192),
        attestationObject: b64(65536),
        authenticatorData: b64(65536),
        transports,
        publicKeyAlgorithm: int,
        publicKey: b64(8192),
      },
      ['clientDataJSON', 'attestationObject'],
    ),
  },
  ['id', 'rawId', 'type', 'response', 'clientExtensionResults'],
);

/** What navigator.credentials.get gave, in its JSON form (an assertion). */
export const authenticationResponseSchema = body(
  {
    id: b64(1366),
    rawId: b64(1366),
    type: { type: 'string', const: 'public-key' },
    authenticatorAttachment: attachment,
    clientExtensionResults: body({ credProps: body({ rk: bool }) }),
    response: body({ clientDataJSON: b64(8192), authenticatorData: b64(8192), signature: b64(2048), userHandle: b64(512) }, ['clientDataJSON', 'authenticatorData', 'signature']),
  },
  ['id', 'rawId', 'type', 'response', 'clientExtensionResults'],
);

/** An answer to a challenge: its id (from the options call) and the assertion. */
export const assertionSchema = body({ challengeId: str(64), response: authenticationResponseSchema }, ['challengeId', 'response']);
