// What the RDP benchmarks share (bench/rdp.ts for the door, bench/rdp-browser.ts for the
// browser client): a run with its output, deadline and clean-ups; the setup of one process
// tree (Gatehouse compiled in a child process, xrdp, FreeRDP's shadow server, an Xvfb for
// the person's xfreerdp, counting proxies on every client leg); the secrets, launches and
// .rdp files; one xfreerdp connection timed to the first frame; the machine's description.
// Every wait is bounded.
import { execFileSync } from 'node:child_process';
import { existsSync, mkdtempSync, readdirSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { cpus, release, tmpdir } from 'node:os';
import { extname, join } from 'node:path';
import { ensureTargetAccount } from '../test/support/accounts.js';
import { SHADOW_DESKTOP_RGB, startShadowServer, startXrdp, startXvfb, XRDP_DESKTOP_RGB, type ShadowServer, type XDisplay, type Xrdp } from '../test/support/xrdp.js';
import { api, buildGatewayChild, closeApiAgent, fmt, freePort, killTracked, sleep, startGatewayChild, waitQuiet, withTimeout, type GatewayChild } from './lib.js';
import { countingProxy, startClient, waitBlank, waitDesktop, type Client, type CountingProxy } from './rdp-client.js';
import { X11, xauthCookie } from './rdp-x11.js';

export const ADMIN_PASSWORD = 'bench-Admin-Password-1';
export const SHADOW_ACCOUNT = { username: 'ghshadow', password: 'Sh4dow-Bench-Pw!7q' };
export const TICK_MS = 10; // USER_HZ 100

export const num = (k: string, d: number) => (process.env[k] ? Number(process.env[k]) : d);

// ---------------------------------------------------------------- a run

/**
 * One benchmark run: Markdown to stdout (kept for the JSON file), progress to stderr,
 * clean-ups run in reverse on the way out, a deadline that stops everything, and the
 * figures written to a JSON file in the temp dir.
 */
export class BenchRun {
  readonly results: Record<string, unknown> = {};
  readonly out: string[] = [];
  readonly cleanups: (() => Promise<unknown>)[] = [];
  private readonly started = performance.now();
  constructor(
    readonly name: string,
    private readonly deadlineMs: number,
  ) {}

  say = (s = ''): void => {
    console.log(s);
    this.out.push(s);
  };

  progress = (s: string): void => {
    process.stderr.write(`[bench:${this.name} ${fmt((performance.now() - this.started) / 1000, 0).padStart(3)} s] ${s}\n`);
  };

  /** Waits (bounded) for a quiet machine: BENCH_QUIET_PERCENT (10) of other load, BENCH_QUIET_WAIT_S (10) at most. */
  quiet = (): Promise<number> => waitQuiet({ percent: num('BENCH_QUIET_PERCENT', 10), waitSeconds: num('BENCH_QUIET_WAIT_S', 10), sampleMs: 1500, progress: this.progress });

  private async runCleanups(): Promise<void> {
    for (const c of this.cleanups.splice(0).reverse()) await withTimeout(c(), 20_000, 'cleanup').catch((e) => this.progress(`cleanup: ${(e as Error).message}`));
  }

  /** Runs `body` under the deadline, cleans up, writes the JSON file and exits the process. */
  run(body: () => Promise<void>): void {
    const watchdog = setTimeout(() => {
      console.error(`[bench:${this.name}] deadline of ${this.deadlineMs / 1000} s passed: stopping everything`);
      void this.runCleanups().finally(() => {
        killTracked();
        process.exit(2);
      });
    }, this.deadlineMs);
    watchdog.unref();
    for (const sig of ['SIGINT', 'SIGTERM'] as const)
      process.once(sig, () => {
        void this.runCleanups().finally(() => {
          killTracked();
          process.exit(130);
        });
      });
    const main = async () => {
      try {
        await body();
      } finally {
        closeApiAgent();
        await this.runCleanups();
        killTracked();
        const file = join(tmpdir(), `gatehouse-bench-${this.name}-${Date.now()}.json`);
        writeFileSync(file, JSON.stringify({ results: this.results, output: this.out.join('\n') }, null, 2));
        this.progress(`figures also in ${file}`);
      }
    };
    main().then(
      () => process.exit(0),
      (err) => {
        console.error(`[bench:${this.name}] failed:`, err);
        killTracked();
        process.exit(1);
      },
    );
  }
}

// ---------------------------------------------------------------- targets and paths

/** direct-plain: direct with the .rdp setting that keeps FreeRDP off the graphics pipeline (see directRdpFile). */
export type Path = 'direct' | 'direct-plain' | 'gateway';

export interface Target {
  name: 'xrdp' | 'shadow';
  label: string;
  rgb: number;
  proxy: CountingProxy;
  /** The .rdp file for direct connections: the launched file's settings, the target's address. */
  directFile: string;
  /** Only where the direct client would otherwise use the graphics pipeline, which Gatehouse does not offer the target. */
  directPlainFile: string | null;
  credentials: string[];
  secretId: string;
  /** The X display showing the target's desktop now (xrdp: the running session's Xvnc). */
  desktop(): { n: number; cookie: Buffer | null };
  /** Until the target has cleaned up after a client left. */
  settle(): Promise<void>;
}

export interface Env {
  dir: string;
  gw: GatewayChild;
  dataDir: string;
  token: string;
  gwProxy: CountingProxy;
  client: XDisplay;
  x: X11;
  targets: Target[];
  /** The shadow server, when it is a target (its display is the one the benchmarks may draw on). */
  shadow: ShadowServer | null;
}

/** The paths a target is measured on: direct, direct without the graphics pipeline where that differs, through Gatehouse. */
export const pathsOf = (t: Target): Path[] => (t.directPlainFile ? ['direct', 'direct-plain', 'gateway'] : ['direct', 'gateway']);
export const PATH_LABEL: Record<Path, string> = { direct: 'direct', 'direct-plain': 'direct, no graphics pipeline', gateway: 'through Gatehouse' };

// ---------------------------------------------------------------- setup

async function startGw(dir: string): Promise<{ gw: GatewayChild; dataDir: string; token: string; rdpPort: number }> {
  const dataDir = mkdtempSync(join(dir, 'gw-'));
  const rdpPort = await freePort();
  const gw = await startGatewayChild(process.env.BENCH_TSX === '1' ? null : buildGatewayChild(), {
    GATEHOUSE_DATA_DIR: dataDir,
    GATEHOUSE_HTTP_PORT: '0',
    GATEHOUSE_SSH_PORT: '0',
    GATEHOUSE_RDP_PORT: String(rdpPort),
    GATEHOUSE_BIND_HOST: '127.0.0.1',
    GATEHOUSE_PUBLIC_URL: 'https://127.0.0.1',
    GATEHOUSE_ADMIN_PASSWORD: ADMIN_PASSWORD,
    GATEHOUSE_LOG_LEVEL: 'info',
  });
  const login = await api(gw.url, 'POST', '/auth/login', { body: { username: 'admin', password: ADMIN_PASSWORD } });
  if (login.status !== 200) throw new Error(`login: ${login.status} ${JSON.stringify(login.body)}`);
  return { gw, dataDir, token: login.body.token as string, rdpPort };
}

async function createSecret(env: { gw: GatewayChild; token: string }, name: string, port: number, username: string, password: string): Promise<string> {
  const r = await api(env.gw.url, 'POST', '/secrets', { token: env.token, body: { name, template: 'windows-account', fields: { machine: '127.0.0.1', port, username, password } } });
  if (r.status !== 201) throw new Error(`create secret: ${r.status} ${JSON.stringify(r.body)}`);
  return r.body.id as string;
}

/**
 * A launched .rdp file's settings (clipboard, drives and printers as the launcher has them)
 * pointed at the target itself, without the ticket; NLA toward an NLA-only target. `plain`
 * adds `connection type:i:1`: opening a .rdp file, FreeRDP 2 offers the graphics pipeline
 * (H.264) and RemoteFX, which the shadow server then uses; Gatehouse removes that offer on
 * the way to the target, so its sessions get plain bitmap updates. The "modem" connection
 * type is the one file setting that turns both off in FreeRDP 2.11 (its other effects,
 * such as no wallpaper, change nothing on these targets).
 */
function directRdpFile(launched: string, dir: string, name: string, port: number, nla: boolean, plain = false): string {
  const lines = launched
    .split('\r\n')
    .filter((l) => l && !l.startsWith('loadbalanceinfo:') && !l.startsWith('pcb:'))
    .map((l) => {
      if (l.startsWith('full address:s:')) return `full address:s:127.0.0.1:${port}`;
      if (l.startsWith('server port:i:')) return `server port:i:${port}`;
      if (nla && l === 'enablecredsspsupport:i:0') return 'enablecredsspsupport:i:1';
      return l;
    });
  if (plain) lines.push('connection type:i:1');
  const file = join(dir, `direct-${name}${plain ? '-plain' : ''}.rdp`);
  writeFileSync(file, lines.map((l) => `${l}\r\n`).join(''));
  return file;
}

/** A launch (untimed by the client measurement): the .rdp file written to disk, and how long the API took. */
async function launchFile(env: Env, t: Target): Promise<{ file: string; ms: number }> {
  const t0 = performance.now();
  const { ticket, text } = await launchedRdp(env, t.secretId);
  const ms = performance.now() - t0;
  const file = join(env.dir, `gw-${t.name}-${ticket}.rdp`);
  writeFileSync(file, text);
  return { file, ms };
}

/** POST /secrets/:id/launch and GET the .rdp file, each on a new HTTPS connection as a browser's first visit would. */
async function launchedRdp(env: { gw: GatewayChild; token: string }, secretId: string): Promise<{ ticket: string; text: string }> {
  const l = await api(env.gw.url, 'POST', `/secrets/${secretId}/launch`, { token: env.token, body: { launcher: 'rdp' }, fresh: true });
  if (l.status !== 200) throw new Error(`launch: ${l.status} ${JSON.stringify(l.body)}`);
  const f = await api(env.gw.url, 'GET', String(l.body.rdpFile).replace(/^\/api\/v1/, ''), { token: env.token, fresh: true });
  if (f.status !== 200 || typeof f.body !== 'string') throw new Error(`rdp file: ${f.status}`);
  return { ticket: l.body.ticket as string, text: f.body };
}

/** A launch for the browser: POST /secrets/:id/launch (one HTTPS request on a new connection); the ticket and how long it took. */
export async function launchTicket(env: Env, t: Target): Promise<{ ticket: string; ms: number }> {
  const t0 = performance.now();
  const l = await api(env.gw.url, 'POST', `/secrets/${t.secretId}/launch`, { token: env.token, body: { launcher: 'rdp' }, fresh: true });
  if (l.status !== 200) throw new Error(`launch: ${l.status} ${JSON.stringify(l.body)}`);
  return { ticket: l.body.ticket as string, ms: performance.now() - t0 };
}

export async function setRecording(env: Env, on: boolean): Promise<void> {
  const r = await api(env.gw.url, 'PATCH', '/launchers/rdp', { token: env.token, body: { record: on } });
  if (r.status !== 200) throw new Error(`launcher update: ${r.status} ${JSON.stringify(r.body)}`);
}

function xrdpTarget(xrdp: Xrdp, proxy: CountingProxy, directFile: string, secretId: string, account: { username: string; password: string; home: string }, progress: (s: string) => void): Target {
  /** Window managers already ended: each pid is signalled once, never again (pids get reused). */
  const ended = new Set<number>();
  return {
    name: 'xrdp',
    label: 'xrdp (TLS; credentials in the Client Info PDU; a new Xvnc session per connection)',
    rgb: XRDP_DESKTOP_RGB,
    proxy,
    directFile,
    directPlainFile: null, // xrdp 0.9 has no graphics pipeline
    credentials: [`/u:${account.username}`, `/p:${account.password}`],
    secretId,
    desktop: () => {
      const all = [...xrdp.sesmanLog().matchAll(/Starting X server on display (\d+)/g)];
      const n = Number(all.at(-1)?.[1] ?? NaN);
      if (!Number.isFinite(n)) throw new Error('no X display in the sesman log');
      return { n, cookie: xauthCookie(join(account.home, '.Xauthority'), n) };
    },
    // sesman keeps a disconnected session until its window manager exits (and a new
    // connection would reattach to it): end it, so that every connection logs on afresh.
    settle: async () => {
      const log = xrdp.sesmanLog();
      for (const m of log.matchAll(/window manager \(pid (\d+)\)/g)) {
        const pid = Number(m[1]);
        if (ended.has(pid)) continue;
        ended.add(pid);
        try {
          process.kill(pid, 'SIGTERM');
        } catch {
          /* ended already */
        }
      }
      const displays = [...log.matchAll(/Starting X server on display (\d+)/g)].map((m) => m[1]!);
      const until = Date.now() + 15_000;
      while (displays.some((d) => existsSync(`/tmp/.X${d}-lock`))) {
        if (Date.now() > until) {
          progress(`  warning: an xrdp session's X server is still running 15 s after the client left`);
          return;
        }
        await sleep(50);
      }
    },
  };
}

function shadowTarget(shadow: ShadowServer, proxy: CountingProxy, directFile: string, directPlainFile: string, secretId: string): Target {
  return {
    name: 'shadow',
    label: 'FreeRDP shadow server (NLA; shares its Xvfb, 800 × 600)',
    rgb: SHADOW_DESKTOP_RGB,
    proxy,
    directFile,
    directPlainFile,
    credentials: [`/u:${SHADOW_ACCOUNT.username}`, `/p:${SHADOW_ACCOUNT.password}`],
    secretId,
    desktop: () => ({ n: shadow.display.number, cookie: null }),
    settle: () => sleep(300),
  };
}

/** Bytes of every file under the gateway's recordings dir, by extension. */
export function recordings(dataDir: string): { bytes: number; files: number; byExt: Record<string, number> } {
  const r = { bytes: 0, files: 0, byExt: {} as Record<string, number> };
  const walk = (d: string) => {
    let entries;
    try {
      entries = readdirSync(d, { withFileTypes: true });
    } catch {
      return;
    }
    for (const e of entries) {
      const p = join(d, e.name);
      if (e.isDirectory()) walk(p);
      else {
        const size = statSync(p).size;
        r.bytes += size;
        r.files++;
        // `.ghrec.gz` (stored compressed, the default) apart from a plain `.ghrec`.
        const ext = e.name.endsWith('.gz') ? `${extname(e.name.slice(0, -3))}.gz` : extname(e.name) || '(none)';
        r.byExt[ext] = (r.byExt[ext] ?? 0) + size;
      }
    }
  };
  walk(join(dataDir, 'recordings'));
  return r;
}

/**
 * The whole setup of one RDP benchmark run, its clean-ups registered with `run`: the
 * gateway (its RDP door's launches handed out through a counting proxy), the wanted
 * targets with a secret each and their direct .rdp files, the client's Xvfb and a pixel
 * probe on it.
 */
export async function startRdpEnv(run: BenchRun, want: { xrdp: boolean; shadow: boolean }): Promise<Env> {
  const account = ensureTargetAccount();
  const dir = mkdtempSync(join(tmpdir(), `gatehouse-bench-${run.name}-`));
  run.cleanups.push(async () => rmSync(dir, { recursive: true, force: true }));
  run.progress('compiling src/ for the gateway process; starting the targets and the displays');
  const [g, xrdp, shadow, client] = await Promise.all([
    startGw(dir),
    want.xrdp ? startXrdp() : Promise.resolve(null),
    want.shadow ? startShadowServer(SHADOW_ACCOUNT) : Promise.resolve(null),
    startXvfb('1024x768'),
  ]);
  run.cleanups.push(() => client.stop());
  if (shadow) run.cleanups.push(() => shadow.stop());
  if (xrdp) run.cleanups.push(() => xrdp.stop());
  run.cleanups.push(() => g.gw.stop());
  const gwProxy = await countingProxy(g.rdpPort);
  run.cleanups.push(() => gwProxy.close());
  // Launches hand out the proxy: the gateway path's client leg is counted like the direct one.
  const p = await api(g.gw.url, 'PATCH', '/launchers/rdp', { token: g.token, body: { gatewayPort: gwProxy.port } });
  if (p.status !== 200) throw new Error(`launcher update: ${p.status} ${JSON.stringify(p.body)}`);
  const x = await X11.open(client.number);
  run.cleanups.push(async () => x.close());
  const targets: Target[] = [];
  if (xrdp) {
    const proxy = await countingProxy(xrdp.port);
    run.cleanups.push(() => proxy.close());
    const id = await createSecret(g, 'bench-xrdp', xrdp.port, account.username, account.password);
    // The direct file is a launched one (its ticket never used) with the target's address.
    const { text } = await launchedRdp(g, id);
    targets.push(xrdpTarget(xrdp, proxy, directRdpFile(text, dir, 'xrdp', proxy.port, false), id, account, run.progress));
  }
  if (shadow) {
    const proxy = await countingProxy(shadow.port);
    run.cleanups.push(() => proxy.close());
    const id = await createSecret(g, 'bench-shadow', shadow.port, SHADOW_ACCOUNT.username, SHADOW_ACCOUNT.password);
    const { text } = await launchedRdp(g, id);
    targets.push(shadowTarget(shadow, proxy, directRdpFile(text, dir, 'shadow', proxy.port, true), directRdpFile(text, dir, 'shadow', proxy.port, true, true), id));
  }
  return { dir, gw: g.gw, dataDir: g.dataDir, token: g.token, gwProxy, client, x, targets, shadow };
}

// ---------------------------------------------------------------- one xfreerdp connection

export interface Connected {
  client: Client;
  /** ms from spawn until the client's screen showed the desktop colour. */
  desktopMs: number;
  launchMs: number;
}

export async function connectClient(env: Env, t: Target, path: Path, logLevel: 'DEBUG' | 'WARN'): Promise<Connected> {
  await waitBlank(env.x, t.rgb, 10_000);
  let file = path === 'direct-plain' ? t.directPlainFile! : t.directFile;
  let launchMs = NaN;
  if (path === 'gateway') ({ file, ms: launchMs } = await launchFile(env, t));
  const client = startClient(file, env.client.display, path === 'gateway' ? [] : t.credentials, logLevel);
  try {
    const desktopMs = await waitDesktop(env.x, t.rgb, client.t0, client, 45_000);
    return { client, desktopMs, launchMs };
  } catch (e) {
    await client.stop();
    throw new Error(`${t.name} ${path}: ${(e as Error).message}`);
  }
}

/** Until no session is live at the gateway (bounded). */
export async function noLiveSession(env: Env): Promise<void> {
  const until = Date.now() + 15_000;
  while ((await env.gw.call<number>('live')) > 0 && Date.now() < until) await sleep(100);
}

export async function disconnect(env: Env, t: Target, c: Connected): Promise<void> {
  await c.client.stop();
  await t.settle();
  await noLiveSession(env);
}

/** What the client decoded, from its DEBUG log: the graphics pipeline, RemoteFX, or plain bitmap updates. */
export function codecOf(c: Client): string {
  const gfx = !Number.isNaN(c.firstLine(/\[com\.freerdp\.channels\.rdpgfx\.client\]/));
  const h264 = !Number.isNaN(c.firstLine(/H264_METABLOCK/));
  const rfx = !Number.isNaN(c.firstLine(/\[com\.freerdp\.codec\.rfx\]/));
  const parts = [gfx ? `graphics pipeline${h264 ? ' (H.264)' : ''}` : '', rfx ? 'RemoteFX surface bits' : ''].filter(Boolean);
  return parts.length ? parts.join(' + ') : 'bitmap updates';
}

// ---------------------------------------------------------------- the machine

export function versions(extra: Record<string, [string, string[], RegExp]> = {}): Record<string, string> {
  const v = (cmd: string, a: string[], re: RegExp) => {
    try {
      return re.exec(execFileSync(cmd, a, { stdio: ['ignore', 'pipe', 'pipe'] }).toString())?.[1] ?? '?';
    } catch (e) {
      return re.exec(String((e as { stdout?: Buffer }).stdout ?? ''))?.[1] ?? '?';
    }
  };
  return {
    date: new Date().toISOString(),
    node: process.version,
    xrdp: v('dpkg-query', ['-W', '-f', '${Version}', 'xrdp'], /(.+)/),
    freerdp: v('dpkg-query', ['-W', '-f', '${Version}', 'freerdp2-x11'], /(.+)/),
    tigervnc: v('dpkg-query', ['-W', '-f', '${Version}', 'tigervnc-standalone-server'], /(.+)/),
    ...Object.fromEntries(Object.entries(extra).map(([k, [cmd, a, re]]) => [k, v(cmd, a, re)])),
    cpu: `${cpus().length} × ${cpus()[0]?.model ?? '?'}`,
    kernel: release(),
  };
}
