import { after, afterEach, before, beforeEach, describe, it, mock } from 'node:test';
import assert from 'node:assert/strict';
import net from 'node:net';
import { randomBytes } from 'node:crypto';
import {
  DEFAULT_FAILURE_PATTERN,
  DEFAULT_LOGIN_PROMPT,
  DEFAULT_PASSWORD_PROMPT,
  openTelnet,
  TelnetLoginError,
  type TelnetLoginOptions,
  type TelnetSession,
} from '../../src/protocols/targets/telnet.js';
import { DO, DONT, IAC, NOP, Option, SB, SE, TTYPE_SEND, WILL, WONT } from '../../src/protocols/telnet/codes.js';
import { encodeKeystrokes, encodeLine, nawsMessage, ttypeIsMessage } from '../../src/protocols/telnet/encode.js';
import { TelnetEngine, type TelnetEngineOptions } from '../../src/protocols/telnet/engine.js';
import { OptionNegotiator } from '../../src/protocols/telnet/negotiation.js';
import { TelnetParser, type TelnetEvent } from '../../src/protocols/telnet/parser.js';
import { ensureLocalAccount, ensureTargetAccount } from '../support/accounts.js';
import { fakeTelnetTarget } from '../support/fake-telnet.js';
import { startTelnetd, type TelnetdHandle } from '../support/telnetd.js';

const b = (...parts: (number | string | Buffer)[]) =>
  Buffer.concat(parts.map((p) => (typeof p === 'number' ? Buffer.from([p]) : typeof p === 'string' ? Buffer.from(p, 'latin1') : p)));

/** Events in a comparable form, adjacent data runs merged (chunking may split them). */
function normalise(events: TelnetEvent[]): unknown[] {
  const out: unknown[] = [];
  for (const e of events) {
    const last = out[out.length - 1] as { type: string; data: string } | undefined;
    if (e.type === 'data') {
      if (last?.type === 'data') last.data += e.data.toString('hex');
      else out.push({ type: 'data', data: e.data.toString('hex') });
    } else if (e.type === 'subnegotiation') out.push({ ...e, data: e.data.toString('hex') });
    else out.push(e);
  }
  return out;
}

function parseInChunks(stream: Buffer, cuts: number[], maxSubnegotiation?: number): TelnetEvent[] {
  const p = new TelnetParser({ maxSubnegotiation });
  const events: TelnetEvent[] = [];
  let at = 0;
  for (const c of [...cuts, stream.length]) {
    events.push(...p.push(stream.subarray(at, c)));
    at = c;
  }
  return events;
}

describe('telnet parser', () => {
  const sample = b(
    'hi\r\n',
    IAC, WILL, Option.ECHO,
    'a', IAC, IAC, 'b',
    IAC, SB, Option.TTYPE, TTYPE_SEND, IAC, SE,
    IAC, SB, Option.NAWS, 0, IAC, IAC, 0, 24, IAC, SE,
    'x\r', 0, 'y',
    IAC, NOP,
    IAC, DO, Option.NAWS,
    'end',
  );

  it('separates data, negotiations, subnegotiations and commands', () => {
    assert.deepEqual(normalise(new TelnetParser().push(sample)), [
      { type: 'data', data: Buffer.from('hi\r\n').toString('hex') },
      { type: 'negotiate', verb: WILL, option: Option.ECHO },
      { type: 'data', data: b('a', 0xff, 'b').toString('hex') },
      { type: 'subnegotiation', option: Option.TTYPE, data: '01' },
      { type: 'subnegotiation', option: Option.NAWS, data: '00ff0018' },
      { type: 'data', data: Buffer.from('x\ry').toString('hex') }, // CR NUL is a bare CR
      { type: 'command', command: NOP },
      { type: 'negotiate', verb: DO, option: Option.NAWS },
      { type: 'data', data: Buffer.from('end').toString('hex') },
    ]);
  });

  it('gives the same result whatever the chunk boundaries', () => {
    const whole = normalise(new TelnetParser().push(sample));
    for (let i = 0; i <= sample.length; i++) {
      for (let j = i; j <= sample.length; j++) assert.deepEqual(normalise(parseInChunks(sample, [i, j])), whole, `cut at ${i},${j}`);
    }
    const bytewise = [...Array(sample.length).keys()].slice(1);
    assert.deepEqual(normalise(parseInChunks(sample, bytewise)), whole);
  });

  it('un-doubles IAC IAC, also across chunks', () => {
    const p = new TelnetParser();
    assert.deepEqual(normalise([...p.push(b('q', IAC)), ...p.push(b(IAC, IAC)), ...p.push(b(IAC, 'z'))]), [{ type: 'data', data: b('q', 0xff, 0xff, 'z').toString('hex') }]);
  });

  it('keeps CR NUL when BINARY is on', () => {
    const p = new TelnetParser();
    p.stripCrNul = false;
    assert.deepEqual(normalise(p.push(b('a\r', 0, 'b'))), [{ type: 'data', data: b('a\r', 0, 'b').toString('hex') }]);
  });

  it('drops an overlong subnegotiation whole and carries on', () => {
    const long = b(IAC, SB, Option.TTYPE, Buffer.alloc(100_000, 0x41), IAC, SE, 'after', IAC, SB, Option.TTYPE, TTYPE_SEND, IAC, SE);
    for (const cuts of [[], [3, 50_000, 100_003], [...Array(200).keys()].map((k) => k * 500 + 1)]) {
      assert.deepEqual(normalise(parseInChunks(long, cuts, 4096)), [
        { type: 'data', data: Buffer.from('after').toString('hex') },
        { type: 'subnegotiation', option: Option.TTYPE, data: '01' },
      ]);
    }
    // Exactly at the limit is still kept.
    const edge = b(IAC, SB, Option.TTYPE, Buffer.alloc(4096, 0x42), IAC, SE);
    const ev = new TelnetParser({ maxSubnegotiation: 4096 }).push(edge);
    assert.equal(ev.length, 1);
    assert.equal(ev[0]!.type === 'subnegotiation' && ev[0]!.data.length, 4096);
  });

  it('recovers when a subnegotiation lacks IAC SE', () => {
    const events = new TelnetParser().push(b(IAC, SB, Option.TTYPE, 'junk', IAC, WILL, Option.SGA, 'text'));
    assert.deepEqual(normalise(events), [
      { type: 'negotiate', verb: WILL, option: Option.SGA },
      { type: 'data', data: Buffer.from('text').toString('hex') },
    ]);
  });

  it('never throws or stalls on garbage, however it is chunked', () => {
    for (let round = 0; round < 50; round++) {
      // Plenty of 0xFF and command bytes so every state is visited.
      const g = randomBytes(20_000);
      for (let i = 0; i < g.length; i++) if (g[i]! % 5 === 0) g[i] = [IAC, SB, SE, WILL, DONT][g[i]! % 25 / 5]!;
      const whole = normalise(new TelnetParser().push(g));
      const cuts: number[] = [];
      for (let at = 0; at < g.length; ) cuts.push((at += 1 + (g[at]! % 97)));
      const chunked = normalise(parseInChunks(g, cuts.filter((c) => c < g.length)));
      assert.deepEqual(chunked, whole);
    }
    const p = new TelnetParser();
    for (const edge of [b(IAC), b(IAC, SB), b(IAC, SB, IAC), b(IAC, SB, IAC, SE), b(SE, IAC, SE), b(IAC, WILL), Buffer.alloc(0)]) p.push(edge);
    assert.deepEqual(normalise(p.push(b(IAC, SE, IAC, NOP, 'ok'))).slice(-1), [{ type: 'data', data: Buffer.from('ok').toString('hex') }]);
  });
});

describe('telnet option negotiation', () => {
  const policy = { local: new Set<number>([Option.TTYPE, Option.NAWS]), remote: new Set<number>([Option.ECHO, Option.SGA]) };
  function negotiator() {
    const sent: number[][] = [];
    const changes: string[] = [];
    const n = new OptionNegotiator(policy, (bytes) => sent.push([...bytes]), (side, o, on) => changes.push(`${side}:${o}:${on}`));
    return { n, sent, changes };
  }

  it('agrees to what the policy allows, once, and refuses the rest', () => {
    const { n, sent, changes } = negotiator();
    n.receive(DO, Option.TTYPE);
    n.receive(DO, Option.TTYPE);
    n.receive(WILL, Option.ECHO);
    n.receive(WILL, Option.ECHO);
    n.receive(DO, Option.ECHO); // we do not echo
    n.receive(WILL, Option.BINARY);
    n.receive(DO, Option.NEW_ENVIRON);
    n.receive(DONT, Option.LINEMODE); // already off: no answer
    n.receive(WONT, 200);
    assert.deepEqual(sent, [
      [IAC, WILL, Option.TTYPE],
      [IAC, DO, Option.ECHO],
      [IAC, WONT, Option.ECHO],
      [IAC, DONT, Option.BINARY],
      [IAC, WONT, Option.NEW_ENVIRON],
    ]);
    assert.deepEqual(changes, [`local:${Option.TTYPE}:true`, `remote:${Option.ECHO}:true`]);
    assert.ok(n.isEnabled('local', Option.TTYPE) && n.isEnabled('remote', Option.ECHO));
    assert.ok(!n.isEnabled('remote', Option.BINARY) && !n.isEnabled('local', Option.ECHO));
  });

  it('does not answer the confirmation of its own request, nor a repeated refusal', () => {
    const { n, sent } = negotiator();
    n.request('local', Option.NAWS, true);
    n.request('local', Option.NAWS, true); // pending: not sent twice
    n.receive(DO, Option.NAWS);
    n.request('remote', Option.SGA, true);
    n.receive(WONT, Option.SGA); // refused: no reply
    n.receive(WONT, Option.SGA);
    assert.deepEqual(sent, [
      [IAC, WILL, Option.NAWS],
      [IAC, DO, Option.SGA],
    ]);
    assert.ok(n.isEnabled('local', Option.NAWS));
    assert.ok(!n.isEnabled('remote', Option.SGA));
    n.receive(DONT, Option.NAWS);
    n.receive(DONT, Option.NAWS);
    assert.deepEqual(sent.slice(2), [[IAC, WONT, Option.NAWS]]);
  });

  it('two negotiators wired to each other settle without looping', () => {
    const aOut: Buffer[] = [];
    const bOut: Buffer[] = [];
    const a = new OptionNegotiator(policy, (x) => aOut.push(x));
    const peer = new OptionNegotiator({ local: new Set([Option.ECHO, Option.SGA]), remote: new Set([Option.TTYPE]) }, (x) => bOut.push(x));
    a.request('local', Option.TTYPE, true);
    a.request('local', Option.NAWS, true);
    peer.request('remote', Option.TTYPE, true);
    peer.request('local', Option.ECHO, true);
    let rounds = 0;
    while ((aOut.length || bOut.length) && rounds++ < 20) {
      for (const m of aOut.splice(0)) peer.receive(m[1] as typeof DO, m[2]!);
      for (const m of bOut.splice(0)) a.receive(m[1] as typeof DO, m[2]!);
    }
    assert.ok(rounds < 20, 'negotiation looped');
    assert.ok(a.isEnabled('local', Option.TTYPE) && a.isEnabled('remote', Option.ECHO) && !a.isEnabled('local', Option.NAWS));
  });
});

describe('telnet encoding', () => {
  it('escapes IAC and sends a bare CR as CR NUL', () => {
    assert.deepEqual([...encodeKeystrokes(b('a', 0xff, '\r', 'b\r\nc\r'), false)], [...b('a', 0xff, 0xff, '\r', 0, 'b\r\nc\r', 0)]);
    assert.deepEqual([...encodeKeystrokes(b('a', 0xff, '\r'), true)], [...b('a', 0xff, 0xff, '\r')]);
  });
  it('ends a typed line with a bare CR in BINARY, with CR LF in NVT, and refuses 8-bit text in NVT', () => {
    const utf8 = 'pw-\u00dc\u20ac';
    assert.deepEqual([...encodeLine(utf8, true)!], [...Buffer.from(utf8, 'utf8'), 0x0d]);
    assert.equal(encodeLine(utf8, false), null);
    assert.deepEqual([...encodeLine('pw-1', false)!], [...b('pw-1\r\n')]);
    assert.deepEqual([...encodeLine('pw-1', true)!], [...b('pw-1\r')]);
  });
  it('builds NAWS and TTYPE IS, escaping 255 in the payload', () => {
    assert.deepEqual([...nawsMessage(255, 70000)], [IAC, SB, Option.NAWS, 0, 255, 255, 255, 255, 255, 255, IAC, SE]);
    assert.deepEqual([...ttypeIsMessage('vt100')], [...b(IAC, SB, Option.TTYPE, 0, 'vt100', IAC, SE)]);
  });
});

const PW = 'Fake-Pw-\u00e9\u00ff-77';
const fakeOpts = (port: number, extra: Partial<TelnetLoginOptions> = {}): TelnetLoginOptions => ({
  host: '127.0.0.1', port, username: 'alice', password: PW, cols: 80, rows: 24, loginTimeoutMs: 5000, ...extra,
});

function collect(s: TelnetSession): { all: () => Buffer; waitFor: (re: RegExp, ms?: number) => Promise<string> } {
  const chunks: Buffer[] = [];
  let notify: (() => void) | undefined;
  s.on('data', (d: Buffer) => {
    chunks.push(d);
    notify?.();
  });
  const all = () => Buffer.concat(chunks);
  return {
    all,
    async waitFor(re, ms = 10_000) {
      const deadline = Date.now() + ms;
      for (;;) {
        const text = all().toString('utf8');
        const m = text.match(re);
        if (m) return m[0];
        const left = deadline - Date.now();
        if (left <= 0) throw new Error(`timed out waiting for ${re}; got ${JSON.stringify(text.slice(-500))}`);
        await new Promise<void>((r) => {
          const t = setTimeout(r, left);
          notify = () => {
            clearTimeout(t);
            r();
          };
        });
      }
    },
  };
}

async function expectLoginError(p: Promise<TelnetSession>, reason: TelnetLoginError['reason']): Promise<TelnetLoginError> {
  try {
    const s = await p;
    s.close();
  } catch (e) {
    assert.ok(e instanceof TelnetLoginError, `not a TelnetLoginError: ${e}`);
    assert.equal(e.reason, reason, e.message);
    return e;
  }
  assert.fail(`expected TelnetLoginError ${reason}, the login succeeded`);
}

/** A TelnetEngine with no socket: what it sends and reports is kept for the test. */
function engineUnderTest(extra: Partial<TelnetEngineOptions> = {}) {
  const sent: Buffer[] = [];
  const out: Buffer[] = [];
  let outcome: { ok: true; initialOutput: string } | { ok: false; reason: string; message: string } | undefined;
  const e = new TelnetEngine(
    {
      username: 'alice', password: PW, term: 'vt100', cols: 80, rows: 24,
      loginPrompt: DEFAULT_LOGIN_PROMPT, passwordPrompt: DEFAULT_PASSWORD_PROMPT, failurePattern: DEFAULT_FAILURE_PATTERN,
      ...extra,
    },
    {
      send: (bytes) => (sent.push(bytes), true),
      loggedIn: (initialOutput) => (outcome = { ok: true, initialOutput: initialOutput.toString('utf8') }),
      failed: (reason, message) => (outcome = { ok: false, reason, message }),
      data: (bytes) => out.push(bytes),
    },
  );
  return {
    e,
    /** What was sent since the last call. */
    sent: () => [...Buffer.concat(sent.splice(0))],
    out: () => [...Buffer.concat(out.splice(0))],
    outcome: () => outcome,
    /** Target output, then the dialogue's settle time. */
    target(...parts: (number | string | Buffer)[]) {
      e.receive(b(...parts));
      mock.timers.tick(200);
    },
  };
}

const OFFERS = [IAC, WILL, Option.TTYPE, IAC, WILL, Option.NAWS, IAC, DO, Option.SGA, IAC, WILL, Option.BINARY, IAC, DO, Option.BINARY];
const utf8 = (s: string) => Buffer.from(s, 'utf8');

describe('telnet engine (no socket): BINARY and the typed credential', () => {
  beforeEach(() => mock.timers.enable({ apis: ['setTimeout'] }));
  afterEach(() => mock.timers.reset());

  it('offers BINARY both ways; when the target agrees, the credential goes out as UTF-8 ending in a bare CR', () => {
    const t = engineUnderTest();
    t.e.start();
    assert.deepEqual(t.sent(), OFFERS);
    t.e.receive(b(IAC, DO, Option.BINARY, IAC, WILL, Option.BINARY));
    assert.deepEqual(t.sent(), [], 'answers to our own offers are not answered again');
    assert.ok(t.e.binary('local') && t.e.binary('remote'));
    t.target('login: ');
    assert.deepEqual(t.sent(), [...b('alice\r')]); // CR LF would reach the pty as two line ends
    t.target('Password: ');
    assert.deepEqual(t.sent(), [...utf8(PW), 0x0d]);
    t.target('\r\n', utf8('Grüß\r\n$ '));
    assert.deepEqual(t.outcome(), { ok: true, initialOutput: 'Grüß\r\n$ ' });
    // Keystrokes: IAC doubled, CR not padded, UTF-8 unchanged.
    t.e.write(b('x', 0xff, '\r', utf8('é')));
    assert.deepEqual(t.sent(), [...b('x', 0xff, 0xff, '\r', utf8('é'))]);
    // Output in BINARY: a NUL after CR is data, IAC IAC one 0xFF, UTF-8 untouched.
    t.e.receive(b('a\r', 0, IAC, IAC, utf8('ü')));
    assert.deepEqual(t.out(), [...b('a\r', 0, 0xff, utf8('ü'))]);
  });

  it('a target that refuses BINARY gets no non-ASCII password: the login fails as binary_refused', () => {
    const t = engineUnderTest();
    t.e.start();
    t.sent();
    t.e.receive(b(IAC, DONT, Option.BINARY, IAC, WONT, Option.BINARY));
    assert.deepEqual(t.sent(), [], 'a refusal of our offer is not answered');
    assert.ok(!t.e.binary('local') && !t.e.binary('remote'));
    t.target('login: ');
    assert.deepEqual(t.sent(), [...b('alice\r\n')]); // NVT newline
    t.target('Password: ');
    assert.deepEqual(t.sent(), [], 'nothing of the password was sent');
    assert.deepEqual(t.outcome(), {
      ok: false,
      reason: 'binary_refused',
      message: 'the Telnet target does not accept 8-bit input (Telnet BINARY refused); the vaulted password has non-ASCII characters',
    });
    t.target('Password: ');
    assert.deepEqual(t.sent(), []);
  });

  it('names the user name when that is what is not 7-bit', () => {
    const t = engineUnderTest({ username: 'jürgen', password: 'ascii' });
    t.e.start();
    t.e.receive(b(IAC, DONT, Option.BINARY));
    t.sent();
    t.target('login: ');
    assert.deepEqual(t.sent(), []);
    assert.match((t.outcome() as { message: string }).message, /the vaulted user name has non-ASCII characters$/);
  });

  it('an ASCII password works with a target that refuses BINARY, in NVT form (CR LF; keystrokes CR NUL)', () => {
    const t = engineUnderTest({ password: 'Ascii-Pw-1' });
    t.e.start();
    t.e.receive(b(IAC, DONT, Option.BINARY, IAC, WONT, Option.BINARY));
    t.sent();
    t.target('login: ');
    t.target('Password: ');
    assert.deepEqual(t.sent(), [...b('alice\r\nAscii-Pw-1\r\n')]);
    t.target('\r\n$ ');
    assert.deepEqual(t.outcome(), { ok: true, initialOutput: '$ ' });
    t.e.write(b('ls\r', 0xff));
    assert.deepEqual(t.sent(), [...b('ls\r', 0, 0xff, 0xff)]);
    t.e.receive(b('a\r', 0, 'b'));
    assert.deepEqual(t.out(), [...b('a\rb')]); // CR NUL is NVT padding
  });

  it('a line waits for the answer to the BINARY offer, and goes out as soon as it comes', () => {
    const t = engineUnderTest();
    t.e.start();
    t.sent();
    t.target('login: ');
    mock.timers.tick(1000);
    assert.deepEqual(t.sent(), [], 'typed before the mode was known');
    t.e.receive(b(IAC, DO, Option.BINARY));
    assert.deepEqual(t.sent(), [...b('alice\r')]);
  });

  it('a target that never answers: after binaryWaitMs lines go out as NVT text, and a non-ASCII password is refused', () => {
    const t = engineUnderTest({ binaryWaitMs: 3000 });
    t.e.start();
    t.sent();
    t.target('login: '); // the wait starts when the line is due
    mock.timers.tick(2999);
    assert.deepEqual(t.sent(), []);
    mock.timers.tick(1);
    assert.deepEqual(t.sent(), [...b('alice\r\n')]);
    t.target('Password: '); // no second wait
    assert.deepEqual(t.sent(), []);
    assert.equal((t.outcome() as { reason?: string } | undefined)?.reason, 'binary_refused');
  });

  it('acknowledges a target that stops sending in BINARY (as inetutils telnetd does when OPOST is on); CR NUL is padding again', () => {
    const t = engineUnderTest();
    t.e.start();
    t.e.receive(b(IAC, DO, Option.BINARY, IAC, WILL, Option.BINARY));
    t.sent();
    t.e.receive(b(IAC, WONT, Option.BINARY));
    assert.deepEqual(t.sent(), [IAC, DONT, Option.BINARY]);
    assert.ok(t.e.binary('local') && !t.e.binary('remote'));
    t.target('login: ');
    t.target('Password: ');
    assert.deepEqual(t.sent(), [...b('alice\r'), ...utf8(PW), 0x0d], 'what we send is still BINARY');
    t.target('\r\n$ ');
    t.e.receive(b('a\r', 0, 'b'));
    assert.deepEqual(t.out(), [...b('a\rb')]);
  });
});

describe('telnet client against scripted targets', () => {
  it('withholds and redacts a password the target echoes, and encodes keystrokes', async () => {
    const t = await fakeTelnetTarget(async (sock, lines) => {
      sock.write('Welcome\r\nUsername: ');
      const user = (await lines.next()).value as string;
      sock.write(`${user}\r\nPassword: `);
      const pw = (await lines.next()).value as string;
      sock.write(`${pw}\r\nhello ${user}, you typed ${pw}\r\nrouter> `); // a careless target
    });
    try {
      const s = await openTelnet(fakeOpts(t.port));
      const out = s.initialOutput.toString('utf8');
      assert.ok(out.includes('hello alice'), out);
      assert.ok(out.endsWith('router> '), out);
      assert.ok(!out.includes('Welcome') && !out.includes('Username'), 'pre-login output leaked');
      assert.equal(s.initialOutput.indexOf(Buffer.from(PW, 'utf8')), -1);
      // The target agreed to BINARY: IAC doubled, Enter's CR unpadded.
      const before = t.received().length;
      s.write(b('x', 0xff, '\r'));
      for (let i = 0; i < 50 && t.received().length < before + 4; i++) await new Promise((r) => setTimeout(r, 20));
      assert.deepEqual([...t.received().subarray(before)], [...b('x', 0xff, 0xff, '\r')]);
      s.close();
    } finally {
      await t.close();
    }
  });

  it('handles a target that asks only for a password, in one-byte chunks', async () => {
    const t = await fakeTelnetTarget(async (sock, lines) => {
      for (const ch of Buffer.from('\r\nUser Access Verification\r\n\r\nPassword: ')) {
        sock.write(Buffer.from([ch]));
        await new Promise((r) => setTimeout(r, 2));
      }
      const pw = (await lines.next()).value as string;
      if (pw === PW) sock.write('\r\nswitch#');
    });
    try {
      const s = await openTelnet(fakeOpts(t.port));
      assert.equal(s.initialOutput.toString(), 'switch#');
      s.close();
    } finally {
      await t.close();
    }
  });

  it('reports a repeated login prompt as rejected, silence as timeout, a hang-up as closed', async () => {
    const again = await fakeTelnetTarget(async (sock, lines) => {
      sock.write('login: ');
      await lines.next();
      sock.write('Password: ');
      await lines.next();
      await new Promise((r) => setTimeout(r, 300));
      sock.write('\r\n\r\nlogin: ');
    });
    const silent = await fakeTelnetTarget(async () => {});
    const hangup = await fakeTelnetTarget(async (sock, lines) => {
      sock.write('login: ');
      await lines.next();
      sock.end();
    });
    try {
      await expectLoginError(openTelnet(fakeOpts(again.port)), 'rejected');
      // The login timer ends the silence: the error's kind says it was the timeout.
      await expectLoginError(openTelnet(fakeOpts(silent.port, { loginTimeoutMs: 500 })), 'timeout');
      await expectLoginError(openTelnet(fakeOpts(hangup.port)), 'closed');
    } finally {
      await Promise.all([again.close(), silent.close(), hangup.close()]);
    }
  });

  it('refuses to type a non-ASCII password to a target that refuses BINARY; an ASCII one still works in NVT form', async () => {
    const script = async (sock: net.Socket, lines: AsyncGenerator<string>) => {
      sock.write('login: ');
      await lines.next();
      sock.write('Password: ');
      if ((await lines.next()).value === 'Ascii-Pw-1') sock.write('\r\n$ ');
    };
    const refusing = await fakeTelnetTarget(script, { binary: 'refuse' });
    const silent = await fakeTelnetTarget(script, { binary: 'ignore' });
    const typed = (t: { received(): Buffer }) =>
      Buffer.concat(new TelnetParser().push(t.received()).flatMap((e) => (e.type === 'data' ? [e.data] : [])));
    try {
      const e = await expectLoginError(openTelnet(fakeOpts(refusing.port)), 'binary_refused');
      assert.equal(e.message, 'the Telnet target does not accept 8-bit input (Telnet BINARY refused); the vaulted password has non-ASCII characters');
      // Only the user name went out, as NVT text; no byte of the password, whole or stripped.
      assert.deepEqual(typed(refusing).toString('latin1'), 'alice\r\n');
      // A target that never answers is treated alike once the wait is over.
      await expectLoginError(openTelnet(fakeOpts(silent.port, { binaryWaitMs: 300 })), 'binary_refused');
      assert.deepEqual(typed(silent).toString('latin1'), 'alice\r\n');

      const s = await openTelnet(fakeOpts(refusing.port, { password: 'Ascii-Pw-1' }));
      assert.equal(s.initialOutput.toString(), '$ ');
      const before = refusing.received().length;
      s.write(b('ls\r'));
      for (let i = 0; i < 50 && refusing.received().length < before + 4; i++) await new Promise((r) => setTimeout(r, 20));
      assert.deepEqual([...refusing.received().subarray(before)], [...b('ls\r', 0)]); // NVT: a bare CR is CR NUL
      s.close();
    } finally {
      await Promise.all([refusing.close(), silent.close()]);
    }
  });

  it('reports a refused connection as connect', async () => {
    const probe = net.createServer();
    await new Promise<void>((r) => probe.listen(0, '127.0.0.1', r));
    const port = (probe.address() as net.AddressInfo).port;
    await new Promise<void>((r) => probe.close(() => r()));
    await expectLoginError(openTelnet(fakeOpts(port)), 'connect');
  });
});

describe('telnet client against inetutils telnetd', () => {
  let telnetd: TelnetdHandle;
  let account: { username: string; password: string };
  before(async () => {
    account = ensureTargetAccount();
    telnetd = await startTelnetd();
  });
  after(async () => telnetd?.stop());

  const login = (extra: Partial<TelnetLoginOptions> = {}) =>
    openTelnet({ host: '127.0.0.1', port: telnetd.port, username: account.username, password: account.password, cols: 101, rows: 37, ...extra });

  it('logs in and runs commands; size, resize and TERM reach the shell; the password never shows', async () => {
    const s = await login({ term: 'vt220' });
    const out = collect(s);
    const closed = new Promise<unknown>((r) => s.once('close', r));
    try {
      assert.match(s.initialOutput.toString('utf8'), /[$#]\s*$/);
      s.write(Buffer.from('echo hello-$((6*7))\r'));
      await out.waitFor(/hello-42/);
      s.write(Buffer.from('whoami\r'));
      await out.waitFor(new RegExp(`[\\r\\n]${account.username}\\r\\n`)); // bash may put an escape and CR before it
      s.write(Buffer.from('stty size\r'));
      await out.waitFor(/[\r\n]37 101\r\n/);
      s.resize(132, 50);
      s.write(Buffer.from('stty size\r'));
      await out.waitFor(/[\r\n]50 132\r\n/);
      s.write(Buffer.from('echo "term=[$TERM]"\r'));
      await out.waitFor(/term=\[vt220\]/);
      s.write(Buffer.from('exit\r'));
      assert.equal(typeof (await closed), 'string');
    } finally {
      s.close();
    }
    const pw = Buffer.from(account.password, 'utf8');
    assert.equal(s.initialOutput.indexOf(pw), -1, 'password in initialOutput');
    assert.equal(out.all().indexOf(pw), -1, 'password in a data event');
  });

  it('sends the default terminal type', async () => {
    const s = await login();
    const out = collect(s);
    try {
      s.write(Buffer.from('echo "term=[$TERM]"\r'));
      await out.waitFor(/term=\[xterm-256color\]/);
    } finally {
      s.close();
    }
  });

  it('does not lose output produced before the caller listens', async () => {
    const s = await login();
    s.write(Buffer.from('echo early-$((40+2))\r'));
    await new Promise((r) => setTimeout(r, 500));
    const out = collect(s);
    try {
      await out.waitFor(/early-42/);
    } finally {
      s.close();
    }
  });

  it('logs in with a non-ASCII (UTF-8) password: BINARY keeps the eighth bit; UTF-8 goes both ways', async () => {
    // Without BINARY, telnetd's pty strips the eighth bit: Ü (C3 9C) would arrive as C ^\ and quit login.
    const acct = ensureLocalAccount('ghtnutf8', `Tn-\u00dcn\u00efc\u00f8d\u00e9-\u20ac-${randomBytes(4).toString('hex')}`);
    const s = await login({ username: acct.username, password: acct.password });
    const out = collect(s);
    try {
      s.write(Buffer.from('whoami\r'));
      await out.waitFor(/[\r\n]ghtnutf8\r\n/);
      // Typed UTF-8 reaches the shell whole; the target's UTF-8 output arrives whole.
      s.write(Buffer.from("printf '%s' '\u00dcn\u00ef\u20ac' | od -An -tx1; printf 'out-\\303\\234-\\342\\202\\254\\n'\r", 'utf8'));
      await out.waitFor(/c3 9c 6e c3 af e2 82 ac/);
      await out.waitFor(/out-\u00dc-\u20ac\r\n/);
    } finally {
      s.close();
    }
    const pw = Buffer.from(acct.password, 'utf8');
    assert.equal(s.initialOutput.indexOf(pw), -1, 'password in initialOutput');
    assert.equal(out.all().indexOf(pw), -1, 'password in a data event');
  });

  it('rejects a wrong password within the login timeout, showing nothing', async () => {
    // Recognised as a rejection ('rejected'), not left to run into the login timeout ('timeout').
    const e = await expectLoginError(login({ password: 'not-the-password', loginTimeoutMs: 15_000 }), 'rejected');
    assert.ok(!e.message.includes('not-the-password'));
  });
});
