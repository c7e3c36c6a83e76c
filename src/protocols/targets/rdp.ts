// The connector toward the target: TCP, a fresh X.224 Connection Request (TLS or NLA,
// never the person's routing token), TLS, and CredSSP with the vaulted credential when
// the target selects NLA. Returns the TLS socket ready for the MCS Connect Initial.
// The same steps, asking for NLA only and stopping at CredSSP's verdict, are the RDP
// heartbeat (targets/accounts/rdp-nla.ts): one connector, two depths.
import { connect as netConnect, type Socket } from 'node:net';
import { connect as tlsConnect, type TLSSocket } from 'node:tls';
import type { SessionHandle } from '../../core/broker.js';
import { credSspClient, CredSspRefused } from '../rdp/credssp/client.js';
import { subjectPublicKey } from '../rdp/credssp/pubkey-auth.js';
import { tsRequestLength } from '../rdp/credssp/ts-request.js';
import { isRdpProtocolError } from '../rdp/errors.js';
import { buildConnectionRequest, NEG_FAILURE, parseConnectionConfirm, PROTOCOL } from '../rdp/pdu/x224.js';
import { ReadError, SocketReader, tpktLength } from './socket-reader.js';

/** no_nla: only when NLA was required (nlaOnly) and the target does not offer it. */
export type TargetFailure = 'unreachable' | 'negotiation' | 'no_nla' | 'tls' | 'auth' | 'protocol' | 'credential_missing';

export class TargetError extends Error {
  constructor(
    readonly kind: TargetFailure,
    message: string,
    /** auth only: true when the target itself refused the logon (not a broken or forged exchange). */
    readonly refused = false,
  ) {
    super(message);
  }
}

export interface TargetConnection {
  socket: TLSSocket;
  /** What the target selected: PROTOCOL.SSL or PROTOCOL.HYBRID. */
  selectedProtocol: number;
  /** RDP_NEG_RSP flags the target sent. */
  negotiationFlags: number;
  /** SHA-256 of the target's TLS certificate (hex, colon-separated). */
  certificateSha256: string;
}

export interface TargetLogon {
  domain: string;
  username: string;
  password: string;
}

const FAILURE_TEXT: Record<number, string> = {
  [NEG_FAILURE.SSL_REQUIRED_BY_SERVER]: 'the target requires TLS',
  [NEG_FAILURE.SSL_NOT_ALLOWED_BY_SERVER]: 'the target only speaks Standard RDP Security (TLS is off), which Gatehouse does not relay',
  [NEG_FAILURE.SSL_CERT_NOT_ON_SERVER]: 'the target has no TLS certificate',
  [NEG_FAILURE.INCONSISTENT_FLAGS]: 'the target found the request inconsistent',
  [NEG_FAILURE.HYBRID_REQUIRED_BY_SERVER]: 'the target requires NLA',
  [NEG_FAILURE.SSL_WITH_USER_AUTH_REQUIRED_BY_SERVER]: 'the target requires TLS with user authentication',
};

/** A failed CredSSP exchange as a TargetError: always kind auth (the door ends the session alike),
 *  `refused` only when the target itself said no. A target silent until the timeout has not
 *  refused anything, nor has one whose public-key proof does not match (the heartbeat must not
 *  call either drift). */
export function nlaFailure(e: unknown): TargetError {
  if (e instanceof CredSspRefused) return new TargetError('auth', e.message, !(e.cause instanceof ReadError && e.cause.kind === 'timeout'));
  if (isRdpProtocolError(e) && e.reason === 'integrity') return new TargetError('auth', e.message);
  return new TargetError('auth', `NLA with the target failed: ${(e as Error).message}`);
}

/** The logon the vault holds for this session: user name, domain and password. */
export function vaultedLogon(h: SessionHandle): TargetLogon {
  const c = h.plan.credential;
  const password = c.fields.password;
  if (!c.username) throw new TargetError('credential_missing', 'the secret has no user name');
  if (password === undefined || password === '') throw new TargetError('credential_missing', 'the secret has no password');
  return { username: c.username, domain: c.domain ?? '', password: String(password) };
}

export interface RdpConnectOptions {
  connectTimeoutMs: number;
  logon: TargetLogon;
  /** Where the steps are noted (the session's trail); nothing when left out. */
  note?: (kind: string, details: Record<string, unknown>) => void;
  /** The heartbeat: ask for NLA only (no_nla when the target does not offer it) and stop at
   *  CredSSP's verdict, before the password is delegated: the socket answered is mid-CredSSP. */
  nlaOnly?: boolean;
}

/** A session's connection to its target (the RDP door). */
export function connectRdpTarget(h: SessionHandle, opts: { connectTimeoutMs: number; logon: TargetLogon }): Promise<TargetConnection> {
  return connectRdp(h.plan.target, { ...opts, note: (k, d) => h.note(k, d) });
}

export async function connectRdp(target: { host: string; port: number }, opts: RdpConnectOptions): Promise<TargetConnection> {
  const { host, port } = target;
  const note = opts.note ?? (() => undefined);
  const raw = await new Promise<Socket>((resolve, reject) => {
    const s = netConnect({ host, port });
    const t = setTimeout(() => {
      s.destroy();
      reject(new TargetError('unreachable', `no TCP connection to ${host}:${port} within ${opts.connectTimeoutMs} ms`));
    }, opts.connectTimeoutMs);
    s.once('connect', () => {
      clearTimeout(t);
      s.setNoDelay(true);
      resolve(s);
    });
    s.once('error', (e) => {
      clearTimeout(t);
      reject(new TargetError('unreachable', `cannot connect to ${host}:${port}: ${e.message}`));
    });
  });
  let tls: TLSSocket | null = null;
  try {
    // ---- X.224: ask for TLS or NLA
    const reader = new SocketReader(raw, 64 * 1024);
    raw.write(buildConnectionRequest({ requestedProtocols: opts.nlaOnly ? PROTOCOL.HYBRID : PROTOCOL.SSL | PROTOCOL.HYBRID }));
    let cc;
    try {
      cc = parseConnectionConfirm(await reader.read(tpktLength, opts.connectTimeoutMs, 'X.224 Connection Confirm'));
    } catch (e) {
      throw new TargetError('negotiation', `X.224 negotiation with the target failed: ${(e as Error).message}`);
    }
    const rest = reader.detach();
    if (rest.length) throw new TargetError('protocol', 'the target sent data after its Connection Confirm');
    const neg = cc.negotiation;
    if (opts.nlaOnly && (neg?.type !== 'response' || neg.selectedProtocol !== PROTOCOL.HYBRID)) {
      const why = !neg ? 'it only speaks Standard RDP Security' : neg.type === 'failure' ? (FAILURE_TEXT[neg.failureCode] ?? `negotiation failure code ${neg.failureCode}`) : `it selected protocol 0x${neg.selectedProtocol.toString(16)}`;
      throw new TargetError('no_nla', `the target does not offer NLA (CredSSP): ${why}`);
    }
    if (!neg) throw new TargetError('negotiation', 'the target only speaks Standard RDP Security (no negotiation), which Gatehouse does not relay');
    if (neg.type === 'failure') throw new TargetError('negotiation', FAILURE_TEXT[neg.failureCode] ?? `the target refused the negotiation (code ${neg.failureCode})`);
    if (neg.selectedProtocol !== PROTOCOL.SSL && neg.selectedProtocol !== PROTOCOL.HYBRID) {
      throw new TargetError('negotiation', `the target selected protocol 0x${neg.selectedProtocol.toString(16)}, not TLS or NLA`);
    }

    // ---- TLS (the target's certificate is usually self-signed: noted, not verified)
    tls = await new Promise<TLSSocket>((resolve, reject) => {
      const s = tlsConnect({ socket: raw, rejectUnauthorized: false, ...(/^[\d.]+$|:/.test(host) ? {} : { servername: host }) });
      const t = setTimeout(() => {
        s.destroy();
        reject(new TargetError('tls', `no TLS handshake with the target within ${opts.connectTimeoutMs} ms`));
      }, opts.connectTimeoutMs);
      s.once('secureConnect', () => {
        clearTimeout(t);
        resolve(s);
      });
      s.once('error', (e) => {
        clearTimeout(t);
        reject(new TargetError('tls', `TLS with the target failed: ${e.message}`));
      });
    });
    const cert = tls.getPeerX509Certificate();
    if (!cert) throw new TargetError('tls', 'the target presented no certificate');
    const certificateSha256 = cert.fingerprint256;
    note('rdp_target_tls', { protocol: tls.getProtocol(), certificateSha256, subject: cert.subject.replace(/\n/g, ', ').slice(0, 200), selected: neg.selectedProtocol === PROTOCOL.HYBRID ? 'nla' : 'tls' });

    // ---- NLA
    if (neg.selectedProtocol === PROTOCOL.HYBRID) {
      const spki = cert.publicKey.export({ type: 'spki', format: 'der' });
      const r = new SocketReader(tls, 1 << 20);
      const socket = tls;
      try {
        await credSspClient(
          { send: (m) => socket.write(m), receive: () => r.read((b) => tsRequestLength(b), opts.connectTimeoutMs, 'CredSSP message') },
          { username: opts.logon.username, domain: opts.logon.domain, password: opts.logon.password, serverPublicKey: subjectPublicKey(spki), delegate: !opts.nlaOnly },
        );
      } catch (e) {
        throw nlaFailure(e);
      }
      if (!opts.nlaOnly && r.detach().length) throw new TargetError('protocol', 'the target sent data right after NLA');
      note('rdp_target_nla', { result: 'ok', user: opts.logon.username, domain: opts.logon.domain });
    }
    return { socket: tls, selectedProtocol: neg.selectedProtocol, negotiationFlags: neg.flags, certificateSha256 };
  } catch (e) {
    tls?.destroy();
    raw.destroy();
    throw e;
  }
}
