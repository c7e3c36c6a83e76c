// Backpressure from the person to the target on the plain-terminal doors: a command that
// prints tens of MiB while the person's client reads nothing must not pile its output up in
// the gateway's memory. The browser terminal (WebSocket, SSH target) holds the target while
// the WebSocket's bufferedAmount is past its high-water mark; the SSH door toward a Telnet
// target holds the Telnet socket while the person's channel does not drain. Once the client
// reads again, everything arrives. Bounded by counts and sizes only: while the client is
// paused, the test samples until the session's output count stops moving (or all of it
// went through, which is the failure).
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { setTimeout as sleep } from 'node:timers/promises';
import type { WebSocket } from 'ws';
import { OUTPUT_HIGH_WATER } from '../../src/web/terminal-relay.js';
import { ensureTargetAccount, TARGET_PASSWORD } from '../support/accounts.js';
import { startGateway, type Gateway } from '../support/gateway.js';
import { clientFor, createSecret, interactive, launch, PROMPT, sessionOf } from '../support/ssh-client.js';
import { startSshd, type Sshd } from '../support/sshd.js';
import { startTelnetd, type TelnetdHandle } from '../support/telnetd.js';
import { call, openTerm, signIn } from '../support/web-term.js';

/** `head -c 57·LINES /dev/zero | base64` prints exactly LINES lines of 76 'A' (about 39 MB through a pty). */
const LINES = 500_000;
const COMMAND = `head -c ${57 * LINES} /dev/zero | base64; echo END-$((40+2))\r`;
const OUTPUT_BYTES = 78 * LINES; // with the pty's \r\n
const A = 0x41;
const countA = (d: Buffer) => {
  let n = 0;
  for (let i = 0; i < d.length; i++) if (d[i] === A) n++;
  return n;
};

/** Counts the 'A's of the output and resolves once the end marker came. */
function outputCounter() {
  let as = 0;
  let tail = '';
  let done!: () => void;
  const ended = new Promise<void>((r) => (done = r));
  return {
    ended,
    get as() {
      return as;
    },
    take(d: Buffer) {
      as += countA(d);
      // The marker may straddle two chunks, and a chunk may go on well past it (the prompt).
      const seen = tail + d.toString('latin1');
      if (seen.includes('END-42')) done();
      tail = seen.slice(-8);
    },
  };
}

/**
 * While the client reads nothing: samples the session's output count (and `sample()`) until
 * the count has not moved for 40 samples in a row, or all of the output went through.
 */
async function whileStalled(bytesOut: () => number, sample: () => void = () => undefined): Promise<number> {
  let last = -1;
  let still = 0;
  for (let i = 0; i < 4000 && still < 40; i++) {
    await sleep(25);
    sample();
    const n = bytesOut();
    if (n >= OUTPUT_BYTES) return n;
    if (n === last) still++;
    else [last, still] = [n, 0];
  }
  return bytesOut();
}

describe('terminal doors: backpressure from a client that reads slowly', { timeout: 300_000 }, () => {
  let gw: Gateway;
  let sshd: Sshd;
  let telnetd: TelnetdHandle;
  before(async () => {
    ensureTargetAccount();
    [sshd, telnetd, gw] = await Promise.all([startSshd(), startTelnetd(), startGateway('sqlite')]);
  });
  after(async () => {
    await gw?.close();
    await sshd?.stop();
    await telnetd?.stop();
  });

  const liveBytesOut = (sessionId: string) => () => gw.running.core.sessions.live.get(sessionId)?.bytesOut ?? 0;

  it('browser terminal: the target is held while the WebSocket is behind; all output arrives once it reads again', async () => {
    const s = await gw.api('POST', '/api/v1/secrets', { token: gw.adminToken, body: { name: 'bp-web', template: 'unix-account', fields: { machine: '127.0.0.1', port: sshd.port, username: 'ghtarget', password: TARGET_PASSWORD } } });
    assert.equal(s.status, 201, s.raw);
    const r = await gw.api('POST', '/api/v1/users', { token: gw.adminToken, body: { username: 'bp-user', password: 'bp-user-password-123', roles: ['User'] } });
    assert.equal(r.status, 201, r.raw);
    await gw.api('PUT', `/api/v1/secrets/${s.body.id}/permissions`, { token: gw.adminToken, body: { entries: [{ principalType: 'user', principal: 'bp-user', level: 'view' }] } });
    const b = await signIn(gw, 'bp-user', 'bp-user-password-123');
    const l = await call(gw, b, 'POST', `/api/v1/secrets/${s.body.id}/launch`, { launcher: 'ssh' });
    const t = openTerm(gw, b, `ticket=${l.body.ticket}&consent=1`);
    await t.waitFor(() => t.messages.some((m) => m.type === 'ready'));
    const sessionId = t.messages.find((m) => m.type === 'ready')!.sessionId as string;
    const out = outputCounter();
    t.ws.on('message', (d: Buffer, isBinary: boolean) => isBinary && out.take(d));
    const server = [...(gw.running.app as unknown as { websocketServer: { clients: Set<WebSocket> } }).websocketServer.clients];
    assert.equal(server.length, 1);

    t.ws.send(JSON.stringify({ type: 'input', data: COMMAND }));
    // The browser stops reading (its socket is not read; TCP fills up toward the gateway).
    const clientSocket = (t.ws as unknown as { _socket: { pause(): void; resume(): void } })._socket;
    clientSocket.pause();
    let maxBuffered = 0;
    const taken = await whileStalled(liveBytesOut(sessionId), () => (maxBuffered = Math.max(maxBuffered, server[0]!.bufferedAmount)));
    // One chunk of the target's output may go past the mark before the hold.
    assert.ok(maxBuffered <= OUTPUT_HIGH_WATER + 256 * 1024, `the gateway held ${maxBuffered} bytes for the browser`);
    assert.ok(taken < OUTPUT_BYTES / 2, `${taken} of ${OUTPUT_BYTES} bytes were read from the target while the browser read nothing`);

    clientSocket.resume();
    await out.ended;
    assert.ok(out.as >= 76 * LINES && out.as < 76 * LINES + 100, `${out.as} 'A's arrived, ${76 * LINES} expected`);
    t.ws.send(JSON.stringify({ type: 'input', data: 'exit\r' }));
    await t.closed;
  });

  it('SSH door toward a Telnet target: the Telnet socket is held while the SSH channel does not drain; all output arrives once the client reads again', async () => {
    const secretId = await createSecret(gw, 'bp-telnet', { port: telnetd.port, password: TARGET_PASSWORD });
    const l = await launch(gw, secretId, { launcher: 'telnet' });
    const c = clientFor(gw, l.knownHosts);
    const p = interactive([...c.base(), `${l.ticket}@127.0.0.1`], { timeoutMs: 300_000 });
    try {
      await p.waitFor(PROMPT, 20_000);
      const sessionId = (await sessionOf(gw, secretId, 'live')).id as string;
      const out = outputCounter();
      p.child.stdout!.on('data', (d: Buffer) => out.take(d));
      p.write(COMMAND);
      // The client stops reading: `script` blocks on its stdout, ssh on the pty, the SSH window closes.
      p.child.stdout!.pause();
      const taken = await whileStalled(liveBytesOut(sessionId));
      assert.ok(taken < OUTPUT_BYTES / 2, `${taken} of ${OUTPUT_BYTES} bytes were read from the Telnet target while the SSH client read nothing`);

      p.child.stdout!.resume();
      await out.ended;
      assert.ok(out.as >= 76 * LINES && out.as < 76 * LINES + 100, `${out.as} 'A's arrived, ${76 * LINES} expected`);
      p.write('exit\r');
      assert.equal((await p.done).code, 0);
    } finally {
      p.kill();
    }
  });
});
