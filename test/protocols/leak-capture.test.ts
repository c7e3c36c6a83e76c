// Byte capture on every client leg of the terminal doors. A vaulted password of its own
// (non-ASCII, fresh each run) opens a real sshd and a real telnetd; the sessions run
// commands that make the target print what it knows (environment, processes, the shell's
// own command line). Everything sent toward the client is kept and searched for the
// password in UTF-8, Latin-1, UTF-16LE and base64 (every alignment, both alphabets):
// - SSH door: a TCP tap in front of the door (the raw, mostly encrypted stream) and the
//   decrypted side as the clients see it: the OpenSSH client's pty transcript with -vvv,
//   and every event, banner, prompt, debug line and channel byte ssh2's client hands up;
// - Telnet through the SSH door: the same, including a target whose login program leaves
//   echo on while the password is typed (the echo must be blanked before the client);
// - the browser terminal: every WebSocket frame toward the browser (binary output, JSON
//   messages, close reasons) and the launch answers, for SSH and Telnet targets;
// - failures (wrong vaulted passwords) on both doors.
// A marker the target prints must be found in the same captures, so the scan is shown to
// see the data.
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { chmodSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import ssh2 from 'ssh2';
import WebSocket from 'ws';
import { ensureLocalAccount } from '../support/accounts.js';
import { startGateway, type Gateway } from '../support/gateway.js';
import { ADMIN_PASSWORD } from '../support/harness.js';
import { wireLeaks, type Blob } from '../support/scan.js';
import { eventually, interactive, launch, ok, run, type Launched } from '../support/ssh-client.js';
import { startSshd, type Sshd } from '../support/sshd.js';
import { startTap, type Tap } from '../support/tap.js';
import { startTelnetd, type TelnetdHandle } from '../support/telnetd.js';

const hex = () => randomBytes(6).toString('hex');
/** The SSH target's account and vaulted password: distinctive, non-ASCII, never typed by the person. */
const USER = 'ghleak';
const CORE = hex();
const PASSWORD = `Lk-Ünïcødé-€-${CORE}-Pw!7`;
/**
 * The Telnet targets' account. Its password is non-ASCII too: Gatehouse negotiates
 * BINARY, so telnetd's pty keeps the eighth bit and the UTF-8 bytes arrive whole.
 */
const TN_USER = 'ghleaktn';
const TN_CORE = hex();
const TN_PASSWORD = `Tn-Ünïcødé-€-${TN_CORE}-Pw!7`;
/** Wrong vaulted passwords (for the failure paths): must not be shown either. */
const WRONG = `Wr-Ñøt-Thé-Pw-${hex()}`;
const TN_WRONG = `Tn-Wröng-€-Pw-${hex()}`;
const SECRETS = { password: PASSWORD, 'password core': CORE, 'telnet password': TN_PASSWORD, 'telnet password core': TN_CORE, 'wrong password': WRONG, 'wrong telnet password': TN_WRONG };

const PROMPT = /ghleak(?:tn)?@[^\s:]*:[^\r\n]*\$ /;
/** Commands that make a target print what it knows about the session and its own processes. */
const PROBE = [
  'env',
  "tr '\\0' '\\n' </proc/self/environ",
  "tr '\\0' ' ' </proc/$PPID/cmdline; echo",
  'ps -eo user,args --forest',
  'id; tty; cat ~/.bash_history 2>/dev/null',
  'echo leak-$((6*7))-done',
].join('; ');
const DONE = /leak-42-done/;

/**
 * A Telnet login program that leaves echo on while the password is typed (a careless
 * target). It checks the password against the shadow file, then hands over to
 * `login -f`. The password goes to perl on stdin, never on a command line.
 */
const CARELESS_LOGIN = `#!/bin/bash
printf 'login: '
IFS= read -r user; user=\${user%$'\\r'}
printf 'Password: '
IFS= read -r pw; pw=\${pw%$'\\r'}
hash=$(getent shadow "$user" | cut -d: -f2)
if [ -n "$hash" ] && printf '%s' "$pw" | perl -e 'my $p = <STDIN>; exit(crypt($p, $ARGV[0]) eq $ARGV[0] ? 0 : 1)' "$hash"; then
  exec /bin/login -f "$user"
fi
sleep 1
echo 'Login incorrect'
exit 1
`;

function assertNoLeak(blobs: Blob[], what: string): void {
  assert.ok(blobs.length > 0 && blobs.some((b) => b.data.length > 0), `${what}: nothing captured`);
  assert.deepEqual(wireLeaks(blobs, SECRETS), [], `${what}: a password passed toward the client`);
}

/** The scan sees the captured data: the marker the target printed is found. */
function assertSeen(blobs: Blob[], marker: string, what: string): void {
  assert.notDeepEqual(wireLeaks(blobs, { marker }), [], `${what}: the marker ${marker} is not in the capture`);
}

/** An OpenSSH client through the tap, pinned to the door's host keys, verbose. */
function opensshArgs(tap: Tap, l: Launched, dir: string): string[] {
  const kh = join(dir, `known_hosts-${randomBytes(4).toString('hex')}`);
  writeFileSync(kh, l.knownHosts.join('\n') + '\n');
  return ['-F', '/dev/null', '-p', String(tap.port), '-o', `UserKnownHostsFile=${kh}`, '-o', 'StrictHostKeyChecking=yes', '-o', 'ConnectTimeout=10', '-vvv', `${l.ticket}@127.0.0.1`];
}

interface Ssh2Run {
  blobs: Blob[];
  stdout: string;
  stderr: string;
}

/**
 * ssh2's client through the tap. Keeps every byte the library hands up: the server's
 * greeting, banners, keyboard-interactive and password-change prompts, debug lines,
 * errors, exit statuses, and the channel's stdout and stderr.
 */
function ssh2Run(tap: Tap, l: Launched, mode: { shell: string } | { exec: string }, label: string): Promise<Ssh2Run> {
  const events: Buffer[] = [];
  const out: Buffer[] = [];
  const err: Buffer[] = [];
  const rec = (name: string, ...args: unknown[]) => {
    events.push(Buffer.from(`\n${name}:`));
    for (const a of args) events.push(Buffer.isBuffer(a) ? a : Buffer.from(typeof a === 'string' ? a : JSON.stringify(a) ?? String(a), 'utf8'), Buffer.from(' '));
  };
  const keys = l.knownHosts.map((line) => line.split(' ')[2]!);
  const conn = new ssh2.Client();
  const result = (): Ssh2Run => {
    const stdout = Buffer.concat(out);
    const stderr = Buffer.concat(err);
    return {
      stdout: stdout.toString('utf8'),
      stderr: stderr.toString('utf8'),
      blobs: [
        { name: `${label}: ssh2 events`, data: Buffer.concat(events) },
        { name: `${label}: ssh2 channel stdout`, data: stdout },
        { name: `${label}: ssh2 channel stderr`, data: stderr },
      ],
    };
  };
  return new Promise<Ssh2Run>((resolve, reject) => {
    const timer = setTimeout(() => {
      conn.end();
      reject(new Error(`${label}: the ssh2 session did not finish; stdout:\n${Buffer.concat(out).toString('utf8').slice(-2000)}\nevents:\n${Buffer.concat(events).toString('utf8').slice(-2000)}`));
    }, 60_000);
    conn.on('greeting', (g) => rec('greeting', g));
    conn.on('banner', (m) => rec('banner', m));
    conn.on('handshake', (n) => rec('handshake', n));
    conn.on('keyboard-interactive', (name, instructions, lang, prompts, finish) => {
      rec('keyboard-interactive', name, instructions, lang, prompts);
      finish(prompts.map(() => ''));
    });
    conn.on('change password', (message, done) => {
      rec('change password', message);
      done('');
    });
    conn.on('error', (e: Error & { level?: string; description?: string }) => rec('error', e.message, e.level ?? '', e.description ?? ''));
    conn.on('end', () => rec('end'));
    conn.on('close', () => {
      rec('close');
      clearTimeout(timer);
      resolve(result());
    });
    conn.on('ready', () => {
      rec('ready');
      const attach = (e: Error | undefined, ch: ssh2.ClientChannel) => {
        if (e) {
          rec('channel refused', e.message);
          return conn.end();
        }
        ch.on('data', (d: Buffer) => out.push(d));
        ch.stderr.on('data', (d: Buffer) => err.push(d));
        ch.on('exit', (...a: unknown[]) => rec('exit', ...a));
        ch.on('close', () => {
          rec('channel close');
          conn.end();
        });
        if ('shell' in mode) {
          let sent = 0;
          ch.on('data', () => {
            const text = Buffer.concat(out).toString('utf8');
            if (sent === 0 && PROMPT.test(text)) {
              sent = 1;
              ch.write(`${mode.shell}\r`);
            } else if (sent === 1 && DONE.test(text)) {
              sent = 2;
              ch.write('exit\r');
            }
          });
        }
      };
      if ('shell' in mode) conn.shell({ term: 'xterm', cols: 120, rows: 40 }, attach);
      else conn.exec(mode.exec, attach);
    });
    conn.connect({
      host: '127.0.0.1',
      port: tap.port,
      username: l.ticket,
      readyTimeout: 20_000,
      hostVerifier: (key: Buffer) => keys.includes(key.toString('base64')),
      debug: (s: string) => rec('debug', s),
    });
  });
}

interface Browser {
  cookie: string;
  csrf: string;
}

/** Every frame the browser terminal sends toward the browser: binary output, JSON messages, pings, the close code and reason. */
interface Frames {
  blobs: Blob[];
  output: () => string;
  messages: Record<string, unknown>[];
}

function browserTerminal(gw: Gateway, b: Browser, ticket: string, input: (send: (data: string) => void, f: Frames) => void, label: string): Promise<Frames> {
  const frames: Buffer[] = [];
  const control: Buffer[] = [];
  const messages: Record<string, unknown>[] = [];
  let out = '';
  const f: Frames = {
    blobs: [
      { name: `${label}: websocket frames`, data: Buffer.alloc(0) },
      { name: `${label}: websocket control`, data: Buffer.alloc(0) },
    ],
    output: () => out,
    messages,
  };
  const url = `${gw.running.url.replace('https', 'wss')}/api/v1/terminal?ticket=${encodeURIComponent(ticket)}&consent=1&cols=120&rows=40`;
  const ws = new WebSocket(url, { rejectUnauthorized: false, headers: { cookie: b.cookie } });
  const send = (data: string) => ws.readyState === ws.OPEN && ws.send(JSON.stringify({ type: 'input', data }));
  return new Promise<Frames>((resolve, reject) => {
    const timer = setTimeout(() => {
      ws.terminate();
      reject(new Error(`${label}: the browser terminal did not finish; output:\n${out.slice(-2000)}\nmessages ${JSON.stringify(messages)}`));
    }, 60_000);
    ws.on('upgrade', (res) => control.push(Buffer.from(JSON.stringify(res.headers))));
    ws.on('message', (data: Buffer, isBinary) => {
      frames.push(Buffer.from(data));
      if (isBinary) out += data.toString('utf8');
      else messages.push(JSON.parse(data.toString('utf8')));
      input(send, f);
    });
    ws.on('ping', (d) => control.push(Buffer.from(d)));
    ws.on('pong', (d) => control.push(Buffer.from(d)));
    ws.on('error', (e) => control.push(Buffer.from(`error ${e.message}`)));
    ws.on('close', (code, reason) => {
      clearTimeout(timer);
      control.push(Buffer.from(`close ${code} `), Buffer.from(reason));
      f.blobs[0]!.data = Buffer.concat(frames);
      f.blobs[1]!.data = Buffer.concat(control);
      resolve(f);
    });
  });
}

/** Input for browserTerminal: the probe once the prompt shows, exit once it ran. */
function probeThenExit(): (send: (data: string) => void, f: Frames) => void {
  let sent = 0;
  return (send, f) => {
    if (sent === 0 && PROMPT.test(f.output())) {
      sent = 1;
      send(`${PROBE}\r`);
    } else if (sent === 1 && DONE.test(f.output())) {
      sent = 2;
      send('exit\r');
    }
  };
}

describe('no vaulted password on any terminal client leg (captured bytes)', { timeout: 300_000 }, () => {
  let sshd: Sshd;
  let telnetd: TelnetdHandle;
  let careless: TelnetdHandle;
  let gw: Gateway;
  let tap: Tap;
  let dir: string;
  const ids: Record<string, string> = {};
  /** Everything captured toward clients over the whole file, for the final sweep. */
  const captured: Blob[] = [];

  const secret = async (name: string, port: number, username: string, password: string) => {
    const r = await gw.api('POST', '/api/v1/secrets', { token: gw.adminToken, body: { name, template: 'unix-account', fields: { machine: '127.0.0.1', port, username, password } } });
    assert.equal(r.status, 201, r.raw);
    return r.body.id as string;
  };

  before(async () => {
    ensureLocalAccount(USER, PASSWORD);
    ensureLocalAccount(TN_USER, TN_PASSWORD);
    dir = mkdtempSync(join(tmpdir(), 'gatehouse-leak-'));
    const login = join(dir, 'careless-login');
    writeFileSync(login, CARELESS_LOGIN);
    chmodSync(login, 0o755);
    [sshd, telnetd, careless, gw] = await Promise.all([startSshd(), startTelnetd(), startTelnetd({ execLogin: login }), startGateway('sqlite')]);
    tap = await startTap(gw.sshPort);
    // Launches hand out the tap's port (and known_hosts lines for it): clients go through it.
    for (const launcher of ['ssh', 'telnet']) {
      const p = await gw.api('PATCH', `/api/v1/launchers/${launcher}`, { token: gw.adminToken, body: { gatewayPort: tap.port } });
      assert.equal(p.status, 200, p.raw);
    }
    ids.ssh = await secret('leak-ssh', sshd.port, USER, PASSWORD);
    ids.telnet = await secret('leak-telnet', telnetd.port, TN_USER, TN_PASSWORD);
    ids.careless = await secret('leak-careless-telnet', careless.port, TN_USER, TN_PASSWORD);
    ids.sshWrong = await secret('leak-ssh-wrong', sshd.port, USER, WRONG);
    ids.telnetWrong = await secret('leak-telnet-wrong', telnetd.port, TN_USER, TN_WRONG);
    ids.carelessWrong = await secret('leak-careless-telnet-wrong', careless.port, TN_USER, TN_WRONG);
  });

  after(async () => {
    await tap?.close();
    await gw?.close();
    await Promise.all([sshd?.stop(), telnetd?.stop(), careless?.stop()]);
    if (dir) rmSync(dir, { recursive: true, force: true });
  });

  /** The tap's connections opened by `fn`, once all of them closed. */
  async function tapped<T>(label: string, fn: () => Promise<T>): Promise<{ r: T; blobs: Blob[] }> {
    const from = tap.connections.length;
    const r = await fn();
    await tap.settled();
    const blobs = tap
      .toClient(`${label}: tcp toward the client`)
      .slice(from)
      .filter((b) => b.data.length > 0);
    assert.ok(blobs.length > 0, `${label}: the client did not go through the tap`);
    for (const b of blobs) assert.match(b.data.subarray(0, 64).toString('latin1'), /^SSH-2\.0-Gatehouse/, `${b.name}: the raw stream starts with the door's identification`);
    return { r, blobs };
  }

  it('SSH door, OpenSSH client: the raw TCP stream and the decrypted pty transcript (shell and exec) hold no password', async () => {
    const shell = await tapped('openssh shell', async () => {
      const l = await launch(gw, ids.ssh!, { launcher: 'ssh' });
      const p = interactive(opensshArgs(tap, l, dir), { cols: 120, rows: 40, timeoutMs: 60_000 });
      try {
        await p.waitFor(PROMPT, 20_000);
        p.write(`${PROBE}\r`);
        await p.waitFor(DONE, 20_000);
        p.write('exit\r');
        await p.done;
      } finally {
        p.kill();
      }
      return p.all;
    });
    const exec = await tapped('openssh exec', async () => {
      const l = await launch(gw, ids.ssh!, { launcher: 'ssh' });
      const d = await run('ssh', [...opensshArgs(tap, l, dir), PROBE], { timeoutMs: 60_000 });
      assert.equal(d.code, 0, d.stderr);
      return d;
    });
    const blobs = [
      ...shell.blobs,
      ...exec.blobs,
      { name: 'openssh shell: pty transcript (-vvv)', data: Buffer.from(shell.r) },
      { name: 'openssh exec: stdout', data: Buffer.from(exec.r.stdout) },
      { name: 'openssh exec: stderr (-vvv)', data: Buffer.from(exec.r.stderr) },
    ];
    captured.push(...blobs);
    // The target did print its environment and processes, and the client's debug output is there.
    assert.match(shell.r, /LOGNAME=ghleak\r?\n/);
    assert.match(exec.r.stdout, /SSH_CONNECTION=/);
    assert.match(exec.r.stderr, /Authenticated to 127\.0\.0\.1 .* using "none"/);
    assertSeen(blobs, 'leak-42-done', 'openssh');
    assertNoLeak(blobs, 'SSH door, OpenSSH client');
  });

  it('SSH door, ssh2 client: every event, prompt, debug line and channel byte the library hands up, and the raw TCP stream, hold no password', async () => {
    const shell = await tapped('ssh2 shell', async () => ssh2Run(tap, await launch(gw, ids.ssh!, { launcher: 'ssh' }), { shell: PROBE }, 'ssh2 shell'));
    const exec = await tapped('ssh2 exec', async () => ssh2Run(tap, await launch(gw, ids.ssh!, { launcher: 'ssh' }), { exec: `{ ${PROBE}; } >&2; echo stdout-$((7*6))` }, 'ssh2 exec'));
    assert.match(shell.r.stdout, /LOGNAME=ghleak\r?\n/);
    assert.match(exec.r.stderr, /LOGNAME=ghleak\r?\n/);
    assert.match(exec.r.stdout, /stdout-42/);
    const blobs = [...shell.blobs, ...exec.blobs, ...shell.r.blobs, ...exec.r.blobs];
    captured.push(...blobs);
    assertSeen(shell.r.blobs, 'leak-42-done', 'ssh2 shell');
    assertSeen(exec.r.blobs, 'leak-42-done', 'ssh2 exec (stderr)');
    assertNoLeak(blobs, 'SSH door, ssh2 client');
  });

  it('Telnet through the SSH door (OpenSSH and ssh2 clients): the login dialogue stays on the server side; no password in the TCP stream or the decrypted output', async () => {
    const openssh = await tapped('telnet openssh', async () => {
      const l = await launch(gw, ids.telnet!, { launcher: 'telnet' });
      assert.equal(l.body.launcher.protocol, 'telnet');
      const p = interactive(opensshArgs(tap, l, dir), { cols: 120, rows: 40, timeoutMs: 60_000 });
      try {
        await p.waitFor(PROMPT, 30_000);
        p.write(`${PROBE}\r`);
        await p.waitFor(DONE, 20_000);
        p.write('exit\r');
        await p.done;
      } finally {
        p.kill();
      }
      return p.all;
    });
    const viaSsh2 = await tapped('telnet ssh2', async () => ssh2Run(tap, await launch(gw, ids.telnet!, { launcher: 'telnet' }), { shell: PROBE }, 'telnet ssh2'));
    // It is the Telnet target's shell: login(1) started it.
    assert.match(openssh.r, /LOGNAME=ghleaktn/);
    assert.match(viaSsh2.r.stdout, /login -- ghleak|login -f|-bash/);
    // The dialogue (prompts, the typed username) is not shown to the person.
    assert.doesNotMatch(viaSsh2.r.stdout, /Password:/);
    const blobs = [...openssh.blobs, ...viaSsh2.blobs, { name: 'telnet openssh: pty transcript (-vvv)', data: Buffer.from(openssh.r) }, ...viaSsh2.r.blobs];
    captured.push(...blobs);
    assertSeen(viaSsh2.r.blobs, 'leak-42-done', 'telnet ssh2');
    assertNoLeak(blobs, 'Telnet through the SSH door');
  });

  it('Telnet target whose login echoes the password: the echo is blanked before it reaches the client (SSH door and browser)', async () => {
    const viaSsh2 = await tapped('careless telnet ssh2', async () => ssh2Run(tap, await launch(gw, ids.careless!, { launcher: 'telnet' }), { shell: PROBE }, 'careless telnet ssh2'));
    const b = await signIn(gw);
    const web = await browserTerminal(gw, b, (await webLaunch(gw, b, ids.careless!, 'telnet')).ticket, probeThenExit(), 'careless telnet browser');
    const blobs = [...viaSsh2.blobs, ...viaSsh2.r.blobs, ...web.blobs];
    captured.push(...blobs);
    assertSeen(blobs, 'leak-42-done', 'careless telnet');
    assertNoLeak(blobs, 'careless Telnet target');
    // The target did echo it: the clients see the blanked echo where it would have been.
    const stars = '*'.repeat(Buffer.byteLength(TN_PASSWORD, 'utf8'));
    assert.ok(viaSsh2.r.stdout.includes(stars), `the blanked echo is shown; output:\n${viaSsh2.r.stdout.slice(0, 500)}`);
    assert.ok(web.output().includes(stars), 'the browser sees the blanked echo too');
    assert.match(viaSsh2.r.stdout, /LOGNAME=ghleaktn/);
  });

  it('browser terminal: every WebSocket frame toward the browser and the launch answers hold no password (SSH and Telnet targets)', async () => {
    const b = await signIn(gw);
    const blobs: Blob[] = [];
    for (const [secretId, launcher, user] of [
      [ids.ssh!, 'ssh', USER],
      [ids.telnet!, 'telnet', TN_USER],
    ] as const) {
      const l = await webLaunch(gw, b, secretId, launcher);
      blobs.push({ name: `browser ${launcher}: launch answer`, data: Buffer.from(l.raw) });
      const f = await browserTerminal(gw, b, l.ticket, probeThenExit(), `browser ${launcher}`);
      assert.ok(f.messages.some((m) => m.type === 'ready'), JSON.stringify(f.messages));
      assert.ok(f.messages.some((m) => m.type === 'end'), JSON.stringify(f.messages));
      assert.match(f.output(), new RegExp(`LOGNAME=${user}\\r?\\n`));
      assertSeen(f.blobs, 'leak-42-done', `browser ${launcher}`);
      blobs.push(...f.blobs);
    }
    captured.push(...blobs);
    assertNoLeak(blobs, 'browser terminal');
  });

  it('wrong vaulted passwords: what the clients are told on either door names no password', async () => {
    const blobs: Blob[] = [];
    const sshFail = await tapped('wrong ssh', async () => ssh2Run(tap, await launch(gw, ids.sshWrong!, { launcher: 'ssh' }), { shell: PROBE }, 'wrong ssh'));
    assert.match(sshFail.r.stderr, /refused the vaulted credential/);
    const telnetFail = await tapped('wrong telnet', async () => ssh2Run(tap, await launch(gw, ids.telnetWrong!, { launcher: 'telnet' }), { shell: PROBE }, 'wrong telnet'));
    assert.match(telnetFail.r.stdout + telnetFail.r.stderr, /rejected the vaulted credential/);
    // The careless target echoes the wrong password before it says "Login incorrect".
    const carelessFail = await tapped('wrong careless telnet', async () => ssh2Run(tap, await launch(gw, ids.carelessWrong!, { launcher: 'telnet' }), { shell: PROBE }, 'wrong careless telnet'));
    assert.match(carelessFail.r.stdout + carelessFail.r.stderr, /rejected the vaulted credential/);
    blobs.push(...sshFail.blobs, ...sshFail.r.blobs, ...telnetFail.blobs, ...telnetFail.r.blobs, ...carelessFail.blobs, ...carelessFail.r.blobs);
    const b = await signIn(gw);
    for (const [secretId, launcher] of [
      [ids.sshWrong!, 'ssh'],
      [ids.telnetWrong!, 'telnet'],
      [ids.carelessWrong!, 'telnet'],
    ] as const) {
      const f = await browserTerminal(gw, b, (await webLaunch(gw, b, secretId, launcher)).ticket, () => undefined, `wrong ${launcher} browser ${secretId}`);
      assert.ok(f.messages.some((m) => m.type === 'error'), JSON.stringify(f.messages));
      blobs.push(...f.blobs);
    }
    captured.push(...blobs);
    assertNoLeak(blobs, 'failure messages');
  });

  it('the recordings, typed-text indexes, audit export and gateway log of all these sessions hold no password', async () => {
    await eventually(async () => (await ok(gw, 'GET', '/api/v1/sessions?status=live')).total === 0, 20_000, 'no live sessions');
    const sessions = (await ok(gw, 'GET', '/api/v1/sessions?limit=500')).items as { id: string; recording: { available: boolean } }[];
    const blobs: Blob[] = [];
    for (const s of sessions.filter((x) => x.recording.available)) {
      for (const path of [`/api/v1/recordings/${s.id}`, `/api/v1/recordings/${s.id}/text`]) {
        const r = await gw.api('GET', path, { token: gw.adminToken });
        assert.equal(r.status, 200, r.raw);
        blobs.push({ name: path, data: Buffer.from(r.raw) });
      }
    }
    assert.ok(blobs.length >= 20, `recordings scanned: ${blobs.length / 2}`);
    const audit = await gw.api('GET', '/api/v1/audit/export', { token: gw.adminToken });
    assert.equal(audit.status, 200);
    blobs.push({ name: 'audit export', data: Buffer.from(audit.raw) }, { name: 'gateway log', data: Buffer.from(gw.logs()) });
    assertSeen(blobs, 'leak-42-done', 'recordings');
    assertNoLeak(blobs, 'recordings and logs');
    // And the sweep over every capture of the file at once (one blob per leg).
    assertNoLeak(captured, 'all captures');
  });
});

async function signIn(gw: Gateway): Promise<Browser> {
  const r = await gw.running.app.inject({ method: 'POST', url: '/api/v1/auth/session', payload: { username: 'admin', password: ADMIN_PASSWORD } });
  assert.equal(r.statusCode, 200, r.body);
  const cookies = r.cookies as { name: string; value: string }[];
  return { cookie: cookies.map((c) => `${c.name}=${c.value}`).join('; '), csrf: r.json().csrfToken };
}

/** A launch as the portal makes it (cookie + CSRF); the raw answer is kept for the scan. */
async function webLaunch(gw: Gateway, b: Browser, secretId: string, launcher: string): Promise<{ ticket: string; raw: string }> {
  const r = await gw.running.app.inject({ method: 'POST', url: `/api/v1/secrets/${secretId}/launch`, headers: { cookie: b.cookie, 'x-csrf-token': b.csrf }, payload: { launcher } });
  assert.equal(r.statusCode, 200, r.body);
  return { ticket: r.json().ticket, raw: r.body };
}
