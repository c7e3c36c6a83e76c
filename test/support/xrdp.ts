// Real RDP processes for the RDP door tests: xrdp + xrdp-sesman (Xvnc backend) on
// loopback as the plain-TLS target, FreeRDP's shadow server as the NLA target, Xvfb
// displays for the person's xfreerdp and for the shadow server, and an XWD screenshot
// reader. Everything lives in a temp dir; processes are stopped by their pid.
import { execFileSync, spawn, type ChildProcess } from 'node:child_process';
import { chmodSync, existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { ensureTargetAccount } from './accounts.js';
import { freePort, waitForPort } from './sshd.js';

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

function kill(p: ChildProcess | number | undefined, signal: NodeJS.Signals = 'SIGTERM'): void {
  const pid = typeof p === 'number' ? p : p?.pid;
  if (!pid) return;
  try {
    process.kill(pid, signal);
  } catch {
    /* gone already */
  }
}

async function stopChild(p: ChildProcess): Promise<void> {
  if (p.exitCode !== null || p.signalCode !== null) return;
  const exited = new Promise<void>((r) => p.once('exit', () => r()));
  kill(p);
  const t = setTimeout(() => kill(p, 'SIGKILL'), 3000);
  await exited;
  clearTimeout(t);
}

/** Polls until `fn` returns a value (not undefined/false) or the time is up. */
export async function waitFor<T>(what: string, fn: () => T | undefined | false | Promise<T | undefined | false>, timeoutMs = 30_000, everyMs = 200): Promise<T> {
  const until = Date.now() + timeoutMs;
  for (;;) {
    const v = await fn();
    if (v !== undefined && v !== false) return v;
    if (Date.now() > until) throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}`);
    await sleep(everyMs);
  }
}

/** A world-readable temp dir: sesman runs the session script as the target account. */
function openTempDir(prefix: string): string {
  const dir = mkdtempSync(join(tmpdir(), prefix));
  chmodSync(dir, 0o755);
  return dir;
}

function selfSignedCert(dir: string, cn: string): { key: string; cert: string } {
  const key = join(dir, 'key.pem');
  const cert = join(dir, 'cert.pem');
  execFileSync('openssl', ['req', '-x509', '-newkey', 'rsa:2048', '-nodes', '-keyout', key, '-out', cert, '-days', '2', '-subj', `/CN=${cn}`], { stdio: 'ignore' });
  chmodSync(key, 0o600);
  return { key, cert };
}

// ---- X displays ----

function displayFree(n: number): boolean {
  return !existsSync(`/tmp/.X${n}-lock`) && !existsSync(`/tmp/.X11-unix/X${n}`);
}

export interface XDisplay {
  display: string;
  number: number;
  /** The root window as raw 32-bit pixels. */
  screenshot(): Screenshot;
  stop(): Promise<void>;
}

/**
 * An Xvfb display on a number Xvfb picks itself (-displayfd): test files run two at a time and
 * each starts displays, and "first number with no lock file, then spawn" let two files take the
 * same number; the loser's Xvfb exited while its socket check saw the winner's socket, so its
 * clients drew on, and clicked into, another test's screen. Xvfb claims the number with its
 * lock file atomically and writes it to the fd once it listens.
 */
export async function startXvfb(size = '1024x768'): Promise<XDisplay> {
  // `-r`, no autorepeat: a key held longer than the X server's repeat delay (660 ms) types
  // itself again. Keys reach these displays through RDP (a target's X server) or from xdotool
  // (a client's), and on a loaded machine a key-up can come that late: xev on a target once
  // saw "hello weeeeeb 42" for "hello web 42". (`xset r off` after the start did not take on
  // Xvfb here: `xset q` still said on, and a key held by xdotool still repeated; `-r` does.)
  const proc = spawn('Xvfb', ['-displayfd', '3', '-screen', '0', `${size}x24`, '-nolisten', 'tcp', '-noreset', '-r'], { stdio: ['ignore', 'ignore', 'pipe', 'pipe'] });
  let err = '';
  proc.stderr!.on('data', (d: Buffer) => (err += d.toString()));
  let fdOut = '';
  (proc.stdio[3] as NodeJS.ReadableStream).on('data', (d: Buffer) => (fdOut += d.toString()));
  await waitFor(`Xvfb (${err.trim().split('\n').pop() ?? ''})`, () => fdOut.includes('\n') || (proc.exitCode !== null ? Promise.reject(new Error(`Xvfb exited: ${err}`)) : false), 10_000, 50);
  const n = Number(fdOut.trim());
  const display = `:${n}`;
  return {
    display,
    number: n,
    screenshot: () => parseXwd(execFileSync('xwd', ['-root', '-silent', '-display', display], { maxBuffer: 64 << 20 })),
    stop: () => stopChild(proc),
  };
}

export interface Screenshot {
  width: number;
  height: number;
  /** 0xRRGGBB of pixel (x, y). */
  pixel(x: number, y: number): number;
  /** Colour → share of sampled pixels, most frequent first. */
  histogram(step?: number): [number, number][];
}

/** Reads an XWD (X Window Dump) of a 24/32-bit TrueColor root window. */
export function parseXwd(d: Buffer): Screenshot {
  const u32 = (i: number) => d.readUInt32BE(4 * i);
  const headerSize = u32(0);
  if (u32(1) !== 7) throw new Error(`XWD version ${u32(1)}`);
  const width = u32(4);
  const height = u32(5);
  const bitsPerPixel = u32(11);
  const bytesPerLine = u32(12);
  const byteOrder = u32(7); // 0 = LSBFirst
  const [rMask, gMask, bMask] = [u32(14), u32(15), u32(16)];
  const ncolors = u32(19);
  // 32 bits (x8r8g8b8) or 16 (r5g6b5: an xrdp session at the 16-bit depth the web client asks for).
  if (bitsPerPixel !== 32 && bitsPerPixel !== 16) throw new Error(`XWD with ${bitsPerPixel} bits per pixel`);
  const bytes = bitsPerPixel / 8;
  const off = headerSize + ncolors * 12;
  const shift = (m: number) => Math.clz32(1) - Math.clz32(m & -m);
  const bitsOf = (m: number) => (m >>> shift(m)).toString(2).replace(/0/g, '').length;
  /** A channel widened to 8 bits (5 bits v → v·255/31, rounded), so colours compare with the canvas's. */
  const channel = (v: number, m: number) => {
    const max = 2 ** bitsOf(m) - 1;
    return Math.round((((v & m) >>> shift(m)) * 255) / max) & 0xff;
  };
  const read = (i: number) => (bytes === 4 ? (byteOrder === 0 ? d.readUInt32LE(i) : d.readUInt32BE(i)) : byteOrder === 0 ? d.readUInt16LE(i) : d.readUInt16BE(i));
  const pixel = (x: number, y: number) => {
    const v = read(off + y * bytesPerLine + x * bytes);
    return (channel(v, rMask) << 16) | (channel(v, gMask) << 8) | channel(v, bMask);
  };
  return {
    width,
    height,
    pixel,
    histogram: (step = 4) => {
      const counts = new Map<number, number>();
      let total = 0;
      for (let y = 0; y < height; y += step) {
        for (let x = 0; x < width; x += step) {
          const p = pixel(x, y);
          counts.set(p, (counts.get(p) ?? 0) + 1);
          total++;
        }
      }
      return [...counts.entries()].map(([c, n]) => [c, n / total] as [number, number]).sort((a, b) => b[1] - a[1]);
    },
  };
}

// ---- xrdp ----

/** Desktop colour of the xrdp test session (the session script paints the root window with it). */
export const XRDP_DESKTOP_RGB = 0x3a6ea5;

export interface Xrdp {
  port: number;
  dir: string;
  xrdpLog(): string;
  sesmanLog(): string;
  stop(): Promise<void>;
}

/** xrdp's own address for sesman is the ListenPort of /etc/xrdp/sesman.ini; sesman must listen there. */
function sesmanPortFromEtc(): number {
  try {
    const m = /^\s*ListenPort\s*=\s*(\d+)/m.exec(readFileSync('/etc/xrdp/sesman.ini', 'utf8'));
    if (m) return Number(m[1]);
  } catch {
    /* no file: the built-in default */
  }
  return 3350;
}

/**
 * xrdp finds sesman at the ListenPort of /etc/xrdp/sesman.ini, so only one xrdp test target
 * can run on a machine at a time: test files (run in parallel by the suite) and the bench
 * queue on this lock. A directory (mkdir is atomic) holding the owner's pid; a lock whose
 * owner died is taken over.
 */
const XRDP_LOCK = join(tmpdir(), 'gatehouse-xrdp-target.lock');

async function acquireXrdpLock(timeoutMs = 15 * 60_000): Promise<() => void> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    try {
      mkdirSync(XRDP_LOCK);
      writeFileSync(join(XRDP_LOCK, 'pid'), String(process.pid));
      const release = () => {
        process.off('exit', release);
        try {
          if (readFileSync(join(XRDP_LOCK, 'pid'), 'utf8') === String(process.pid)) rmSync(XRDP_LOCK, { recursive: true, force: true });
        } catch {
          /* already gone */
        }
      };
      process.once('exit', release);
      return release;
    } catch (e) {
      if ((e as NodeJS.ErrnoException).code !== 'EEXIST') throw e;
    }
    let owner = 0;
    try {
      owner = Number(readFileSync(join(XRDP_LOCK, 'pid'), 'utf8'));
    } catch {
      /* being created or removed right now */
    }
    let alive = true;
    if (owner > 0) {
      try {
        process.kill(owner, 0);
      } catch {
        alive = false;
      }
    }
    if (!alive) rmSync(XRDP_LOCK, { recursive: true, force: true });
    else if (Date.now() > deadline) throw new Error(`another xrdp test target (pid ${owner}) held ${XRDP_LOCK} for ${timeoutMs / 1000} s`);
    else await sleep(250);
  }
}

/**
 * `clipboard`: the cliprdr channel on (xrdp-chansrv bridges it to the session's X clipboard);
 * `drdynvc`: dynamic virtual channels on, so a client's Display Control (resize) reaches xrdp,
 * which resizes the Xvnc desktop. Both off by default.
 */
export interface XrdpOptions {
  clipboard?: boolean;
  drdynvc?: boolean;
}

export async function startXrdp(opts: XrdpOptions = {}): Promise<Xrdp> {
  ensureTargetAccount();
  const release = await acquireXrdpLock();
  try {
    return await startXrdpLocked(release, opts);
  } catch (e) {
    release();
    throw e;
  }
}

async function startXrdpLocked(release: () => void, opts: XrdpOptions): Promise<Xrdp> {
  const dir = openTempDir('gatehouse-xrdp-');
  const { key, cert } = selfSignedCert(dir, 'xrdp-test-target');
  const port = await freePort();
  const sesmanPort = sesmanPortFromEtc();
  let display = 60 + Math.floor(Math.random() * 30);
  while (!displayFree(display)) display++;
  const session = join(dir, 'session.sh');
  writeFileSync(session, `#!/bin/sh\nxsetroot -solid '#${XRDP_DESKTOP_RGB.toString(16).padStart(6, '0')}'\nexec xclock -geometry 240x240+40+40\n`);
  chmodSync(session, 0o755);
  writeFileSync(
    join(dir, 'xrdp.ini'),
    [
      '[Globals]',
      'ini_version=1',
      'fork=true',
      `port=tcp://127.0.0.1:${port}`,
      'security_layer=negotiate',
      'crypt_level=none',
      `certificate=${cert}`,
      `key_file=${key}`,
      'ssl_protocols=TLSv1.2, TLSv1.3',
      // Auto-logon goes straight to this session type.
      'autorun=Xvnc',
      'allow_channels=true',
      'bitmap_cache=true',
      'bitmap_compression=true',
      'bulk_compression=false',
      'max_bpp=32',
      'new_cursors=true',
      'use_fastpath=both',
      ...(opts.drdynvc ? ['enable_dynamic_resizing=true'] : []),
      '[Logging]',
      `LogFile=${join(dir, 'xrdp.log')}`,
      'LogLevel=DEBUG',
      'EnableSyslog=false',
      'EnableConsole=false',
      '[Channels]',
      ...['rdpdr', 'rdpsnd', 'drdynvc', 'cliprdr', 'rail', 'xrdpvr', 'tcutils'].map((c) => `${c}=${(c === 'cliprdr' && opts.clipboard) || (c === 'drdynvc' && opts.drdynvc) ? 'true' : 'false'}`),
      '[Xvnc]',
      'name=Xvnc',
      'lib=libvnc.so',
      'username=ask',
      'password=ask',
      'ip=127.0.0.1',
      'port=-1',
      '',
    ].join('\n'),
  );
  writeFileSync(
    join(dir, 'sesman.ini'),
    [
      '[Globals]',
      'ListenAddress=127.0.0.1',
      `ListenPort=${sesmanPort}`,
      'EnableUserWindowManager=false',
      `DefaultWindowManager=${session}`,
      `ReconnectScript=${session}`,
      '[Security]',
      'AllowRootLogin=false',
      'MaxLoginRetry=4',
      'AlwaysGroupCheck=false',
      '[Sessions]',
      `X11DisplayOffset=${display}`,
      'MaxSessions=10',
      'KillDisconnected=true',
      'DisconnectedTimeLimit=0',
      'IdleTimeLimit=0',
      'Policy=Default',
      '[Logging]',
      `LogFile=${join(dir, 'sesman.log')}`,
      'LogLevel=DEBUG',
      'EnableSyslog=false',
      'EnableConsole=false',
      '[Xvnc]',
      'param=Xvnc',
      'param=-bs',
      'param=-nolisten',
      'param=tcp',
      'param=-localhost',
      'param=-dpi',
      'param=96',
      // No autorepeat on the target's X server either (see startXvfb).
      'param=-r',
      '[Chansrv]',
      'FuseMountName=thinclient_drives',
      '[SessionVariables]',
      '',
    ].join('\n'),
  );
  mkdirSync('/run/xrdp/sockdir', { recursive: true });
  chmodSync('/run/xrdp/sockdir', 0o1777);
  // xrdp-chansrv runs as the session's user and makes its socket in sockdir: it must reach it.
  if (opts.clipboard) chmodSync('/run/xrdp', 0o755);
  const read = (f: string) => () => (existsSync(join(dir, f)) ? readFileSync(join(dir, f), 'utf8') : '');
  const sesman = spawn('xrdp-sesman', ['--nodaemon', '--config', join(dir, 'sesman.ini')], { stdio: ['ignore', 'pipe', 'pipe'] });
  let out = '';
  sesman.stdout!.on('data', (d: Buffer) => (out += d.toString()));
  sesman.stderr!.on('data', (d: Buffer) => (out += d.toString()));
  const xrdp = spawn('xrdp', ['--nodaemon', '--config', join(dir, 'xrdp.ini')], { stdio: ['ignore', 'pipe', 'pipe'] });
  xrdp.stdout!.on('data', (d: Buffer) => (out += d.toString()));
  xrdp.stderr!.on('data', (d: Buffer) => (out += d.toString()));
  const stop = async () => {
    // Sessions sesman started (the X server, the session script): by the pids it logged.
    const log = read('sesman.log')();
    const pids = new Set<number>();
    for (const m of log.matchAll(/window manager \(pid (\d+)\)/g)) pids.add(Number(m[1]));
    for (const m of log.matchAll(/Starting X server on display (\d+)/g)) {
      const lock = `/tmp/.X${m[1]}-lock`;
      if (existsSync(lock)) pids.add(Number(readFileSync(lock, 'utf8').trim()));
    }
    for (const p of pids) if (p > 1) kill(p);
    await Promise.all([stopChild(xrdp), stopChild(sesman)]);
    rmSync(dir, { recursive: true, force: true });
    release();
  };
  try {
    await waitForPort(port, 10_000);
    await waitFor(`xrdp-sesman on port ${sesmanPort}`, () => read('sesman.log')().includes('listening') || sesman.exitCode !== null, 10_000);
    if (sesman.exitCode !== null) throw new Error(`xrdp-sesman exited (is another one using port ${sesmanPort}?): ${out}`);
  } catch (e) {
    await stop();
    throw new Error(`xrdp did not start: ${(e as Error).message}\n${out}`);
  }
  return { port, dir, xrdpLog: read('xrdp.log'), sesmanLog: read('sesman.log'), stop };
}

// ---- FreeRDP shadow server (the NLA target) ----

export interface ShadowServer {
  port: number;
  display: XDisplay;
  log(): string;
  stop(): Promise<void>;
}

/** The SAM line winpr-hash prints: `user:::<NT hash>:::`. */
export function samLine(username: string, password: string): string {
  return execFileSync('winpr-hash', ['-u', username, '-p', password, '-f', 'sam'], { encoding: 'utf8' }).trim();
}

export const SHADOW_DESKTOP_RGB = 0xaa3311;

export async function startShadowServer(account: { username: string; password: string }): Promise<ShadowServer> {
  const dir = openTempDir('gatehouse-shadow-');
  const display = await startXvfb('800x600');
  const env = { ...process.env, DISPLAY: display.display };
  execFileSync('xsetroot', ['-solid', `#${SHADOW_DESKTOP_RGB.toString(16)}`], { env });
  const clock = spawn('xclock', ['-geometry', '200x200+300+200'], { env, stdio: 'ignore' });
  const sam = join(dir, 'SAM');
  writeFileSync(sam, samLine(account.username, account.password) + '\n', { mode: 0o600 });
  const port = await freePort();
  const proc = spawn('freerdp-shadow-cli', [`/port:${port}`, '/bind-address:127.0.0.1', '/sec:nla', '+auth', `/sam-file:${sam}`], { env, stdio: ['ignore', 'pipe', 'pipe'] });
  let out = '';
  proc.stdout!.on('data', (d: Buffer) => (out += d.toString()));
  proc.stderr!.on('data', (d: Buffer) => (out += d.toString()));
  const stop = async () => {
    await stopChild(proc);
    await stopChild(clock);
    await display.stop();
    rmSync(dir, { recursive: true, force: true });
  };
  try {
    await waitForPort(port, 10_000);
  } catch (e) {
    await stop();
    throw new Error(`freerdp-shadow-cli did not start: ${(e as Error).message}\n${out}`);
  }
  return { port, display, log: () => out, stop };
}

// ---- the person's client ----

export interface XfreerdpRun {
  proc: ChildProcess;
  output(): string;
  exited: Promise<number | null>;
  stop(): Promise<void>;
}

/** xfreerdp opening a .rdp file on the given display (certificate checks off: the gateway's is self-signed). */
export function runXfreerdp(rdpFile: string, display: XDisplay, extra: string[] = []): XfreerdpRun {
  const home = mkdtempSync(join(tmpdir(), 'gatehouse-xfreerdp-home-'));
  // Line-buffered: tests wait for log lines (CONNECTION_STATE_ACTIVE), which a quiet
  // session would otherwise leave sitting in xfreerdp's stdout buffer. stdbuf execs, so the pid is xfreerdp's.
  const proc = spawn('stdbuf', ['-oL', '-eL', 'xfreerdp', rdpFile, '/cert:ignore', '/log-level:DEBUG', ...extra], { env: { ...process.env, DISPLAY: display.display, HOME: home }, stdio: ['ignore', 'pipe', 'pipe'] });
  let out = '';
  proc.stdout!.on('data', (d: Buffer) => (out += d.toString()));
  proc.stderr!.on('data', (d: Buffer) => (out += d.toString()));
  const exited = new Promise<number | null>((r) => proc.once('exit', (code) => r(code)));
  return {
    proc,
    output: () => out,
    exited,
    stop: async () => {
      await stopChild(proc);
      rmSync(home, { recursive: true, force: true });
    },
  };
}
