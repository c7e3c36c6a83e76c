// Exclusive checkout of shared credentials (issue 11, point 3) on both databases: exactly
// one of 20 parallel checkouts wins; while someone holds a secret nobody else may launch it
// (the seed's message at launch, a refused ticket at redeem); a launch of a secret that
// requires checkout takes one that ends with the session; the queue gets the next turn;
// the holder checks in early, an administrator may force it (ending the holder's sessions);
// expiry frees the secret; everything is audited.
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { TicketRefused } from '../../src/core/broker.js';
import { NO_CREDENTIALS, SHARED_UNAVAILABLE } from '../../src/core/vault/checkout.js';
import { accessKit } from '../support/access.js';
import { DB_KINDS, startTestApp, type TestApp } from '../support/harness.js';

for (const kind of DB_KINDS) {
  describe(`exclusive checkout on ${kind}`, () => {
    let t: TestApp;
    let n = 0;
    const people: Record<string, { id: string; token: string }> = {};
    const { ok, ...kit } = accessKit(() => t);
    /** A fresh unix-account secret shared at view with the named people. */
    const mkSecret = async (...names: string[]) => {
      const s = await ok(t.adminToken, 'POST', '/api/v1/secrets', { name: `shared-${++n}`, template: 'unix-account', fields: { machine: 'db1', username: 'root', password: 'checkout-Secret-1' } });
      const entries = names.map((u) => ({ principalType: 'user', principal: people[u]!.id, level: 'view' }));
      await ok(t.adminToken, 'PUT', `/api/v1/secrets/${s.id}/permissions`, { entries });
      return s.id as string;
    };
    const audit = async (action: string) => (await kit.audit(action)) as { actorName: string | null; targetId: string | null; details: Record<string, unknown> }[];
    const launch = (who: string, secretId: string, body: Record<string, unknown> = {}) => kit.launch(people[who]!.token, secretId, body);

    /** Sets the person's master password (unlocking their vault on their token) once, and stores a personal credential for this target. */
    const personalCredential = async (who: string, target: Record<string, unknown>) => {
      const token = people[who]!.token;
      if (!(await kit.call(token, 'GET', '/api/v1/me/master-password')).set) await kit.call(token, 'PUT', '/api/v1/me/master-password', { masterPassword: `Master-of-${who}-Checkout-9` });
      return (await kit.call(token, 'POST', '/api/v1/me/personal-credentials', { name: `${who}-own-${++n}`, target, username: `${who}-own`, password: `Own-${who}-pw-1` }, 201)).id as string;
    };

    before(async () => {
      t = await startTestApp(kind);
      for (const name of ['alice', 'bob', 'carol', 'owner']) people[name] = await t.user(name, ['User']);
      for (let i = 0; i < 20; i++) people[`racer${i}`] = await t.user(`racer${i}`, ['User']);
    });
    after(async () => {
      await t?.core.sessions.endAll('test over');
      await t?.close();
    });

    it('20 parallel checkouts of one secret: exactly one wins', async () => {
      const racers = Array.from({ length: 20 }, (_, i) => `racer${i}`);
      const id = await mkSecret(...racers);
      const answers = await Promise.all(racers.map((r) => t.req('POST', `/api/v1/secrets/${id}/checkout`, { token: people[r]!.token, body: { reason: 'race', durationSeconds: 600 } })));
      const won = answers.filter((a) => a.statusCode === 200);
      const lost = answers.filter((a) => a.statusCode !== 200);
      assert.equal(won.length, 1, answers.map((a) => `${a.statusCode} ${a.body}`).join('\n'));
      for (const a of lost) {
        assert.equal(a.statusCode, 409, a.body);
        assert.deepEqual(a.json().error, { code: 'credential_unavailable', message: SHARED_UNAVAILABLE });
      }
      const winner = won[0]!.json();
      assert.equal(winner.checkedOut, true);
      assert.equal(winner.mine, true);
      const open = await t.core.store.db.selectFrom('checkouts').selectAll().where('secretId', '=', id).where('checkedInAt', 'is', null).execute();
      assert.equal(open.length, 1);
      assert.equal(open[0]!.userId, winner.holder.id);
      assert.equal((await audit('secret.checkout')).filter((e) => e.targetId === id).length, 1);
    });

    it('the same race straight at the core (no HTTP in between) has one winner too', async () => {
      const racers = Array.from({ length: 20 }, (_, i) => `racer${i}`);
      const id = await mkSecret(...racers);
      const results = await Promise.all(racers.map((r) => t.core.checkouts.take({ id: people[r]!.id, name: r, ip: null }, { id: people[r]!.id, name: r }, id, { source: 'explicit', until: Date.now() + 600_000 })));
      assert.equal(results.filter((r) => r.ok).length, 1);
    });

    it("an access policy with checkoutRequired: a launch takes the credential, and nobody else may launch meanwhile", async () => {
      const id = await mkSecret('alice', 'bob');
      const policy = await ok(t.adminToken, 'POST', '/api/v1/access-policies', {
        name: `checkout-policy-${++n}`,
        preApproved: [{ principalType: 'user', principal: people.alice!.id }, { principalType: 'user', principal: people.bob!.id }],
        checkoutRequired: true,
      });
      await ok(t.adminToken, 'PATCH', `/api/v1/secrets/${id}`, { policyId: policy.id });
      const status = await ok(people.alice!.token, 'GET', `/api/v1/secrets/${id}/checkout`);
      assert.equal(status.required, true);
      const first = await launch('alice', id);
      assert.equal(first.statusCode, 200, first.body);
      const handle = await t.core.launching.redeem(first.json().ticket, { clientIp: '127.0.0.1', door: 'ssh' });
      try {
        const held = await ok(people.bob!.token, 'GET', `/api/v1/secrets/${id}/checkout`);
        assert.equal(held.checkedOut, true);
        assert.equal(held.holder.name, 'alice');
        const refused = await launch('bob', id);
        assert.equal(refused.statusCode, 409, refused.body);
        // Bob has no personal credential for it either: the seed's second message.
        assert.equal(refused.json().error.message, NO_CREDENTIALS);
      } finally {
        await handle.end('test over');
      }
    });

    it('while checked out nobody else may launch it; the holder may', async () => {
      const id = await mkSecret('alice', 'bob');
      // A ticket bob got before alice checked out is refused at redeem.
      const early = await launch('bob', id);
      assert.equal(early.statusCode, 200, early.body);
      const taken = await ok(people.alice!.token, 'POST', `/api/v1/secrets/${id}/checkout`, { reason: 'patching db1' });
      assert.equal(taken.holder.name, 'alice');
      assert.equal(taken.reason, 'patching db1');
      assert.equal(taken.source, 'explicit');

      const refused = await launch('bob', id);
      assert.equal(refused.statusCode, 409, refused.body);
      assert.deepEqual(refused.json().error, { code: 'credential_unavailable', message: NO_CREDENTIALS });
      await assert.rejects(t.core.launching.redeem(early.json().ticket, { clientIp: '127.0.0.1', door: 'ssh' }), (e: unknown) => e instanceof TicketRefused && e.reason === 'checked_out' && e.detail === NO_CREDENTIALS);
      const ticketRefused = (await audit('ticket.refused')).find((e) => e.details.secretId === id);
      assert.equal(ticketRefused?.details.reason, 'checked_out');
      // `ssh bob:secret@gatehouse` (a door opening directly) is refused the same way.
      await assert.rejects(t.core.launching.open(people.bob!.id, id, null, { clientIp: '127.0.0.1', door: 'ssh' }), (e: unknown) => e instanceof TicketRefused && e.reason === 'checked_out');

      const mine = await launch('alice', id);
      assert.equal(mine.statusCode, 200, mine.body);
      const h = await t.core.launching.redeem(mine.json().ticket, { clientIp: '127.0.0.1', door: 'ssh' });
      await h.end('done');

      // Checked in early by the holder: bob may launch again.
      const back = await ok(people.alice!.token, 'POST', `/api/v1/secrets/${id}/checkin`);
      assert.equal(back.checkedOut, false);
      assert.equal((await launch('bob', id)).statusCode, 200);
      const checkin = (await audit('secret.checkin')).find((e) => e.targetId === id);
      assert.equal(checkin?.details.reason, 'holder');
      assert.equal(checkin?.actorName, 'alice');
    });

    it("the seed's messages follow the person's personal credentials: none left at all, or only the shared one taken", async () => {
      const id = await mkSecret('alice', 'bob');
      await ok(people.alice!.token, 'POST', `/api/v1/secrets/${id}/checkout`);
      const r = await launch('bob', id);
      assert.equal(r.statusCode, 409);
      assert.deepEqual(r.json().error, { code: 'credential_unavailable', message: NO_CREDENTIALS });
      // An explicit checkout asks for the shared credential only.
      assert.equal((await kit.req(people.bob!.token, 'POST', `/api/v1/secrets/${id}/checkout`)).json().error.message, SHARED_UNAVAILABLE);
      // With a personal credential for the target (bound to its machine), only the shared ones are taken.
      const credId = await personalCredential('bob', { machine: 'DB1' });
      const again = await launch('bob', id);
      assert.equal(again.statusCode, 409);
      assert.deepEqual(again.json().error, { code: 'credential_unavailable', message: SHARED_UNAVAILABLE });
      // One for another protocol does not count for an SSH launch.
      await kit.call(people.bob!.token, 'PATCH', `/api/v1/me/personal-credentials/${credId}`, { target: { machine: 'db1', protocol: 'rdp' } });
      assert.equal((await launch('bob', id)).json().error.message, NO_CREDENTIALS);
    });

    it("a launch with the person's own personal credential neither needs nor takes the shared credential's checkout", async () => {
      const id = await mkSecret('alice', 'carol');
      const policy = await ok(t.adminToken, 'POST', '/api/v1/access-policies', {
        name: `checkout-personal-${++n}`,
        preApproved: [{ principalType: 'user', principal: people.alice!.id }, { principalType: 'user', principal: people.carol!.id }],
        checkoutRequired: true,
      });
      await ok(t.adminToken, 'PATCH', `/api/v1/secrets/${id}`, { policyId: policy.id });
      const credId = await personalCredential('carol', { secretId: id });
      // Free: carol's personal launch leaves the shared credential free.
      const own = await launch('carol', id, { personalCredentialId: credId });
      assert.equal(own.statusCode, 200, own.body);
      const h = await kit.redeem(own.json().ticket);
      try {
        assert.equal(h.plan.credential.username, 'carol-own');
        const free = await ok(people.alice!.token, 'GET', `/api/v1/secrets/${id}/checkout`);
        assert.equal(free.checkedOut, false);
        // Alice's shared launch takes it meanwhile; carol may still launch with her own.
        const shared = await launch('alice', id);
        assert.equal(shared.statusCode, 200, shared.body);
        assert.equal((await ok(people.carol!.token, 'GET', `/api/v1/secrets/${id}/checkout`)).holder.name, 'alice');
        const refused = await launch('carol', id);
        assert.deepEqual(refused.json().error, { code: 'credential_unavailable', message: SHARED_UNAVAILABLE });
        const second = await launch('carol', id, { personalCredentialId: credId });
        assert.equal(second.statusCode, 200, second.body);
        const h2 = await kit.redeem(second.json().ticket);
        await h2.end('done');
        assert.equal((await ok(people.carol!.token, 'GET', `/api/v1/secrets/${id}/checkout`)).holder.name, 'alice');
      } finally {
        await h.end('test over');
      }
      assert.ok(!(await kit.audit('secret.checkout')).some((e) => e.targetId === id && e.details.holder === 'carol'));
    });

    it('a launch of a secret that requires checkout takes one, and the session end checks it in', async () => {
      const id = await mkSecret('alice', 'bob', 'carol');
      t.core.checkouts.addRequirement(async (secretId) => secretId === id);
      const l = await launch('alice', id);
      assert.equal(l.statusCode, 200, l.body);
      const st = await ok(people.bob!.token, 'GET', `/api/v1/secrets/${id}/checkout`);
      assert.equal(st.required, true);
      assert.equal(st.holder.name, 'alice');
      assert.equal(st.source, 'launch');
      assert.equal(st.mine, false);
      assert.equal((await launch('bob', id)).statusCode, 409);

      const h = await t.core.launching.redeem(l.json().ticket, { clientIp: '127.0.0.1', door: 'ssh' });
      const bound = await t.core.store.db.selectFrom('checkouts').selectAll().where('secretId', '=', id).where('checkedInAt', 'is', null).executeTakeFirstOrThrow();
      assert.equal(bound.sessionId, h.id);
      // Carol queues meanwhile.
      const q = await ok(people.carol!.token, 'POST', `/api/v1/secrets/${id}/checkout/queue`);
      assert.equal(q.queuePosition, 1);

      await h.end('finished');
      const after = await ok(people.carol!.token, 'GET', `/api/v1/secrets/${id}/checkout`);
      assert.equal(after.checkedOut, false);
      assert.equal(after.myTurn, true, 'the first in the queue gets the turn');
      const checkin = (await audit('secret.checkin')).find((e) => e.targetId === id);
      assert.equal(checkin?.details.reason, 'session_end');
      assert.equal(checkin?.details.sessionId, h.id);
      assert.ok((await audit('secret.checkout_queue.turn')).some((e) => e.targetId === id && e.details.user === 'carol'));
      // Held for carol: bob's launch is refused, carol's takes the checkout.
      assert.equal((await launch('bob', id)).statusCode, 409);
      assert.equal((await launch('carol', id)).statusCode, 200);
      const now = await ok(people.bob!.token, 'GET', `/api/v1/secrets/${id}/checkout`);
      assert.equal(now.holder.name, 'carol');
      assert.deepEqual(now.queue, []);
    });

    it('the queue: join, order, the turn, leave', async () => {
      const id = await mkSecret('alice', 'bob', 'carol');
      const free = await t.req('POST', `/api/v1/secrets/${id}/checkout/queue`, { token: people.bob!.token });
      assert.equal(free.statusCode, 409);
      assert.equal(free.json().error.code, 'checkout_available');
      await ok(people.alice!.token, 'POST', `/api/v1/secrets/${id}/checkout`, { durationSeconds: 3600 });
      const holderQueues = await t.req('POST', `/api/v1/secrets/${id}/checkout/queue`, { token: people.alice!.token });
      assert.equal(holderQueues.json().error.code, 'already_checked_out');
      assert.equal((await ok(people.bob!.token, 'POST', `/api/v1/secrets/${id}/checkout/queue`)).queuePosition, 1);
      assert.equal((await ok(people.carol!.token, 'POST', `/api/v1/secrets/${id}/checkout/queue`)).queuePosition, 2);
      // The portal's one call: the checkouts that concern the caller.
      const list = await ok(people.carol!.token, 'GET', '/api/v1/checkouts');
      const mine = list.items.find((x: { secretId: string }) => x.secretId === id);
      assert.equal(mine?.queuePosition, 2);
      assert.equal(mine?.holder.name, 'alice');
      const twice = await t.req('POST', `/api/v1/secrets/${id}/checkout/queue`, { token: people.carol!.token });
      assert.equal(twice.json().error.code, 'already_queued');
      const seen = await ok(people.carol!.token, 'GET', `/api/v1/secrets/${id}/checkout`);
      assert.deepEqual(seen.queue.map((q: { user: { name: string } }) => q.user.name), ['bob', 'carol']);

      await ok(people.alice!.token, 'POST', `/api/v1/secrets/${id}/checkin`);
      const bob = await ok(people.bob!.token, 'GET', `/api/v1/secrets/${id}/checkout`);
      assert.equal(bob.myTurn, true);
      assert.ok(bob.queue[0].reservedUntil);
      // Held for bob: carol can neither check out nor launch.
      const carolTries = await t.req('POST', `/api/v1/secrets/${id}/checkout`, { token: people.carol!.token });
      assert.equal(carolTries.statusCode, 409);
      assert.equal(carolTries.json().error.message, SHARED_UNAVAILABLE);
      // Bob leaves: the turn passes to carol.
      assert.equal((await t.req('DELETE', `/api/v1/secrets/${id}/checkout/queue`, { token: people.bob!.token })).statusCode, 204);
      assert.equal((await t.req('DELETE', `/api/v1/secrets/${id}/checkout/queue`, { token: people.bob!.token })).statusCode, 404);
      const carol = await ok(people.carol!.token, 'GET', `/api/v1/secrets/${id}/checkout`);
      assert.equal(carol.myTurn, true);
      const taken = await ok(people.carol!.token, 'POST', `/api/v1/secrets/${id}/checkout`);
      assert.equal(taken.mine, true);
      assert.deepEqual(taken.queue, []);
      assert.ok((await audit('secret.checkout_queue.leave')).some((e) => e.targetId === id && e.actorName === 'bob'));
    });

    it('a turn nobody takes lapses after its hold', async () => {
      const id = await mkSecret('alice', 'bob');
      await ok(people.alice!.token, 'POST', `/api/v1/secrets/${id}/checkout`);
      await ok(people.bob!.token, 'POST', `/api/v1/secrets/${id}/checkout/queue`);
      await ok(people.alice!.token, 'POST', `/api/v1/secrets/${id}/checkin`);
      // Move the hold into the past instead of waiting for it.
      await t.core.store.db.updateTable('checkoutQueue').set({ reservedUntil: Date.now() - 1000 }).where('secretId', '=', id).execute();
      const st = await ok(people.alice!.token, 'GET', `/api/v1/secrets/${id}/checkout`);
      assert.deepEqual(st.queue, []);
      assert.ok((await audit('secret.checkout_queue.lapsed')).some((e) => e.targetId === id));
      assert.equal((await launch('alice', id)).statusCode, 200);
    });

    it('a checkout past its end frees the secret (audited as expired)', async () => {
      const id = await mkSecret('alice', 'bob');
      await ok(people.alice!.token, 'POST', `/api/v1/secrets/${id}/checkout`, { durationSeconds: 60 });
      assert.equal((await launch('bob', id)).statusCode, 409);
      await t.core.store.db.updateTable('checkouts').set({ expiresAt: Date.now() - 1000 }).where('secretId', '=', id).execute();
      assert.equal((await launch('bob', id)).statusCode, 200);
      const ev = (await audit('secret.checkin')).find((e) => e.targetId === id);
      assert.equal(ev?.details.reason, 'expired');
    });

    it('a lapsed checkout is checked in by the sweep even when nobody looks at the secret (listeners told)', async () => {
      const id = await mkSecret('alice');
      await ok(people.alice!.token, 'POST', `/api/v1/secrets/${id}/checkout`, { durationSeconds: 60 });
      const told: string[] = [];
      t.core.checkouts.onCheckin(async (secretId) => void told.push(secretId));
      assert.equal(await t.core.checkouts.settleDue(), 0, 'nothing due yet');
      await t.core.store.db.updateTable('checkouts').set({ expiresAt: Date.now() - 1000 }).where('secretId', '=', id).execute();
      assert.ok((await t.core.checkouts.settleDue()) >= 1);
      assert.ok(told.includes(id), 'check-in listeners (rotation after use) are told');
      const ev = (await audit('secret.checkin')).find((e) => e.targetId === id);
      assert.equal(ev?.details.reason, 'expired');
      assert.equal(await t.core.checkouts.settleDue(), 0, 'settled once');
    });

    it("only the holder or an administrator of the secret checks it in; forcing ends the holder's sessions", async () => {
      const id = await mkSecret('alice', 'bob');
      // The owner user: manage_secrets and owner on the secret.
      await ok(t.adminToken, 'PUT', `/api/v1/secrets/${id}/permissions`, { entries: [{ principalType: 'user', principal: people.alice!.id, level: 'view' }, { principalType: 'user', principal: people.bob!.id, level: 'view' }, { principalType: 'user', principal: people.owner!.id, level: 'owner' }] });
      const none = await t.req('POST', `/api/v1/secrets/${id}/checkin`, { token: people.alice!.token });
      assert.equal(none.statusCode, 409);
      assert.equal(none.json().error.code, 'not_checked_out');
      await ok(people.alice!.token, 'POST', `/api/v1/secrets/${id}/checkout`);
      const h = await t.core.launching.redeem((await launch('alice', id)).json().ticket, { clientIp: '127.0.0.1', door: 'ssh' });
      const ended = new Promise<string>((resolve) => h.onTerminate(resolve));

      const bob = await t.req('POST', `/api/v1/secrets/${id}/checkin`, { token: people.bob!.token });
      assert.equal(bob.statusCode, 403);
      assert.equal(bob.json().error.code, 'forbidden');
      const forced = await ok(people.owner!.token, 'POST', `/api/v1/secrets/${id}/checkin`);
      assert.equal(forced.checkedOut, false);
      assert.match(await ended, /checkout/);
      const ev = (await audit('secret.checkin')).find((e) => e.targetId === id);
      assert.equal(ev?.details.reason, 'forced');
      assert.equal(ev?.details.forced, true);
      assert.equal(ev?.details.holder, 'alice');
      assert.equal(ev?.actorName, 'owner');

      // The built-in administrator (all_secrets) may force as well.
      await ok(people.bob!.token, 'POST', `/api/v1/secrets/${id}/checkout`);
      assert.equal((await ok(t.adminToken, 'POST', `/api/v1/secrets/${id}/checkin`)).checkedOut, false);
    });

    it('someone who cannot see the secret learns nothing about it', async () => {
      const id = await mkSecret('alice');
      await ok(people.alice!.token, 'POST', `/api/v1/secrets/${id}/checkout`);
      assert.ok(!(await ok(people.bob!.token, 'GET', '/api/v1/checkouts')).items.some((x: { secretId: string }) => x.secretId === id));
      assert.ok((await ok(people.alice!.token, 'GET', '/api/v1/checkouts')).items.some((x: { secretId: string; mine: boolean }) => x.secretId === id && x.mine));
      for (const [method, path] of [['GET', 'checkout'], ['POST', 'checkout'], ['POST', 'checkin'], ['POST', 'checkout/queue'], ['DELETE', 'checkout/queue']] as const) {
        const r = await t.req(method, `/api/v1/secrets/${id}/${path}`, { token: people.bob!.token });
        assert.equal(r.statusCode, 404, `${method} ${path}: ${r.body}`);
      }
    });
  });
}
