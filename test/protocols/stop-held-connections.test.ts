// A stop is not held by a connection its client keeps open without a session: an SSH
// connection signed in as `user:secret` that opens no channel (a ControlMaster, `ssh -N`),
// or a download over HTTPS that its client stopped reading. Before, closing the door (or the
// web server) waited for such a connection to close: the stop never reached system.stop, the
// last checkpoint, the audit sinks' drain or the database's close, and the process never
// exited. Now what is still open a moment after the door closes is cut (open-sockets.ts).
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { connect as tlsConnect } from 'node:tls';
import { once } from 'node:events';
import Database from 'better-sqlite3';
import { join } from 'node:path';
import ssh2 from 'ssh2';
import { startGateway, type Gateway } from '../support/gateway.js';
import { ADMIN_PASSWORD } from '../support/harness.js';
import { createSecret } from '../support/ssh-client.js';

/** Settles with `p`, or rejects once `ms` have passed: a hang fails the test instead of holding the run. */
const within = <T>(p: Promise<T>, ms: number, what: string) =>
  Promise.race([p, new Promise<never>((_, reject) => setTimeout(() => reject(new Error(`${what}: not within ${ms / 1000} s`)), ms))]);

describe('a stop is not held by connections kept open without a session', () => {
  let gw: Gateway;
  before(async () => {
    gw = await startGateway('sqlite');
    await createSecret(gw, 'held-box', { port: 1, password: 'target-pw' });
  });
  // The stop is over by then (stop() a second time does nothing); the data dir goes.
  after(async () => gw?.close());

  it('an SSH connection signed in with no channel, and a download nobody reads: the drain ends, system.stop is written', async () => {
    // Signed in (the door's `ready`), then nothing: no channel, no session.
    const conn = new ssh2.Client();
    const ended = once(conn, 'close');
    conn.on('error', () => undefined);
    conn.connect({ host: '127.0.0.1', port: gw.sshPort, username: 'admin:held-box', password: ADMIN_PASSWORD, hostVerifier: () => true, readyTimeout: 20_000 });
    await once(conn, 'ready');

    // An audit export of ~16 MiB, downloaded by a client that reads the answer's first bytes and stops.
    // (A recording download is cut earlier in the stop, when the recording storage stops.)
    const core = gw.running.core;
    const pad = 'x'.repeat(2000);
    for (let i = 0; i < 8; i++) await Promise.all(Array.from({ length: 1000 }, (_, j) => core.audit.record({ id: null, name: 'filler' }, { action: 'test.filler', details: { pad, n: i * 1000 + j } })));
    const port = Number(new URL(gw.running.url).port);
    const tls = tlsConnect({ host: '127.0.0.1', port, rejectUnauthorized: false });
    tls.on('error', () => undefined);
    await once(tls, 'secureConnect');
    tls.write(`GET /api/v1/audit/export HTTP/1.1\r\nhost: x\r\nauthorization: Bearer ${gw.adminToken}\r\n\r\n`);
    const [first] = (await once(tls, 'data')) as [Buffer];
    assert.match(first.toString('latin1'), /^HTTP\/1\.1 200/);
    tls.pause();

    // Bounded well below the request's own timeout: a hang fails here.
    await within(gw.running.drain(0), 30_000, 'the drain and stop');
    await within(ended, 10_000, 'the SSH connection cut');
    // Read what reached this side before the cut: the answer ends short of the recording.
    let got = first.length;
    tls.on('data', (d: Buffer) => (got += d.length));
    const tlsClosed = once(tls, 'close');
    tls.resume();
    await within(tlsClosed, 10_000, 'the HTTPS connection cut');
    assert.ok(got < 8000 * 2000, `${got} bytes of the download arrived: it was cut`);
    const db = new Database(join(gw.dataDir, 'gatehouse.db'), { readonly: true });
    try {
      const last = db.prepare('select action from audit_events order by seq desc limit 2').all() as { action: string }[];
      assert.ok(last.some((r) => r.action === 'system.stop'), JSON.stringify(last));
    } finally {
      db.close();
    }
  });
});
