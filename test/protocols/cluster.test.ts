// A cluster (issue 16 points 1 and 8): three real `gatehouse serve` nodes on one PostgreSQL
// database keeping their recordings in one S3-compatible server on loopback (s3rver,
// test/support/s3.ts), one TCP load balancer in front of their SSH doors and one in front of
// their HTTPS ports (test/support/tcp-balancer.ts), OpenSSH as the client and sshd as the target.
// - Every node presents the same SSH host keys (ssh-keyscan) and TLS certificate (through the
//   balancer, each node in turn), signs the audit trail with the same key and holds the same
//   logon-ticket key: the cluster identity, made once by the first node.
// - A ticket launched on node A is redeemed on node B (the SSH client checks B's host key
//   against the known_hosts A handed out); node C lists the session, watches it live (relayed
//   from B over node-to-node mutual TLS) and terminates it. Its recording is in the bucket,
//   plays from node A and verifies against its seal from node C.
// - Each node's /metrics (behind the metrics token) counts what happened on that node: the
//   tickets issued where launched and redeemed where redeemed, the live session by protocol
//   under the node's own id.
// - kill -9 on node B mid-session: A and C keep serving (a new launch reconnects through the
//   balancer to another node), and one of them ends B's session as interrupted and completes
//   its recording from the parts B had uploaded, sealed; B, started again, does not seal it a
//   second time, and the audit chain verifies.
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { readFileSync, writeFileSync } from 'node:fs';
import { connect as tlsConnect } from 'node:tls';
import { join } from 'node:path';
import { ensureTargetAccount, TARGET_PASSWORD, TARGET_USER } from '../support/accounts.js';
import { interactive, PROMPT, run, type Proc } from '../support/ssh-client.js';
import { startSshd, type Sshd } from '../support/sshd.js';
import { samples, value } from '../support/prometheus.js';
import { burstUntilTwoParts, S3Server } from '../support/s3.js';
import { TcpBalancer } from '../support/tcp-balancer.js';
import { sse } from '../support/sse.js';
import { waitFor } from '../support/xrdp.js';
import { api, apiLogin, clusterEnv, freshPgDatabase, killAll, type PgTestDatabase, removeTempDirs, Server, serverEnv, tempDir } from '../cli/support.js';

const PW = 'Cluster-Admin-Password-7';

/** The certificate fingerprint a TLS port presents. */
function tlsFingerprint(port: number): Promise<string> {
  return new Promise((res, rej) => {
    const s = tlsConnect({ host: '127.0.0.1', port, rejectUnauthorized: false, servername: 'localhost' }, () => {
      const fp = s.getPeerCertificate().fingerprint256;
      s.destroy();
      res(fp);
    });
    s.on('error', rej);
  });
}

/** The host keys an SSH port offers (type and base64), sorted. */
async function hostKeys(port: number): Promise<string[]> {
  const r = await run('ssh-keyscan', ['-p', String(port), '-t', 'ed25519,rsa', '127.0.0.1'], { timeoutMs: 30_000 });
  const keys = r.stdout.split('\n').filter((l) => l && !l.startsWith('#')).map((l) => l.split(' ').slice(1, 3).join(' '));
  return keys.sort();
}

const portOf = (url: string) => Number(new URL(url).port);

describe('a cluster of three nodes on one PostgreSQL behind a TCP load balancer', { timeout: 900_000 }, () => {
  let sshd: Sshd;
  let db: PgTestDatabase;
  const nodes: Server[] = [];
  const dirs: string[] = [];
  const envs: NodeJS.ProcessEnv[] = [];
  const clients: Proc[] = [];
  let sshLb: TcpBalancer;
  let httpsLb: TcpBalancer;
  let s3: S3Server;

  before(async () => {
    ensureTargetAccount();
    sshd = await startSshd();
    db = await freshPgDatabase();
    s3 = new S3Server(tempDir('gatehouse-s3-'));
    await s3.start();
  });
  after(async () => {
    for (const p of clients) p.kill();
    await sshLb?.stop();
    await httpsLb?.stop();
    killAll();
    await s3?.stop();
    await sshd?.stop();
    await db?.drop().catch(() => undefined);
    removeTempDirs();
  });

  it('shares one identity, redeems anywhere, watches and terminates from any node, plays recordings from any node, and outlives a node killed mid-session', { timeout: 900_000 }, async () => {
    const metricsToken = randomBytes(24).toString('hex');
    const shared = clusterEnv(PW, db.url, { GATEHOUSE_NODE_DEAD_SECONDS: '5', GATEHOUSE_METRICS_TOKEN: metricsToken, ...s3.nodeEnv() });
    for (const name of ['a', 'b', 'c']) {
      const dir = join(tempDir(), `node-${name}`);
      dirs.push(dir);
      envs.push(await serverEnv(dir, shared));
    }
    // The first node makes the cluster identity; the two others start together and take it.
    nodes.push(await Server.start(envs[0]!));
    nodes.push(...(await Promise.all([Server.start(envs[1]!), Server.start(envs[2]!)])));
    const [A, B, C] = nodes as [Server, Server, Server];
    assert.match(A.stdout, /gatehouse: cluster ssh-host-key-ed25519 created \(shared by every node\)/);
    for (const n of [B, C]) assert.match(n.stdout, /gatehouse: took the cluster's ssh-host-key-ed25519\n/);
    for (const n of nodes) assert.match(n.stdout, /gatehouse: cluster node \S+ takes calls from the other nodes at https:\/\/127\.0\.0\.1:\d+/);
    const nodeId = dirs.map((d) => readFileSync(join(d, 'node-id'), 'utf8').trim());
    assert.equal(new Set(nodeId).size, 3, 'each node has its own id');

    // One identity: SSH host keys, TLS certificate, audit signing and logon-ticket keys.
    const sshPorts = envs.map((e) => Number(e.GATEHOUSE_SSH_PORT));
    const keys = await Promise.all(sshPorts.map(hostKeys));
    assert.equal(keys[0]!.length, 2, `two host keys: ${keys[0]}`);
    assert.deepEqual(keys[1], keys[0], 'node B offers node A\'s host keys');
    assert.deepEqual(keys[2], keys[0], 'node C offers node A\'s host keys');
    assert.ok(A.fingerprint && B.fingerprint === A.fingerprint && C.fingerprint === A.fingerprint, `one TLS certificate: ${nodes.map((n) => n.fingerprint)}`);
    for (const f of ['audit-signing.key', 'logon-ticket.key', 'tls-key.pem']) {
      const [a, b, c] = dirs.map((d) => readFileSync(join(d, f), 'utf8'));
      assert.ok(a === b && b === c, `${f} is the same on every node`);
    }

    sshLb = new TcpBalancer(sshPorts);
    httpsLb = new TcpBalancer(nodes.map((n) => portOf(n.url)));
    await Promise.all([sshLb.start(), httpsLb.start()]);
    // Through the balancer, one certificate whichever node answers.
    const viaLb = [await tlsFingerprint(httpsLb.port), await tlsFingerprint(httpsLb.port), await tlsFingerprint(httpsLb.port)];
    assert.deepEqual([...httpsLb.served].sort(), [0, 1, 2], 'the three connections reached the three nodes');
    assert.deepEqual(viaLb, [A.fingerprint, A.fingerprint, A.fingerprint].map((f) => f.toUpperCase()));
    // A token from one node works on every node (the database is shared).
    const lbUrl = `https://127.0.0.1:${httpsLb.port}`;
    const token = await apiLogin(lbUrl, 'admin', PW);
    const call = async (on: Server | string, method: string, path: string, body?: unknown, expect = 200) => {
      const r = await api(typeof on === 'string' ? on : on.url, method, path, { token, body });
      assert.equal(r.status, expect, `${method} ${path}: ${r.body}`);
      return r.status === 204 ? null : r.json();
    };
    const secretId = (await call(A, 'POST', '/api/v1/secrets', { name: 'cluster-ssh', template: 'unix-account', fields: { machine: '127.0.0.1', port: sshd.port, username: TARGET_USER, password: TARGET_PASSWORD } }, 201)).id as string;
    const pgq = db.query;
    const sessionRow = async (id: string) => (await pgq<{ node: string; status: string; end_reason: string | null }>('select node, status, end_reason from sessions where id = $1', [id]))[0]!;
    /** A recording as played from `on` (asciicast text, whichever node recorded it). */
    const play = async (on: Server, id: string) => {
      const r = await api(on.url, 'GET', `/api/v1/recordings/${id}`, { token });
      assert.equal(r.status, 200, r.body);
      return r.body;
    };
    /** One node's own metrics, scraped with the metrics token. */
    const scrape = async (on: Server) => {
      const r = await api(on.url, 'GET', '/metrics', { token: metricsToken });
      assert.equal(r.status, 200, r.body);
      return samples(r.body);
    };

    const seen = new Set<string>();
    /** Launch on `on`, redeem through the SSH balancer on backend `via` (when it answers), with the known_hosts the launch handed out. */
    const session = async (on: Server, via: number | null, marker: string) => {
      const l = await call(on, 'POST', `/api/v1/secrets/${secretId}/launch`, { launcher: 'ssh' });
      const kh = join(tempDir(), 'known_hosts');
      // The launching node's host keys, for the balancer's address: whichever node answers must match.
      writeFileSync(kh, l.ssh.knownHosts.map((k: string) => `[127.0.0.1]:${sshLb.port} ${k.split(' ').slice(-2).join(' ')}`).join('\n') + '\n');
      if (via !== null) sshLb.next(via);
      const before = sshLb.served.length;
      const p = interactive(['-F', '/dev/null', '-p', String(sshLb.port), '-o', `UserKnownHostsFile=${kh}`, '-o', 'StrictHostKeyChecking=yes', '-o', 'ConnectTimeout=10', `${l.ticket}@127.0.0.1`], { timeoutMs: 300_000 });
      clients.push(p);
      await p.waitFor(PROMPT, 30_000);
      p.write(`echo ${marker}-$((6*7))\r`);
      await p.waitFor(`${marker}-42`, 15_000);
      const served = sshLb.served[before]!;
      const { id } = await waitFor('the live session', async () => ((await call(C, 'GET', `/api/v1/sessions?secretId=${secretId}&status=live`)).items as { id: string }[]).find((s) => !seen.has(s.id)), 30_000);
      seen.add(id);
      return { id, client: p, served };
    };

    // Launched on A, redeemed on B.
    const one = await session(A, 1, 'redeemed-on-b');
    assert.equal(one.served, 1, 'the SSH connection reached node B');
    assert.equal((await sessionRow(one.id)).node, nodeId[1], 'the session runs on node B');
    // Listed on C.
    assert.ok((await call(C, 'GET', '/api/v1/sessions?status=live')).items.some((s: { id: string }) => s.id === one.id), 'node C lists node B\'s session');
    // C knows it is recorded, and how: the format written at its start (the file is B's).
    const liveOnC = await call(C, 'GET', `/api/v1/sessions/${one.id}`);
    assert.deepEqual([liveOnC.recording.format, liveOnC.recording.available], ['asciicast', false], 'node C shows the live session on B as recorded');

    // Each node's metrics: the ticket issued on A, redeemed on B, the session live on B under B's own node id.
    const [mA, mB, mC] = await Promise.all(nodes.map(scrape));
    for (const [i, m] of [mA, mB, mC].entries()) assert.equal(value(m!, 'gatehouse_build_info', { node: nodeId[i]! }), 1, `node ${i} labels its metrics with its own node id`);
    assert.equal(value(mB!, 'gatehouse_sessions_live', { protocol: 'ssh', node: nodeId[1]! }), 1, 'the session is live on B');
    for (const m of [mA!, mC!]) assert.equal(value(m, 'gatehouse_sessions_live', { protocol: 'ssh' }), 0, 'no session live on A or C');
    assert.deepEqual([mA, mB, mC].map((m) => value(m!, 'gatehouse_tickets_issued_total', { protocol: 'ssh' })), [1, 0, 0], 'the ticket was issued by A');
    assert.deepEqual([mA, mB, mC].map((m) => value(m!, 'gatehouse_tickets_redeemed_total', { protocol: 'ssh', door: 'ssh' })), [0, 1, 0], 'the ticket was redeemed on B');
    assert.deepEqual([mA, mB, mC].map((m) => value(m!, 'gatehouse_sessions_started_total', { protocol: 'ssh', door: 'ssh' })), [0, 1, 0], 'the session started on B');

    // Watched from C: the live view is relayed from B.
    const watch = await sse(C.url, `/api/v1/sessions/${one.id}/live`, token);
    assert.equal(watch.status, 200);
    await waitFor('the header and backlog on C', () => watch.text().includes('event: header') && watch.text().includes('redeemed-on-b-42'), 15_000);
    one.client.write('echo watched-from-c-$((40+2))\r');
    await waitFor('the new output in the live view on C', () => watch.text().includes('watched-from-c-42'), 15_000);

    // Terminated from C: B ends it, the client is cut, the live view ends.
    assert.deepEqual(await call(C, 'POST', `/api/v1/sessions/${one.id}/terminate`, { reason: 'cluster test' }), { terminated: true });
    await one.client.done;
    await watch.ended;
    assert.match(watch.text(), /event: end/);
    const ended = await waitFor('the session to end', async () => {
      const s = await call(A, 'GET', `/api/v1/sessions/${one.id}`);
      return s.status === 'ended' ? s : false;
    }, 15_000);
    assert.match(ended.endReason, /terminated by admin: cluster test/);
    const audit = async (action: string) => (await call(A, 'GET', `/api/v1/audit?action=${action}&limit=500`)).items as { targetId: string; details: Record<string, unknown>; actorName: string }[];
    assert.equal((await audit('session.terminate')).filter((e) => e.targetId === one.id).length, 1, 'one session.terminate (written by node B)');
    assert.equal((await audit('session.watch')).filter((e) => e.targetId === one.id && e.actorName === 'admin').length, 1, 'one session.watch');
    // A second terminate: no longer live, wherever asked.
    await call(A, 'POST', `/api/v1/sessions/${one.id}/terminate`, { reason: 'again' }, 404);

    // B's recording of it: in the bucket, plays from A, verifies against its seal from C.
    await waitFor('the recording of the first session sealed', async () => (await call(A, 'GET', `/api/v1/sessions/${one.id}`)).recording.available, 30_000);
    assert.ok(s3.storedObjects().some((o) => o.file.includes(one.id)), 'the recording is in the bucket');
    const castOne = await play(A, one.id);
    assert.match(castOne.split('\n')[0]!, /"version":2/);
    assert.ok(castOne.includes('redeemed-on-b-42') && castOne.includes('watched-from-c-42'), 'the whole session plays from node A');
    const sealOne = (await audit('recording.seal')).find((e) => e.targetId === one.id)!;
    const verifiedOne = await call(C, 'POST', '/api/v1/recordings/verify', { sessions: [one.id] });
    assert.equal(verifiedOne.items[0].status, 'ok', JSON.stringify(verifiedOne.items));
    assert.equal(verifiedOne.items[0].sha256, sealOne.details.sha256);

    // kill -9 on B mid-session.
    const two = await session(C, 1, 'dies-with-b');
    assert.equal((await sessionRow(two.id)).node, nodeId[1], 'the second session runs on node B');
    // Output in bursts, so that B uploads parts of the recording while the session runs.
    await burstUntilTwoParts(two.client, two.id, 'two-done', pgq);
    B.proc.kill('SIGKILL');
    assert.equal((await B.waitExit()).signal, 'SIGKILL');
    const interrupted = await waitFor('node B\'s session to be ended as interrupted by another node', async () => {
      const s = await call(A, 'GET', `/api/v1/sessions/${two.id}`);
      return s.status === 'ended' ? s : false;
    }, 60_000, 250);
    assert.equal(interrupted.endReason, 'interrupted');
    const listed = (await call(C, 'GET', '/api/v1/cluster/nodes')).nodes as { id: string; status: string; self: boolean }[];
    assert.deepEqual(nodeId.map((id) => listed.find((n) => n.id === id)?.status), ['up', 'dead', 'up'], 'node B is dead');
    assert.equal(listed.find((n) => n.self)?.id, nodeId[2]);
    const end = (await audit('session.end')).find((e) => e.targetId === two.id)!;
    assert.equal(end.details.recovered, true);
    assert.equal(end.details.node, nodeId[1]);
    assert.ok([nodeId[0], nodeId[2]].includes(end.details.endedBy as string), `ended by A or C: ${JSON.stringify(end.details)}`);
    two.client.kill();
    // The node that ended it completed the recording from the parts B had uploaded, and sealed it.
    // (Recovery seals right after the end, unless the recording was unreadable: the end's details then say why.)
    const sealTwo = await waitFor('the recovered seal', async () => (await audit('recording.seal')).find((e) => e.targetId === two.id), 90_000).catch((e: Error) => {
      throw new Error(`${e.message}; the session.end said: ${JSON.stringify(end.details)}`);
    });
    assert.equal(sealTwo.details.recovered, true);
    assert.equal((await pgq('select 1 from recording_uploads where session_id = $1', [two.id])).length, 0, 'the upload is complete');
    assert.ok(s3.storedObjects().some((o) => o.file.includes(two.id)), 'the recovered recording is in the bucket');
    assert.ok((await play(C, two.id)).includes('dies-with-b-42'), 'what B had uploaded plays from node C');
    const verifiedTwo = await call(A, 'POST', '/api/v1/recordings/verify', { sessions: [two.id] });
    assert.equal(verifiedTwo.items[0].status, 'ok', JSON.stringify(verifiedTwo.items));
    assert.equal(verifiedTwo.items[0].sha256, sealTwo.details.sha256);

    // The others keep serving: a new ticket reconnects through the balancer to A or C.
    const three = await session(A, 1, 'after-b-died');
    assert.notEqual(three.served, 1, 'the balancer skipped the dead node');
    assert.equal((await sessionRow(three.id)).node, nodeId[three.served]);
    three.client.write('exit\r');
    await three.client.done;
    // The surviving nodes' metrics: tickets issued where launched (A: the first and third, C: the second), the third redeemed where it ran.
    const survivors = await Promise.all([A, C].map(scrape));
    assert.deepEqual(survivors.map((m) => value(m, 'gatehouse_tickets_issued_total', { protocol: 'ssh' })), [2, 1]);
    assert.equal(value(survivors[three.served === 0 ? 0 : 1]!, 'gatehouse_tickets_redeemed_total', { protocol: 'ssh', door: 'ssh' }), 1, 'the third ticket was redeemed where it ran');
    assert.equal(value(survivors[three.served === 0 ? 1 : 0]!, 'gatehouse_tickets_redeemed_total', { protocol: 'ssh', door: 'ssh' }), 0);

    // B starts again: the recording of its session stays sealed once, as the survivor sealed it.
    nodes[1] = await Server.start(envs[1]!);
    const sealed = await waitFor('the recording of B\'s session available', async () => {
      const s = await call(nodes[1]!, 'GET', `/api/v1/sessions/${two.id}`);
      return s.recording.available ? s : false;
    }, 30_000);
    assert.equal(sealed.recording.sha256, sealTwo.details.sha256);
    const seal = (await audit('recording.seal')).filter((e) => e.targetId === two.id);
    assert.equal(seal.length, 1, 'one recording.seal');
    assert.equal(seal[0]!.details.recovered, true);
    assert.ok((await play(nodes[1]!, two.id)).includes('dies-with-b-42'), 'and plays from B too');
    for (const n of nodes) assert.equal((await call(n, 'GET', '/api/v1/audit/verify')).ok, true, 'the chain verifies on every node');
    for (const n of nodes) assert.deepEqual(await n.stop(), { code: 0, signal: null });
  });
});
