// A launch starts the session (sessions.start puts it in `live`), then binds it to its access
// window (accessGate.bind) and to the launch's checkout (checkouts.bindSession); the door gets
// the handle only after. When one of those steps failed, nothing ended the started session:
// its row stayed 'live', gatehouse_sessions_live one too high, the secret checked out until the
// launch checkout expired, and a drain waited its whole timeout. Now the session is ended with
// a reason that says so, what the launch took is given back, and the error goes on to the door.
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { accessKit } from '../support/access.js';
import { DB_KINDS, startTestApp, type TestApp } from '../support/harness.js';
import { samples, value } from '../support/prometheus.js';

const SETUP_FAILED = /could not be set up after it started/;

for (const kind of DB_KINDS) {
  describe(`a step after the session's start fails (${kind})`, () => {
    let t: TestApp;
    let n = 0;
    let adminId: string;
    const kit = accessKit(() => t);
    before(async () => {
      t = await startTestApp(kind);
      adminId = (await kit.admin('GET', '/api/v1/me')).id;
    });
    after(async () => {
      await t?.core.sessions.endAll('test over');
      await t?.close();
    });

    /** A secret under a policy that requires checkout (a launch takes the credential), the administrator pre-approved. */
    const checkoutSecret = async () => {
      const s = await kit.admin('POST', '/api/v1/secrets', { name: `after-start-${++n}`, template: 'unix-account', fields: { machine: 'db1', username: 'root', password: 'after-Start-pw-1' } }, 201);
      const policy = await kit.admin('POST', '/api/v1/access-policies', { name: `after-start-policy-${n}`, preApproved: [{ principalType: 'user', principal: adminId }], checkoutRequired: true }, 201);
      await kit.admin('PATCH', `/api/v1/secrets/${s.id}`, { policyId: policy.id });
      return s.id as string;
    };
    /** Makes `obj[name]` throw once, then be itself again. */
    const failOnce = <O extends object>(obj: O, name: keyof O & string) => {
      const orig = obj[name] as (...a: unknown[]) => Promise<unknown>;
      (obj as Record<string, unknown>)[name] = async () => {
        (obj as Record<string, unknown>)[name] = orig;
        throw new Error(`${name} failed (test)`);
      };
    };
    const sessionRows = (secretId: string) => t.core.store.db.selectFrom('sessions').select(['id', 'status', 'endReason']).where('secretId', '=', secretId).execute();
    const openCheckouts = (secretId: string) => t.core.store.db.selectFrom('checkouts').select('id').where('secretId', '=', secretId).where('checkedInAt', 'is', null).execute();
    const liveGauge = async () => value(samples((await t.core.metrics.exposition()).body), 'gatehouse_sessions_live');

    /** The started session is ended and audited, the secret is free again, and the next launch works. */
    const cleanedUp = async (secretId: string) => {
      assert.equal(t.core.sessions.live.size, 0, 'no session left live');
      assert.equal(await liveGauge(), 0);
      await t.core.sessions.settled();
      const rows = await sessionRows(secretId);
      assert.equal(rows.length, 1, 'the session had started');
      assert.equal(rows[0]!.status, 'ended');
      assert.match(rows[0]!.endReason ?? '', SETUP_FAILED);
      const ends = (await kit.audit('session.end')).filter((e) => e.targetId === rows[0]!.id);
      assert.equal(ends.length, 1, 'its end is audited');
      assert.deepEqual(await openCheckouts(secretId), [], 'the launch checkout is checked in');
      const checkin = (await kit.audit('secret.checkin')).find((e) => e.targetId === secretId);
      assert.equal(checkin?.details.reason, 'session_end');
      assert.match(t.logs(), /setting up a session after its start failed/);
    };

    it('redeem: checkouts.bindSession throws; the session is ended, the checkout given back, the error reaches the door', async () => {
      const secretId = await checkoutSecret();
      const r = await kit.launch(t.adminToken, secretId);
      assert.equal(r.statusCode, 200, r.body);
      assert.equal((await openCheckouts(secretId)).length, 1, 'the launch took the credential');
      failOnce(t.core.checkouts, 'bindSession');
      await assert.rejects(kit.redeem(r.json().ticket), /bindSession failed \(test\)/);
      await cleanedUp(secretId);
      const again = await kit.launch(t.adminToken, secretId);
      assert.equal(again.statusCode, 200, again.body);
      const s = await kit.redeem(again.json().ticket);
      assert.equal(t.core.sessions.live.size, 1);
      await s.end('done');
    });

    it('a door opening a session directly: accessGate.bind throws; the same', async () => {
      const secretId = await checkoutSecret();
      failOnce(t.core.accessGate, 'bind');
      await assert.rejects(t.core.launching.open(adminId, secretId, null, { clientIp: '127.0.0.1', door: 'ssh' }), /bind failed \(test\)/);
      await cleanedUp(secretId);
    });
  });
}
