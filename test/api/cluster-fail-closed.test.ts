// A node cut off from the database closes its own sessions once its heartbeat has been silent
// for the dead timeout (cluster-node.ts, fail closed). By then the other nodes take it for dead
// and end its sessions as interrupted; it can neither audit them nor index their text, and
// nobody can watch or terminate them from elsewhere. Before, only dropReaped closed such
// sessions, and it runs only after a successful heartbeat: a node that could not reach the
// database relayed them on. The ends it could not write are written once the database answers
// again (Sessions retries them), so no row stays 'live' until the next start. One node in this process, its database link through a TCP proxy
// that the test cuts (every connection closed, new ones refused) with a recorded session live.
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { randomUUID } from 'node:crypto';
import { joinCluster, type ClusterNodeHandle } from '../../src/cluster-node.js';
import { freshPgDatabase, startTestApp, type TestApp } from '../support/harness.js';
import { TcpBalancer } from '../support/tcp-balancer.js';
import { waitFor } from '../support/xrdp.js';

const DEAD_SECONDS = 3;

describe('a cluster node that loses its database (postgres)', () => {
  let db: Awaited<ReturnType<typeof freshPgDatabase>>;
  let proxy: TcpBalancer;
  let t: TestApp;
  let node: ClusterNodeHandle | null = null;
  before(async () => {
    db = await freshPgDatabase();
    const url = new URL(db.url);
    proxy = new TcpBalancer([Number(url.port || 5432)]);
    url.port = String(await proxy.start());
    url.hostname = '127.0.0.1';
    t = await startTestApp('postgres', { GATEHOUSE_NODE_HEARTBEAT_SECONDS: '1', GATEHOUSE_NODE_DEAD_SECONDS: String(DEAD_SECONDS), GATEHOUSE_DATABASE_URL: url.toString() });
  });
  after(async () => {
    proxy?.heal();
    await node?.stop();
    await t?.close();
    await proxy?.stop();
    await db?.drop();
  });

  /** A recorded SSH session of the administrator on a new secret, started as the door starts one (the target is never contacted). */
  const recordedSession = async (name: string) => {
    const r = await t.req('POST', '/api/v1/secrets', { token: t.adminToken, body: { name, template: 'generic', fields: { username: 'u', password: `pw-${name}-1` } } });
    assert.equal(r.statusCode, 201, r.body);
    const me = (await t.req('GET', '/api/v1/me', { token: t.adminToken })).json();
    const s = await t.core.sessions.start(
      { sessionId: randomUUID(), user: { id: me.id, username: me.username }, protocol: 'ssh', target: { host: 'db1', port: 22 }, credential: await t.core.secrets.credential(r.json().id), launcher: await t.core.launchers.get('ssh') },
      { clientIp: '127.0.0.1', door: 'ssh' },
    );
    s.begin({ cols: 80, rows: 24, term: 'xterm' });
    return s;
  };

  it('a node frozen past the dead timeout keeps its sessions when the database answers on waking', async () => {
    const s = await recordedSession('frozen');
    const terminated: string[] = [];
    s.onTerminate((reason) => terminated.push(reason));
    node = await joinCluster(t.config, t.core, undefined, t.core.log);
    node.startBeating();
    const registry = t.core.cluster.registry;
    const first = (await registry.get(registry.self))!.heartbeatAt;
    await waitFor('a heartbeat', async () => (await registry.get(registry.self))!.heartbeatAt > first);
    // The whole process stops for longer than the dead timeout (as SIGSTOP or a suspended VM would stop it).
    Atomics.wait(new Int32Array(new SharedArrayBuffer(4)), 0, 0, (DEAD_SECONDS + 1) * 1000);
    const woke = await registry.clock();
    await waitFor('two heartbeats after waking', async () => (await registry.get(registry.self))!.heartbeatAt > woke + 1000);
    assert.deepEqual(terminated, [], 'a node alone whose database answers keeps its sessions after a pause');
    await s.end('test done');
    assert.equal(t.core.sessions.live.size, 0);
  });

  it('closes its live sessions once its heartbeat has been silent for the dead timeout', async () => {
    const s = await recordedSession('fail-closed');
    s.output(Buffer.from('before-the-cut\r\n'));
    // What a door does when its session is terminated: it closes the connection and ends the session (logging a failed end).
    const terminated: string[] = [];
    let ending: Promise<unknown> | null = null;
    s.onTerminate((reason) => {
      terminated.push(reason);
      ending = s.end(`terminated: ${reason}`).then(
        () => 'ended',
        (e: Error) => `failed: ${e.message}`,
      );
    });

    if (!node) {
      node = await joinCluster(t.config, t.core, undefined, t.core.log);
      node.startBeating();
    }
    const registry = t.core.cluster.registry;
    const first = (await registry.get(registry.self))!.heartbeatAt;
    await waitFor('a heartbeat', async () => (await registry.get(registry.self))!.heartbeatAt > first);

    proxy.cut();
    await waitFor('the session closed by its node', () => terminated.length > 0, 60_000);
    assert.deepEqual(terminated, ['this gateway node lost the database (no heartbeat for longer than the dead timeout): the cluster takes it for dead']);
    // Its end could not be written now: the end settles (the door learns it failed), neither hangs nor crashes.
    const how = String(await ending);
    assert.match(how, /^failed: /);
    assert.equal(t.core.sessions.live.size, 0);
    assert.match(t.logs(), /its live sessions were closed \(fail closed\)/);
    assert.match(t.logs(), /the end of this session could not be written to the database: tried again/);

    // The link back: nobody reaped this node (it is alone, as when the database itself was
    // down for every node); its own retry writes the end, with its seal, instead of the row
    // staying 'live' until the next start.
    proxy.heal();
    const row = await waitFor('the end written once the database answers', async () => {
      const r = await t.core.store.db.selectFrom('sessions').select(['status', 'endReason', 'recordingSha256']).where('id', '=', s.id).executeTakeFirstOrThrow();
      return r.status === 'ended' ? r : false;
    }, 60_000);
    assert.match(row.endReason ?? '', /lost the database/);
    assert.match(row.recordingSha256 ?? '', /^[0-9a-f]{64}$/);
    const events = (await t.core.store.db.selectFrom('auditEvents').select('action').where('targetId', '=', s.id).orderBy('seq').execute()).map((e) => e.action);
    assert.deepEqual(events, ['session.start', 'session.end', 'recording.seal'], 'ended and sealed once');
    assert.match(t.logs(), /the end of this session was written now that the database answers again/);
  });
});
