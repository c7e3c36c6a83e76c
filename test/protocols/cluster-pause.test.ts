// A node paused past the dead timeout, not killed (issue 16 point 1; a frozen VM): two real
// `gatehouse serve` nodes on one PostgreSQL, recordings on each node's own disk, OpenSSH as the
// client and sshd as the target. Node B runs a session and is stopped (SIGSTOP) until node A's
// heartbeat has found it dead and ended the session as interrupted, without its recording (on
// B's disk). The person gives up and closes the client during the pause. B is continued
// (SIGCONT): it learns the session ended (the client's close, or its next heartbeat, whichever
// comes first), leaves A's end standing (one session.end, reason interrupted) and seals the
// recording it holds into the session at once, once; the recording plays from B and verifies
// against that seal, and the audit chain verifies.
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { ensureTargetAccount, TARGET_PASSWORD, TARGET_USER } from '../support/accounts.js';
import { interactive, PROMPT, type Proc } from '../support/ssh-client.js';
import { startSshd, type Sshd } from '../support/sshd.js';
import { waitFor } from '../support/xrdp.js';
import { api, apiLogin, clusterEnv, freshPgDatabase, killAll, type PgTestDatabase, removeTempDirs, Server, serverEnv, tempDir } from '../cli/support.js';

const PW = 'Pause-Admin-Password-7';
const DEAD_SECONDS = 4;

describe('a cluster node paused past the dead timeout', { timeout: 300_000 }, () => {
  let sshd: Sshd;
  let db: PgTestDatabase;
  let client: Proc | null = null;
  let paused: Server | null = null;

  before(async () => {
    ensureTargetAccount();
    sshd = await startSshd();
    db = await freshPgDatabase();
  });
  after(async () => {
    // Never leave a stopped process behind.
    paused?.proc.kill('SIGCONT');
    client?.kill();
    killAll();
    await sshd?.stop();
    await db?.drop().catch(() => undefined);
    removeTempDirs();
  });

  it('comes back to a session the other node ended: that end stands, and it seals the recording it holds into it, once', async () => {
    const shared = clusterEnv(PW, db.url, { GATEHOUSE_NODE_DEAD_SECONDS: String(DEAD_SECONDS) });
    const dirs = ['a', 'b'].map((n) => join(tempDir(), `node-${n}`));
    const envB = await serverEnv(dirs[1]!, shared);
    const A = await Server.start(await serverEnv(dirs[0]!, shared));
    const B = await Server.start(envB);
    const nodeB = readFileSync(join(dirs[1]!, 'node-id'), 'utf8').trim();
    const token = await apiLogin(A.url, 'admin', PW);
    const call = async (on: Server, method: string, path: string, body?: unknown) => {
      const r = await api(on.url, method, path, { token, body });
      assert.ok(r.status < 300, `${method} ${path}: ${r.status} ${r.body}`);
      return r.json();
    };
    const audit = async (action: string, id: string) => (await call(A, 'GET', `/api/v1/audit?action=${action}&targetId=${id}&limit=100`)).items as { seq: number; details: Record<string, any> }[];

    const secretId = (await call(A, 'POST', '/api/v1/secrets', { name: 'pause-ssh', template: 'unix-account', fields: { machine: '127.0.0.1', port: sshd.port, username: TARGET_USER, password: TARGET_PASSWORD } })).id as string;
    const l = await call(A, 'POST', `/api/v1/secrets/${secretId}/launch`, { launcher: 'ssh' });
    // Redeemed on B (its own SSH port): the session lives there.
    client = interactive(['-F', '/dev/null', '-p', String(envB.GATEHOUSE_SSH_PORT), '-o', 'StrictHostKeyChecking=no', '-o', 'UserKnownHostsFile=/dev/null', `${l.ticket}@127.0.0.1`], { timeoutMs: 120_000 });
    await client.waitFor(PROMPT, 30_000);
    client.write('echo before-$((6*7))\r');
    await client.waitFor('before-42', 15_000);
    const { id } = await waitFor('the live session', async () => ((await call(A, 'GET', `/api/v1/sessions?secretId=${secretId}&status=live`)).items as { id: string }[])[0], 15_000);

    // B freezes; A's heartbeat finds it dead and ends its session as interrupted.
    paused = B;
    B.proc.kill('SIGSTOP');
    const ended = await waitFor('A to end B\'s session', async () => {
      const s = await call(A, 'GET', `/api/v1/sessions/${id}`);
      return s.status === 'ended' ? s : false;
    }, 60_000, 250);
    assert.equal(ended.endReason, 'interrupted');
    assert.equal(ended.recording.available, false, 'A found no recording: it is on B\'s disk');
    const [end] = await audit('session.end', id);
    assert.equal(end!.details.node, nodeB);
    // The person gives up during the pause.
    client.kill();
    client = null;
    B.proc.kill('SIGCONT');
    paused = null;

    // B comes back: the session ends there too, A's end stands, and B seals its recording into it.
    const seal = await waitFor('B to seal its recording', async () => (await audit('recording.seal', id))[0], 30_000, 250);
    assert.match(seal.details.note, new RegExp(`sealed by node ${nodeB}, where the session ran, after another node had ended it`));
    await waitFor('B to have no live session', async () => (await call(B, 'GET', '/api/v1/sessions?status=live')).items.length === 0, 15_000);
    assert.equal((await audit('session.end', id)).length, 1, 'one session.end: A\'s');
    assert.equal((await audit('recording.seal', id)).length, 1, 'one recording.seal: B\'s');
    const s = await call(B, 'GET', `/api/v1/sessions/${id}`);
    assert.equal(s.status, 'ended');
    assert.equal(s.endReason, 'interrupted', 'A\'s reason stands');
    assert.equal(s.endedAt, ended.endedAt, 'A\'s end time stands');
    assert.equal(s.recording.available, true);
    assert.equal(s.recording.sha256, seal.details.sha256);
    const played = await api(B.url, 'GET', `/api/v1/recordings/${id}`, { token });
    assert.equal(played.status, 200);
    assert.ok(played.body.includes('before-42'), 'the recording B held plays from B');
    const verified = await call(B, 'POST', '/api/v1/recordings/verify', { sessions: [id] });
    assert.equal(verified.items[0].status, 'ok', JSON.stringify(verified.items));
    for (const n of [A, B]) assert.equal((await call(n, 'GET', '/api/v1/audit/verify')).ok, true, 'the chain verifies');
    // B is a live node again.
    await waitFor('B up again', async () => ((await call(A, 'GET', '/api/v1/cluster/nodes')).nodes as { id: string; status: string }[]).find((n) => n.id === nodeB)?.status === 'up', 15_000);
    for (const n of [A, B]) assert.deepEqual(await n.stop(), { code: 0, signal: null });
  });
});
