// `gatehouse personal …`: the caller's master password (set, change, unlock, lock, reset)
// and personal credentials (list, add, remove), and a launch with one of them. Master
// passwords and secret values are asked without echo, or read from standard input
// (--password-stdin); they are never printed. The unlock holds for the CLI's saved sign-in
// (token) until it is idle for the server's personalUnlockIdleSeconds.
import { readFileSync } from 'node:fs';
import type { Command } from 'commander';
import { api, PERSONAL_RESET_CONFIRMATION, type PersonalCredential, type VaultStatus } from '../web/contract/index.js';
import { callApi, type CliState } from './client.js';
import { ask, askHidden, readStdin } from './prompt.js';
import { withStepUp } from './step-up.js';

export interface CliKit {
  session(): CliState;
  out(v: unknown): void;
  table(rows: Record<string, unknown>[], cols: string[]): void;
  secretIdOf(ref: string): Promise<string>;
}

const targetText = (c: PersonalCredential) =>
  c.target.secretId ? `secret ${c.target.secretId}` : `${c.target.machine}${c.target.port ? `:${c.target.port}` : ''}${c.target.protocol ? ` (${c.target.protocol})` : ''}`;
const statusLine = (s: VaultStatus) =>
  `master password ${s.set ? 'set' : 'not set'}; this sign-in is ${s.unlocked ? `unlocked (locks after ${s.idleTimeoutSeconds} s unused)` : 'locked'}\n`;

export function registerPersonal(program: Command, kit: CliKit): void {
  const personal = program.command('personal').description('personal credentials under your master password (separate from your sign-in password)');
  /** With --password-stdin, the lines of standard input in order (read once). */
  let stdinLines: string[] | null = null;
  const secret = async (o: { passwordStdin?: boolean }, prompt: string): Promise<string> => {
    if (!o.passwordStdin) return askHidden(prompt);
    stdinLines ??= (await readStdin()).split(/\r?\n/);
    const v = stdinLines.shift();
    if (v === undefined) throw new Error(`${prompt.trim()} expected on standard input`);
    return v;
  };
  const credentialIdOf = async (ref: string): Promise<string> => {
    const r = await callApi(kit.session(), api.personal.list, { query: { limit: 500 } });
    return r.items.find((c) => c.id === ref || c.name === ref)?.id ?? ref;
  };

  personal
    .command('status')
    .description('whether you have a master password and whether this sign-in is unlocked')
    .action(async () => void process.stdout.write(statusLine(await callApi(kit.session(), api.personal.status, {}))));
  personal
    .command('set-master')
    .description('set your master password, or change it (asks for the current one first when one is set)')
    .option('--password-stdin', 'read the passwords from standard input, one per line (current first when changing)')
    .action(async (o: { passwordStdin?: boolean }) => {
      const st = await callApi(kit.session(), api.personal.status, {});
      const currentMasterPassword = st.set ? await secret(o, 'Current master password: ') : undefined;
      const masterPassword = await secret(o, 'New master password: ');
      if (!o.passwordStdin && (await askHidden('Repeat the new master password: ')) !== masterPassword) throw new Error('the two entries differ; nothing changed');
      const r = await callApi(kit.session(), api.personal.setMaster, { body: { masterPassword, ...(currentMasterPassword !== undefined ? { currentMasterPassword } : {}) } });
      process.stdout.write(`master password ${st.set ? 'changed' : 'set'}. Keep it safe: if it is forgotten, your personal credentials are lost.\n`);
      process.stdout.write(statusLine(r));
    });
  personal
    .command('unlock')
    .description('unlock your personal credentials for this sign-in')
    .option('--password-stdin', 'read the master password from standard input')
    .action(async (o: { passwordStdin?: boolean }) => {
      const r = await callApi(kit.session(), api.personal.unlock, { body: { masterPassword: await secret(o, 'Master password: ') } });
      process.stdout.write(statusLine(r));
    });
  personal
    .command('lock')
    .description('lock your personal credentials for this sign-in')
    .action(async () => void process.stdout.write(statusLine(await callApi(kit.session(), api.personal.lock, {}))));
  personal
    .command('reset')
    .description('forgotten master password: delete ALL your personal credentials and the master password')
    .option('--confirm <text>', `the confirmation, word for word: "${PERSONAL_RESET_CONFIRMATION}"`)
    .action(async (o: { confirm?: string }) => {
      const confirm = o.confirm ?? (await ask(`This deletes all your personal credentials for good. Type "${PERSONAL_RESET_CONFIRMATION}" to go on: `));
      const r = await callApi(kit.session(), api.personal.reset, { body: { confirm } });
      process.stdout.write(`deleted ${r.deleted} personal credential(s); set a new master password with \`gatehouse personal set-master\`\n`);
    });
  personal
    .command('list')
    .description('your personal credentials (never their secret values)')
    .option('--json')
    .action(async (o: { json?: boolean }) => {
      const r = await callApi(kit.session(), api.personal.list, { query: { limit: 500 } });
      if (o.json) return kit.out(r);
      kit.table(
        r.items.map((c) => ({ name: c.name, target: targetText(c), username: c.domain ? `${c.domain}\\${c.username}` : c.username, secrets: c.secretFields.join(','), id: c.id })),
        ['name', 'target', 'username', 'secrets', 'id'],
      );
    });
  personal
    .command('add <name>')
    .description('store one of your own accounts for a target (needs the unlocked vault); the password is asked, or read with --password-stdin')
    .option('--secret <secret>', 'the target: a secret (id or name) whose machine this account is for')
    .option('--machine <host>', 'the target: a machine')
    .option('--port <port>', 'with --machine: only this port')
    .option('--protocol <protocol>', 'with --machine: only this protocol (ssh, telnet, rdp)')
    .requiredOption('-u, --username <username>', 'the account name on the target')
    .option('--domain <domain>', 'the account domain')
    .option('--private-key-file <file>', 'an SSH private key for the account (instead of, or besides, a password)')
    .option('--no-password', 'store no password (with --private-key-file)')
    .option('--password-stdin', 'read the password from standard input')
    .action(async (name: string, o: { secret?: string; machine?: string; port?: string; protocol?: string; username: string; domain?: string; privateKeyFile?: string; password: boolean; passwordStdin?: boolean }) => {
      const target = {
        ...(o.secret ? { secretId: await kit.secretIdOf(o.secret) } : {}),
        ...(o.machine ? { machine: o.machine } : {}),
        ...(o.port ? { port: Number(o.port) } : {}),
        ...(o.protocol ? { protocol: o.protocol as 'ssh' | 'telnet' | 'rdp' } : {}),
      };
      const password = o.password ? await secret(o, 'Password: ') : undefined;
      const privateKey = o.privateKeyFile ? readFileSync(o.privateKeyFile, 'utf8') : undefined;
      const r = await callApi(kit.session(), api.personal.create, {
        body: { name, target, username: o.username, ...(o.domain ? { domain: o.domain } : {}), ...(password ? { password } : {}), ...(privateKey ? { privateKey } : {}) },
      });
      kit.out(r);
    });
  personal
    .command('remove <credential>')
    .description('delete one of your personal credentials (id or name)')
    .action(async (ref: string) => {
      const id = await credentialIdOf(ref);
      await callApi(kit.session(), api.personal.remove, { params: { id } });
      process.stdout.write(`deleted ${id}\n`);
    });
  personal
    .command('launch <secret> <credential>')
    .description('launch a secret with one of your personal credentials instead of the shared one (needs the unlocked vault)')
    .option('-l, --launcher <launcher>', 'launcher id or name', 'ssh')
    .option('--json', 'print the whole response')
    .option('--totp <code>', "a TOTP code, when the secret's access policy asks for a fresh second factor (else prompted on a terminal)")
    .action(async (ref: string, cred: string, o: { launcher: string; json?: boolean; totp?: string }) => {
      const [id, personalCredentialId] = [await kit.secretIdOf(ref), await credentialIdOf(cred)];
      const r = await withStepUp((totp) => callApi(kit.session(), api.launch.launch, { params: { id }, body: { launcher: o.launcher, personalCredentialId, ...(totp !== undefined ? { totp } : {}) } }), o.totp);
      if (o.json || !r.ssh) return kit.out(r);
      process.stdout.write(`${r.ssh.command}\n`);
      process.stderr.write(`single-use ticket, valid until ${r.expiresAt}\n`);
    });
}
