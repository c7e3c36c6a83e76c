// The small command runner the Linux account operator uses: one SSH login with a vaulted
// credential (host key pinned per secret, as the SSH connector pins), then fixed commands
// whose variable input (names, passwords) goes on stdin only, never on a command line.
import type { Client } from 'ssh2';
import { OperatorError, type OperatorCredential } from '../../../core/broker.js';
import { sshClientLogin, TargetError } from '../ssh.js';

/** Checks a target's host key against the key pinned for a secret (pins on first use). */
export type HostKeyCheck = (secretId: string, host: string, port: number, keyType: string, fingerprint: string) => Promise<'pinned' | 'match' | 'mismatch'>;

export interface ExecOptions {
  checkHostKey: HostKeyCheck;
  timeoutMs: number;
}

/**
 * Logs in as `cred`: with what it stores (password and/or key), or with only the password
 * given (a verification must not succeed by the key). Refused → OperatorError('refused').
 */
export async function sshLogin(cred: OperatorCredential, opts: ExecOptions, only?: { password: string }): Promise<Client> {
  try {
    return await sshClientLogin({
      host: cred.host,
      port: cred.port,
      username: cred.username,
      password: only ? only.password : cred.password,
      ...(!only && cred.privateKey ? { privateKey: cred.privateKey, passphrase: cred.passphrase } : {}),
      readyTimeoutMs: opts.timeoutMs,
      verifyHostKey: (type, fp) => opts.checkHostKey(cred.secretId, cred.host, cred.port, type, fp),
    });
  } catch (e) {
    if (!(e instanceof TargetError)) throw new OperatorError('error', 'cannot log in to the target');
    // The connector's messages carry no credential; only the refusal is worded for a password check.
    if (e.kind === 'auth') throw new OperatorError('refused', 'the target refused the password');
    throw new OperatorError(e.kind === 'hostkey' ? 'error' : 'unreachable', e.message);
  }
}

/** Ends a login and waits until its connection is closed, so a caller's connection count is exact. */
export function logout(conn: Client): Promise<void> {
  return new Promise((resolve) => {
    const t = setTimeout(resolve, 5_000);
    conn.once('close', () => {
      clearTimeout(t);
      resolve();
    });
    conn.end();
  });
}

export interface ExecResult {
  code: number | null;
  /** The command's output, for the operator's own checks only: never logged or audited as is. */
  stdout: string;
  stderr: string;
}

/**
 * Quotes one argv element for the remote shell: the whole word in single quotes, a single
 * quote as '\''. Callers validate names first (strict patterns); this is the second wall,
 * so even a name that slipped through would stay one word with no shell meaning.
 */
export const shQuote = (word: string): string => `'${word.replace(/'/g, `'\\''`)}'`;

/** A command line from a fixed program and argv words, each word quoted (see shQuote). */
export const argvLine = (argv: readonly string[]): string => argv.map(shQuote).join(' ');

/** Runs a fixed command (no variable part) with `stdin`, and waits for it to exit. */
export function execFixed(conn: Client, command: string, stdin: string, timeoutMs: number, maxOutput = 4096): Promise<ExecResult> {
  return new Promise((resolve, reject) => {
    // The time counts from the request: a target that logs in and then never opens the channel
    // or never answers the exec request must not hold a rotation, a JIT set-up or a stop.
    let late = false;
    let open: { close(): unknown } | null = null;
    const timer = setTimeout(() => {
      late = true;
      open?.close();
      reject(new OperatorError('unreachable', 'a command on the target did not finish in time'));
    }, timeoutMs);
    conn.exec(command, (err, stream) => {
      if (late) return void stream?.close();
      if (err) {
        clearTimeout(timer);
        return reject(new OperatorError('error', 'the target refused to run a command'));
      }
      open = stream;
      let stdout = '';
      let stderr = '';
      stream.on('data', (d: Buffer) => (stdout = (stdout + d.toString('utf8')).slice(-maxOutput)));
      stream.stderr.on('data', (d: Buffer) => (stderr = (stderr + d.toString('utf8')).slice(-4096)));
      stream.on('close', (code: number | null) => {
        clearTimeout(timer);
        resolve({ code, stdout, stderr });
      });
      stream.end(stdin);
    });
  });
}
