// A cluster (issue 16 point 1): three real `gatehouse serve` nodes on one PostgreSQL database,
// one TCP load balancer in front of their SSH doors and one in front of their HTTPS ports
// (test/support/tcp-balancer.ts), OpenSSH as the client and sshd as the target.
// - Every node presents the same SSH host keys (ssh-keyscan) and TLS certificate (through the
//   balancer, each node in turn), signs the audit trail with the same key and holds the same
//   logon-ticket key: the cluster identity, made once by the first node.
// - A ticket launched on node A is redeemed on node B (the SSH client checks B's host key
//   against the known_hosts A handed out); node C lists the session, watches it live (relayed
//   from B over node-to-node mutual TLS) and terminates it.
// - kill -9 on node B mid-session: A and C keep serving (a new launch reconnects through the
//   balancer to another node), and one of them ends B's session as interrupted; B, started
//   again, seals the recording it holds up to its last flush, and the audit chain verifies.
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { createHash, randomBytes } from 'node:crypto';
import { readFileSync, writeFileSync } from 'node:fs';
import { request } from 'node:https';
import { connect as tlsConnect } from 'node:tls';
import { join } from 'node:path';
import pg from 'pg';
import { ensureTargetAccount, TARGET_PASSWORD, TARGET_USER } from '../support/accounts.js';
import { interactive, PROMPT, run, type Proc } from '../support/ssh-client.js';
import { startSshd, type Sshd } from '../support/sshd.js';
import { findRecording, readRecording } from '../support/recordings.js';
import { TcpBalancer } from '../support/tcp-balancer.js';
import { waitFor } from '../support/xrdp.js';
import { api, apiLogin, freshPgDatabase, killAll, removeTempDirs, Server, serverEnv, tempDir } from '../cli/support.js';

const PW = 'Cluster-Admin-Password-7';

/** An open Server-Sent Events stream (the live view), its text so far. */
function sse(url: string, path: string, token: string): Promise<{ status: number; text: () => string; ended: Promise<void>; close: () => void }> {
  return new Promise((res, rej) => {
    let text = '';
    const req = request(new URL(path, url), { agent: false, rejectUnauthorized: false, headers: { authorization: `Bearer ${token}`, accept: 'text/event-stream' } }, (r) => {
      const ended = new Promise<void>((done) => {
        r.on('end', done);
        r.on('close', done);
      });
      r.on('data', (c: Buffer) => (text += c.toString()));
      res({ status: r.statusCode ?? 0, text: () => text, ended, close: () => req.destroy() });
    });
    req.on('error', rej);
    req.end();
  });
}

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
  let db: { url: string; drop: () => Promise<void> };
  const nodes: Server[] = [];
  const dirs: string[] = [];
  const envs: NodeJS.ProcessEnv[] = [];
  const clients: Proc[] = [];
  let sshLb: TcpBalancer;
  let httpsLb: TcpBalancer;

  before(async () => {
    ensureTargetAccount();
    sshd = await startSshd();
    db = await freshPgDatabase();
  });
  after(async () => {
    for (const p of clients) p.kill();
    await sshLb?.stop();
    await httpsLb?.stop();
    killAll();
    await sshd?.stop();
    await db?.drop().catch(() => undefined);
    removeTempDirs();
  });

  it('shares one identity, redeems anywhere, watches and terminates from any node, and outlives a node killed mid-session', { timeout: 900_000 }, async () => {
    const shared = {
      GATEHOUSE_ADMIN_PASSWORD: PW,
      GATEHOUSE_DATABASE_URL: db.url,
      GATEHOUSE_MASTER_KEY: randomBytes(32).toString('base64'),
      GATEHOUSE_CLUSTER_PORT: '0',
      GATEHOUSE_NODE_HEARTBEAT_SECONDS: '1',
      GATEHOUSE_NODE_DEAD_SECONDS: '5',
    };
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
    const sessionRow = async (id: string) => {
      const c = new pg.Client({ connectionString: db.url });
      await c.connect();
      try {
        return (await c.query('select node, status, end_reason from sessions where id = $1', [id])).rows[0] as { node: string; status: string; end_reason: string | null };
      } finally {
        await c.end();
      }
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

    // kill -9 on B mid-session.
    const two = await session(C, 1, 'dies-with-b');
    assert.equal((await sessionRow(two.id)).node, nodeId[1], 'the second session runs on node B');
    const recordingOnB = await waitFor('the output in B\'s recording', async () => {
      const f = findRecording(join(dirs[1]!, 'recordings'), two.id);
      return f && readRecording(f).toString('utf8').includes('dies-with-b-42') ? f : false;
    }, 15_000, 100);
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

    // The others keep serving: a new ticket reconnects through the balancer to A or C.
    const three = await session(A, 1, 'after-b-died');
    assert.notEqual(three.served, 1, 'the balancer skipped the dead node');
    assert.equal((await sessionRow(three.id)).node, nodeId[three.served]);
    three.client.write('exit\r');
    await three.client.done;

    // B starts again: the recording it holds is sealed, as complete as its last flush.
    nodes[1] = await Server.start(envs[1]!);
    const sealed = await waitFor('node B to seal its recording', async () => {
      const s = await call(A, 'GET', `/api/v1/sessions/${two.id}`);
      return s.recording.available ? s : false;
    }, 30_000);
    const bytes = readRecording(recordingOnB);
    assert.ok(bytes.includes('dies-with-b-42'));
    assert.equal(sealed.recording.sha256, createHash('sha256').update(bytes).digest('hex'));
    const seal = (await audit('recording.seal')).filter((e) => e.targetId === two.id);
    assert.equal(seal.length, 1, 'one recording.seal');
    assert.equal(seal[0]!.details.recovered, true);
    for (const n of nodes) assert.equal((await call(n, 'GET', '/api/v1/audit/verify')).ok, true, 'the chain verifies on every node');
    for (const n of nodes) assert.deepEqual(await n.stop(), { code: 0, signal: null });
  });
});
