// A node's id is its data dir's (node-id.ts). The same data dir started twice (a manual
// `gatehouse serve` beside the running service) or copied to a second machine gives two
// processes one id; the second one's start-up recovery then ended every live session of the
// first as interrupted, since they carry that id. joinCluster now refuses to start as a node
// whose heartbeat still moves (registry.ensureNotRunning), and still starts at once after a
// clean stop, or after watching two heartbeats when the previous process crashed a moment ago.
// In this process: the first "process" is a joinCluster beating, the second a joinCluster on
// the same core (so the same id and database).
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { joinCluster, type ClusterNodeHandle } from '../../src/cluster-node.js';
import { DB_KINDS, startTestApp, type TestApp } from '../support/harness.js';
import { waitFor } from '../support/xrdp.js';

const timing = { GATEHOUSE_NODE_HEARTBEAT_SECONDS: '1', GATEHOUSE_NODE_DEAD_SECONDS: '4' };

for (const kind of DB_KINDS) {
  describe(`a second process with a running node's id (${kind})`, () => {
    let t: TestApp;
    let first: ClusterNodeHandle | null = null;
    before(async () => {
      t = await startTestApp(kind, timing);
    });
    after(async () => {
      await first?.stop();
      await t?.close();
    });

    it('is refused while the first beats, and touches neither its row nor its sessions', async () => {
      const registry = t.core.cluster.registry;
      first = await joinCluster(t.config, t.core, undefined, t.core.log);
      first.startBeating();
      const registered = (await registry.get(registry.self))!;
      await waitFor('a heartbeat', async () => (await registry.get(registry.self))!.heartbeatAt > registered.heartbeatAt);
      const admin = (await t.core.dir.userByName('admin'))!;
      const at = await registry.clock();
      await t.core.store.db
        .insertInto('sessions')
        .values({
          id: `live-of-first-${kind}`, userId: admin.id, username: 'admin', secretId: 's1', secretName: 'one', launcherId: 'ssh', protocol: 'ssh', targetHost: '127.0.0.1', targetPort: 22, targetUser: 'u',
          clientIp: '127.0.0.1', door: 'ssh', status: 'live', startedAt: at, endedAt: null, endReason: null, bytesIn: 0, bytesOut: 0, recording: null, recordingSha256: null, recordKeystrokes: 0, node: registry.self,
        })
        .execute();

      await assert.rejects(joinCluster(t.config, t.core, undefined, t.core.log), (e: Error & { code?: string }) => {
        assert.equal(e.code, 'node_in_use');
        assert.match(e.message, new RegExp(`another gateway process is running as node ${registry.self}`));
        return true;
      });
      // The first one's registration stands (not re-registered: its start time is unchanged), and so does its session.
      assert.equal((await registry.get(registry.self))!.startedAt, registered.startedAt);
      const row = await t.core.store.db.selectFrom('sessions').select('status').where('id', '=', `live-of-first-${kind}`).executeTakeFirstOrThrow();
      assert.equal(row.status, 'live');
    });

    it('starts after the previous process crashed a moment ago (its heartbeat fresh but still), and at once after a clean stop', async () => {
      const registry = t.core.cluster.registry;
      // A crash: the beating stops without saying "stopped" (the row stays up with a fresh heartbeat).
      await first!.stop();
      first = null;
      await t.core.store.db.updateTable('clusterNodes').set({ status: 'up', heartbeatAt: await registry.clock() }).where('id', '=', registry.self).execute();
      // What is asserted is what each wait asked for and the row when it went on, not how many
      // waits fitted: a slower machine may need fewer.
      const waits: number[] = [];
      await registry.ensureNotRunning(async (ms) => {
        waits.push(ms);
        await new Promise((r) => setTimeout(r, ms));
      });
      assert.equal(waits[0], 2 * 1000 + 1000, 'it watched two heartbeats');
      assert.ok(waits.slice(1).every((ms) => ms <= 1000), `then on, a heartbeat at a time: ${waits}`);
      const still = (await registry.get(registry.self))!;
      assert.ok((await registry.clock()) - still.heartbeatAt > 4000, 'it went on only once the row was dead (4 s)');
      first = await joinCluster(t.config, t.core, undefined, t.core.log);
      first.startBeating();
      await first.stop();
      first = null;
      assert.equal((await registry.get(registry.self))!.status, 'stopped');
      // A beat still on its way when the stop marked the node stopped does not make it up again
      // (the stop's wait for it is bounded); before, it did, and the next start waited.
      await registry.beat(0);
      assert.equal((await registry.get(registry.self))!.status, 'stopped');
      // After a clean stop nothing is waited for.
      await registry.ensureNotRunning(async () => assert.fail('no wait after a clean stop'));
    });

    it('is refused when the other process beats less often than this one (its beat comes after two of this one\'s)', async () => {
      // Before: two of this process's heartbeats were all it watched; a service beating every
      // 30 s beside a manual start with the default 5 s was taken for a crashed predecessor, and
      // the start-up recovery ended its sessions.
      const registry = t.core.cluster.registry;
      const beat = async () => void (await t.core.store.db.updateTable('clusterNodes').set({ status: 'up', heartbeatAt: await registry.clock() }).where('id', '=', registry.self).execute());
      await beat();
      let waits = 0;
      await assert.rejects(
        registry.ensureNotRunning(async (ms) => {
          await new Promise((r) => setTimeout(r, Math.min(ms, 200)));
          // The other process's next beat lands only after this one's first watch.
          if (++waits === 2) await beat();
        }),
        (e: Error & { code?: string }) => e.code === 'node_in_use',
      );
      await t.core.store.db.updateTable('clusterNodes').set({ status: 'stopped' }).where('id', '=', registry.self).execute();
    });
  });
}
