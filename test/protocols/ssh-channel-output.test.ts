// The shared output queue of a server session channel (src/protocols/ssh/channel-output.ts)
// between a real ssh2 server and client over loopback: interleaved stdout and stderr under
// window pressure from a reader that starts late and reads slowly, byte-exact on both
// streams with the exit status; writes after the channel closed do not hang. Without the
// queue, ssh2 resumes only stdout after a window adjust (and replays a stale stdout chunk),
// and these exchanges hang or corrupt the streams.
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { createHash, randomBytes } from 'node:crypto';
import { EventEmitter, once } from 'node:events';
import type { AddressInfo } from 'node:net';
import type { Writable } from 'node:stream';
import { setTimeout as sleep } from 'node:timers/promises';
import ssh2, { type ClientChannel, type ServerChannel } from 'ssh2';
import { shareChannelWindow } from '../../src/protocols/ssh/channel-output.js';
import { ConnectionGuard } from '../../src/protocols/ssh/guard.js';

const sha = (b: Buffer) => createHash('sha256').update(b).digest('hex');

/** Writes honouring backpressure: waits for 'drain' when write() says so. */
async function put(w: Writable, data: Buffer): Promise<void> {
  if (!w.write(data)) await once(w, 'drain');
}

type Program = (ch: ServerChannel) => Promise<void>;

describe('SSH server channel output (shared window)', () => {
  let server: ssh2.Server;
  let port: number;
  const programs = new Map<string, Program>();

  before(async () => {
    // ssh2's generator makes an unparsable Ed25519 key about once in 170: keep one that parses.
    let hostKey = ssh2.utils.generateKeyPairSync('ed25519').private;
    while (ssh2.utils.parseKey(hostKey) instanceof Error) hostKey = ssh2.utils.generateKeyPairSync('ed25519').private;
    server = new ssh2.Server({ hostKeys: [hostKey] }, (client) => {
      client.on('error', () => undefined);
      client.on('authentication', (ctx) => ctx.accept());
      client.on('session', (accept) => {
        accept().on('exec', (acc, _rej, info) => {
          const ch = acc();
          ch.on('error', () => undefined);
          ch.stderr.on('error', () => undefined);
          shareChannelWindow(ch);
          void programs.get(info.command)!(ch);
        });
      });
    });
    server.listen(0, '127.0.0.1');
    await once(server, 'listening');
    port = (server.address() as AddressInfo).port;
  });
  after(() => new Promise<void>((r) => server.close(() => r())));

  const connect = async (): Promise<ssh2.Client> => {
    const c = new ssh2.Client();
    c.on('error', () => undefined);
    c.connect({ host: '127.0.0.1', port, username: 'u', password: 'p' });
    await once(c, 'ready');
    return c;
  };

  const exec = (c: ssh2.Client, command: string) =>
    new Promise<ClientChannel>((resolve, reject) => c.exec(command, (err, ch) => (err ? reject(err) : resolve(ch))));

  /** Reads both streams of a channel to their end, starting late and pausing between chunks. */
  async function readSlowly(ch: ClientChannel): Promise<{ out: Buffer; err: Buffer; code: number | null }> {
    let code: number | null = null;
    ch.on('exit', (c: number | null) => (code = c));
    const out: Buffer[] = [];
    const err: Buffer[] = [];
    // Nobody reads for a while: the window toward this client runs out with both streams queued.
    await sleep(300);
    const slow = (r: NodeJS.ReadableStream, into: Buffer[]) =>
      new Promise<void>((resolve) => {
        let n = 0;
        r.on('data', (d: Buffer) => {
          into.push(d);
          if (++n % 16 === 0) {
            r.pause();
            setTimeout(() => r.resume(), 5);
          }
        });
        r.on('end', () => resolve());
      });
    await Promise.all([slow(ch, out), slow(ch.stderr, err), once(ch, 'close')]);
    return { out: Buffer.concat(out), err: Buffer.concat(err), code };
  }

  it('interleaved stdout and stderr to a slow reader arrive byte-exact, then the exit status', { timeout: 120_000 }, async () => {
    const stdout = randomBytes(6 * 1024 * 1024);
    const lines: Buffer[] = [];
    programs.set('interleave', async (ch) => {
      for (let off = 0, i = 0; off < stdout.length; off += 100_000, i++) {
        await put(ch, stdout.subarray(off, off + 100_000));
        const line = Buffer.from(`stderr line ${i} ${'x'.repeat(i % 200)}\n`);
        lines.push(line);
        await put(ch.stderr, line);
      }
      ch.stderr.end();
      await once(ch.stderr, 'finish');
      ch.write(Buffer.alloc(0), () => {
        ch.exit(7);
        ch.end();
      });
    });
    const c = await connect();
    try {
      const r = await readSlowly(await exec(c, 'interleave'));
      assert.equal(r.out.length, stdout.length);
      assert.equal(sha(r.out), sha(stdout));
      assert.equal(r.err.toString(), Buffer.concat(lines).toString());
      assert.equal(r.code, 7);
    } finally {
      c.end();
    }
  });

  it('stderr written while stdout waits for the window is not lost or reordered within its stream', { timeout: 120_000 }, async () => {
    // Stderr written without waiting for stdout: both Writables have queued data at once.
    const stdout = randomBytes(5 * 1024 * 1024);
    const stderr = randomBytes(3 * 1024 * 1024);
    programs.set('both-at-once', async (ch) => {
      const a = (async () => {
        for (let off = 0; off < stdout.length; off += 65_536) await put(ch, stdout.subarray(off, off + 65_536));
      })();
      const b = (async () => {
        for (let off = 0; off < stderr.length; off += 40_000) await put(ch.stderr, stderr.subarray(off, off + 40_000));
        ch.stderr.end();
        await once(ch.stderr, 'finish');
      })();
      await Promise.all([a, b]);
      ch.write(Buffer.alloc(0), () => {
        ch.exit(3);
        ch.end();
      });
    });
    const c = await connect();
    try {
      const r = await readSlowly(await exec(c, 'both-at-once'));
      assert.equal(sha(r.out), sha(stdout));
      assert.equal(sha(r.err), sha(stderr));
      assert.equal(r.code, 3);
    } finally {
      c.end();
    }
  });

  it('writes still queued when the client closes the channel complete instead of hanging', { timeout: 60_000 }, async () => {
    let settled: Promise<string> | null = null;
    programs.set('closed-under-me', async (ch) => {
      // Fill the window and the queue, then write more on both streams.
      ch.write(randomBytes(3 * 1024 * 1024));
      settled = Promise.all([new Promise<void>((r) => ch.write(Buffer.from('late stdout'), () => r())), new Promise<void>((r) => ch.stderr.write(Buffer.from('late stderr'), () => r()))]).then(() => 'completed');
    });
    const c = await connect();
    try {
      const ch = await exec(c, 'closed-under-me');
      await sleep(300);
      ch.close();
      await eventuallySet(() => settled);
      assert.equal(await settled, 'completed');
    } finally {
      c.end();
    }
  });
});

async function eventuallySet<T>(get: () => T | null): Promise<T> {
  for (;;) {
    const v = get();
    if (v) return v;
    await sleep(20);
  }
}

describe('SSH connection guard', () => {
  it('turns a throwing listener and an unheard error event into one fault of that connection, not a process crash', () => {
    const faults: string[] = [];
    const errors: string[] = [];
    const g = new ConnectionGuard(
      (err, where) => faults.push(`${where}: ${(err as Error).message}`),
      (err, where) => errors.push(`${where}: ${err.message}`),
    );
    const e = g.watch(new EventEmitter(), 'channel');
    e.on('data', () => {
      throw new Error('bug in a handler');
    });
    assert.doesNotThrow(() => e.emit('data', 1));
    assert.doesNotThrow(() => e.emit('error', new Error('peer vanished')));
    e.emit('data', 2);
    assert.deepEqual(faults, ['channel: bug in a handler']);
    assert.deepEqual(errors, ['channel: peer vanished']);
    assert.equal(g.hasFaulted, true);
  });
});

