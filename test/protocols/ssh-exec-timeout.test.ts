// execFixed (src/protocols/targets/accounts/ssh-exec.ts), the runner of rotation, heartbeat
// and JIT commands on Linux targets, against a real ssh2 server on loopback that logs the
// operator in and then stalls: it never opens the session channel, or opens it and never
// answers the exec request. The command's time limit counted only from the exec reply, so
// such a target held a rotation (and every later request for that secret), a JIT set-up and
// the stop's wait for rotations for ever. Now the limit counts from the request.
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { once } from 'node:events';
import type { AddressInfo } from 'node:net';
import ssh2 from 'ssh2';
import { execFixed } from '../../src/protocols/targets/accounts/ssh-exec.js';

describe('commands on a target that stalls after the login', () => {
  let server: ssh2.Server;
  let port: number;
  /** What the server does with a session channel, by the user name the client logged in with. */
  const stalls = new Set<string>();

  before(async () => {
    let hostKey = ssh2.utils.generateKeyPairSync('ed25519').private;
    while (ssh2.utils.parseKey(hostKey) instanceof Error) hostKey = ssh2.utils.generateKeyPairSync('ed25519').private;
    server = new ssh2.Server({ hostKeys: [hostKey] }, (client) => {
      let user = '';
      client.on('error', () => undefined);
      client.on('authentication', (ctx) => {
        user = ctx.username;
        ctx.accept();
      });
      client.on('session', (accept) => {
        if (user === 'no-channel') return; // neither accepted nor refused: the open waits
        const session = accept();
        session.on('exec', (acc, _rej, info) => {
          if (user === 'no-exec-reply') return stalls.add(info.command); // the exec request waits
          const ch = acc();
          ch.on('error', () => undefined);
          ch.stdout.write('ran\n');
          ch.exit(0);
          ch.end();
        });
      });
    });
    server.listen(0, '127.0.0.1');
    await once(server, 'listening');
    port = (server.address() as AddressInfo).port;
  });
  after(() => new Promise<void>((r) => server.close(() => r())));

  const login = async (username: string): Promise<ssh2.Client> => {
    const c = new ssh2.Client();
    c.on('error', () => undefined);
    c.connect({ host: '127.0.0.1', port, username, password: 'p' });
    await once(c, 'ready');
    return c;
  };

  for (const user of ['no-channel', 'no-exec-reply']) {
    it(`${user}: the command fails as not finished in time`, { timeout: 20_000 }, async () => {
      const c = await login(user);
      try {
        await assert.rejects(execFixed(c, 'id -u', '', 500), /did not finish in time/);
      } finally {
        c.end();
      }
    });
  }

  it('a target that answers still runs the command to its end', async () => {
    const c = await login('answers');
    try {
      const r = await execFixed(c, 'id -u', '', 5_000);
      assert.deepEqual({ code: r.code, stdout: r.stdout }, { code: 0, stdout: 'ran\n' });
    } finally {
      c.end();
    }
  });
});
