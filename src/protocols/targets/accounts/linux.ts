// The account operator for Linux/Unix targets over SSH (issue 12): changes a password with
// chpasswd through a management secret (root, another uid-0 account, or sudo), or as the
// account itself with passwd; verifies a password by a fresh SSH login. Names and passwords
// travel on stdin only; a name is checked against a strict pattern first, so neither a
// command line nor a chpasswd line can be bent by it.
import type { Client } from 'ssh2';
import { OperatorError, type AccountOperator, type JitAccountSpec, type OperatorCredential, type SudoersDropIn } from '../../../core/broker.js';
import { argvLine, execFixed, logout, sshLogin, type ExecOptions, type ExecResult, type HostKeyCheck } from './ssh-exec.js';

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
    // `sudo -n -l chpasswd` answers 0 only when a rule lets chpasswd run without a password. (Probing
    // with another command would be wrong both ways: a NOPASSWD rule for chpasswd alone fails it, and
    // then `sudo -S` would hand the password line to chpasswd, since sudo asks nothing.)
    if ((await execFixed(conn, 'sudo -n -l chpasswd', '', t)).code === 0) return (await execFixed(conn, 'sudo -n chpasswd', line, t)).code;
    if (!management.password) throw new OperatorError('denied', 'the management account is not root and sudo needs a password it does not have');
    checkPassword(management.password, 'management password');
    // -S: the password comes on stdin, before chpasswd's own input; -p '': no prompt in the output.
    // -k: never a cached sudo timestamp, so the password line is always read by sudo and never reaches chpasswd.
    return (await execFixed(conn, "sudo -k -S -p '' chpasswd", `${management.password}\n${line}`, t)).code;
  }

  // Just-in-time accounts and access levels (issue 12, points 4 and 5). Every command is a
  // fixed program with argv words: names are checked against strict patterns first and then
  // quoted as single words (argvLine), passwords and sudoers bodies go on stdin only.

  /** Runs argv as root: directly (uid 0), through `sudo -n`, or through `sudo -k -S` with the management password on stdin. */
  private async asRoot(management: OperatorCredential): Promise<{ run: (argv: string[], stdin?: string, maxOutput?: number) => Promise<ExecResult>; close: () => Promise<void> }> {
    checkLoginName(management.username);
    const conn = await sshLogin(management, this.opts).catch((e: unknown) => {
      throw e instanceof OperatorError && e.failure === 'refused' ? new OperatorError('denied', 'the target refused the management secret') : e;
    });
    const t = this.opts.timeoutMs;
    try {
      const uid = await execFixed(conn, 'id -u', '', t);
      if (uid.code === 0 && uid.stdout.trim() === '0') return { run: (argv, stdin = '', maxOutput) => execFixed(conn, argvLine(argv), stdin, t, maxOutput), close: () => logout(conn) };
      // Per command line: `sudo -n` where a NOPASSWD rule allows exactly it (probed with
      // `sudo -n -l` and the whole argv: a rule may allow a program only with given arguments,
      // as the documented `install … /etc/sudoers.d/gatehouse-*` does), else `sudo -k -S` with the
      // management password on stdin (-k: never a cached timestamp, so sudo always reads the
      // password line). Probing the program alone would be wrong: sudo would then not ask for the
      // password its NOPASSWD rule waives, and the password line would reach the program's stdin.
      const nopasswd = new Map<string, boolean>();
      const run = async (argv: string[], stdin = '', maxOutput?: number): Promise<ExecResult> => {
        const prog = argv[0]!;
        const line = argvLine(argv);
        if (!nopasswd.has(line)) nopasswd.set(line, (await execFixed(conn, `sudo -n -l ${line}`, '', t)).code === 0);
        if (nopasswd.get(line)) return execFixed(conn, `sudo -n ${line}`, stdin, t, maxOutput);
        if (!management.password) throw new OperatorError('denied', `the management account is not root, sudo does not allow ${prog} without a password, and it has none`);
        checkPassword(management.password, 'management password');
        return execFixed(conn, `sudo -k -S -p '' ${argvLine(argv)}`, `${management.password}\n${stdin}`, t, maxOutput);
      };
      return { run, close: () => logout(conn) };
    } catch (e) {
      await logout(conn);
      throw e;
    }
  }

  private async withRoot<T>(management: OperatorCredential, fn: (run: (argv: string[], stdin?: string, maxOutput?: number) => Promise<ExecResult>) => Promise<T>): Promise<T> {
    const r = await this.asRoot(management);
    try {
      return await fn(r.run);
    } finally {
      await r.close();
    }
  }

  /** Refuses groups that do not exist on the target (before anything changes); answers each group's supplementary members (getent's fourth field). */
  private async requireGroups(run: (argv: string[]) => Promise<ExecResult>, groups: string[]): Promise<Map<string, string[]>> {
    for (const g of groups) checkGroupName(g);
    const found = new Map<string, string[]>();
    if (!groups.length) return found;
    const r = await run(['getent', 'group', ...groups]);
    for (const line of r.stdout.split('\n')) {
      const [group, , , members] = line.split(':');
      if (group) found.set(group, (members ?? '').split(',').filter(Boolean));
    }
    const missing = groups.filter((g) => !found.has(g));
    if (missing.length) throw new OperatorError('invalid', `no such group on the target: ${missing.join(', ')}`);
    return found;
  }

  /** Checks a sudoers body with visudo, then installs it as /etc/sudoers.d/gatehouse-<name> (0440), and checks the whole configuration again. */
  private async installSudoers(run: (argv: string[], stdin?: string) => Promise<ExecResult>, name: string, body: string, tag?: string): Promise<void> {
    const text = sudoersText(body, name);
    const check = await run(['visudo', '-c', '-q', '-f', '-'], text);
    if (check.code !== 0) throw new OperatorError('invalid', "the access level's sudoers drop-in does not pass visudo -c");
    const file = sudoersFile(name, tag);
    const put = await run(['install', '-m', '0440', '-o', 'root', '-g', 'root', '/dev/stdin', file], text);
    if (put.code !== 0) throw new OperatorError('denied', `installing the sudoers drop-in failed (exit ${put.code ?? 'signal'})`);
    if ((await run(['visudo', '-c', '-q'])).code !== 0) {
      await run(['rm', '-f', '--', file]);
      throw new OperatorError('invalid', 'the sudo configuration did not pass visudo -c with the drop-in; it was taken out again');
    }
  }

  async createAccount(management: OperatorCredential, spec: JitAccountSpec): Promise<void> {
    checkJitName(spec.name);
    checkPassword(spec.password, 'JIT password');
    await this.withRoot(management, async (run) => {
      await this.requireGroups(run, spec.groups);
      const add = await run(['useradd', '-m', '-s', '/bin/bash', ...(spec.groups.length ? ['-G', spec.groups.join(',')] : []), '--', spec.name]);
      if (add.code === 9) throw new OperatorError('invalid', `an account named ${spec.name} already exists on the target`);
      if (add.code !== 0) throw new OperatorError('denied', `useradd failed (exit ${add.code ?? 'signal'})`);
      try {
        const pw = await run(['chpasswd'], `${spec.name}:${spec.password}\n`);
        if (pw.code !== 0) throw new OperatorError('denied', `chpasswd for the new account failed (exit ${pw.code ?? 'signal'})`);
        if (spec.sudoers) await this.installSudoers(run, spec.name, spec.sudoers);
      } catch (e) {
        // Half an account is worse than none: take it out again. When that fails as well, the
        // error is no longer the operator's refusal ('invalid' says nothing was left behind): the
        // caller then keeps its row for the sweeper, which removes the account once it can.
        const del = await run(['userdel', '-r', '--', spec.name]).catch((x: unknown) => ({ code: null, stdout: '', stderr: x instanceof Error ? x.message : String(x) }));
        if (del.code !== 0 && del.code !== 6 && del.code !== 12) {
          throw new OperatorError('denied', `${e instanceof Error ? e.message : String(e)}; the half-made account could not be taken out again (userdel exit ${del.code ?? 'signal'})`);
        }
        throw e;
      }
    });
  }

  async disableAccount(management: OperatorCredential, name: string): Promise<void> {
    checkLoginName(name);
    await this.withRoot(management, async (run) => {
      await run(['rm', '-f', '--', sudoersFile(name)]);
      // Locked password and an expiry in the past: no login by password or key.
      const r = await run(['usermod', '-L', '-e', '1', '--', name]);
      if (r.code !== 0 && r.code !== 6) throw new OperatorError('denied', `usermod -L failed (exit ${r.code ?? 'signal'})`);
      // Whatever the account still runs ends with it (pkill: 1 = nothing to end).
      await run(['pkill', '-KILL', '-u', name]);
    });
  }

  async removeAccount(management: OperatorCredential, name: string): Promise<void> {
    checkLoginName(name);
    await this.withRoot(management, async (run) => {
      await run(['rm', '-f', '--', sudoersFile(name)]);
      let r: ExecResult = { code: null, stdout: '', stderr: '' };
      // 8: the account still runs processes (a session's sshd is still going away): end them and ask again.
      for (let attempt = 0; attempt < 10; attempt++) {
        await run(['pkill', '-KILL', '-u', name]);
        r = await run(['userdel', '-r', '--', name]);
        if (r.code !== 8) break;
        await new Promise((res) => setTimeout(res, 300));
      }
      // 6: no such user (already gone); 12: the home directory could not be removed (the account is gone).
      if (r.code !== 0 && r.code !== 6 && r.code !== 12) throw new OperatorError('denied', `userdel failed (exit ${r.code ?? 'signal'})`);
    });
  }

  async addToGroups(management: OperatorCredential, name: string, groups: string[], sudoers?: SudoersDropIn, before?: (alreadyIn: string[]) => Promise<void>): Promise<void> {
    checkLoginName(name);
    if (sudoers) checkSudoersTag(sudoers.tag);
    await this.withRoot(management, async (run) => {
      const members = await this.requireGroups(run, groups);
      // A primary group is not a supplementary membership usermod -aG adds or gpasswd -d takes away.
      await before?.(groups.filter((g) => members.get(g)?.includes(name)));
      if (groups.length) {
        const r = await run(['usermod', '-a', '-G', groups.join(','), '--', name]);
        if (r.code === 6) throw new OperatorError('invalid', `no account ${name} on the target`);
        if (r.code !== 0) throw new OperatorError('denied', `usermod -aG failed (exit ${r.code ?? 'signal'})`);
      }
      if (sudoers) await this.installSudoers(run, name, sudoers.body, sudoers.tag);
    });
  }

  async removeFromGroups(management: OperatorCredential, name: string, groups: string[], sudoersTag?: string): Promise<void> {
    checkLoginName(name);
    for (const g of groups) checkGroupName(g);
    if (sudoersTag !== undefined) checkSudoersTag(sudoersTag);
    await this.withRoot(management, async (run) => {
      // Only this grant's drop-in: another session's level on the same account keeps its own.
      if (sudoersTag !== undefined) await run(['rm', '-f', '--', sudoersFile(name, sudoersTag)]);
      for (const g of groups) {
        const r = await run(['gpasswd', '-d', name, g]);
        // 3: not a member (already out), or no such user/group: nothing to take away.
        if (r.code !== 0 && r.code !== 3) throw new OperatorError('denied', `gpasswd -d failed (exit ${r.code ?? 'signal'})`);
      }
    });
  }

  async listAccounts(management: OperatorCredential, prefix: string): Promise<string[]> {
    checkJitPrefix(prefix);
    return this.withRoot(management, async (run) => {
      const r = await run(['getent', 'passwd'], '', 4 * 1024 * 1024);
      if (r.code !== 0) throw new OperatorError('error', `getent passwd failed (exit ${r.code ?? 'signal'})`);
      return r.stdout.split('\n').map((l) => l.split(':')[0]!).filter((n) => n.startsWith(prefix));
    });
  }
}

/** JIT names are made by the core: lower case, as useradd's default NAME_REGEX wants. */
const JIT_NAME = /^[a-z_][a-z0-9_-]{0,31}$/;
const JIT_PREFIX = /^[a-z_][a-z0-9_-]{0,19}$/;
/** Group names: the login-name alphabet (no shell, no list separator). */
const GROUP_NAME = /^[A-Za-z_][A-Za-z0-9_.-]{0,31}$/;

export function checkJitName(name: string): void {
  if (!JIT_NAME.test(name)) throw new OperatorError('invalid', 'a JIT account name must be lower-case letters, digits, "_" or "-" (at most 32)');
}
export function checkJitPrefix(prefix: string): void {
  if (!JIT_PREFIX.test(prefix)) throw new OperatorError('invalid', 'a JIT name prefix must be lower-case letters, digits, "_" or "-" (at most 20)');
}
export function checkGroupName(g: string): void {
  if (!GROUP_NAME.test(g)) throw new OperatorError('invalid', `"${g.slice(0, 40).replace(/[^\x20-\x7e]/g, '?')}" is not a valid Linux group name (letters, digits, ".", "_", "-"; at most 32)`);
}

/** sudo ignores drop-ins whose name holds a dot: the file name maps dots to "_". A grant's tag makes it one file per grant. */
export const sudoersFile = (name: string, tag?: string) => `/etc/sudoers.d/gatehouse-${name.replace(/\./g, '_')}${tag ? `-${tag}` : ''}`;

const SUDOERS_TAG = /^[a-z0-9]{1,32}$/;
export function checkSudoersTag(tag: string): void {
  if (!SUDOERS_TAG.test(tag)) throw new OperatorError('invalid', 'a sudoers drop-in tag must be 1 to 32 of [a-z0-9]');
}

/** The drop-in text: `{account}` in the level's body stands for the account name; ends with a line break (sudo wants one). */
export const sudoersText = (body: string, name: string) => `# Gatehouse access level for ${name}: removed when the session ends\n${body.replace(/\{account\}/g, name).replace(/\r/g, '').trimEnd()}\n`;
