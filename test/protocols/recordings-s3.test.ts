// Recordings in S3-compatible object storage (issue 16 point 2): two real `gatehouse serve`
// nodes on one PostgreSQL, both keeping recordings in a real S3-compatible server on loopback
// (s3rver, test/support/s3.ts, behind a relay that notes requests and can fail), OpenSSH as the
// client and sshd as the target.
// - An SSH session on node B is uploaded in parts while it runs (more than three; the parts are
//   made small for the test with GATEHOUSE_S3_TEST_PART_BYTES, which only a loopback endpoint
//   accepts: real S3 wants 5 MiB), B's spool never holds more than its bound (sampled), the
//   live view from node A opens with the backlog B still holds, and the recording plays and
//   verifies against its seal from node A.
// - Gatehouse-side encryption: the bucket's objects hold no plaintext; the server-side
//   encryption header reached the server with the upload.
// - Retention deletes an expired recording from the bucket but not one under legal hold.
// - The store failing mid-session ends the session (fail closed) with recording.failed saying
//   why; node B killed mid-session: node A ends its session and completes the upload from the
//   parts B had sent.
// - The store unreachable, or the bucket missing, at start: a clear error, no stack trace.
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { spoolBytes } from '../../src/core/sessions/recording-storage-s3.js';
import { envelopeKeyId } from '../../src/core/sessions/recording-envelope.js';
import { ensureTargetAccount, TARGET_PASSWORD, TARGET_USER } from '../support/accounts.js';
import { burstUntilTwoParts, S3_TEST_PART_BYTES, S3Server } from '../support/s3.js';
import { interactive, PROMPT, type Proc } from '../support/ssh-client.js';
import { startSshd, type Sshd } from '../support/sshd.js';
import { sse } from '../support/sse.js';
import { waitFor } from '../support/xrdp.js';
import { api, apiLogin, clusterEnv, freePort, freshPgDatabase, killAll, type PgTestDatabase, removeTempDirs, Server, serverEnv, tempDir } from '../cli/support.js';

const PW = 'S3-Recordings-Admin-7';
/** The parts' size the nodes are given (test/support/s3.ts). */
const PART = S3_TEST_PART_BYTES;
/** The asciicast writer's flush size (asciicast.ts): a segment may pass its part size by about one. */
const FLUSH = 64 * 1024;
/** The spool's bound per session: the part kept for the backlog, two waiting for their upload, the one being written. */
const SPOOL_BOUND = 4 * (PART + FLUSH);

describe('recordings in S3-compatible object storage, two nodes on one PostgreSQL', { timeout: 900_000 }, () => {
  let sshd: Sshd;
  let db: PgTestDatabase;
  let s3: S3Server;
  const clients: Proc[] = [];

  before(async () => {
    ensureTargetAccount();
    sshd = await startSshd();
    db = await freshPgDatabase();
    s3 = new S3Server(tempDir('gatehouse-s3-'));
    await s3.start();
  });
  after(async () => {
    for (const p of clients) p.kill();
    killAll();
    await s3?.stop();
    await sshd?.stop();
    await db?.drop().catch(() => undefined);
    removeTempDirs();
  });

  // Compressed and encrypted: parts are gzip members sealed in frames (plain segments: test/unit/recording-spool.test.ts).
  const s3Env = (extra: Record<string, string> = {}) => s3.nodeEnv(extra);

  it('refuses to start, clearly, when the store is unreachable or the bucket missing', async () => {
    const closed = await freePort();
    const env = await serverEnv(tempDir(), { GATEHOUSE_ADMIN_PASSWORD: PW, ...s3Env({ GATEHOUSE_S3_ENDPOINT: `http://127.0.0.1:${closed}` }) });
    const down = Server.spawn(env);
    const exit = await down.waitExit(120_000);
    assert.equal(exit.code, 1, down.stderr);
    assert.match(down.stderr, new RegExp(`gatehouse: recording storage: bucket "recordings" at http://127\\.0\\.0\\.1:${closed} cannot be reached`));
    assert.doesNotMatch(down.stderr, /\n\s+at /, 'no stack trace');
    assert.doesNotMatch(down.stderr + down.stdout, /S3RVER/, 'the secret is not echoed');

    const missing = Server.spawn(await serverEnv(tempDir(), { GATEHOUSE_ADMIN_PASSWORD: PW, ...s3Env({ GATEHOUSE_S3_BUCKET: 'no-such-bucket' }) }));
    assert.equal((await missing.waitExit(60_000)).code, 1, missing.stderr);
    assert.match(missing.stderr, /gatehouse: recording storage: bucket "no-such-bucket" at http:\/\/127\.0\.0\.1:\d+ does not exist/);
    assert.doesNotMatch(missing.stderr, /\n\s+at /);

    const small = Server.spawn(await serverEnv(tempDir(), { GATEHOUSE_ADMIN_PASSWORD: PW, ...s3Env({ GATEHOUSE_S3_PART_MIB: '4' }) }));
    assert.equal((await small.waitExit(60_000)).code, 2, small.stderr);
    assert.match(small.stderr, /invalid configuration: GATEHOUSE_S3_PART_MIB must be a whole number from 5 to 1024/);
  });

  it('uploads while the session runs, plays and verifies from the other node, encrypts, keeps holds, fails closed', { timeout: 900_000 }, async () => {
    const shared = clusterEnv(PW, db.url, { GATEHOUSE_NODE_DEAD_SECONDS: '5', ...s3Env() });
    const dirA = join(tempDir(), 'node-a');
    const dirB = join(tempDir(), 'node-b');
    const A = await Server.start(await serverEnv(dirA, shared), 120_000);
    const envB = await serverEnv(dirB, shared);
    const B = await Server.start(envB, 120_000);
    const bSsh = Number(envB.GATEHOUSE_SSH_PORT);
    const token = await apiLogin(A.url, 'admin', PW);
    const call = async (on: Server, method: string, path: string, body?: unknown, expect = 200) => {
      const r = await api(on.url, method, path, { token, body });
      assert.equal(r.status, expect, `${method} ${path}: ${r.body}`);
      return r.status === 204 ? null : path.startsWith('/api/v1/recordings/') && method === 'GET' ? r.body : r.json();
    };
    const pgq = db.query;
    const secretId = (await call(A, 'POST', '/api/v1/secrets', { name: 's3-ssh', template: 'unix-account', fields: { machine: '127.0.0.1', port: sshd.port, username: TARGET_USER, password: TARGET_PASSWORD } }, 201)).id as string;
    const seen = new Set<string>();
    /** Launched on A, redeemed on B's SSH door. */
    const session = async (marker: string) => {
      const l = await call(A, 'POST', `/api/v1/secrets/${secretId}/launch`, { launcher: 'ssh' });
      const kh = join(tempDir(), 'known_hosts');
      writeFileSync(kh, l.ssh.knownHosts.map((k: string) => `[127.0.0.1]:${bSsh} ${k.split(' ').slice(-2).join(' ')}`).join('\n') + '\n');
      const p = interactive(['-F', '/dev/null', '-p', String(bSsh), '-o', `UserKnownHostsFile=${kh}`, '-o', 'StrictHostKeyChecking=yes', '-o', 'ConnectTimeout=10', `${l.ticket}@127.0.0.1`], { timeoutMs: 600_000 });
      clients.push(p);
      await p.waitFor(PROMPT, 30_000);
      p.write(`echo ${marker}-$((6*7))\r`);
      await p.waitFor(`${marker}-42`, 15_000);
      const { id } = await waitFor('the live session', async () => ((await call(A, 'GET', `/api/v1/sessions?secretId=${secretId}&status=live`)).items as { id: string }[]).find((s) => !seen.has(s.id)), 30_000);
      seen.add(id);
      return { id, client: p };
    };
    const audit = async (action: string) => (await call(A, 'GET', `/api/v1/audit?action=${action}&limit=500`)).items as { targetId: string; details: Record<string, unknown> }[];
    const ended = (id: string, timeoutMs = 60_000) =>
      waitFor(`session ${id} to end`, async () => {
        const s = await call(A, 'GET', `/api/v1/sessions/${id}`);
        return s.status === 'ended' ? s : false;
      }, timeoutMs, 250);

    // 1. A long session on B: parts go up while it runs; B's spool stays within its bound.
    const one = await session('first-in-s3');
    const spoolB = join(dirB, 'recording-spool');
    let maxSpool = 0;
    let sampling = true;
    const sampler = (async () => {
      while (sampling) {
        maxSpool = Math.max(maxSpool, await spoolBytes(spoolB));
        await new Promise((r) => setTimeout(r, 20));
      }
    })();
    // About 2.7 MB of recording, in bursts so that parts can leave as they fill.
    one.client.write('for i in $(seq 1 20); do head -c 100000 /dev/urandom | base64 -w 100; sleep 0.2; done; echo burst-done-$((6*7))\r');
    await one.client.waitFor('burst-done-42', 120_000);
    const row = await waitFor('several parts uploaded', async () => {
      const r = (await pgq<{ parts: string; rel: string }>('select parts, rel from recording_uploads where session_id = $1', [one.id]))[0];
      return r && JSON.parse(r.parts).length > 3 ? r : false;
    }, 30_000);
    const key = `gh/${row.rel}`;

    // The live view from A (relayed from B) opens with the backlog B still holds, the last output in it.
    const watch = await sse(A.url, `/api/v1/sessions/${one.id}/live`, token);
    assert.equal(watch.status, 200);
    await waitFor('the backlog on A', () => watch.text().includes('event: header') && watch.text().includes('burst-done-42'), 15_000);
    watch.close();
    // Its own node neither: parts become an object only when completed. Both nodes say so.
    for (const n of [A, B]) {
      const live = await call(n, 'GET', `/api/v1/sessions/${one.id}`);
      assert.deepEqual([live.recording.available, live.recording.format], [false, 'asciicast'], 'recorded, not downloadable while live');
    }
    const early = await api(B.url, 'GET', `/api/v1/recordings/${one.id}`, { token });
    assert.equal(early.status, 409, early.body);
    assert.equal(early.json().error.code, 'recording_live');

    one.client.write('exit\r');
    await one.client.done;
    await ended(one.id);
    sampling = false;
    await sampler;
    const parts = s3.requestsFor(key).filter((r) => r.method === 'PUT' && /partNumber=/.test(r.url));
    assert.ok(parts.length > 3, `more than three parts: ${parts.length}`);
    const stored = s3.storedObjects().find((o) => o.file.includes(one.id));
    assert.ok(stored, 'the recording is in the bucket');
    assert.ok(stored.data.length > SPOOL_BOUND, `the recording (${stored.data.length} bytes) is larger than the spool bound`);
    assert.ok(maxSpool > 0 && maxSpool <= SPOOL_BOUND, `B's spool held at most ${maxSpool} bytes (bound ${SPOOL_BOUND})`);
    assert.equal(await spoolBytes(spoolB), 0, 'the spool is empty once the recording is stored');
    assert.equal((await pgq('select 1 from recording_uploads where session_id = $1', [one.id])).length, 0);

    // Gatehouse-side encryption: ciphertext only; the SSE header reached the server with the upload.
    assert.equal(stored.data.subarray(0, 6).toString(), 'GHENC1');
    assert.match(row.rel, /\.cast\.gz$/);
    for (const plain of ['first-in-s3', 'burst-done', '"version"', TARGET_USER]) assert.ok(!stored.data.includes(plain), `no "${plain}" in the stored object`);
    const create = s3.requestsFor(key).find((r) => r.method === 'POST' && /uploads/.test(r.url));
    assert.equal(create?.headers['x-amz-server-side-encryption'], 'AES256');

    // Plays and verifies from A (the session ran on B).
    const cast = (await call(A, 'GET', `/api/v1/recordings/${one.id}`)) as string;
    assert.match(cast.split('\n')[0]!, /"version":2/);
    assert.ok(cast.includes('first-in-s3-42') && cast.includes('burst-done-42'), 'the whole session plays from node A');
    const verified = await call(A, 'POST', '/api/v1/recordings/verify', { sessions: [one.id] });
    assert.equal(verified.items[0].status, 'ok', JSON.stringify(verified.items));
    const seal = (await audit('recording.seal')).find((e) => e.targetId === one.id)!;
    assert.equal(verified.items[0].sha256, seal.details.sha256);
    // Search (the typed-text index is in the database) answers on either node.
    const hits = await call(B, 'GET', `/api/v1/recordings?q=${encodeURIComponent('first-in-s3')}`);
    assert.ok(hits.items.some((h: { id: string }) => h.id === one.id), 'search finds the session from node B');

    // 2. Retention: an expired recording goes from the bucket, one under legal hold stays.
    const two = await session('second-in-s3');
    two.client.write('exit\r');
    await two.client.done;
    await ended(two.id);
    await call(A, 'PUT', `/api/v1/sessions/${one.id}/legal-hold`, { reason: 's3 test' });
    await call(A, 'PUT', '/api/v1/recording-retention', { scope: 'global', keepDays: 1 });
    await pgq('update sessions set ended_at = ended_at - $1 where id in ($2, $3)', [3 * 86_400_000, one.id, two.id]);
    const keyOf = (id: string) => envelopeKeyId(s3.storedObjects().find((o) => o.file.includes(id))!.data)!;
    const [keyOne, keyTwo] = [keyOf(one.id), keyOf(two.id)];
    assert.ok(keyOne && keyTwo && keyOne !== keyTwo, 'each recording is sealed with a data key of its own');
    const sweep = await call(A, 'POST', '/api/v1/recording-retention/sweep', {});
    assert.deepEqual(sweep.deleted.map((d: { sessionId: string }) => d.sessionId), [two.id]);
    // The deleted recording's data key went with it; the held one's stays.
    const keys = (await pgq<{ id: string }>('select id from data_keys where id in ($1, $2)', [keyOne, keyTwo])).map((r) => r.id);
    assert.deepEqual(keys, [keyOne]);
    assert.equal(sweep.held, 1);
    const left = s3.storedObjects().map((o) => o.file);
    assert.ok(!left.some((f) => f.includes(two.id)), 'the expired recording is gone from the bucket');
    assert.ok(left.some((f) => f.includes(one.id)), 'the held recording is still in the bucket');

    // /healthz asks the bucket (and checks the spool, where this node writes).
    const healthy = await api(A.url, 'GET', '/healthz');
    assert.equal(healthy.status, 200, healthy.body);
    assert.deepEqual(healthy.json().checks.objectStorage, { ok: true });

    // 3. The store fails mid-session: the session ends, fail closed, and the audit says why.
    const three = await session('third-in-s3');
    s3.takeDown();
    three.client.write('for i in $(seq 1 8); do head -c 100000 /dev/urandom | base64 -w 100; done\r');
    await three.client.done;
    const gone = await ended(three.id, 120_000);
    assert.match(gone.endReason, /recording/i);
    const failed = await waitFor('recording.failed', async () => (await audit('recording.failed')).find((e) => e.targetId === three.id), 30_000);
    assert.equal(failed.details.stage, 'write');
    assert.match(String(failed.details.code), /^upload_(failed|backlog)$/);
    const sick = await api(A.url, 'GET', '/healthz');
    assert.equal(sick.status, 503, sick.body);
    assert.equal(sick.json().status, 'degraded');
    assert.match(sick.json().checks.objectStorage.error, /^(unreachable|timeout)$/);
    s3.bringUp();

    // 4. B killed mid-session: A ends its session and completes the upload from the parts B sent.
    const four = await session('fourth-in-s3');
    await burstUntilTwoParts(four.client, four.id, 'four-done', pgq);
    B.proc.kill('SIGKILL');
    await B.waitExit();
    const interrupted = await ended(four.id, 90_000);
    assert.equal(interrupted.endReason, 'interrupted');
    const sealFour = await waitFor('the recovered seal', async () => (await audit('recording.seal')).find((e) => e.targetId === four.id), 90_000);
    assert.equal(sealFour.details.recovered, true);
    const castFour = (await call(A, 'GET', `/api/v1/recordings/${four.id}`)) as string;
    assert.ok(castFour.includes('fourth-in-s3-42'), 'what B had uploaded plays from node A');
    const v4 = await call(A, 'POST', '/api/v1/recordings/verify', { sessions: [four.id] });
    assert.equal(v4.items[0].status, 'ok', JSON.stringify(v4.items));
    assert.equal((await pgq('select 1 from recording_uploads where session_id = $1', [four.id])).length, 0);
    four.client.kill();
    // B, started again, drops the spooled tail of the upload A completed (it is in the log as lost).
    assert.ok((await spoolBytes(spoolB)) > 0, 'B died with segments in its spool');
    const B2 = await Server.start(envB, 120_000);
    await waitFor('B\'s spool emptied at its start', async () => (await spoolBytes(spoolB)) === 0, 30_000);
    B2.kill();
    const chain = await call(A, 'GET', '/api/v1/audit/verify');
    assert.equal(chain.ok, true, JSON.stringify(chain));
  });
});
