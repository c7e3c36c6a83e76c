// The SSH door's relay end to end, stock OpenSSH client → Gatehouse → real sshd:
// interleaved stdout/stderr to slow readers with the exit status delivered (the freeze of
// issue 9), 30 parallel sessions byte-exact on both streams, terminate at every stage of a
// session with the node still serving afterwards, and truthful session records (the end
// reason when the target refuses the vaulted credential, the recording header's env).
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { createHash, randomBytes } from 'node:crypto';
import { once } from 'node:events';
import { chmodSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { request } from 'node:https';
import { createServer, type AddressInfo, type Server, type Socket } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import ssh2 from 'ssh2';
import { ensureTargetAccount, TARGET_PASSWORD } from '../support/accounts.js';
import { startGateway, type Gateway } from '../support/gateway.js';
import { auditEvents, clientFor, createSecret, endedSession, eventually, interactive, launch, ok, PROMPT, run, sessionOf, type Client, type Done } from '../support/ssh-client.js';
import { startSshd, type Sshd } from '../support/sshd.js';

const sha = (b: Buffer | string) => createHash('sha256').update(b).digest('hex');
const shq = (s: string) => `'${s.replace(/'/g, `'\\''`)}'`;

describe('SSH door relay', () => {
  let sshd: Sshd;
  let gw: Gateway;
  let c: Client;
  let secret: string;
  /** Holds the interleaving test's data, readable by the target account. */
  const dataDir = mkdtempSync(join(tmpdir(), 'gh-relay-data-'));

  before(async () => {
    ensureTargetAccount();
    chmodSync(dataDir, 0o755);
    // 30 sessions log in at once from one address: more than sshd's and the door's default
    // MaxStartups (10 per source) let through.
    [sshd, gw] = await Promise.all([startSshd(['MaxStartups 100', 'MaxSessions 100']), startGateway('sqlite', { GATEHOUSE_MAX_STARTUPS_PER_SOURCE: '100' })]);
    secret = await createSecret(gw, 'relay-target', { port: sshd.port, password: TARGET_PASSWORD });
    c = clientFor(gw, (await launch(gw, secret)).knownHosts);
  });
  after(async () => {
    await gw?.close();
    await sshd?.stop();
    rmSync(dataDir, { recursive: true, force: true });
  });

  /** `ssh <ticket>@gateway <remote>` inside a bash pipeline; `timeout` kills the whole group if it hangs. */
  const viaSsh = async (pipeline: (ssh: string) => string, secretId = secret, limitS = 120): Promise<Done> => {
    const { ticket } = await launch(gw, secretId);
    const ssh = ['ssh', ...c.base(['-o', 'BatchMode=yes']), `${ticket}@127.0.0.1`].map(shq).join(' ');
    return run('timeout', ['-k', '5', String(limitS), 'bash', '-c', pipeline(ssh)], { timeoutMs: (limitS + 20) * 1000 });
  };

  // The gateway runs in this process, where the test runner catches what would have killed
  // a real node (an uncaught exception, e.g. an 'error' event without a listener): count them.
  const crashes: Error[] = [];
  const onCrash = (err: Error) => crashes.push(err);
  process.on('uncaughtException', onCrash);
  after(() => void process.off('uncaughtException', onCrash));

  /** The node still serves: nothing would have crashed it, HTTPS /healthz answers over a real socket, and a new SSH session runs. */
  const stillServing = async () => {
    assert.deepEqual(crashes.map((e) => e.message), [], 'an uncaught exception would have ended the node');
    const health = await new Promise<{ status: number; body: string }>((resolve, reject) => {
      const req = request(`${gw.running.url}/healthz`, { rejectUnauthorized: false }, (res) => {
        let body = '';
        res.on('data', (d: Buffer) => (body += d.toString()));
        res.on('end', () => resolve({ status: res.statusCode ?? 0, body }));
      });
      req.on('error', reject);
      req.end();
    });
    assert.equal(health.status, 200, health.body);
    assert.equal(JSON.parse(health.body).status, 'ok');
    const r = await viaSsh((ssh) => `${ssh} 'echo alive-$((40+2))'`);
    assert.equal(r.code, 0, r.stderr);
    assert.equal(r.stdout, 'alive-42\n');
  };

  const sessionIds = async (secretId: string) => new Set<string>((await ok(gw, 'GET', `/api/v1/sessions?secretId=${secretId}&limit=500`)).items.map((i: any) => i.id));
  /** The live session that is not among `known` (the one just started). */
  const newLiveSession = (known: Set<string>, secretId = secret) =>
    eventually(async () => (await ok(gw, 'GET', `/api/v1/sessions?status=live&secretId=${secretId}&limit=500`)).items.find((i: any) => !known.has(i.id)), 30_000, 'the new live session');
  const terminate = (id: string, reason: string) => ok(gw, 'POST', `/api/v1/sessions/${id}/terminate`, { reason });
  const eventText = async (id: string, prefix: string) => (await ok(gw, 'GET', `/api/v1/recordings/${id}/text`)).items.find((i: any) => i.kind === 'event' && i.text.startsWith(prefix));

  it('the reproduction: 10,000,000 bytes of stdout to a reader that starts late, a stderr line meanwhile, exit status 7', { timeout: 180_000 }, async () => {
    const r = await viaSsh((ssh) => `${ssh} 'head -c 10000000 /dev/zero & sleep 1; echo STDERR-LINE >&2; wait; exit 7' | (sleep 3; wc -c); echo "status=\${PIPESTATUS[0]}"`);
    assert.notEqual(r.code, 124, `the pipeline hung: ${r.stdout} ${r.stderr}`);
    assert.equal(r.stdout, '10000000\nstatus=7\n');
    assert.equal(r.stderr, 'STDERR-LINE\n');
    const s = await endedSession(gw, (await sessionOf(gw, secret)).id);
    assert.equal(s.endReason, 'client disconnected');
    assert.match((await eventText(s.id, 'target_exit'))?.text ?? '', /"code":7/);
  });

  it('30 parallel sessions with interleaved stdout and stderr arrive byte-exact on both streams, with their exit status', { timeout: 480_000 }, async () => {
    // 50 chunks of 100,000 bytes on stdout, each followed by 20,000 bytes on stderr; every
    // session reads the chunks in its own rotation, so crossed streams would show.
    const CHUNKS = 50;
    const out = randomBytes(CHUNKS * 100_000);
    const err = randomBytes(CHUNKS * 20_000);
    for (const [name, data] of [['out.bin', out], ['err.bin', err]] as const) {
      writeFileSync(join(dataDir, name), data);
      chmodSync(join(dataDir, name), 0o644); // whatever the umask: the target account reads it
    }
    const remote = (k: number) =>
      `for i in $(seq 0 ${CHUNKS - 1}); do j=$(( (i + ${k}) % ${CHUNKS} )); ` +
      `dd if=${dataDir}/out.bin bs=100000 skip=$j count=1 status=none; dd if=${dataDir}/err.bin bs=20000 skip=$j count=1 status=none >&2; done; exit 3`;
    const expected = (k: number) => {
      const order = Array.from({ length: CHUNKS }, (_, i) => (i + k) % CHUNKS);
      return {
        out: sha(Buffer.concat(order.map((j) => out.subarray(j * 100_000, (j + 1) * 100_000)))),
        err: sha(Buffer.concat(order.map((j) => err.subarray(j * 20_000, (j + 1) * 20_000)))),
      };
    };
    const N = 30;
    const results = await Promise.all(
      Array.from({ length: N }, (_, k) =>
        // A reader that starts a second late: the window runs out with both streams queued.
        viaSsh((ssh) => `${ssh} ${shq(remote(k))} 2>${dataDir}/stderr.${k} | (sleep 1; sha256sum); echo "status=\${PIPESTATUS[0]}"`, secret, 420),
      ),
    );
    const bad: string[] = [];
    results.forEach((r, k) => {
      const want = expected(k);
      const gotErr = sha(readFileSync(join(dataDir, `stderr.${k}`)));
      const want1 = `${want.out}  -\nstatus=3\n`;
      if (r.code !== 0 || r.stdout !== want1 || gotErr !== want.err) bad.push(`session ${k}: code ${r.code}, stdout ${JSON.stringify(r.stdout)}, stderr ${gotErr === want.err ? 'ok' : `differs: ${JSON.stringify(readFileSync(join(dataDir, `stderr.${k}`)).subarray(0, 160).toString('latin1'))}`} ${r.stderr.slice(0, 200)}`);
    });
    assert.deepEqual(bad, []);
    await stillServing();
  });

  describe('terminate at every stage', () => {
    it('right after authentication, before any channel: the connection ends and the node serves on', { timeout: 120_000 }, async () => {
      const known = await sessionIds(secret);
      const { ticket } = await launch(gw, secret);
      const conn = new ssh2.Client();
      conn.on('error', () => undefined);
      const closed = once(conn, 'close');
      conn.connect({ host: '127.0.0.1', port: gw.sshPort, username: ticket, hostVerifier: () => true, readyTimeout: 30_000 });
      await once(conn, 'ready');
      const s = await newLiveSession(known);
      assert.deepEqual(await terminate(s.id, 'at handshake'), { terminated: true });
      await closed;
      const ended = await endedSession(gw, s.id);
      assert.equal(ended.endReason, 'terminated by admin: at handshake');
      await stillServing();
    });

    it('while the target is still being reached: the person gets the reason, the late target connection is dropped', { timeout: 120_000 }, async () => {
      // A target that accepts TCP and never speaks SSH: the door waits in its connect.
      const held = new Set<Socket>();
      const silent: Server = createServer((sock) => {
        held.add(sock);
        sock.on('error', () => undefined);
      });
      silent.listen(0, '127.0.0.1');
      await once(silent, 'listening');
      try {
        const slowSecret = await createSecret(gw, 'relay-silent-target', { port: (silent.address() as AddressInfo).port, password: TARGET_PASSWORD });
        const accepted = once(silent, 'connection');
        const pending = viaSsh((ssh) => `${ssh} 'echo never'`, slowSecret);
        await accepted;
        const s = await newLiveSession(new Set(), slowSecret);
        await terminate(s.id, 'while connecting');
        const r = await pending;
        assert.notEqual(r.code, 0);
        assert.equal(r.stdout, '');
        assert.match(r.stderr, /\[gatehouse\] terminated by admin: while connecting/);
        assert.equal((await endedSession(gw, s.id)).endReason, 'terminated by admin: while connecting');
        await stillServing();
      } finally {
        for (const s of held) s.destroy();
        silent.close();
      }
    });

    it('mid-relay with a reader that never reads: the session ends and the connection is dropped', { timeout: 120_000 }, async () => {
      // stdout goes to a process that never reads it; bash ends when ssh does.
      const pending = viaSsh((ssh) => `${ssh} 'head -c 500000000 /dev/zero' > >(exec sleep 300 >/dev/null 2>&1); st=$?; kill $! 2>/dev/null; echo "status=$st"`);
      const s = await eventually(async () => {
        const live = (await ok(gw, 'GET', `/api/v1/sessions?status=live&secretId=${secret}`)).items[0];
        return live && live.bytesOut >= 2_000_000 ? live : null;
      }, 60_000, 'a relaying session with megabytes queued');
      await terminate(s.id, 'mid relay');
      const r = await pending;
      assert.notEqual(r.code, 124, 'ssh did not end');
      assert.match(r.stdout, /^status=(?!0\b)\d+\n$/);
      const ended = await endedSession(gw, s.id);
      assert.equal(ended.endReason, 'terminated by admin: mid relay');
      assert.ok(ended.bytesOut < 500_000_000, 'the target output stopped');
      await stillServing();
    });

    it('while draining (the target has exited, its output still queued to a blocked reader): no crash, the session ends', { timeout: 120_000 }, async () => {
      const known = await sessionIds(secret);
      const pending = viaSsh((ssh) => `${ssh} 'head -c 4000000 /dev/zero; echo tail-on-stderr >&2; exit 5' > >(exec sleep 300 >/dev/null 2>&1); st=$?; kill $! 2>/dev/null; echo "status=$st"`);
      const s = await newLiveSession(known);
      // All the target's output reached the gateway and its channel has closed (the exit
      // status is noted), while the person reads nothing: the rest waits in the relay.
      await eventually(async () => (await ok(gw, 'GET', `/api/v1/sessions/${s.id}`)).bytesOut === 4_000_000 + 'tail-on-stderr\n'.length, 60_000, 'all target output at the gateway');
      await eventually(async () => eventText(s.id, 'target_exit'), 60_000, 'the target to exit');
      assert.equal((await ok(gw, 'GET', `/api/v1/sessions/${s.id}`)).status, 'live', 'still flushing to the person');
      await terminate(s.id, 'while draining');
      const r = await pending;
      assert.notEqual(r.code, 124, 'ssh did not end');
      assert.match(r.stdout, /^status=(?!0\b)\d+\n$/);
      assert.equal((await endedSession(gw, s.id)).endReason, 'terminated by admin: while draining');
      await stillServing();
    });

    it('after the session closed: terminate answers that it has ended', { timeout: 120_000 }, async () => {
      const r = await viaSsh((ssh) => `${ssh} 'echo done; exit 4'`);
      assert.equal(r.code, 4);
      const s = await endedSession(gw, (await sessionOf(gw, secret)).id);
      const t = await gw.api('POST', `/api/v1/sessions/${s.id}/terminate`, { token: gw.adminToken, body: { reason: 'too late' } });
      assert.equal(t.status, 404);
      assert.equal(t.body.error.code, 'not_found');
      assert.match(t.body.error.message, /already ended/);
      assert.equal((await ok(gw, 'GET', `/api/v1/sessions/${s.id}`)).endReason, 'client disconnected');
      await stillServing();
    });
  });

  describe('truthful session records', () => {
    it('a target that refuses the vaulted password: the end reason says so in the session and the audit trail', { timeout: 120_000 }, async () => {
      const wrong = await createSecret(gw, 'relay-wrong-password', { port: sshd.port, password: 'Not-The-Vaulted-Pw-7' });
      const r = await viaSsh((ssh) => `${ssh} 'echo never'`, wrong);
      assert.notEqual(r.code, 0);
      assert.match(r.stderr, /the target refused the vaulted credential/);
      assert.ok(!r.stdout.includes('Not-The-Vaulted-Pw-7') && !r.stderr.includes('Not-The-Vaulted-Pw-7'));
      const s = await endedSession(gw, (await sessionOf(gw, wrong)).id);
      assert.equal(s.endReason, 'target refused the vaulted credential');
      const end = (await auditEvents(gw, 'session.end')).find((e) => e.targetId === s.id);
      assert.equal(end.details.reason, 'target refused the vaulted credential');
    });

    it("the recording header carries the client's TERM and names no shell it did not see", { timeout: 120_000 }, async () => {
      const { ticket } = await launch(gw, secret);
      const p = interactive([...c.base(), `${ticket}@127.0.0.1`], { env: { TERM: 'xterm-256color' } });
      try {
        await p.waitFor(PROMPT);
        p.write('exit\r');
        await p.done;
      } finally {
        p.kill();
      }
      const s = await endedSession(gw, (await sessionOf(gw, secret)).id);
      const header = JSON.parse((await gw.api('GET', `/api/v1/recordings/${s.id}`, { token: gw.adminToken })).raw.split('\n')[0]!);
      assert.deepEqual(header.env, { TERM: 'xterm-256color' });
    });
  });
});
