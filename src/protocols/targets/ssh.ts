// Connector to an SSH target with the vaulted password or private key. The target's
// host key is pinned per secret on first use; a different key refuses the session.
import { createHash } from 'node:crypto';
import { Socket } from 'node:net';
import ssh2, { type Client } from 'ssh2';
import { coalesceWrites } from '../coalesce-writes.js';
import '../ssh/ssh2-padding.js';
import type { SessionHandle } from '../../core/broker.js';
import { TARGET_REFUSED_CREDENTIAL, targetConnectFailed } from '../end-reasons.js';

export class TargetError extends Error {
  constructor(
    readonly kind: 'auth' | 'hostkey' | 'network' | 'timeout',
    message: string,
  ) {
    super(message);
  }
}

/** The session end reason for a failed connection to an SSH target. */
export function targetEndReason(e: unknown): string {
  if (!(e instanceof TargetError)) return targetConnectFailed('error');
  return e.kind === 'auth' ? TARGET_REFUSED_CREDENTIAL : targetConnectFailed(e.kind);
}

export interface TargetOptions {
  connectTimeoutMs: number;
  keepaliveMs: number;
}

const keyTypeOf = (blob: Buffer) => (blob.length > 4 ? blob.subarray(4, 4 + blob.readUInt32BE(0)).toString('latin1') : 'unknown');

export function connectTarget(handle: SessionHandle, opts: TargetOptions): Promise<Client> {
  const { plan } = handle;
  const f = plan.credential.fields;
  const text = (v: unknown) => (typeof v === 'string' ? v : undefined);
  return sshClientLogin({
    host: plan.target.host,
    port: plan.target.port,
    username: plan.credential.username ?? '',
    password: text(f.password),
    privateKey: text(f.privateKey),
    passphrase: text(f.passphrase),
    readyTimeoutMs: opts.connectTimeoutMs,
    keepaliveMs: opts.keepaliveMs,
    verifyHostKey: (type, fp) => handle.verifyHostKey(type, fp),
  });
}

export interface SshLogin {
  host: string;
  port: number;
  username: string;
  password?: string | undefined;
  privateKey?: string | undefined;
  passphrase?: string | undefined;
  readyTimeoutMs: number;
  keepaliveMs?: number;
  /** Checks the key the target shows against the one pinned for its secret. */
  verifyHostKey: (keyType: string, fingerprint: string) => Promise<'pinned' | 'match' | 'mismatch'>;
}

/**
 * One SSH client login with a vaulted credential and a pinned host key, shared by the session
 * connector above and the account operators (protocols/targets/accounts/ssh-exec.ts).
 * Refusals and failures come back as TargetError kinds, never with the credential in them.
 */
export function sshClientLogin(l: SshLogin): Promise<Client> {
  return new Promise((resolve, reject) => {
    const conn = new ssh2.Client();
    let hostKeyProblem: TargetError | null = null;
    let settled = false;
    const done = (err: TargetError | null) => {
      if (settled) return;
      settled = true;
      if (err) {
        conn.end();
        reject(err);
      } else resolve(conn);
    };
    conn.on('ready', () => done(null));
    conn.on('error', (err: Error & { level?: string; code?: string }) => {
      if (hostKeyProblem) return done(hostKeyProblem);
      if (err.level === 'client-authentication') return done(new TargetError('auth', 'the target refused the vaulted credential'));
      if (err.level === 'client-timeout' || /timed out/i.test(err.message)) return done(new TargetError('timeout', 'the target did not answer in time'));
      done(new TargetError('network', err.code === 'ECONNREFUSED' ? 'connection refused by the target' : err.code === 'ENOTFOUND' ? 'target host name not found' : `cannot reach the target (${err.code ?? err.message})`));
    });
    conn.on('keyboard-interactive', (_name, _instr, _lang, prompts, finish) => finish(prompts.map(() => l.password ?? '')));
    // The socket is ours, so that its writes are coalesced (coalesce-writes.ts: ssh2 writes
    // each packet on its own). It is connecting before ssh2 sees it: ssh2 then waits for its
    // 'connect' (and reports its errors) as it does for a socket of its own.
    const sock = coalesceWrites(new Socket());
    sock.connect({ host: l.host, port: l.port });
    conn.connect({
      sock,
      host: l.host,
      port: l.port,
      username: l.username,
      ...(l.password ? { password: l.password } : {}),
      ...(l.privateKey ? { privateKey: l.privateKey, ...(l.passphrase ? { passphrase: l.passphrase } : {}) } : {}),
      tryKeyboard: !!l.password,
      readyTimeout: l.readyTimeoutMs,
      ...(l.keepaliveMs ? { keepaliveInterval: l.keepaliveMs, keepaliveCountMax: 3 } : {}),
      hostVerifier: (key: Buffer, verify: (ok: boolean) => void) => {
        const fp = `SHA256:${createHash('sha256').update(key).digest('base64').replace(/=+$/, '')}`;
        l.verifyHostKey(keyTypeOf(key), fp).then(
          (r) => {
            if (r === 'mismatch') hostKeyProblem = new TargetError('hostkey', "the target's host key does not match the key pinned for this secret");
            verify(r !== 'mismatch');
          },
          () => {
            hostKeyProblem = new TargetError('hostkey', 'cannot check the target host key');
            verify(false);
          },
        );
      },
    });
  });
}
