// Backpressure from the target to the person on the plain-terminal doors (the person's input):
// a paste of tens of MiB into a Telnet target that stopped reading must not pile up in the
// gateway's memory. Through the SSH door (an ssh2 client that honours its own backpressure)
// and through the browser terminal (a WebSocket client sending 64 KiB frames) toward a fake
// Telnet target that stops reading after the login: what the gateway holds (the input it took
// from the client less what the target read) levels off under a bound, since it stops taking
// the client's input; once the target reads again, every byte arrives in order. And a client
// that ignores the SSH channel window (ssh2 does not enforce it) is disconnected, the excess
// not relayed. The browser terminal toward an SSH target (OpenSSH; a shell that does not read
// its input yet) likewise stops taking input once the target's channel is full. Bounded by
// counts and sizes only: while the target is stalled, the test samples
// until the gateway's input count stops moving (or all of it went through: the failure).
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { once } from 'node:events';
import type net from 'node:net';
import { randomBytes } from 'node:crypto';
import { existsSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { setTimeout as sleep } from 'node:timers/promises';
import ssh2, { type ClientChannel } from 'ssh2';
import { fakeTelnetTarget, type FakeTelnetTarget } from '../support/fake-telnet.js';
import { startGateway, type Gateway } from '../support/gateway.js';
import { ensureTargetAccount, TARGET_PASSWORD } from '../support/accounts.js';
import { createSecret, endedSession, launch, PROMPT, sessionOf } from '../support/ssh-client.js';
import { startSshd, type Sshd } from '../support/sshd.js';
import { call, openTerm, signIn, type Term } from '../support/web-term.js';

const MiB = 1024 * 1024;
/** What the client pastes. */
const TOTAL = 64 * MiB;
/** What the gateway may hold of it while the target reads nothing (kernel buffers included). */
const HELD_BOUND = 16 * MiB;

/** Printable, never `"` or `\` (a JSON frame carries it as is) nor IAC (sent on unchanged). */
const ALPHABET = Buffer.from('ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_');
function payload(n: number): Buffer {
  const b = randomBytes(n);
  for (let i = 0; i < n; i++) b[i] = ALPHABET[b[i]! & 63]!;
  return b;
}

/** A fake Telnet target that logs anyone in, shows a prompt, then stops reading (until resumed). */
async function stallingTarget(): Promise<{ target: FakeTelnetTarget; stalled: Promise<net.Socket> }> {
  let stalledNow!: (s: net.Socket) => void;
  const stalled = new Promise<net.Socket>((r) => (stalledNow = r));
  const target = await fakeTelnetTarget(async (sock, lines) => {
    sock.write('login: ');
    await lines.next();
    sock.write('Password: ');
    await lines.next();
    sock.write('\r\nWelcome\r\n$ ');
    sock.pause();
    stalledNow(sock);
  });
  return { target, stalled };
}

/**
 * While the target reads nothing: samples the session's input count until it has not moved
 * for 40 samples in a row or all of the paste went through; returns the most the gateway held.
 */
async function whileStalled(bytesIn: () => number, targetRead: () => number): Promise<{ taken: number; maxHeld: number }> {
  let last = -1;
  let still = 0;
  let maxHeld = 0;
  for (let i = 0; i < 4000 && still < 40; i++) {
    await sleep(25);
    const n = bytesIn();
    maxHeld = Math.max(maxHeld, n - targetRead());
    if (n >= TOTAL) break;
    if (n === last) still++;
    else [last, still] = [n, 0];
  }
  return { taken: bytesIn(), maxHeld };
}

/** Resolves once the target has read `n` bytes in all (it reads again). */
async function readUpTo(sock: net.Socket, n: number): Promise<void> {
  while (sock.bytesRead < n) {
    if (sock.destroyed) throw new Error(`the target's connection closed after ${sock.bytesRead} of ${n} bytes`);
    await sleep(25);
  }
}

describe('terminal doors: backpressure on input toward a target that stops reading', { timeout: 300_000 }, () => {
  let gw: Gateway;
  let sshd: Sshd;
  before(async () => {
    ensureTargetAccount();
    [gw, sshd] = await Promise.all([startGateway('sqlite'), startSshd()]);
  });
  after(async () => {
    await gw?.close();
    await sshd?.stop();
  });

  const live = (sessionId: string) => () => gw.running.core.sessions.live.get(sessionId)?.bytesIn ?? 0;

  const sshShell = async (ticket: string): Promise<{ conn: ssh2.Client; ch: ClientChannel }> => {
    const conn = new ssh2.Client();
    conn.on('error', () => undefined);
    conn.connect({ host: '127.0.0.1', port: gw.sshPort, username: ticket, hostVerifier: () => true, readyTimeout: 30_000 });
    await once(conn, 'ready');
    const ch = await new Promise<ClientChannel>((resolve, reject) => conn.shell({ term: 'xterm', cols: 80, rows: 24 }, (err, s) => (err ? reject(err) : resolve(s))));
    return { conn, ch };
  };

  /** The SSH door through the telnet launcher to the stalling target: an ssh2 shell on a new secret. */
  const sshToStalling = async (target: FakeTelnetTarget, name: string): Promise<{ secretId: string; conn: ssh2.Client; ch: ClientChannel }> => {
    const secretId = await createSecret(gw, name, { port: target.port, password: 'whatever-pw-1' });
    const l = await launch(gw, secretId, { launcher: 'telnet' });
    return { secretId, ...(await sshShell(l.ticket)) };
  };

  /** A browser terminal (a user with view access to a new secret) on the launcher's target, once ready. */
  let users = 0;
  const browserTerminal = async (launcher: string, fields: Record<string, unknown>): Promise<{ t: Term; sessionId: string }> => {
    const name = `in-bp-user-${++users}`;
    const s = await gw.api('POST', '/api/v1/secrets', { token: gw.adminToken, body: { name: `in-bp-web-${users}`, template: 'unix-account', fields: { machine: '127.0.0.1', ...fields } } });
    assert.equal(s.status, 201, s.raw);
    const r = await gw.api('POST', '/api/v1/users', { token: gw.adminToken, body: { username: name, password: `${name}-password-123`, roles: ['User'] } });
    assert.equal(r.status, 201, r.raw);
    await gw.api('PUT', `/api/v1/secrets/${s.body.id}/permissions`, { token: gw.adminToken, body: { entries: [{ principalType: 'user', principal: name, level: 'view' }] } });
    const b = await signIn(gw, name, `${name}-password-123`);
    const l = await call(gw, b, 'POST', `/api/v1/secrets/${s.body.id}/launch`, { launcher });
    assert.equal(l.status, 200, JSON.stringify(l.body));
    const t = openTerm(gw, b, `ticket=${l.body.ticket}&consent=1`);
    await t.waitFor(() => t.messages.some((m) => m.type === 'ready'));
    return { t, sessionId: t.messages.find((m) => m.type === 'ready')!.sessionId as string };
  };

  /** Sends the paste in 64 KiB frames (the WebSocket's maxPayload, JSON included), each once the one before was handed to the socket. */
  const paste = async (t: Term, data: Buffer): Promise<void> => {
    const FRAME = 65_000;
    for (let at = 0; at < data.length; at += FRAME) {
      const frame = JSON.stringify({ type: 'input', data: data.subarray(at, at + FRAME).toString('latin1') });
      await new Promise<void>((resolve, reject) => t.ws.send(frame, (err) => (err ? reject(err) : resolve())));
    }
  };

  /**
   * Pastes 64 MiB from `t` while the target's socket reads nothing: the gateway takes less than
   * half and holds under the bound; once the target reads again, all of it arrives in order.
   */
  const pasteThroughStall = async (t: Term, sessionId: string, sock: net.Socket, target: FakeTelnetTarget, who: string): Promise<void> => {
    const base = sock.bytesRead;
    const data = payload(TOTAL);
    const written = paste(t, data);
    const { taken, maxHeld } = await whileStalled(live(sessionId), () => sock.bytesRead - base);
    assert.ok(maxHeld < HELD_BOUND, `the gateway held ${maxHeld} bytes of ${who}'s input for the stalled target`);
    assert.ok(taken < TOTAL / 2, `${taken} of ${TOTAL} bytes were taken from ${who} while the target read nothing`);
    sock.resume();
    await written;
    await readUpTo(sock, base + TOTAL);
    const got = target.received();
    assert.ok(got.subarray(got.length - TOTAL).equals(data), `${who}'s paste arrived whole and in order`);
  };

  it('SSH door toward a Telnet target: the channel is not read while the target does not take the input; all of it arrives in order once it reads', async () => {
    const { target, stalled } = await stallingTarget();
    try {
      const { secretId, conn, ch } = await sshToStalling(target, 'in-bp-ssh');
      let shown = '';
      ch.on('data', (d: Buffer) => (shown += d.toString('latin1')));
      const sock = await stalled;
      const sessionId = (await sessionOf(gw, secretId, 'live')).id as string;
      const base = sock.bytesRead;
      const data = payload(TOTAL);
      // An ssh2 client honouring its own backpressure (write() false: wait for 'drain').
      const written = (async () => {
        for (let at = 0; at < data.length; at += 64 * 1024) if (!ch.write(data.subarray(at, at + 64 * 1024))) await once(ch, 'drain');
      })();
      const { taken, maxHeld } = await whileStalled(live(sessionId), () => sock.bytesRead - base);
      assert.ok(maxHeld < HELD_BOUND, `the gateway held ${maxHeld} bytes of input for the stalled target`);
      assert.ok(taken < TOTAL / 2, `${taken} of ${TOTAL} bytes were taken from the SSH client while the target read nothing`);

      sock.resume();
      await written;
      await readUpTo(sock, base + TOTAL);
      const got = target.received();
      assert.ok(got.subarray(got.length - TOTAL).equals(data), 'the paste arrived whole and in order');
      assert.ok(shown.includes('$ '), 'the prompt was shown');
      conn.end();
      await endedSession(gw, sessionId);
    } finally {
      await target.close();
    }
  });

  it('browser terminal toward a Telnet target: the WebSocket is not read while the target does not take the input; all of it arrives in order once it reads', async () => {
    const { target, stalled } = await stallingTarget();
    try {
      const { t, sessionId } = await browserTerminal('telnet', { port: target.port, username: 'someone', password: 'whatever-pw-1' });
      await pasteThroughStall(t, sessionId, await stalled, target, 'the browser');
      assert.ok(!t.messages.some((m) => m.type === 'error' || m.type === 'end'), JSON.stringify(t.messages));
      t.ws.close();
      await t.closed;
      await endedSession(gw, sessionId);
    } finally {
      await target.close();
    }
  });

  it('a joiner of a shared browser session pasting into a Telnet target that stops reading: the joiner\'s WebSocket is not read either; all of it arrives once it reads', async () => {
    // Before: the join route wrote every frame to the target and never paused the joiner.
    const { target, stalled } = await stallingTarget();
    const admin = (method: string, url: string, body?: unknown) => gw.api(method, url, { token: gw.adminToken, ...(body !== undefined ? { body } : {}) });
    const options = (await admin('GET', '/api/v1/launchers/telnet')).body.options;
    assert.equal((await admin('PATCH', '/api/v1/launchers/telnet', { options: { ...options, allowJoinRequests: true } })).status, 200);
    try {
      const { t: owner, sessionId } = await browserTerminal('telnet', { port: target.port, username: 'someone', password: 'whatever-pw-1' });
      const sock = await stalled;
      const r = await admin('POST', '/api/v1/users', { username: 'in-bp-joiner', password: 'in-bp-joiner-password-123', roles: ['Auditor'] });
      assert.equal(r.status, 201, r.raw);
      const jb = await signIn(gw, 'in-bp-joiner', 'in-bp-joiner-password-123');
      const req = await call(gw, jb, 'POST', `/api/v1/sessions/${sessionId}/join-requests`);
      assert.equal(req.status, 201, JSON.stringify(req.body));
      await owner.waitFor(() => owner.messages.some((m) => m.type === 'join' && m.event === 'request' && m.requestId === req.body.id));
      const joiner = openTerm(gw, jb, '', undefined, `/api/v1/sessions/${sessionId}/joins/${req.body.id}/terminal`);
      await joiner.waitFor(() => joiner.messages.some((m) => m.type === 'pending'));
      owner.ws.send(JSON.stringify({ type: 'join-answer', requestId: req.body.id, accept: true }));
      await joiner.waitFor(() => joiner.messages.some((m) => m.type === 'ready'));
      await pasteThroughStall(joiner, sessionId, sock, target, 'the joiner');
      joiner.ws.close();
      owner.ws.close();
      await owner.closed;
      await endedSession(gw, sessionId);
    } finally {
      await admin('PATCH', '/api/v1/launchers/telnet', { options });
      await target.close();
    }
  });

  it('browser terminal: a person who closes the page while their paste is held is noticed, and the session ends while the target still reads nothing', async () => {
    // Before: the held WebSocket was not read at all, so its close was never seen; the session,
    // its target connection and recording stayed live with nobody there until the target read again.
    const { target, stalled } = await stallingTarget();
    try {
      const { t, sessionId } = await browserTerminal('telnet', { port: target.port, username: 'someone', password: 'whatever-pw-1' });
      const sock = await stalled;
      const base = sock.bytesRead;
      const written = paste(t, payload(TOTAL)).catch(() => undefined);
      const { taken } = await whileStalled(live(sessionId), () => sock.bytesRead - base);
      assert.ok(taken < TOTAL / 2, 'the paste is held');
      // The browser goes away at once: a reset, as when its process is killed (a close frame
      // would wait behind the megabytes still in flight, see ws-hold.ts). A socket closed with
      // data it has not read resets the connection: the target prints something the client
      // leaves unread, and once it has arrived (nothing more is written to the browser after
      // it, so only reading the socket can tell the gateway), the client closes.
      const raw = (t.ws as unknown as { _socket: net.Socket })._socket;
      raw.pause();
      sock.write(Buffer.alloc(64 * 1024, 'x'));
      await sleep(1000);
      raw.destroy();
      const ended = await endedSession(gw, sessionId);
      assert.ok(sock.isPaused(), 'the target still reads nothing');
      assert.match(String(ended.endReason), /closed|left/, JSON.stringify(ended.endReason));
      await written;
    } finally {
      await target.close();
    }
  });

  it('browser terminal toward an SSH target: the WebSocket is not read while the target channel is full; all of it arrives in order once the shell reads', async () => {
    const tag = randomBytes(6).toString('hex');
    const go = `/tmp/gh-in-bp-${tag}.go`;
    const out = `/tmp/gh-in-bp-${tag}.out`;
    const { t, sessionId } = await browserTerminal('ssh', { port: sshd.port, username: 'ghtarget', password: TARGET_PASSWORD });
    try {
      await t.waitFor(() => PROMPT.test(t.output()), 20_000);
      // The shell reads nothing until the test says so: the pty's input queue fills, sshd stops
      // reading the channel, and its window toward the gateway closes.
      t.ws.send(JSON.stringify({ type: 'input', data: `stty raw -echo; echo READY-$((6*7)); while [ ! -e ${go} ]; do sleep 0.1; done; cat > ${out}\r` }));
      await t.waitFor(() => t.output().includes('READY-42'));
      const data = payload(TOTAL);
      const written = paste(t, data);
      const { taken } = await whileStalled(live(sessionId), () => 0);
      assert.ok(taken < HELD_BOUND, `${taken} of ${TOTAL} bytes were taken from the browser while the target read nothing`);

      writeFileSync(go, '');
      await written;
      while (!(existsSync(out) && statSync(out).size >= TOTAL)) {
        if (t.messages.some((m) => m.type === 'end' || m.type === 'error')) throw new Error(JSON.stringify(t.messages));
        await sleep(25);
      }
      assert.ok(readFileSync(out).equals(data), 'the paste arrived whole and in order');
      t.ws.close();
      await t.closed;
      await endedSession(gw, sessionId);
    } finally {
      rmSync(go, { force: true });
      rmSync(out, { force: true });
    }
  });

  it('SSH door: a client that sends past the channel window is disconnected and the excess is not relayed', async () => {
    const { target, stalled } = await stallingTarget();
    try {
      const { secretId, conn, ch } = await sshToStalling(target, 'in-bp-window');
      // Not events.once: it rejects on the 'error' (EPIPE) that may come before the close.
      const closed = new Promise<void>((r) => conn.once('close', () => r()));
      let isClosed = false;
      void closed.then(() => (isClosed = true));
      const sock = await stalled;
      const sessionId = (await sessionOf(gw, secretId, 'live')).id as string;
      const base = sock.bytesRead;
      // Straight to the transport, past ssh2's own window accounting (ch.outgoing.window then
      // only grows by the gateway's window adjusts: it ends as all the gateway ever allowed).
      // Odd-sized packets: a packet that lands exactly on a window of 0 is dropped by ssh2 itself.
      const internals = ch as unknown as { outgoing: { id: number; window: number }; _client: { _protocol: { channelData(id: number, d: Buffer): void } } };
      const PACKET = 32_000;
      const SENT = 48 * MiB;
      const chunk = payload(PACKET);
      for (let n = 0; n < SENT; n += PACKET) internals._client._protocol.channelData(internals.outgoing.id, chunk);
      // Until the gateway closed the connection, or it read all of it from the socket and stays open (the failure).
      const clientSock = (conn as unknown as { _sock: net.Socket })._sock;
      let still = 0;
      for (let i = 0; i < 4000 && !isClosed && still < 40; i++) {
        await sleep(25);
        still = clientSock.writableLength === 0 ? still + 1 : 0;
      }
      assert.ok(isClosed, 'the gateway kept the connection of a client that ignored the channel window');
      const allowed = internals.outgoing.window;
      assert.ok(allowed < SENT, `the client sent ${SENT} bytes, more than the ${allowed} the gateway allowed`);
      // The target reads again: what reached it is within what the window allowed.
      sock.resume();
      if (!sock.destroyed) await once(sock, 'close');
      const relayed = sock.bytesRead - base;
      // Plus the grace OpenSSH's sshd also gives (a tenth of ssh2's 2 MiB channel window), past which the connection ends.
      const grace = Math.floor((2 * MiB) / 10);
      assert.ok(relayed <= allowed + grace, `the target got ${relayed} bytes, more than the ${allowed} the window allowed and the grace`);
      assert.match(gw.logs(), /rcvd too much data/);
      const ended = await endedSession(gw, sessionId);
      assert.equal(ended.endReason, 'the client ignored the SSH channel window');
    } finally {
      await target.close();
    }
  });

  it('SSH door: a client overshooting the window by a little (less than the tenth OpenSSH allows) keeps its connection, and every byte arrives', async () => {
    const { target, stalled } = await stallingTarget();
    try {
      const { conn, ch } = await sshToStalling(target, 'in-bp-overshoot');
      let isClosed = false;
      conn.once('close', () => (isClosed = true));
      const sock = await stalled;
      const base = sock.bytesRead;
      const overruns = () => gw.logs().split('rcvd too much data').length;
      const before = overruns();
      const internals = ch as unknown as { outgoing: { id: number; window: number }; _client: { _protocol: { channelData(id: number, d: Buffer): void } } };
      // Raw packets (ssh2's client would keep to the window): the window the gateway granted
      // (outgoing.window only grows by its adjusts here) less what was sent, all but one byte of
      // it, again until the gateway grants no more (its channel paused: the target reads nothing).
      const data = payload(24 * MiB);
      let sent = 0;
      const send = (n: number) => {
        for (let end = sent + n; sent < end; ) {
          const k = Math.min(32_000, end - sent);
          internals._client._protocol.channelData(internals.outgoing.id, data.subarray(sent, sent + k));
          sent += k;
        }
      };
      const granted = internals.outgoing.window;
      const avail = () => internals.outgoing.window - sent;
      for (let quiet = 0, i = 0; i < 4000 && quiet < 40; i++) {
        if (avail() > 1) {
          send(avail() - 1);
          quiet = 0;
        } else quiet++;
        await sleep(25);
      }
      assert.equal(avail(), 1, `one byte of window left (granted ${internals.outgoing.window} of which ${granted} at first; sent ${sent})`);
      assert.ok(sent + 10_001 < data.length, `the paste holds the overshoot (sent ${sent})`);
      // One packet 10,000 bytes past the window: within OpenSSH's tenth of the largest window.
      send(10_001);
      const clientSock = (conn as unknown as { _sock: net.Socket })._sock;
      for (let still = 0, i = 0; i < 4000 && still < 40; i++) {
        await sleep(25);
        still = clientSock.writableLength === 0 ? still + 1 : 0;
      }
      assert.equal(isClosed, false, 'the connection stays');
      sock.resume();
      await readUpTo(sock, base + sent);
      assert.equal(isClosed, false, 'the connection stays');
      assert.equal(overruns(), before, 'nothing logged as an overrun');
      conn.end();
    } finally {
      await target.close();
    }
  });
});
