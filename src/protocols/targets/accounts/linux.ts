// The account operator for Linux/Unix targets over SSH (issue 12): changes a password with
// chpasswd through a management secret (root, another uid-0 account, or sudo), or as the
// account itself with passwd; verifies a password by a fresh SSH login. Names and passwords
// travel on stdin only; a name is checked against a strict pattern first, so neither a
// command line nor a chpasswd line can be bent by it.
import type { Client } from 'ssh2';
import { OperatorError, type AccountOperator, type JitAccountSpec, type OperatorCredential } from '../../../core/broker.js';
import { execFixed, logout, sshLogin, type ExecOptions, type HostKeyCheck } from './ssh-exec.js';

/** A portable Unix login name (Debian's NAME_REGEX, upper case and dots allowed): no shell or chpasswd meaning. */
const LOGIN_NAME = /^[A-Za-z_][A-Za-z0-9_.-]{0,31}\$?$/;

export function checkLoginName(name: string): void {
  if (!LOGIN_NAME.test(name)) throw new OperatorError('invalid', 'the username is not a valid Unix login name (letters, digits, ".", "_", "-"; at most 32)');
}

function checkPassword(pw: string, what: string): void {
  // chpasswd and passwd read one line each: a line break would end the value (or start another entry).
  if (pw.length === 0 || /[\r\n\0]/.test(pw)) throw new OperatorError('invalid', `the ${what} cannot be set on a Linux target (empty, or holds a line break or NUL)`);
}

export interface LinuxOperatorOptions {
  checkHostKey: HostKeyCheck;
  /** Login and per-command limit. */
  timeoutMs?: number;
}

export class LinuxOperator implements AccountOperator {
  readonly kind = 'linux' as const;
  private readonly opts: ExecOptions;

  constructor(o: LinuxOperatorOptions) {
    this.opts = { checkHostKey: o.checkHostKey, timeoutMs: o.timeoutMs ?? 15_000 };
  }

  async verify(account: OperatorCredential, password: string): Promise<'ok' | 'refused'> {
    checkLoginName(account.username);
    try {
      await logout(await sshLogin(account, this.opts, { password }));
      return 'ok';
    } catch (e) {
      if (e instanceof OperatorError && e.failure === 'refused') return 'refused';
      throw e;
    }
  }

  async changePassword(account: OperatorCredential, management: OperatorCredential | null, newPassword: string): Promise<void> {
    checkLoginName(account.username);
    checkPassword(newPassword, 'new password');
    if (management) return this.viaManagement(account.username, management, newPassword);
    if (!account.password) throw new OperatorError('invalid', 'without a management secret the account changes its own password, which needs the stored password');
    checkPassword(account.password, 'stored password');
    const conn = await sshLogin(account, this.opts, { password: account.password }).catch((e: unknown) => {
      throw e instanceof OperatorError && e.failure === 'refused' ? new OperatorError('refused', 'the target refused the stored password') : e;
    });
    try {
      // passwd asks the current password, then the new one twice.
      const r = await execFixed(conn, 'LC_ALL=C passwd', `${account.password}\n${newPassword}\n${newPassword}\n`, this.opts.timeoutMs);
      if (r.code !== 0) throw new OperatorError('denied', `passwd refused the change (exit ${r.code ?? 'signal'})`);
    } finally {
      await logout(conn);
    }
  }

  private async viaManagement(username: string, management: OperatorCredential, newPassword: string): Promise<void> {
    checkLoginName(management.username);
    const conn = await sshLogin(management, this.opts).catch((e: unknown) => {
      throw e instanceof OperatorError && e.failure === 'refused' ? new OperatorError('denied', 'the target refused the management secret') : e;
    });
    try {
      const line = `${username}:${newPassword}\n`;
      const r = await this.chpasswd(conn, management, line);
      if (r !== 0) throw new OperatorError('denied', `chpasswd through the management secret failed (exit ${r ?? 'signal'})`);
    } finally {
      await logout(conn);
    }
  }

  /** chpasswd as root, or through sudo (without a password when the sudo rule allows, else with the management password on stdin). */
  private async chpasswd(conn: Client, management: OperatorCredential, line: string): Promise<number | null> {
    const t = this.opts.timeoutMs;
    const uid = await execFixed(conn, 'id -u', '', t);
    if (uid.code === 0 && uid.stdout.trim() === '0') return (await execFixed(conn, 'chpasswd', line, t)).code;
    if ((await execFixed(conn, 'sudo -n true', '', t)).code === 0) return (await execFixed(conn, 'sudo -n chpasswd', line, t)).code;
    if (!management.password) throw new OperatorError('denied', 'the management account is not root and sudo needs a password it does not have');
    checkPassword(management.password, 'management password');
    // -S: the password comes on stdin, before chpasswd's own input; -p '': no prompt in the output.
    return (await execFixed(conn, "sudo -S -p '' chpasswd", `${management.password}\n${line}`, t)).code;
  }

  // Just-in-time accounts and access levels (issue 12, points 4 and 5) come next.
  private notYet(): never {
    throw new OperatorError('error', 'just-in-time accounts and access levels are not available on Linux targets yet');
  }
  async createAccount(_m: OperatorCredential, _s: JitAccountSpec): Promise<void> {
    this.notYet();
  }
  async disableAccount(_m: OperatorCredential, _n: string): Promise<void> {
    this.notYet();
  }
  async removeAccount(_m: OperatorCredential, _n: string): Promise<void> {
    this.notYet();
  }
  async addToGroups(_m: OperatorCredential, _n: string, _g: string[]): Promise<void> {
    this.notYet();
  }
  async removeFromGroups(_m: OperatorCredential, _n: string, _g: string[]): Promise<void> {
    this.notYet();
  }
  async listAccounts(_m: OperatorCredential, _p: string): Promise<string[]> {
    this.notYet();
  }
}
