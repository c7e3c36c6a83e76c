// Launcher policy and other channel kinds at the SSH door: idle timeout and maximum
// duration, SFTP passthrough with file events, port forwarding (denied by default), and
// the long-lived `ssh user:secret@gatehouse` login with a registered key or a password.
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { chmodSync, readFileSync, writeFileSync } from 'node:fs';
import net from 'node:net';
import { join } from 'node:path';
import { ensureTargetAccount, TARGET_PASSWORD } from '../support/accounts.js';
import { startGateway, type Gateway } from '../support/gateway.js';
import { auditEvents, clientFor, createSecret, endedSession, eventually, interactive, launch, ok, PROMPT, Proc, run, sessionOf, type Client } from '../support/ssh-client.js';
import { freePort, startSshd, waitForPort, type Sshd } from '../support/sshd.js';

/**
 * Connects to a local port and reports the first line that arrives, or that the peer closed.
 * Waits for one or the other, not for a time: under load the forwarded open (client → door
 * → target → banner) can take seconds (CI once gave it more than the 3 s this used to wait).
 * The bound only keeps a broken door from hanging the file.
 */
function probe(port: number, ms = 60_000): Promise<{ data: string; closed: boolean }> {
  return new Promise((resolve) => {
    let data = '';
    const s = net.connect(port, '127.0.0.1');
    const finish = (closed: boolean) => {
      clearTimeout(timer);
      s.destroy();
      resolve({ data, closed });
    };
    const timer = setTimeout(() => finish(false), ms);
    s.on('data', (d: Buffer) => {
      data += d.toString('latin1');
      if (data.includes('\n')) finish(false);
    });
    s.on('close', () => finish(true));
    s.on('error', () => undefined);
  });
}

describe('SSH door policy, SFTP, forwarding and direct logins', () => {
  let sshd: Sshd;
  let gw: Gateway;
  let c: Client;
  let secretId: string;

  before(async () => {
    ensureTargetAccount();
    [sshd, gw] = await Promise.all([startSshd(), startGateway('sqlite')]);
    secretId = await createSecret(gw, 'policy-target', { port: sshd.port, password: TARGET_PASSWORD });
    c = clientFor(gw, (await launch(gw, secretId)).knownHosts);
  });
  after(async () => {
    await gw?.close();
    await sshd?.stop();
  });

  const text = async (sessionId: string): Promise<string[]> => (await ok(gw, 'GET', `/api/v1/recordings/${sessionId}/text`)).items.map((i: any) => i.text);

  it('idle timeout and maximum duration end the session with a message to the person', async () => {
    try {
      await ok(gw, 'PATCH', '/api/v1/launchers/ssh', { idleTimeoutSeconds: 2 });
      const idle = interactive([...c.base(), `${(await launch(gw, secretId)).ticket}@127.0.0.1`]);
      try {
        await idle.waitFor(PROMPT);
        // The idle clock, not the person or the test, ends it: the reason says so, and not before 2 s.
        await idle.waitFor(/idle/, 30_000);
        await idle.done;
        const s = await endedSession(gw, (await sessionOf(gw, secretId)).id);
        assert.match(s.endReason, /idle for 2 s/);
        assert.ok(Date.parse(s.endedAt) - Date.parse(s.startedAt) >= 1900, `ended ${s.startedAt} → ${s.endedAt}`);
      } finally {
        idle.kill();
      }

      await ok(gw, 'PATCH', '/api/v1/launchers/ssh', { idleTimeoutSeconds: 0, maxDurationSeconds: 2 });
      const long = interactive([...c.base(), `${(await launch(gw, secretId)).ticket}@127.0.0.1`]);
      // Busy typing does not keep it alive past the maximum: the maximum ends it, not the idle clock (off).
      const ticker = setInterval(() => long.write('echo busy\r'), 300);
      try {
        await long.waitFor(PROMPT);
        await long.waitFor(/maximum session duration \(2 s\) reached/, 30_000);
        await long.done;
        assert.match(long.all, /busy/);
        const s = await endedSession(gw, (await sessionOf(gw, secretId)).id);
        assert.match(s.endReason, /maximum session duration/);
        assert.ok(Date.parse(s.endedAt) - Date.parse(s.startedAt) >= 1900, `ended ${s.startedAt} → ${s.endedAt}`);
      } finally {
        clearInterval(ticker);
        long.kill();
      }
    } finally {
      await ok(gw, 'PATCH', '/api/v1/launchers/ssh', { idleTimeoutSeconds: 0, maxDurationSeconds: 0 });
    }
  });

  it('SFTP passes through: a 100 KiB upload and download round-trip, with file events in the session text', async () => {
    const name = `gh-sftp-${randomBytes(4).toString('hex')}.bin`;
    const up = join(c.dir, 'up.bin');
    const down = join(c.dir, 'down.bin');
    const content = randomBytes(100 * 1024);
    writeFileSync(up, content);
    const batch = join(c.dir, 'batch');
    writeFileSync(batch, [`put ${up} ${name}`, `get ${name} ${down}`, `rm ${name}`, ''].join('\n'));
    const { ticket } = await launch(gw, secretId);
    const r = await run('sftp', ['-F', '/dev/null', '-b', batch, '-P', String(gw.sshPort), '-o', `UserKnownHostsFile=${c.knownHosts}`, '-o', 'StrictHostKeyChecking=yes', `${ticket}@127.0.0.1`]);
    assert.equal(r.code, 0, r.stdout + r.stderr);
    assert.ok(readFileSync(down).equals(content), 'downloaded bytes equal the uploaded ones');

    const s = await endedSession(gw, (await sessionOf(gw, secretId)).id);
    const events = (await text(s.id)).filter((t) => t.startsWith('sftp ')).map((t) => JSON.parse(t.slice(5)));
    const isFile = (e: any) => typeof e.path === 'string' && e.path.endsWith(`/${name}`);
    assert.ok(events.some((e) => e.op === 'upload' && isFile(e) && e.bytes === 102400), JSON.stringify(events));
    assert.ok(events.some((e) => e.op === 'download' && isFile(e) && e.bytes === 102400), JSON.stringify(events));
    assert.ok(events.some((e) => e.op === 'delete' && isFile(e)), JSON.stringify(events));
    assert.ok((await text(s.id)).includes('subsystem {"name":"sftp"}'));
  });

  it('port forwarding is denied by default and works when the launcher allows it', async () => {
    const forward = async () => {
      const lport = await freePort();
      const { ticket } = await launch(gw, secretId);
      const p = new Proc('ssh', [...c.base(['-o', 'BatchMode=yes', '-o', 'ExitOnForwardFailure=yes']), '-N', '-L', `${lport}:127.0.0.1:${sshd.port}`, `${ticket}@127.0.0.1`]);
      await waitForPort(lport);
      const got = await probe(lport);
      p.kill();
      await p.done;
      const s = await endedSession(gw, (await sessionOf(gw, secretId)).id);
      return { got, text: await text(s.id), client: p.all };
    };

    const denied = await forward();
    // Refused: the client closes the forwarded connection without a byte from the target.
    assert.ok(denied.got.closed && !denied.got.data.includes('SSH-2.0'), JSON.stringify(denied.got));
    assert.ok(denied.text.some((t) => t.startsWith('port_forward_denied') && t.includes(`127.0.0.1:${sshd.port}`)), JSON.stringify(denied.text));
    assert.match(denied.client, /open failed|administratively prohibited/);

    try {
      await ok(gw, 'PATCH', '/api/v1/launchers/ssh', { allowPortForwarding: true });
      const allowed = await forward();
      assert.match(allowed.got.data, /^SSH-2\.0-OpenSSH/, JSON.stringify(allowed.got));
      assert.ok(allowed.text.some((t) => t.startsWith('port_forward ') && t.includes(`127.0.0.1:${sshd.port}`)), JSON.stringify(allowed.text));
    } finally {
      await ok(gw, 'PATCH', '/api/v1/launchers/ssh', { allowPortForwarding: false });
    }
  });

  it('long-lived login as <user>:<secret> with a registered public key, or a password via keyboard-interactive', async () => {
    const boxId = await createSecret(gw, 'alice-box', { port: sshd.port, password: TARGET_PASSWORD });
    const password = `pw-alice-${randomBytes(6).toString('hex')}`;
    await ok(gw, 'POST', '/api/v1/users', { username: 'alice', password, roles: ['user'] }, 201);
    const aliceToken = await gw.userToken('alice', password);
    await ok(gw, 'PUT', `/api/v1/secrets/${boxId}/permissions`, { entries: [{ principalType: 'user', principal: 'alice', level: 'view' }] });

    const key = join(c.dir, 'alice_ed25519');
    const keygen = await run('ssh-keygen', ['-q', '-t', 'ed25519', '-N', '', '-C', 'alice@laptop', '-f', key]);
    assert.equal(keygen.code, 0, keygen.stderr);
    await ok(gw, 'POST', '/api/v1/me/ssh-keys', { name: 'laptop', publicKey: readFileSync(`${key}.pub`, 'utf8').trim() }, 201, aliceToken);

    const dest = 'alice:alice-box@127.0.0.1';
    const byKey = await run('ssh', [...c.base(['-o', 'BatchMode=yes', '-o', 'IdentitiesOnly=yes', '-i', key]), dest, 'whoami']);
    assert.equal(byKey.code, 0, byKey.stderr);
    assert.equal(byKey.stdout, 'ghtarget\n');
    const s = await sessionOf(gw, boxId);
    assert.equal(s.user.username, 'alice');

    // Another key is not alice's.
    const stranger = join(c.dir, 'stranger_ed25519');
    await run('ssh-keygen', ['-q', '-t', 'ed25519', '-N', '', '-f', stranger]);
    const wrongKey = await run('ssh', [...c.base(['-o', 'BatchMode=yes', '-o', 'IdentitiesOnly=yes', '-i', stranger]), dest, 'whoami']);
    assert.equal(wrongKey.code, 255);
    assert.match(wrongKey.stderr, /Permission denied/);

    const askpass = (pw: string) => {
      const file = join(c.dir, `askpass-${randomBytes(3).toString('hex')}.sh`);
      writeFileSync(file, `#!/bin/sh\nprintf '%s\\n' '${pw}'\n`);
      chmodSync(file, 0o700);
      return { SSH_ASKPASS: file, SSH_ASKPASS_REQUIRE: 'force', DISPLAY: ':0' };
    };
    const kbd = ['-o', 'PreferredAuthentications=keyboard-interactive', '-o', 'PubkeyAuthentication=no', '-o', 'NumberOfPasswordPrompts=1'];
    const byPassword = await run('ssh', [...c.base(kbd), dest, 'whoami'], { env: askpass(password) });
    assert.equal(byPassword.code, 0, byPassword.stderr);
    assert.equal(byPassword.stdout, 'ghtarget\n');

    const wrong = await run('ssh', [...c.base(kbd), dest, 'whoami'], { env: askpass('not-the-password') });
    assert.equal(wrong.code, 255, wrong.stdout + wrong.stderr);
    assert.match(wrong.stderr, /Permission denied/);
    assert.equal(wrong.stdout, '');

    // A secret alice cannot see is refused even with the right key.
    const hidden = await run('ssh', [...c.base(['-o', 'BatchMode=yes', '-o', 'IdentitiesOnly=yes', '-i', key]), 'alice:policy-target@127.0.0.1', 'whoami']);
    assert.notEqual(hidden.code, 0);
    assert.equal(hidden.stdout, '');
    await eventually(async () => (await auditEvents(gw, 'ticket.refused')).some((e) => e.details.secret === 'policy-target' && e.details.reason === 'permission_withdrawn'), 5000, 'refusal audited');
  });
});
