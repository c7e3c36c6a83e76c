// The `gatehouse` command. Online commands talk to the API with the token saved by
// `gatehouse login`; serve, bootstrap and `audit verify --offline` work on the data dir.
import { createWriteStream } from 'node:fs';
import { Command } from 'commander';
import { ConfigError, loadConfig } from '../config.js';
import { checkPasswordPolicy, hashPassword } from '../core/identity/passwords.js';
import { AppError } from '../core/errors.js';
import { ACCESS_LEVELS, api, type AccessLevel, type Ok } from '../web/contract/index.js';
import { ApiError, apiError, call, callApi, clearState, loadState, parseJson, pathOf, saveState, stateFile, type CliState } from './client.js';
import { registerAccessCommands } from './access.js';
import { askHidden, readStdin } from './prompt.js';
import type { AuditVerifyOptions } from './verify.js';
import { registerPersonal } from './personal.js';
import { registerCheckoutCommands } from './checkout.js';
import { registerAccountCommands } from './accounts.js';
import { registerEcm } from './ecm.js';
import { registerOpenPsm } from './openpsm.js';
import { registerLogonTickets } from './logon-tickets.js';
import { registerLdapDirectory } from './ldap-directory.js';
import { registerAuditSinks } from './audit-sinks.js';
import { registerRetention } from './retention.js';
import { registerStepUp, withStepUp } from './step-up.js';
import { askConsent, launchWithConsentPrompt } from './consent.js';

// The database, core and verification modules load only for the commands that use them:
// loading them takes most of a second, which every API command would otherwise wait for.
const offline = () => import('./offline.js');
const withCore: typeof import('./offline.js').withCore = async (fn, opts) => (await offline()).withCore(fn, opts);
const verify = () => import('./verify.js');

const program = new Command();
program.name('gatehouse').description('Gatehouse privileged session gateway').version('0.1.0').showHelpAfterError();

const out = (v: unknown): void => void process.stdout.write(JSON.stringify(v, null, 2) + "\n");
const table = (rows: Record<string, unknown>[], cols: string[]) => {
  const widths = cols.map((c) => Math.max(c.length, ...rows.map((r) => String(r[c] ?? '').length)));
  const line = (vals: string[]) => vals.map((v, i) => v.padEnd(widths[i]!)).join('  ').trimEnd();
  process.stdout.write([line(cols.map((c) => c.toUpperCase())), ...rows.map((r) => line(cols.map((c) => String(r[c] ?? ''))))].join('\n') + '\n');
};

function session(): CliState {
  const s = loadState();
  if (!s?.token) throw new ApiError(401, 'unauthorized', 'not logged in: run `gatehouse login` first');
  return s;
}

async function secretText(opts: { passwordStdin?: boolean }, prompt: string): Promise<string> {
  return opts.passwordStdin ? readStdin() : askHidden(prompt);
}

program
  .command('serve')
  .description('run the server (configuration from GATEHOUSE_* environment variables)')
  .action(async () => {
    const config = loadConfig();
    // Several worker processes sharing the ports (GATEHOUSE_WORKERS): this is their primary, or one of them.
    if (config.workers > 1) {
      const { isWorker, runPrimary, startWorker } = await import('../cluster-workers.js');
      return isWorker() ? startWorker(config) : runPrimary(config);
    }
    const { startServer } = await import('../server.js');
    // SIGTERM drains: no new sessions, running ones go on for up to GATEHOUSE_DRAIN_SECONDS,
    // then the rest are ended and their recordings sealed. A second SIGTERM (or a SIGINT)
    // while draining ends the wait; SIGINT otherwise stops at once, and a SIGINT while
    // stopping gives up on a clean stop.
    // The handlers are in place before the start: its ports take connections (and it says it
    // listens) before startServer returns, and a SIGTERM then must not kill it unaudited. A
    // SIGTERM while it starts is held and drains once it has started; a second one, or a
    // SIGINT, ends the start at once.
    let running: Awaited<ReturnType<typeof startServer>> | null = null;
    let state: 'starting' | 'running' | 'draining' | 'stopping' = 'starting';
    let held = false;
    const finish = (work: Promise<void>) => void work.then(() => process.exit(0));
    const onTerm = (r: NonNullable<typeof running>) => {
      if (state === 'stopping') return;
      r.core.log.info({ sig: 'SIGTERM' }, state === 'running' ? 'draining, then shutting down' : 'shutting down: the drain ends now');
      state = state === 'running' ? 'draining' : 'stopping';
      finish(r.drain());
    };
    process.on('SIGTERM', () => {
      if (running) return onTerm(running);
      if (held) process.exit(143);
      held = true;
    });
    process.on('SIGINT', () => {
      if (!running || state === 'stopping') process.exit(130);
      running.core.log.info({ sig: 'SIGINT' }, 'shutting down');
      const wasDraining = state === 'draining';
      state = 'stopping';
      finish(wasDraining ? running.drain() : running.stop());
    });
    running = await startServer(config);
    state = 'running';
    if (held) onTerm(running);
  });

program
  .command('bootstrap')
  .description('offline: create the first administrator (or, with --reset, set a new password for a user)')
  .option('-u, --username <name>', 'administrator username', 'admin')
  .option('--password-stdin', 'read the password from standard input instead of generating one')
  .option('--reset', 'reset the password of an existing user and clear its lockout')
  .action(async (opts: { username: string; passwordStdin?: boolean; reset?: boolean }) => {
    const password = opts.passwordStdin ? await readStdin() : undefined;
    if (password !== undefined) checkPasswordPolicy(password);
    await withCore(async (core) => {
      if (opts.reset) {
        const user = await core.dir.userByName(opts.username);
        if (!user) throw new AppError(404, 'not_found', `user "${opts.username}" not found`);
        const pw = password ?? (await import('node:crypto')).randomBytes(18).toString('base64url');
        await core.store.db.updateTable('users').set({ passwordHash: await hashPassword(pw), failedLogins: 0, lockedUntil: null, enabled: 1 }).where('id', '=', user.id).execute();
        await core.store.db.deleteFrom('apiTokens').where('userId', '=', user.id).execute();
        await core.audit.record((await import('../core/audit/service.js')).SYSTEM, { action: 'user.password_reset_offline', target: { type: 'user', id: user.id }, details: { username: user.username } });
        process.stdout.write(password ? `password of "${user.username}" reset\n` : `password of "${user.username}" reset to: ${pw}\n`);
        return;
      }
      const r = await (await offline()).bootstrapAdmin(core, { username: opts.username, ...(password ? { password } : {}) });
      if (!r) throw new AppError(409, 'conflict', 'users already exist; use --reset to recover an account');
      process.stdout.write(r.password ? `bootstrap administrator "${r.username}" created; password: ${r.password}\n` : `bootstrap administrator "${r.username}" created\n`);
    }, { checkpoint: true, announceOn: 'stdout' });
  });

program
  .command('login')
  .description('log in to a Gatehouse server (password, or --sso through the browser) and keep the token in a 0600 file')
  .option('--url <url>', 'server URL', process.env.GATEHOUSE_URL ?? 'https://localhost:8443')
  .option('-u, --username <name>', 'username (password login)')
  .option('--password-stdin', 'read the password from standard input')
  .option('--totp <code>', 'TOTP or recovery code')
  .option('--sso <provider>', 'sign in through the browser with this single sign-on provider (its name, as the sign-in page lists it)')
  .option('--no-browser', 'with --sso: only print the URL to open, do not try to open a browser')
  .option('--timeout <seconds>', 'with --sso: how long to wait for the browser to come back', '300')
  .option('--ca <file>', 'verify the server with this CA/certificate file instead of pinning on first use')
  .action(async (opts: { url: string; username?: string; passwordStdin?: boolean; totp?: string; sso?: string; browser: boolean; timeout: string; ca?: string }) => {
    const prev = loadState();
    const state: CliState = { url: opts.url.replace(/\/$/, ''), ...(opts.ca ? { caFile: opts.ca } : {}) };
    if (prev?.url === state.url && prev.fingerprint256 && !opts.ca) state.fingerprint256 = prev.fingerprint256;
    if (opts.sso !== undefined) {
      if (opts.username || opts.passwordStdin || opts.totp) throw new Error('--sso signs in through the browser: leave out --username, --password-stdin and --totp');
      const timeoutSeconds = Number(opts.timeout);
      if (!Number.isInteger(timeoutSeconds) || timeoutSeconds < 1 || timeoutSeconds > 3600) throw new Error('--timeout must be a whole number of seconds from 1 to 3600');
      const { ssoLogin } = await import('./sso-login.js');
      const r = await ssoLogin(state, { provider: opts.sso, timeoutSeconds, openBrowser: opts.browser, say: (l) => void process.stderr.write(`${l}\n`) });
      saveState({ ...r.state, token: r.token.token, username: r.token.username });
      process.stdout.write(`logged in as ${r.token.username} through ${opts.sso} until ${r.token.expiresAt} (token saved in ${stateFile()})\n`);
      return;
    }
    if (!opts.username) throw new Error('give --username <name> (password login) or --sso <provider> (through the browser)');
    const username = opts.username;
    const password = await secretText(opts, 'Password: ');
    const res = await call(state, 'POST', api.auth.login.url, { username, password, ...(opts.totp ? { totp: opts.totp } : {}) });
    // A security key needs a browser: at the command line an account with one answers with a TOTP or recovery code.
    const second = res.status === 401 ? apiError(res).code : null;
    if ((second === 'totp_required' || second === 'webauthn_required') && !opts.totp && process.stdin.isTTY) {
      const totp = await askHidden(second === 'totp_required' ? 'TOTP code: ' : 'TOTP or recovery code (security keys need the portal): ');
      const again = await call(state, 'POST', api.auth.login.url, { username, password, totp });
      return finishLogin(state, username, again);
    }
    return finishLogin(state, username, res);
  });

function finishLogin(state: CliState, username: string, res: Awaited<ReturnType<typeof call>>) {
  if (res.status !== 200) throw apiError(res);
  const body = parseJson(res) as Ok<typeof api.auth.login>;
  saveState({ ...state, token: body.token, username, fingerprint256: state.caFile ? undefined : (state.fingerprint256 ?? res.fingerprint256) });
  process.stdout.write(`logged in as ${username} until ${body.expiresAt} (token saved in ${stateFile()})\n`);
}

program
  .command('logout')
  .description('revoke the saved token and forget it')
  .action(async () => {
    const s = loadState();
    if (s?.token) await callApi(s, api.auth.logout).catch(() => undefined);
    clearState();
    process.stdout.write('logged out\n');
  });

// ---- users
const users = program.command('users').description('manage users and application accounts');
users
  .command('list')
  .option('--json', 'print JSON')
  .action(async (o: { json?: boolean }) => {
    const r = await callApi(session(), api.directory.listUsers, { query: { limit: 500 } });
    if (o.json) return out(r);
    table(
      r.items.map((u) => ({ ...u, roles: u.roles.map((x) => x.name).join(','), type: u.isApplication ? 'application' : 'user', state: !u.enabled ? 'disabled' : u.locked ? 'locked' : 'enabled' })),
      ['username', 'displayName', 'type', 'roles', 'state', 'id'],
    );
  });
users
  .command('create <username>')
  .option('--display-name <name>')
  .option('--email <email>')
  .option('--role <role...>', 'role names (default: User, or Application for --application)')
  .option('--group <group...>', 'group names')
  .option('--application', 'API-only application account')
  .option('--password-stdin', 'read the password from standard input')
  .option('--no-password', 'create without a password (e.g. an application account using client credentials)')
  .action(async (username: string, o: { displayName?: string; email?: string; role?: string[]; group?: string[]; application?: boolean; passwordStdin?: boolean; password?: boolean }) => {
    const password = o.password === false ? undefined : await secretText(o, 'Password for the new user: ');
    out(
      await callApi(session(), api.directory.createUser, {
        body: {
          username,
          ...(o.displayName ? { displayName: o.displayName } : {}),
          ...(o.email ? { email: o.email } : {}),
          ...(o.role ? { roles: o.role } : {}),
          ...(o.group ? { groups: o.group } : {}),
          ...(o.application ? { isApplication: true } : {}),
          ...(password ? { password } : {}),
        },
      }),
    );
  });
const userId = async (ref: string) => {
  const r = await callApi(session(), api.directory.listUsers, { query: { limit: 500, search: ref } });
  const u = r.items.find((x) => x.username === ref || x.id === ref);
  if (!u) throw new ApiError(404, 'not_found', `user "${ref}" not found`);
  return { id: u.id };
};
users.command('disable <username>').action(async (u: string) => out(await callApi(session(), api.directory.updateUser, { params: await userId(u), body: { enabled: false } })));
users.command('enable <username>').action(async (u: string) => out(await callApi(session(), api.directory.updateUser, { params: await userId(u), body: { enabled: true } })));
users.command('unlock <username>').action(async (u: string) => out(await callApi(session(), api.directory.unlockUser, { params: await userId(u) })));
users
  .command('set-password <username>')
  .option('--password-stdin')
  .action(async (u: string, o: { passwordStdin?: boolean }) => {
    const password = await secretText(o, 'New password: ');
    await callApi(session(), api.directory.updateUser, { params: await userId(u), body: { password } });
    process.stdout.write('password changed\n');
  });
users.command('delete <username>').action(async (u: string) => {
  await callApi(session(), api.directory.deleteUser, { params: await userId(u) });
  process.stdout.write(`deleted ${u}\n`);
});
users
  .command('oidc-links <username>')
  .description('the OIDC providers the user signs in through, and who they are there (sub)')
  .option('--json', 'print JSON')
  .action(async (u: string, o: { json?: boolean }) => {
    const r = await callApi(session(), api.oidc.userLinks, { params: await userId(u), query: { limit: 500, offset: 0 } });
    if (o.json) return out(r);
    table(r.items, ['provider', 'subject', 'linkedAt']);
  });
users
  .command('oidc-unlink <username> <provider>')
  .description("remove the user's link to an OIDC provider (by name): their next sign-in there matches by name again")
  .action(async (u: string, provider: string) => {
    const { id } = await userId(u);
    const link = (await callApi(session(), api.oidc.userLinks, { params: { id }, query: { limit: 500, offset: 0 } })).items.find((l) => l.provider === provider || l.providerId === provider);
    if (!link) throw new ApiError(404, 'not_found', `user "${u}" has no link to an OIDC provider "${provider}"`);
    await callApi(session(), api.oidc.unlinkUser, { params: { id, providerId: link.providerId } });
    process.stdout.write(`unlinked ${u} from ${link.provider}\n`);
  });
users.command('client-credentials <username>').description('issue OAuth2 client credentials for an application account').action(async (u: string) => out(await callApi(session(), api.directory.clientCredentials, { params: await userId(u) })));

// ---- secrets
const secrets = program.command('secrets').description('manage secrets');
secrets
  .command('list')
  .option('--search <text>')
  .option('--json')
  .action(async (o: { search?: string; json?: boolean }) => {
    const r = await callApi(session(), api.secrets.list, { query: { limit: 500, search: o.search } });
    if (o.json) return out(r);
    table(r.items.map((s) => ({ ...s, template: s.template.name })), ['name', 'template', 'machine', 'username', 'access', 'id']);
  });
secrets
  .command('create <name>')
  .requiredOption('-t, --template <template>', 'template id or name (unix-account, windows-account, active-directory-account, generic)')
  .option('-f, --field <name=value...>', 'non-secret field values, e.g. machine=db1 username=root')
  .option('--secret-field <name>', 'a secret field (password, privateKey, passphrase) whose value is read from stdin')
  .option('--folder <id>', 'folder id')
  .action(async (name: string, o: { template: string; field?: string[]; secretField?: string; folder?: string }) => {
    const fields: Record<string, string | number> = {};
    for (const kv of o.field ?? []) {
      const i = kv.indexOf('=');
      if (i < 1) throw new ApiError(400, 'invalid_request', `--field expects name=value, got "${kv}"`);
      fields[kv.slice(0, i)] = kv.slice(i + 1);
    }
    // The API takes number fields (e.g. port=2222) as JSON numbers: convert what the template says is a number.
    if (Object.keys(fields).length) {
      const tpl = await callApi(session(), api.templates.get, { params: { id: o.template } }).catch(() => null);
      for (const f of tpl?.fields ?? []) {
        const v = fields[f.name];
        if (f.type === 'number' && typeof v === 'string' && /^\d{1,10}$/.test(v)) fields[f.name] = Number(v);
      }
    }
    if (o.secretField) fields[o.secretField] = await readStdin();
    out(await callApi(session(), api.secrets.create, { body: { name, template: o.template, fields, ...(o.folder ? { folderId: o.folder } : {}) } }));
  });
secrets.command('get <id>').action(async (id: string) => out(await callApi(session(), api.secrets.get, { params: { id } })));
secrets.command('reveal <id>').description('show secret field values (audited)').action(async (id: string) => out(await callApi(session(), api.secrets.reveal, { params: { id } })));
secrets
  .command('share <id> <principal> <level>')
  .description('add or change one sharing entry (level: list, view, edit, owner)')
  .option('--group', 'principal is a group')
  .action(async (id: string, principal: string, level: string, o: { group?: boolean }) => {
    if (!(ACCESS_LEVELS as readonly string[]).includes(level)) throw new ApiError(400, 'invalid_request', `level must be one of ${ACCESS_LEVELS.join(', ')}, got "${level}"`);
    const cur = await callApi(session(), api.secrets.permissions, { params: { id } });
    const entries = cur.entries.map((e) => ({ principalType: e.principalType, principal: e.principalId, level: e.level }));
    entries.push({ principalType: o.group ? 'group' : 'user', principal, level: level as AccessLevel });
    out(await callApi(session(), api.secrets.setPermissions, { params: { id }, body: { entries } }));
  });
secrets.command('delete <id>').action(async (id: string) => {
  await callApi(session(), api.secrets.remove, { params: { id } });
  process.stdout.write(`deleted ${id}\n`);
});
registerCheckoutCommands(secrets, session);
registerAccountCommands(secrets, session);

// ---- launching and sessions
const secretIdOf = async (ref: string): Promise<string> => {
  const r = await callApi(session(), api.secrets.list, { query: { limit: 500, search: ref } });
  const hit = r.items.find((x) => x.id === ref || x.name === ref);
  if (hit) return hit.id;
  return ref;
};
program
  .command('launch <secret>')
  .description('get a single-use ticket for a secret and the ssh command that uses it')
  .option('-l, --launcher <launcher>', 'launcher id or name (ssh, telnet or a session connector launcher)', 'ssh')
  .option('--bind-ip', 'bind the ticket to the IP address this request comes from')
  .option('--known-hosts <file>', "append the gateway's SSH host keys to this known_hosts file")
  .option('--json', 'print the whole response')
  .option('-o, --out <file>', 'for RDP launchers: where to save the .rdp file (default: <secret>.rdp)')
  .option('--consent', "agree to the recording the secret's access policy requires (shown by a launch without it)")
  .option('--totp <code>', "a TOTP code, when the secret's access policy asks for a fresh second factor (else prompted on a terminal)")
  .option('--access-level <level>', 'the access level (id or name) for the session: its groups go to the JIT or stored account (`gatehouse access levels usable <secret>` lists yours)')
  .option('--width <pixels>', 'for RDP launchers: desktop width, 200..8192 (with --height; the .rdp file asks for that window)')
  .option('--height <pixels>', 'for RDP launchers: desktop height, 200..8192 (with --width)')
  .option('--dpi <dpi>', 'for RDP launchers: screen DPI, 96..480 (100 % = 96)')
  .option('--keyboard-layout <layout>', 'for RDP launchers: the keyboard layout the target reads (us, uk, de, fr)')
  .action(async (ref: string, o: { launcher: string; bindIp?: boolean; knownHosts?: string; json?: boolean; out?: string; consent?: boolean; totp?: string; accessLevel?: string; width?: string; height?: string; dpi?: string; keyboardLayout?: string }) => {
    // Display settings as given (numbers when they read as numbers): the server checks the bounds and answers 400 invalid_display.
    const num = (v: string | undefined) => (v === undefined ? undefined : /^\d{1,6}$/.test(v.trim()) ? Number(v) : NaN);
    const display = { width: num(o.width), height: num(o.height), dpi: num(o.dpi), keyboardLayout: o.keyboardLayout };
    for (const [k, v] of Object.entries(display)) if (typeof v === 'number' && Number.isNaN(v)) throw new ApiError(400, 'invalid_request', `--${k.replace('keyboardLayout', 'keyboard-layout')} must be a whole number`);
    const displayBody = Object.fromEntries(Object.entries(display).filter(([, v]) => v !== undefined)) as { width?: number; height?: number; dpi?: number; keyboardLayout?: string };
    const id = await secretIdOf(ref);
    let code = o.totp;
    const attempt = async (consent?: boolean) => {
      const res = await withStepUp((totp) => callApi(session(), api.launch.launch, { params: { id }, body: { launcher: o.launcher, ...(o.bindIp ? { bindIp: true } : {}), ...(consent !== undefined ? { consent } : {}), ...(totp !== undefined ? { totp } : {}), ...(o.accessLevel ? { accessLevel: o.accessLevel } : {}), ...displayBody } }), code);
      // Verified once is enough: the step-up now holds for this token, and the same code sent
      // again with the launch after consent could have expired (TOTP codes last 30 s).
      code = undefined;
      return res;
    };
    // Consent the policy requires, not given with --consent: asked on a terminal (src/cli/consent.ts).
    const r = o.consent || !process.stdin.isTTY
      ? await attempt(o.consent ? true : undefined)
      : await launchWithConsentPrompt(attempt, (text) => askConsent(text, { input: process.stdin, output: process.stderr }), (ticket) => callApi(session(), api.launch.decline, { body: { ticket } }));
    if (!r) {
      process.stderr.write('You did not agree to the recording: no launch was made.\n');
      process.exitCode = 1;
      return;
    }
    // A policy's consent not given: the SSH door will refuse this ticket, so say why and how.
    if (r.consent.given === false) process.stderr.write(`${r.consent.text}\nThis session is recorded: the SSH door opens this ticket only after you agree. Run again with --consent to agree (or open it in the portal's browser terminal).\n`);
    if (o.knownHosts && r.ssh?.knownHosts) {
      const { appendFileSync } = await import('node:fs');
      appendFileSync(o.knownHosts, r.ssh.knownHosts.join('\n') + '\n', { mode: 0o600 });
    }
    if (o.json) return out(r);
    if (r.ssh) process.stdout.write(`${r.ssh.command}\n`);
    else if (r.rdpFile) {
      const res = await call(session(), 'GET', r.rdpFile);
      if (res.status !== 200) throw apiError(res);
      const file = o.out ?? `${ref.replace(/[^A-Za-z0-9._-]+/g, '_')}.rdp`;
      const { writeFileSync } = await import('node:fs');
      writeFileSync(file, res.body, { mode: 0o600 });
      process.stdout.write(`saved ${file}: open it with your Remote Desktop client (mstsc, xfreerdp, Remmina)\n`);
    } else out(r);
    process.stderr.write(`single-use ticket, valid until ${r.expiresAt}\n`);
  });
registerPersonal(program, { session, out, table, secretIdOf });
registerOpenPsm(program, { session, out, table, secretIdOf });
registerLogonTickets(program, { session, out, table, secretIdOf });
registerLdapDirectory(program, { session, out });
registerStepUp(program, session);
registerEcm(program, { session, out, table, secretIdOf });
const sessions = program.command('sessions').description('live and past sessions');
sessions
  .command('list')
  .option('--live', 'only live sessions')
  .option('--json')
  .action(async (o: { live?: boolean; json?: boolean }) => {
    const r = await callApi(session(), api.sessions.list, { query: { limit: 500, ...(o.live ? { status: 'live' } : {}) } });
    if (o.json) return out(r);
    table(
      r.items.map((s) => ({ id: s.id, user: s.user.username, secret: s.secret.name, protocol: s.protocol, target: `${s.target.host}:${s.target.port}`, client: s.clientIp, status: s.status, started: s.startedAt, end: s.endReason ?? '' })),
      ['id', 'user', 'secret', 'protocol', 'target', 'client', 'status', 'started', 'end'],
    );
  });
sessions
  .command('terminate <id>')
  .option('-r, --reason <text>', 'shown to the person', '')
  .action(async (id: string, o: { reason: string }) => {
    await callApi(session(), api.sessions.terminate, { params: { id }, body: { reason: o.reason } });
    process.stdout.write(`terminated ${id}\n`);
  });
const recording = program.command('recording').description('session recordings');
recording
  .command('get <sessionId>')
  .description('download a recording (.cast, plays with `asciinema play`)')
  .option('-o, --out <file>', 'output file', '')
  .action(async (id: string, o: { out: string }) => {
    const res = await call(session(), 'GET', pathOf(api.recordings.get, { params: { sessionId: id } }));
    if (res.status !== 200) throw apiError(res);
    const file = o.out || `${id}.cast`;
    const { writeFileSync } = await import('node:fs');
    writeFileSync(file, res.body, { mode: 0o600 });
    process.stdout.write(`wrote ${file} (${res.body.length} bytes)\n`);
  });
recording
  .command('export <sessionOrFile>')
  .description('render an RDP recording (session id or .ghrec file) to a video (--mp4 FILE, needs ffmpeg) or a still image (--png-at SECONDS --out FILE)')
  .option('--mp4 <file>', 'write an H.264 MP4 video')
  .option('--png-at <seconds>', 'write the screen at this time as a PNG (with --out)')
  .option('--out <file>', 'the PNG file for --png-at')
  .option('--fps <n>', 'frames per second of the video', '10')
  .option('--no-cursor', 'leave the mouse pointer out')
  .action(async (ref: string, o: { mp4?: string; pngAt?: string; out?: string; fps?: string; cursor?: boolean }) => (await import('./recording-export.js')).exportRecording(ref, o, session));
recording
  .command('verify [sessionOrFile]')
  .description('re-hash recordings against their recording.seal audit events: a session id, a recording file, or --all; says which are ok, differ, are missing or unsealed')
  .option('--all', 'every sealed recording and every recording file')
  .option('--offline', 'read the database and the recordings in the data dir directly')
  .action(async (ref: string | undefined, o: { all?: boolean; offline?: boolean }) => (await verify()).recordingVerify(ref, o, session));
recording
  .command('search <text>')
  .action(async (text: string) => {
    const r = await callApi(session(), api.recordings.search, { query: { q: text } });
    for (const s of r.items) {
      process.stdout.write(`${s.id}  ${s.user.username} -> ${s.secret.name}  ${s.startedAt}\n`);
      for (const m of s.matches) process.stdout.write(`    ${m.at.toFixed(1)}s  ${m.text}\n`);
    }
  });
registerRetention(program, recording, { session, out });

// ---- audit
const audit = program.command('audit').description('the tamper-evident audit trail');
audit
  .command('verify')
  .description('recompute the hash chain and check the signed checkpoints against the pinned keys and anchors')
  .option('--offline', 'read the database directly (no server needed)')
  .option('--public-key <file...>', 'with --offline: trust these signing keys (PEM or one-line keys) instead of the ones pinned in the data dir')
  .option('--trust-db-keys', 'with --offline: also trust keys recorded in the database (unsafe: a database writer can add one)')
  .option('--anchor <file...>', 'checkpoints exported earlier (`audit checkpoint export`) that the chain must still hold')
  .action(async (o: AuditVerifyOptions) => (await verify()).auditVerify(o, session));
audit
  .command('checkpoint')
  .description('signed checkpoints of the chain head')
  .command('export')
  .description('print the newest checkpoint signed by a pinned key (JSON: seq, hash, ts, key fingerprint, signature), to keep elsewhere as an anchor')
  .option('-o, --out <file>', 'write it to this file instead of standard output')
  .option('--sign', 'sign the current head first')
  .option('--offline', 'read the database directly')
  .action(async (o: { out?: string; sign?: boolean; offline?: boolean }) => (await verify()).checkpointExport(o, session));
registerAuditSinks(audit, { session, out });
audit
  .command('export')
  .description('write every event as JSON lines')
  .option('-o, --out <file>', 'output file (default: standard output)')
  .option('--offline', 'read the database directly')
  .action(async (o: { out?: string; offline?: boolean }) => {
    const dest = o.out ? createWriteStream(o.out, { mode: 0o600 }) : process.stdout;
    let n = 0;
    if (o.offline) {
      await withCore(async (core) => {
        for await (const e of core.audit.all()) {
          dest.write(JSON.stringify(e) + '\n');
          n++;
        }
      });
    } else {
      const res = await call(session(), 'GET', api.audit.export.url);
      if (res.status !== 200) throw apiError(res);
      dest.write(res.body);
      n = res.body.toString().split('\n').filter(Boolean).length;
    }
    if (dest !== process.stdout) {
      await new Promise<void>((r) => (dest as NodeJS.WritableStream).end(r));
      process.stderr.write(`exported ${n} events to ${o.out}\n`);
    }
  });

program
  .command('rotate-master-key')
  .description('rewrap every data key under a new master key while the server runs')
  .option('--new-key-stdin', 'read the new key (32 bytes, base64 or hex) from standard input; required when GATEHOUSE_MASTER_KEY is used')
  .action(async (o: { newKeyStdin?: boolean }) => {
    const newKey = o.newKeyStdin ? (await readStdin()).trim() : undefined;
    process.stderr.write('rotating the master key …\n');
    const r = await callApi(session(), api.system.rotateMasterKey, { body: newKey ? { newKey } : {} });
    process.stdout.write(`master key rotated: ${r.previousKeyId} -> ${r.keyId}, ${r.rewrapped} data keys rewrapped in ${r.seconds}s\n`);
    if (r.keySource === 'env') process.stdout.write('set GATEHOUSE_MASTER_KEY to the new key before the next restart\n');
  });

registerAccessCommands(program, { session, out, table, secretIdOf });

program.exitOverride();
try {
  await program.parseAsync(process.argv);
} catch (e) {
  const err = e as Error & { code?: string; exitCode?: number };
  if (err.code?.startsWith('commander.')) process.exit(err.exitCode ?? 1);
  if (err instanceof ConfigError) {
    process.stderr.write(`gatehouse: ${err.message}\n`);
    process.exit(2);
  }
  if (err instanceof ApiError || err instanceof AppError) {
    process.stderr.write(`gatehouse: ${err.message}\n`);
    process.exit(1);
  }
  process.stderr.write(`gatehouse: ${err.message}\n`);
  if (process.env.GATEHOUSE_DEBUG) process.stderr.write(`${err.stack}\n`);
  process.exit(1);
}
