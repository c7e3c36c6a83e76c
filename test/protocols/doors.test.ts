// The door contract with the real doors on loopback: a DoorSet starts the SSH, RDP and
// browser terminal doors in order and reports each one's health; when a door cannot start
// (its port is taken) the doors already started are closed again and the error is passed
// on; close stops every door, is safe twice, and ends the browser terminals still open.
import { after, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Writable } from 'node:stream';
import { createLogger } from '../../src/log.js';
import type { SessionBroker } from '../../src/core/broker.js';
import { DoorSet } from '../../src/protocols/doors.js';
import { SshDoor } from '../../src/protocols/ssh/server.js';
import { RdpDoor } from '../../src/protocols/rdp-door/server.js';
import { WebTerminalDoor } from '../../src/protocols/web-terminal.js';
import { loadTls } from '../../src/tls.js';

const log = createLogger({ level: 'silent', stream: new Writable({ write: (_c, _e, cb) => cb() }) });
// No connection reaches these doors, so the broker is never asked.
const broker = {} as SessionBroker;

describe('the door contract', () => {
  const dirs: string[] = [];
  const dataDir = () => {
    const d = mkdtempSync(join(tmpdir(), 'gatehouse-doors-'));
    dirs.push(d);
    return d;
  };
  after(() => {
    for (const d of dirs) rmSync(d, { recursive: true, force: true });
  });

  const doorsOn = async (rdpPort = 0) => {
    const dir = dataDir();
    const tls = await loadTls(dir, {});
    const ssh = new SshDoor({ host: '127.0.0.1', port: 0, dataDir: dir, broker, log });
    const rdp = new RdpDoor({ host: '127.0.0.1', port: rdpPort, key: tls.key, cert: tls.cert, broker, log });
    const web = new WebTerminalDoor();
    return { ssh, rdp, web, set: new DoorSet([web, ssh, rdp]) };
  };

  it('starts every door, reports each one by name, and closes them all (twice is safe)', async () => {
    const { ssh, rdp, web, set } = await doorsOn();
    assert.equal(web.admit(() => undefined), null, 'a door not yet started takes no connection');
    await set.start();
    const h = set.health();
    assert.deepEqual(Object.keys(h), ['web-terminal', 'ssh', 'rdp']);
    assert.equal(h.ssh?.listening, true);
    assert.equal(h.ssh?.port, ssh.port);
    assert.ok(ssh.port > 0 && rdp.port > 0 && ssh.port !== rdp.port);
    assert.equal(h.rdp?.listening, true);
    assert.equal(h.rdp?.port, rdp.port);
    assert.deepEqual(h.ssh?.preauth, { pending: 0, admitted: 0, refusedPerSource: 0, refusedTotal: 0, timedOut: 0 });
    assert.equal(h['web-terminal']?.listening, true);
    assert.ok(ssh.hostKeys.length > 0, 'the SSH door has its host keys once started');

    let ended = 0;
    const leave = web.admit(() => ended++);
    assert.ok(leave);
    assert.equal(web.health().connections, 1);
    await set.close();
    assert.equal(ended, 1, 'closing the door ends the browser terminal it still carries');
    for (const [name, d] of Object.entries(set.health())) assert.equal(d.listening, false, `${name} stopped listening`);
    assert.equal(web.admit(() => undefined), null, 'a closed door takes no connection');
    await set.close();
  });

  it('a door that cannot start: the ones started before it are closed again, the error is passed on', async () => {
    const taken = await doorsOn();
    await taken.set.start();
    try {
      const { ssh, web, set } = await doorsOn(taken.rdp.port);
      await assert.rejects(set.start(), /EADDRINUSE/);
      assert.equal(ssh.health().listening, false, 'the SSH door started before it is closed again');
      assert.equal(web.health().listening, false);
    } finally {
      await taken.set.close();
    }
  });

  it('two doors of one name are refused', () => {
    assert.throws(() => new DoorSet([new WebTerminalDoor(), new WebTerminalDoor()]), /same name/);
  });
});
