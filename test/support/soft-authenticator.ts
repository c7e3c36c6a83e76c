// A software WebAuthn authenticator for API tests (the browser tests use Chromium's virtual
// authenticator instead): ES256 key pairs, "none" attestation, a signature counter per key,
// and the client side's clientDataJSON with whatever origin a test wants to claim, so tests
// can replay, forge an origin, hold back the counter or answer with another person's key.
// CBOR: just what an attestation object and a COSE key need (maps, ints, byte and text strings).
import { createHash, generateKeyPairSync, randomBytes, sign, type KeyObject } from 'node:crypto';

type Cbor = number | string | Buffer | Map<Cbor, Cbor>;

function head(major: number, n: number): Buffer {
  if (n < 24) return Buffer.from([(major << 5) | n]);
  if (n < 0x100) return Buffer.from([(major << 5) | 24, n]);
  if (n < 0x10000) return Buffer.from([(major << 5) | 25, n >> 8, n & 0xff]);
  const b = Buffer.alloc(5);
  b[0] = (major << 5) | 26;
  b.writeUInt32BE(n, 1);
  return b;
}

export function cbor(v: Cbor): Buffer {
  if (typeof v === 'number') return v >= 0 ? head(0, v) : head(1, -1 - v);
  if (typeof v === 'string') {
    const b = Buffer.from(v, 'utf8');
    return Buffer.concat([head(3, b.length), b]);
  }
  if (Buffer.isBuffer(v)) return Buffer.concat([head(2, v.length), v]);
  return Buffer.concat([head(5, v.size), ...[...v].flatMap(([k, x]) => [cbor(k), cbor(x)])]);
}

const sha256 = (b: Buffer | string) => createHash('sha256').update(b).digest();
const b64u = (b: Buffer) => b.toString('base64url');

interface SoftKey {
  id: Buffer;
  privateKey: KeyObject;
  counter: number;
  userHandle: string;
  rpId: string;
}

/** Options as the server sent them (only what the authenticator reads). */
interface CreationOptions {
  challenge: string;
  rp: { id?: string };
  user: { id: string };
}
interface RequestOptions {
  challenge: string;
  rpId?: string;
  allowCredentials?: { id: string }[];
}

export class SoftAuthenticator {
  readonly keys: SoftKey[] = [];

  /** `origin`: what the "browser" reports as the page's origin. */
  constructor(public origin: string) {}

  private clientData(type: string, challenge: string, origin: string): Buffer {
    return Buffer.from(JSON.stringify({ type, challenge, origin, crossOrigin: false }));
  }

  /** navigator.credentials.create: a new ES256 key, answered as RegistrationResponseJSON. */
  register(options: CreationOptions, opts: { rk?: boolean } = {}) {
    const { privateKey, publicKey } = generateKeyPairSync('ec', { namedCurve: 'P-256' });
    const jwk = publicKey.export({ format: 'jwk' });
    const rpId = options.rp.id!;
    const key: SoftKey = { id: randomBytes(32), privateKey, counter: 0, userHandle: options.user.id, rpId };
    this.keys.push(key);
    const cose = cbor(new Map<Cbor, Cbor>([[1, 2], [3, -7], [-1, 1], [-2, Buffer.from(jwk.x!, 'base64url')], [-3, Buffer.from(jwk.y!, 'base64url')]]));
    const idLen = Buffer.alloc(2);
    idLen.writeUInt16BE(key.id.length);
    // Flags: user present (0x01), user verified (0x04), attested credential data (0x40).
    const authData = Buffer.concat([sha256(rpId), Buffer.from([0x45]), Buffer.alloc(4), Buffer.alloc(16), idLen, key.id, cose]);
    const attestationObject = cbor(new Map<Cbor, Cbor>([['fmt', 'none'], ['attStmt', new Map()], ['authData', authData]]));
    return {
      id: b64u(key.id),
      rawId: b64u(key.id),
      type: 'public-key' as const,
      clientExtensionResults: { credProps: { rk: opts.rk ?? true } },
      response: { clientDataJSON: b64u(this.clientData('webauthn.create', options.challenge, this.origin)), attestationObject: b64u(attestationObject), transports: ['internal'] },
    };
  }

  /**
   * navigator.credentials.get: signs the challenge with the key the options allow (or `key`,
   * whatever they allow); `counter` overrides the next signature count (a cloned key).
   */
  assert(options: RequestOptions, opts: { key?: SoftKey; origin?: string; counter?: number; userVerified?: boolean } = {}) {
    const allowed = options.allowCredentials?.map((c) => c.id) ?? [];
    const key = opts.key ?? this.keys.find((k) => allowed.length === 0 || allowed.includes(b64u(k.id)));
    if (!key) throw new Error('no key of this authenticator is allowed');
    key.counter = opts.counter ?? key.counter + 1;
    const count = Buffer.alloc(4);
    count.writeUInt32BE(key.counter);
    const flags = 0x01 | (opts.userVerified === false ? 0 : 0x04);
    const authData = Buffer.concat([sha256(options.rpId ?? key.rpId), Buffer.from([flags]), count]);
    const clientDataJSON = this.clientData('webauthn.get', options.challenge, opts.origin ?? this.origin);
    const signature = sign('sha256', Buffer.concat([authData, sha256(clientDataJSON)]), key.privateKey);
    return {
      id: b64u(key.id),
      rawId: b64u(key.id),
      type: 'public-key' as const,
      clientExtensionResults: {},
      response: { clientDataJSON: b64u(clientDataJSON), authenticatorData: b64u(authData), signature: b64u(signature), userHandle: key.userHandle },
    };
  }
}

type Req = (method: string, url: string, opts?: { token?: string; body?: unknown }) => Promise<{ statusCode: number; body: string; json(): any }>;

/** Registers a new key of `auth` for the owner of `token` through the API; the 201 answer. */
export async function registerSoftKey(req: Req, token: string, auth: SoftAuthenticator, name = 'soft key'): Promise<any> {
  const o = await req('POST', '/api/v1/me/webauthn/options', { token });
  if (o.statusCode !== 200) throw new Error(`webauthn options: ${o.statusCode} ${o.body}`);
  const { challengeId, options } = o.json();
  const r = await req('POST', '/api/v1/me/webauthn', { token, body: { challengeId, name, response: auth.register(options) } });
  if (r.statusCode !== 201) throw new Error(`webauthn register: ${r.statusCode} ${r.body}`);
  return r.json();
}
