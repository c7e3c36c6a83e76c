// The small command runner the Linux account operator uses: one SSH login with a vaulted
// credential (host key pinned per secret, as the SSH connector pins), then fixed commands
// whose variable input (names, passwords) goes on stdin only, never on a command line.
import { createHash } from 'node:crypto';
import ssh2, { type Client } from 'ssh2';
import { OperatorError, type OperatorCredential } from '../../../core/broker.js';

/** Checks a target's host key against the key pinned for a secret (pins on first use). */
export type HostKeyCheck = (secretId: string, host: string, port: number, keyType: string, fingerprint: string) => Promise<'pinned' | 'match' | 'mismatch'>;

export interface ExecOptions {
  checkHostKey: HostKeyCheck;
  timeoutMs: number;
}

const keyTypeOf = (blob: Buffer) => (blob.length > 4 ? blob.subarray(4, 4 + blob.readUInt32BE(0)).toString('latin1') : 'unknown');

/**
 * Logs in as `cred`: with what it stores (password and/or key), or with only the password
 * given (a verification must not succeed by the key). Refused → OperatorError('refused').
 */
export function sshLogin(cred: OperatorCredential, opts: ExecOptions, only?: { password: string }): Promise<Client> {
  const password = only ? only.password : cred.password;
  const useKey = !only && !!cred.privateKey;
  return new Promise((resolve, reject) => {
    const conn = new ssh2.Client();
    let hostKeyProblem: OperatorError | null = null;
    let settled = false;
    const done = (err: OperatorError | null) => {
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
      if (err.level === 'client-authentication') return done(new OperatorError('refused', 'the target refused the password'));
      if (err.level === 'client-timeout' || /timed out/i.test(err.message)) return done(new OperatorError('unreachable', 'the target did not answer in time'));
      done(new OperatorError('unreachable', err.code === 'ECONNREFUSED' ? 'connection refused by the target' : `cannot reach the target (${err.code ?? 'error'})`));
    });
    conn.on('keyboard-interactive', (_n, _i, _l, prompts, finish) => finish(prompts.map(() => password ?? '')));
    conn.connect({
      host: cred.host,
      port: cred.port,
      username: cred.username,
      ...(password ? { password } : {}),
      ...(useKey ? { privateKey: cred.privateKey!, ...(cred.passphrase ? { passphrase: cred.passphrase } : {}) } : {}),
      tryKeyboard: !!password,
      readyTimeout: opts.timeoutMs,
      hostVerifier: (key: Buffer, verify: (ok: boolean) => void) => {
        const fp = `SHA256:${createHash('sha256').update(key).digest('base64').replace(/=+$/, '')}`;
        opts.checkHostKey(cred.secretId, cred.host, cred.port, keyTypeOf(key), fp).then(
          (r) => {
            if (r === 'mismatch') hostKeyProblem = new OperatorError('error', "the target's host key does not match the key pinned for this secret");
            verify(r !== 'mismatch');
          },
          () => {
            hostKeyProblem = new OperatorError('error', 'cannot check the target host key');
            verify(false);
          },
        );
      },
    });
  });
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
    conn.exec(command, (err, stream) => {
      if (err) return reject(new OperatorError('error', 'the target refused to run a command'));
      let stdout = '';
      let stderr = '';
      const timer = setTimeout(() => {
        stream.close();
        reject(new OperatorError('unreachable', 'a command on the target did not finish in time'));
      }, timeoutMs);
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
