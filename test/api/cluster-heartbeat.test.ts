// A node busy reaping a dead node keeps beating (cluster-node.ts). Reaping can take longer
// than the dead timeout (with object storage it completes uploads and reads, repairs and hashes
// whole recordings, session by session); when the heartbeat waited for it, the reaping node
// looked dead to the others, which ended its healthy sessions as interrupted. Two nodes in this
// process on one PostgreSQL database, each with its real heartbeat and upkeep (joinCluster),
// and a dead node C with a live session: A's reaping of C is held (its storage's recover,
// wrapped) for three dead timeouts. A's heartbeat must stay fresh all along, and B, which
// reaps C's session meanwhile, must leave A's session live; and A's upkeep of its own sessions
// (terminates queued for them) must go on while the reaping is held.
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { setTimeout as sleep } from 'node:timers/promises';
import { joinCluster, type ClusterNodeHandle } from '../../src/cluster-node.js';
import { startTestApp, type TestApp } from '../support/harness.js';

const HEARTBEAT_SECONDS = 1;
const DEAD_SECONDS = 4;
const timing = { GATEHOUSE_NODE_HEARTBEAT_SECONDS: String(HEARTBEAT_SECONDS), GATEHOUSE_NODE_DEAD_SECONDS: String(DEAD_SECONDS) };

describe('a cluster node reaping a dead node (postgres)', () => {
  let a: TestApp;
  let b: TestApp;
  const nodes: ClusterNodeHandle[] = [];
  let release: () => void = () => undefined;
  before(async () => {
    a = await startTestApp('postgres', timing);
    // B on A's database (the harness's own fresh database for B goes unused).
    b = await startTestApp('postgres', { ...timing, GATEHOUSE_DATABASE_URL: a.config.databaseUrl! });
  });
  after(async () => {
    release();
    for (const n of nodes) await n.stop();
    await b?.close();
    await a?.close();
  });

  it('keeps beating while its reaping takes longer than the dead timeout: the other node leaves its sessions live', async () => {
    const db = a.core.store.db;
    const nodeA = a.core.cluster.registry.self;
    const nodeB = b.core.cluster.registry.self;
    assert.notEqual(nodeA, nodeB);
    const at = await a.core.cluster.registry.clock();
    await db.insertInto('clusterNodes').values({ id: 'node-c', address: null, version: '0.1.0', startedAt: at - 20 * 60_000, heartbeatAt: at - 10 * 60_000, load: 1, status: 'up' }).execute();
    const admin = (await a.core.dir.userByName('admin'))!;
    const session = (id: string, node: string) => ({
      id, userId: admin.id, username: 'admin', secretId: 's1', secretName: 'one', launcherId: 'ssh', protocol: 'ssh', targetHost: '127.0.0.1', targetPort: 22, targetUser: 'u',
      clientIp: '127.0.0.1', door: 'ssh', status: 'live' as const, startedAt: at - 5000, endedAt: null, endReason: null, bytesIn: 0, bytesOut: 0, recording: null, recordingSha256: null, recordKeystrokes: 0 as const, node,
    });
    await db.insertInto('sessions').values([session('sess-of-c', 'node-c'), session('sess-of-a', nodeA)]).execute();

    // A's recovery of C's session is held until released: a reap slower than the dead timeout.
    let entered!: () => void;
    const reaping = new Promise<void>((r) => (entered = r));
    const held = new Promise<void>((r) => (release = r));
    Object.assign(a.core.sessions.storage, {
      recover: async () => {
        entered();
        await held;
        return null;
      },
    });

    // A's upkeep of its own sessions (terminates other nodes queued for it, sessions they ended) is counted.
    let upkeeps = 0;
    const apply = a.core.sessions.applyQueuedTerminations.bind(a.core.sessions);
    a.core.sessions.applyQueuedTerminations = async () => {
      upkeeps++;
      return apply();
    };
    const A = await joinCluster(a.config, a.core, undefined, a.core.log);
    nodes.push(A);
    A.startBeating();
    await reaping;
    const upkeepsBefore = upkeeps;
    // B joins once A is stuck in its reap: B's upkeep sees C dead too (and reaps it), and sees A dead if A stops beating.
    const B = await joinCluster(b.config, b.core, undefined, b.core.log);
    nodes.push(B);
    B.startBeating();

    const registryB = b.core.cluster.registry;
    const start = await registryB.clock();
    const ages: number[] = [];
    let endedByB = false;
    for (;;) {
      const now = await registryB.clock();
      const seen = (await registryB.get(nodeA))!;
      ages.push(now - seen.heartbeatAt);
      assert.equal(seen.status, 'up', `node A looked ${seen.status} to node B while reaping (heartbeat ${now - seen.heartbeatAt} ms old)`);
      const c = await db.selectFrom('sessions').select(['status']).where('id', '=', 'sess-of-c').executeTakeFirstOrThrow();
      endedByB ||= c.status === 'ended';
      // Until A's upkeep has run three times during the held reap too (before: never; the
      // count, not a time, is the bound: a slower machine takes longer to get there).
      if (now - start > 3 * DEAD_SECONDS * 1000 && endedByB && upkeeps - upkeepsBefore >= 3) break;
      await sleep(200);
    }
    assert.ok(Math.max(...ages) <= DEAD_SECONDS * 1000, `A's heartbeat stayed within the dead timeout (oldest seen ${Math.max(...ages)} ms)`);
    // Before: the reaping ran inside the upkeep, which skipped every tick while it was held.
    assert.ok(upkeeps - upkeepsBefore >= 3, `A's upkeep went on while it reaped (${upkeeps - upkeepsBefore} runs)`);
    const ofA = await db.selectFrom('sessions').select(['status', 'endReason']).where('id', '=', 'sess-of-a').executeTakeFirstOrThrow();
    assert.deepEqual([ofA.status, ofA.endReason], ['live', null], 'node A\'s session is left live');
    const endC = await db.selectFrom('auditEvents').select('details').where('action', '=', 'session.end').where('targetId', '=', 'sess-of-c').execute();
    assert.equal(endC.length, 1);
    assert.equal(JSON.parse(endC[0]!.details as unknown as string).endedBy, nodeB, 'B reaped C while A was held');

    // Released, A's reap finds C's session ended already and writes nothing; stop() waits for both loops.
    release();
    await A.stop();
    await B.stop();
    nodes.length = 0;
    assert.equal((await db.selectFrom('auditEvents').select('seq').where('action', '=', 'session.end').where('targetId', '=', 'sess-of-c').execute()).length, 1);
    assert.equal((await a.core.cluster.registry.get(nodeA))!.status, 'stopped');
  });
});
