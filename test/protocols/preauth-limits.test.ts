// Unauthenticated connections are bounded at every door (SSH, RDP, and the HTTPS port that
// carries the browser terminal's WebSocket): several hundred idle sockets from one address
// get that address's share (10 by default) and the rest are closed at once, without a byte;
// a client from another address is served meanwhile; all sources together stop at the total;
// and a connection that does not authenticate within the login grace time is closed, while
// one that did stays. Refusals are logged at a low rate, not one line per connection.
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { connect as tcpConnect, type Socket } from 'node:net';
import { connect as tlsConnect } from 'node:tls';
import WebSocket from 'ws';
import { ensureTargetAccount, TARGET_PASSWORD } from '../support/accounts.js';
import { startSshd, type Sshd } from '../support/sshd.js';
import { startGateway, type Gateway } from '../support/gateway.js';
import { ADMIN_PASSWORD } from '../support/harness.js';
import { clientFor, createSecret, eventually, interactive, launch, ok, PROMPT, run } from '../support/ssh-client.js';

/** A client socket that never speaks first; it records what the door sends and whether the door closed it. */
interface Idle {
  sock: Socket;
  data: Buffer;
  closed: boolean;
  whenClosed: Promise<void>;
  /** Resolves once the door has decided: sent something (admitted, SSH) or closed it. */
  whenDecided: Promise<void>;
}

function idle(port: number, from: string): Promise<Idle> {
  return new Promise((resolve, reject) => {
    const sock = tcpConnect({ port, host: '127.0.0.1', localAddress: from });
    const p: Partial<Idle> = { sock, data: Buffer.alloc(0), closed: false };
    let decided!: () => void;
    p.whenDecided = new Promise((r) => (decided = r));
    p.whenClosed = new Promise((r) =>
      sock.once('close', () => {
        p.closed = true;
        decided();
        r();
      }),
    );
    sock.on('data', (d: Buffer) => {
      p.data = Buffer.concat([p.data!, d]);
      decided();
    });
    sock.on('error', () => undefined);
    sock.once('connect', () => resolve(p as Idle));
    sock.once('error', (e) => (sock.connecting ? reject(e) : undefined));
  });
}

/** Opens n idle sockets from one address, a few at a time, so the door accepts them in order. */
async function flood(port: number, from: string, n: number): Promise<Idle[]> {
  const out: Idle[] = [];
  for (let i = 0; i < n; i += 25) out.push(...(await Promise.all(Array.from({ length: Math.min(25, n - i) }, () => idle(port, from)))));
  return out;
}

const closeAll = (socks: Idle[]) => Promise.all(socks.map((s) => (s.sock.destroy(), s.whenClosed)));

/** Waits until the door's gate has seen every client socket go. */
const drained = (gw: Gateway, door: 'ssh' | 'rdp' | 'https') => eventually(async () => gw.running.preauth()[door].pending === 0, 10_000, `${door} startups to drain`);

/** An X.224 Connection Request carrying the ticket as its routing token, offering TLS. */
function x224Request(token: string): Buffer {
  const variable = Buffer.from(`${token}\r\n`, 'latin1');
  const neg = Buffer.from([0x01, 0x00, 0x08, 0x00, 0x01, 0, 0, 0]);
  const body = Buffer.concat([Buffer.from([6 + variable.length + neg.length, 0xe0, 0, 0, 0, 0, 0]), variable, neg]);
  return Buffer.concat([Buffer.from([3, 0, (body.length + 4) >> 8, (body.length + 4) & 0xff]), body]);
}

/** GET /healthz over TLS on a socket that is already connected; answers the status line. */
function healthzOver(sock: Socket): Promise<string> {
  return new Promise((resolve, reject) => {
    const t = tlsConnect({ socket: sock, rejectUnauthorized: false, servername: 'localhost' }, () => t.write('GET /healthz HTTP/1.1\r\nHost: localhost\r\nConnection: close\r\n\r\n'));
    let got = '';
    t.on('data', (d: Buffer) => (got += d.toString('latin1')));
    t.on('close', () => resolve(got.split('\r\n')[0]!));
    t.on('error', reject);
  });
}

async function signInCookie(gw: Gateway): Promise<string> {
  const r = await gw.running.app.inject({ method: 'POST', url: '/api/v1/auth/session', payload: { username: 'admin', password: ADMIN_PASSWORD } });
  assert.equal(r.statusCode, 200, r.body);
  return (r.cookies as { name: string; value: string }[]).map((c) => `${c.name}=${c.value}`).join('; ');
}

/** A browser-terminal session from 127.0.0.1: resolves with its output once the marker appears. */
function webTerminal(gw: Gateway, cookie: string, ticket: string, marker: string): Promise<string> {
  return new Promise((resolve, reject) => {
    const ws = new WebSocket(`${gw.running.url.replace('https', 'wss')}/api/v1/terminal?ticket=${ticket}&consent=1`, { rejectUnauthorized: false, headers: { cookie } });
    let out = '';
    let seen = false;
    const timer = setTimeout(() => reject(new Error(`no ${marker} in ${JSON.stringify(out.slice(-300))}`)), 30_000);
    ws.on('message', (d, binary) => {
      if (!binary) {
        const m = JSON.parse(d.toString());
        if (m.type === 'ready') ws.send(JSON.stringify({ type: 'input', data: `echo ${marker.replace('42', '$((40+2))')}\r` }));
        if (m.type === 'error') reject(new Error(m.message));
        return;
      }
      out += d.toString();
      if (out.includes(marker) && !seen) {
        seen = true;
        clearTimeout(timer);
        ws.send(JSON.stringify({ type: 'input', data: 'exit\r' }));
        ws.once('close', () => resolve(out));
      }
    });
    ws.on('error', reject);
  });
}

describe('unauthenticated connections are bounded (default limits)', () => {
  let sshd: Sshd;
  let gw: Gateway;
  let secretId: string;
  let rdpSecretId: string;
  before(async () => {
    ensureTargetAccount();
    // A long grace time here, so only the limits decide what stays open, however slow the machine.
    sshd = await startSshd();
    gw = await startGateway('sqlite', { GATEHOUSE_LOGIN_GRACE_SECONDS: '600' });
    secretId = await createSecret(gw, 'preauth-target', { port: sshd.port, password: TARGET_PASSWORD });
    // An RDP target nobody listens on: the door accepting the ticket is what is tested here.
    const r = await gw.api('POST', '/api/v1/secrets', { token: gw.adminToken, body: { name: 'rdp-nowhere', template: 'windows-account', fields: { machine: '127.0.0.1', port: 1, username: 'u', password: 'Rdp-Nowhere-Pw-1' } } });
    assert.equal(r.status, 201, r.raw);
    rdpSecretId = r.body.id;
  });
  after(async () => {
    await gw?.close();
    await sshd?.stop();
  });

  it('SSH: of 300 idle sockets from one address 10 are served and 290 closed at once; another address still logs in and runs a command', async () => {
    const socks = await flood(gw.sshPort, '127.0.0.2', 300);
    await Promise.all(socks.map((s) => s.whenDecided));
    const admitted = socks.filter((s) => s.data.toString('latin1').startsWith('SSH-2.0-Gatehouse'));
    const refused = socks.filter((s) => s.closed && s.data.length === 0);
    assert.equal(admitted.length, 10);
    assert.equal(refused.length, 290);
    const stats = gw.running.preauth().ssh;
    assert.equal(stats.refusedPerSource, 290);
    assert.equal(stats.pending, 10);

    const l = await launch(gw, secretId);
    const c = clientFor(gw, l.knownHosts);
    const r = await run('ssh', [...c.base(['-o', 'BatchMode=yes', '-l', l.ticket]), '127.0.0.1', 'echo fair-$((40+2))']);
    assert.equal(r.code, 0, r.stderr);
    assert.match(r.stdout, /fair-42/);
    // The flood's share is still held (not cut to make room), and still counted.
    assert.ok(admitted.every((s) => !s.closed));
    assert.equal(gw.running.preauth().ssh.pending, 10);
    // One log line for the flood (plus at most one summary), not one per connection.
    const lines = gw.logs().split('\n').filter((x) => x.includes('ssh door: refused'));
    assert.ok(lines.length >= 1 && lines.length <= 2, lines.join('\n'));
    assert.match(lines[0]!, /per-source limit/);
    await closeAll(socks);
    await drained(gw, 'ssh');
  });

  it('SSH: all sources together stop at the total (100); a slot frees when a startup goes', async () => {
    const socks: Idle[] = [];
    for (let i = 0; i < 10; i++) {
      const batch = await flood(gw.sshPort, `127.0.1.${i + 1}`, 10);
      await Promise.all(batch.map((s) => s.whenDecided));
      socks.push(...batch);
    }
    assert.equal(socks.filter((s) => s.data.length > 0).length, 100);
    const late = await idle(gw.sshPort, '127.0.1.200');
    await late.whenDecided;
    assert.equal(late.closed, true);
    assert.equal(late.data.length, 0);
    assert.equal(gw.running.preauth().ssh.refusedTotal, 1);
    await closeAll(socks.slice(0, 1));
    await eventually(async () => gw.running.preauth().ssh.pending === 99, 10_000, 'a slot to free');
    const next = await idle(gw.sshPort, '127.0.1.201');
    await next.whenDecided;
    assert.match(next.data.toString('latin1'), /^SSH-2\.0-Gatehouse/);
    await closeAll([...socks, next]);
    await drained(gw, 'ssh');
  });

  it('RDP: of 300 idle sockets from one address 10 are kept and 290 closed at once; a ticket from another address is still accepted', async () => {
    const socks = await flood(gw.rdpPort, '127.0.0.2', 300);
    await eventually(async () => socks.filter((s) => s.closed).length >= 290, 20_000, '290 refusals');
    assert.ok(socks.every((s) => s.data.length === 0));
    const stats = gw.running.preauth().rdp;
    assert.equal(stats.refusedPerSource, 290);
    assert.equal(stats.admitted, 10);

    const l = await ok(gw, 'POST', `/api/v1/secrets/${rdpSecretId}/launch`, { launcher: 'rdp' });
    const client = await idle(gw.rdpPort, '127.0.0.1');
    client.sock.write(x224Request(l.ticket));
    // The door redeemed the ticket (a session exists); its target does not answer, so it ends.
    const s = await eventually(async () => (await ok(gw, 'GET', `/api/v1/sessions?secretId=${rdpSecretId}&limit=1`)).items[0], 15_000, 'the RDP session');
    assert.equal(s.door, 'rdp');
    await client.whenClosed;
    assert.ok(gw.logs().split('\n').filter((x) => x.includes('rdp door: refused')).length <= 2);
    await closeAll(socks);
    await drained(gw, 'rdp');
  });

  it('HTTPS (browser terminal door): of 300 idle sockets from one address 10 are kept and 290 closed at once; a WebSocket terminal from another address works, and the 10 are still served', async () => {
    const socks = await flood(Number(new URL(gw.running.url).port), '127.0.0.2', 300);
    await eventually(async () => socks.filter((s) => s.closed).length >= 290, 20_000, '290 refusals');
    assert.equal(gw.running.preauth().https.refusedPerSource, 290);
    const kept = socks.filter((s) => !s.closed);
    assert.equal(kept.length, 10);

    const cookie = await signInCookie(gw);
    const l = await gw.running.app.inject({ method: 'POST', url: `/api/v1/secrets/${secretId}/launch`, payload: { launcher: 'ssh' }, headers: { authorization: `Bearer ${gw.adminToken}` } });
    assert.equal(l.statusCode, 200, l.body);
    assert.match(await webTerminal(gw, cookie, l.json().ticket, 'web-fair-42'), /web-fair-42/);
    // An upgrade attempt without a session is answered 401 and closed, not left hanging.
    const status = await new Promise<number>((resolve, reject) => {
      const ws = new WebSocket(`${gw.running.url.replace('https', 'wss')}/api/v1/terminal?ticket=${'A'.repeat(32)}`, { rejectUnauthorized: false });
      ws.on('unexpected-response', (_req, res) => resolve(res.statusCode ?? 0));
      ws.on('open', () => reject(new Error('upgraded without a session')));
      ws.on('error', () => undefined);
    });
    assert.equal(status, 401);
    // The flood's ten were held all along: each still gets an answer once it speaks.
    for (const s of kept) assert.match(await healthzOver(s.sock), /^HTTP\/1\.1 200/);
    await drained(gw, 'https');
  });
});

describe('login grace time', () => {
  let sshd: Sshd;
  let gw: Gateway;
  let secretId: string;
  before(async () => {
    ensureTargetAccount();
    sshd = await startSshd();
    gw = await startGateway('sqlite', { GATEHOUSE_LOGIN_GRACE_SECONDS: '5' });
    secretId = await createSecret(gw, 'grace-target', { port: sshd.port, password: TARGET_PASSWORD });
  });
  after(async () => {
    await gw?.close();
    await sshd?.stop();
  });

  it('closes idle connections at every door once the grace time is over', async () => {
    const httpsPort = Number(new URL(gw.running.url).port);
    const [ssh, rdp, https] = await Promise.all([idle(gw.sshPort, '127.0.0.3'), idle(gw.rdpPort, '127.0.0.3'), idle(httpsPort, '127.0.0.3')]);
    // A TLS handshake done but no request sent counts as idle too.
    const tlsIdle = await idle(httpsPort, '127.0.0.3');
    const t = tlsConnect({ socket: tlsIdle.sock, rejectUnauthorized: false, servername: 'localhost' });
    t.on('error', () => undefined);
    const tlsClosed = new Promise<void>((r) => t.once('close', () => r()));
    await new Promise<void>((r) => t.once('secureConnect', () => r()));
    await Promise.all([ssh.whenClosed, rdp.whenClosed, https.whenClosed, tlsClosed]);
    assert.match(ssh.data.toString('latin1'), /^SSH-2\.0-Gatehouse/);
    const stats = gw.running.preauth();
    assert.equal(stats.ssh.timedOut, 1);
    assert.equal(stats.rdp.timedOut, 1);
    assert.equal(stats.https.timedOut, 2);
    assert.match(gw.logs(), /ssh door: closed a connection that did not authenticate within 5 s/);
  });

  it('an HTTPS connection whose first request was answered is no startup any more: kept alive past the grace time', async () => {
    const httpsPort = Number(new URL(gw.running.url).port);
    const raw = await idle(httpsPort, '127.0.0.5');
    const t = tlsConnect({ socket: raw.sock, rejectUnauthorized: false, servername: 'localhost' });
    let got = '';
    t.on('data', (d: Buffer) => (got += d.toString('latin1')));
    const answers = (n: number) => eventually(async () => (got.match(/HTTP\/1\.1 200/g) ?? []).length >= n && got.endsWith('}'), 10_000, `${n} answers`);
    t.write('GET /healthz HTTP/1.1\r\nHost: localhost\r\n\r\n');
    await answers(1);
    assert.equal(gw.running.preauth().https.pending, 0);
    // A socket opened after that answer is closed by its grace timer after this one's would have fired.
    const later = await idle(httpsPort, '127.0.0.5');
    await later.whenClosed;
    t.write('GET /healthz HTTP/1.1\r\nHost: localhost\r\n\r\n');
    await answers(2);
    t.destroy();
  });

  it('an authenticated SSH session outlives the grace time', async () => {
    const l = await launch(gw, secretId);
    const c = clientFor(gw, l.knownHosts);
    const p = interactive([...c.base(['-l', l.ticket]), '127.0.0.1']);
    try {
      await p.waitFor(PROMPT, 20_000);
      // A socket opened after the login is closed by its grace timer after the session's own would have fired.
      const later = await idle(gw.sshPort, '127.0.0.4');
      await later.whenClosed;
      p.write('echo still-$((40+2))\r');
      await p.waitFor('still-42');
      p.write('exit\r');
      const done = await p.done;
      assert.equal(done.code, 0, done.stdout);
    } finally {
      p.kill();
    }
    assert.equal(gw.running.preauth().ssh.pending, 0);
  });
});
