// The CredSSP client (MS-CSSP 3.1.5) Gatehouse runs toward an NLA target, inside the TLS
// channel: NTLM NEGOTIATE → CHALLENGE → AUTHENTICATE with the sealed public-key proof,
// the server's proof checked against the TLS certificate's key, then the vaulted
// password sealed into TSCredentials. NTLM tokens go bare (no SPNEGO wrapper), as FreeRDP
// 2 sends them and Windows and FreeRDP servers accept; replies are read in either form.
import { randomBytes, timingSafeEqual } from 'node:crypto';
import { RdpProtocolError } from '../errors.js';
import { NtlmClient } from '../ntlm/ntlm.js';
import { clientPubKeyAuth, expectedServerPubKeyAuth } from './pubkey-auth.js';
import { decodeSpnego, ntlmTokenOf } from './spnego.js';
import { CREDSSP_VERSION, decodeTsRequest, encodeTsCredentials, encodeTsRequest, type TsRequest } from './ts-request.js';

export interface CredSspTransport {
  send(message: Buffer): void;
  /** The next whole TSRequest from the server. */
  receive(): Promise<Buffer>;
}

export interface CredSspClientOptions {
  username: string;
  domain: string;
  password: string;
  /** SubjectPublicKey of the target's TLS certificate (subjectPublicKey() of its SPKI). */
  serverPublicKey: Buffer;
  workstation?: string;
  /** false: stop once the target has accepted the logon (its public-key proof checked), without
   *  sending it the password (TSCredentials): what a heartbeat needs. Default true. */
  delegate?: boolean;
}

/** The target refused the logon (or the exchange): `status` is its NTSTATUS when it sent one;
 *  `cause` the transport's error when the refusal is read from the connection ending. */
export class CredSspRefused extends Error {
  constructor(
    message: string,
    readonly status?: number,
    cause?: unknown,
  ) {
    super(message, cause === undefined ? undefined : { cause });
  }
}

/** NTSTATUS values a target sends for a refused logon, with what they mean. */
export const LOGON_STATUS: Record<number, string> = {
  0xc000006d: 'STATUS_LOGON_FAILURE (wrong user name or password)',
  0xc000006e: 'STATUS_ACCOUNT_RESTRICTION',
  0xc000006f: 'STATUS_INVALID_LOGON_HOURS',
  0xc0000070: 'STATUS_INVALID_WORKSTATION',
  0xc0000071: 'STATUS_PASSWORD_EXPIRED',
  0xc0000072: 'STATUS_ACCOUNT_DISABLED',
  0xc0000193: 'STATUS_ACCOUNT_EXPIRED',
  0xc0000224: 'STATUS_PASSWORD_MUST_CHANGE',
  0xc0000234: 'STATUS_ACCOUNT_LOCKED_OUT',
  0xc000015b: 'STATUS_LOGON_TYPE_NOT_GRANTED',
};

const statusText = (s: number) => LOGON_STATUS[s] ?? `NTSTATUS 0x${s.toString(16).padStart(8, '0')}`;

function checkError(t: TsRequest, step: string): void {
  if (t.errorCode !== undefined && t.errorCode !== 0) throw new CredSspRefused(`the target refused NLA at ${step}: ${statusText(t.errorCode)}`, t.errorCode);
}

/** Runs the whole exchange; resolves once the credentials are sent (the RDP connection continues on the same channel),
 *  or with `delegate: false` once the target's proof shows it accepted the logon. */
export async function credSspClient(io: CredSspTransport, o: CredSspClientOptions): Promise<{ peerVersion: number }> {
  const ntlm = new NtlmClient({ username: o.username, domain: o.domain, password: o.password, workstation: o.workstation ?? '' });
  io.send(encodeTsRequest({ version: CREDSSP_VERSION, negoTokens: [ntlm.negotiate()] }));

  const first = decodeTsRequest(await io.receive());
  checkError(first, 'NEGOTIATE');
  const challengeToken = first.negoTokens?.[0];
  if (!challengeToken) throw new RdpProtocolError('credssp', 'unexpected', 'the server answered NEGOTIATE without a token');
  const challenge = ntlmTokenOf(decodeSpnego(challengeToken));
  if (!challenge) throw new RdpProtocolError('credssp', 'unexpected', 'the server answered NEGOTIATE without an NTLM CHALLENGE');
  const authenticate = ntlm.authenticate(challenge);
  const version = Math.min(CREDSSP_VERSION, first.version);
  const nonce = version >= 5 ? randomBytes(32) : undefined;
  const pubKeyAuth = ntlm.security.wrap(clientPubKeyAuth(version, o.serverPublicKey, nonce));
  io.send(encodeTsRequest({ version: CREDSSP_VERSION, negoTokens: [authenticate], pubKeyAuth, ...(nonce ? { clientNonce: nonce } : {}) }));

  let second: TsRequest;
  try {
    second = decodeTsRequest(await io.receive());
  } catch (e) {
    // FreeRDP servers just close the connection on a wrong password.
    if (e instanceof RdpProtocolError) throw e;
    throw new CredSspRefused(`the target closed the connection after AUTHENTICATE (wrong user name or password?): ${(e as Error).message}`, undefined, e);
  }
  checkError(second, 'AUTHENTICATE');
  if (!second.pubKeyAuth) throw new CredSspRefused('the target sent no public key proof after AUTHENTICATE');
  const proof = ntlm.security.unwrap(second.pubKeyAuth);
  const expected = expectedServerPubKeyAuth(version, o.serverPublicKey, nonce);
  if (proof.length !== expected.length || !timingSafeEqual(proof, expected)) {
    throw new RdpProtocolError('credssp', 'integrity', "the target's public key proof does not match its TLS certificate (a machine in the middle?)");
  }
  if (o.delegate === false) return { peerVersion: first.version };
  const creds = encodeTsCredentials({ domain: o.domain, username: o.username, password: o.password });
  io.send(encodeTsRequest({ version: CREDSSP_VERSION, authInfo: ntlm.security.wrap(creds) }));
  creds.fill(0);
  return { peerVersion: first.version };
}
