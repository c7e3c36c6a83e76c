// A TOTP code is accepted once (RFC 6238 §5.2: "the verifier MUST NOT accept the second
// attempt of the same OTP after the successful validation has been issued for the first
// OTP"), on both databases. Before, a code worked again as often as anyone liked within its
// validity (about 90 s: its step and one either side). Now the time step of the last code
// accepted for the user is in the database (users.totp_last_step, migration 023) and a code
// is taken only for a later step, in one conditional update:
// - the same code twice for sign-in: the second is refused as a wrong code (401 invalid_totp,
//   counted toward the lockout and the login failures), audited as 'TOTP code already used';
// - sign-ins at once with one code: exactly one succeeds, also on two nodes of one database;
// - a code of an earlier step after a later one: refused;
// - step-up: the code of a step-up, or of a sign-in, does not verify (again);
// - the code that confirms an enrolment cannot then sign in; turning TOTP off or enrolling
//   again forgets the last step;
// - the column is in no API answer.
// (The conditional update alone, on both databases: test/unit/totp-steps.test.ts.)
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { DB_KINDS, startTestApp, type TestApp } from '../support/harness.js';
import { samples, value } from '../support/prometheus.js';
import { nextTotp, wrongTotp } from '../support/totp.js';
import { SoftAuthenticator } from '../support/soft-authenticator.js';

const USED = 'TOTP code already used';

type Person = { id: string; token: string; password: string; username: string; seed: string };

/** A new user with TOTP enrolled and confirmed (the confirming code is the seed's first). */
async function enrolled(t: TestApp, username: string): Promise<Person & { confirmedWith: string }> {
  const u = await t.user(username, ['user']);
  const en = await t.req('POST', '/api/v1/me/totp', { token: u.token });
  assert.equal(en.statusCode, 200, en.body);
  const seed: string = en.json().secret;
  const confirmedWith = await nextTotp(seed);
  const cf = await t.req('POST', '/api/v1/me/totp/confirm', { token: u.token, body: { code: confirmedWith } });
  assert.equal(cf.statusCode, 200, cf.body);
  return { ...u, username, seed, confirmedWith };
}

/** The reasons of the user's failed events of `action`, oldest first. */
async function failureReasons(t: TestApp, action: string, userId: string): Promise<string[]> {
  const r = await t.req('GET', `/api/v1/audit?action=${action}&targetId=${userId}&limit=100`, { token: t.adminToken });
  assert.equal(r.statusCode, 200, r.body);
  const items = r.json().items as { outcome: string; details: { reason?: string } }[];
  return items
    .filter((e) => e.outcome === 'failure')
    .map((e) => e.details.reason ?? '')
    .reverse();
}

for (const kind of DB_KINDS) {
  describe(`a TOTP code is accepted once, on ${kind}`, () => {
    let t: TestApp;
    before(async () => {
      t = await startTestApp(kind);
      // Every failure its own audit event (the tests read their reasons), however many there are.
      await t.core.settings.update({ loginAuditThreshold: 0 });
    });
    after(async () => t?.close());

    const login = (p: { username: string; password: string }, totp: string) => t.req('POST', '/api/v1/auth/login', { body: { username: p.username, password: p.password, totp } });

    it('the same code twice for sign-in: the second is refused as a wrong code (401 invalid_totp, counted) and audited as already used', async () => {
      const p = await enrolled(t, 'once-signin');
      const failures = async () => value(samples((await t.core.metrics.exposition()).body), 'gatehouse_login_failures_total');
      const code = await nextTotp(p.seed);
      const first = await login(p, code);
      assert.equal(first.statusCode, 200, first.body);
      const before = await failures();
      const second = await login(p, code);
      assert.equal(second.statusCode, 401, second.body);
      assert.equal(second.json().error.code, 'invalid_totp');
      assert.equal(second.json().error.message, 'invalid TOTP code', 'the same answer as a wrong code');
      // Counted like a wrong code: toward the account's lockout and as a login failure.
      assert.equal((await t.core.dir.userRow(p.id)).failedLogins, 1);
      assert.equal(await failures(), before + 1);
      // A wrong code answers the same, and the audit trail tells the two apart.
      const wrong = await login(p, wrongTotp(p.seed));
      assert.equal(wrong.statusCode, 401, wrong.body);
      assert.equal(wrong.json().error.code, 'invalid_totp');
      assert.equal(wrong.json().error.message, 'invalid TOTP code');
      assert.equal((await t.core.dir.userRow(p.id)).failedLogins, 2);
      assert.deepEqual(await failureReasons(t, 'auth.login', p.id), [USED, 'wrong second factor']);
      // The next step's code still signs in.
      const next = await login(p, await nextTotp(p.seed));
      assert.equal(next.statusCode, 200, next.body);
    });

    it('a replayed code counts toward the lockout like a wrong one: the failure that reaches the threshold locks the account', async () => {
      const p = await enrolled(t, 'once-lock');
      const code = await nextTotp(p.seed);
      assert.equal((await login(p, code)).statusCode, 200);
      // lockoutThreshold is 5: four replays, then the fifth locks.
      for (let i = 0; i < 4; i++) {
        const r = await login(p, code);
        assert.equal(r.statusCode, 401, r.body);
        assert.equal(r.json().error.code, 'invalid_totp');
      }
      const locking = await login(p, code);
      assert.equal(locking.statusCode, 423, locking.body);
      assert.equal(locking.json().error.code, 'account_locked');
      const reasons = await failureReasons(t, 'auth.login', p.id);
      assert.deepEqual(reasons, [USED, USED, USED, USED, `${USED}; account locked`]);
      const un = await t.req('POST', `/api/v1/users/${p.id}/unlock`, { token: t.adminToken });
      assert.equal(un.statusCode, 200, un.body);
    });

    it('sign-ins at once with one code: exactly one succeeds', async () => {
      const p = await enrolled(t, 'once-race');
      const code = await nextTotp(p.seed);
      const answers = await Promise.all(Array.from({ length: 4 }, () => login(p, code)));
      assert.deepEqual(answers.map((r) => r.statusCode).sort(), [200, 401, 401, 401], answers.map((r) => r.body).join('\n'));
      for (const r of answers.filter((a) => a.statusCode === 401)) assert.equal(r.json().error.code, 'invalid_totp');
      assert.deepEqual(await failureReasons(t, 'auth.login', p.id), [USED, USED, USED]);
    });

    it('a code of an earlier step after a later one is refused', async () => {
      const p = await enrolled(t, 'once-order');
      const earlier = await nextTotp(p.seed);
      const later = await nextTotp(p.seed);
      const r1 = await login(p, later);
      assert.equal(r1.statusCode, 200, r1.body);
      const r2 = await login(p, earlier);
      assert.equal(r2.statusCode, 401, r2.body);
      assert.equal(r2.json().error.code, 'invalid_totp');
      assert.deepEqual(await failureReasons(t, 'auth.login', p.id), [USED]);
    });

    it('step-up: a code that verified once does not verify again, nor does one that signed in (403 invalid_totp, audited as already used)', async () => {
      const p = await enrolled(t, 'once-stepup');
      const stepUp = (code: string) => t.req('POST', '/api/v1/auth/step-up', { token: p.token, body: { code } });
      const code = await nextTotp(p.seed);
      const ok = await stepUp(code);
      assert.equal(ok.statusCode, 200, ok.body);
      const again = await stepUp(code);
      assert.equal(again.statusCode, 403, again.body);
      assert.equal(again.json().error.code, 'invalid_totp');
      assert.equal(again.json().error.message, 'invalid verification code');
      // A code used to sign in, then offered to a step-up.
      const signInCode = await nextTotp(p.seed);
      assert.equal((await login(p, signInCode)).statusCode, 200);
      const afterSignIn = await stepUp(signInCode);
      assert.equal(afterSignIn.statusCode, 403, afterSignIn.body);
      assert.equal(afterSignIn.json().error.code, 'invalid_totp');
      assert.deepEqual(await failureReasons(t, 'auth.step_up', p.id), [USED, USED]);
    });

    it('the code that confirms an enrolment cannot then sign in', async () => {
      const p = await enrolled(t, 'once-confirm');
      const r = await login(p, p.confirmedWith);
      assert.equal(r.statusCode, 401, r.body);
      assert.equal(r.json().error.code, 'invalid_totp');
      assert.deepEqual(await failureReasons(t, 'auth.login', p.id), [USED]);
      const next = await login(p, await nextTotp(p.seed));
      assert.equal(next.statusCode, 200, next.body);
    });

    it('turning TOTP off, or enrolling again, forgets the last step: the new seed\'s codes are taken afresh', async () => {
      const p = await enrolled(t, 'once-reset');
      const lastStep = async () => (await t.core.store.db.selectFrom('users').select('totpLastStep').where('id', '=', p.id).executeTakeFirstOrThrow()).totpLastStep;
      assert.equal(typeof (await lastStep()), 'number', 'the confirming code\'s step is kept');
      // An administrator's reset (the person's own disable is the same call).
      assert.equal((await t.req('POST', `/api/v1/users/${p.id}/totp/reset`, { token: t.adminToken })).statusCode, 204);
      assert.equal(await lastStep(), null);
      // Enrolling again: the step is forgotten at the start as well (a set one is written over).
      await t.core.store.db.updateTable('users').set({ totpLastStep: 2 ** 31 - 1 }).where('id', '=', p.id).execute();
      const en = await t.req('POST', '/api/v1/me/totp', { token: p.token });
      assert.equal(en.statusCode, 200, en.body);
      assert.equal(await lastStep(), null);
      const seed: string = en.json().secret;
      const cf = await t.req('POST', '/api/v1/me/totp/confirm', { token: p.token, body: { code: await nextTotp(seed) } });
      assert.equal(cf.statusCode, 200, cf.body);
      assert.equal((await login(p, await nextTotp(seed))).statusCode, 200);
    });

    // A person with a security key and a TOTP enrolment started but never confirmed: a code of
    // that seed was taken as their second factor (whoever held their session could start one).
    it('a seed whose enrolment was never confirmed is no second factor: its codes do not sign in beside a security key', async () => {
      const origin = 'https://gatehouse.test:8443';
      await t.core.settings.update({ publicUrl: origin });
      const p = await t.user('once-unconfirmed', ['user']);
      const keys = new SoftAuthenticator(origin);
      const o = await t.req('POST', '/api/v1/me/webauthn/options', { token: p.token });
      assert.equal(o.statusCode, 200, o.body);
      const reg = await t.req('POST', '/api/v1/me/webauthn', { token: p.token, body: { challengeId: o.json().challengeId, name: 'key', response: keys.register(o.json().options) } });
      assert.equal(reg.statusCode, 201, reg.body);
      const en = await t.req('POST', '/api/v1/me/totp', { token: p.token });
      assert.equal(en.statusCode, 200, en.body);
      const seed: string = en.json().secret;
      const r = await login({ username: 'once-unconfirmed', password: p.password }, await nextTotp(seed));
      assert.equal(r.statusCode, 401, r.body);
      assert.equal(r.json().error.code, 'invalid_totp');
      // Confirmed, its codes count.
      const cf = await t.req('POST', '/api/v1/me/totp/confirm', { token: p.token, body: { code: await nextTotp(seed) } });
      assert.equal(cf.statusCode, 200, cf.body);
      assert.equal((await login({ username: 'once-unconfirmed', password: p.password }, await nextTotp(seed))).statusCode, 200);
    });

    // Two of the person's sessions (or the person and whoever holds one of their sessions)
    // enrolling at once. Each case makes the interleaving happen by running the other request
    // at the point where it did harm before.
    it('a confirmation whose seed was replaced between its check and its update is refused (409), and does not turn the new seed on', async () => {
      const p = await t.user('once-replaced', ['user']);
      const a = await t.req('POST', '/api/v1/me/totp', { token: p.token });
      assert.equal(a.statusCode, 200, a.body);
      const codeA = await nextTotp(a.json().secret);
      const auth = t.core.auth as unknown as { totpSecret: (u: unknown) => Promise<string | null> };
      const read = auth.totpSecret;
      let b: Awaited<ReturnType<typeof t.req>> | undefined;
      // Once the confirmation has read seed A: an enrolment starts again (seed B).
      auth.totpSecret = async function (this: unknown, u: unknown) {
        const seed = await read.call(this, u);
        auth.totpSecret = read;
        b = await t.req('POST', '/api/v1/me/totp', { token: p.token });
        return seed;
      };
      const cf = await t.req('POST', '/api/v1/me/totp/confirm', { token: p.token, body: { code: codeA } }).finally(() => (auth.totpSecret = read));
      assert.equal(b?.statusCode, 200, b?.body);
      // Before: 200, and seed B (which the confirming person never saw) was turned on.
      assert.equal(cf.statusCode, 409, cf.body);
      assert.equal(cf.json().error.code, 'totp_enrolment_changed');
      const row = await t.core.store.db.selectFrom('users').select('totpEnabled').where('id', '=', p.id).executeTakeFirstOrThrow();
      assert.equal(Number(row.totpEnabled), 0);
      const again = await t.req('POST', '/api/v1/me/totp/confirm', { token: p.token, body: { code: await nextTotp(b!.json().secret) } });
      assert.equal(again.statusCode, 200, again.body);
    });

    it('an enrolment started before a confirmation lands does not replace the confirmed seed (409); its data key goes', async () => {
      const p = await t.user('once-overwritten', ['user']);
      const a = await t.req('POST', '/api/v1/me/totp', { token: p.token });
      assert.equal(a.statusCode, 200, a.body);
      const seedA: string = a.json().secret;
      const codeA = await nextTotp(seedA);
      const keys = t.core.dataKeys as unknown as { encrypt: (...args: unknown[]) => Promise<{ dataKeyId: string; sealed: string }> };
      const encrypt = keys.encrypt;
      let cf: Awaited<ReturnType<typeof t.req>> | undefined;
      let sealedWith = '';
      // Once the new enrolment has found TOTP off and sealed seed B: the confirmation of A lands.
      keys.encrypt = async function (this: unknown, ...args: unknown[]) {
        const out = await encrypt.apply(this, args);
        keys.encrypt = encrypt;
        sealedWith = out.dataKeyId;
        cf = await t.req('POST', '/api/v1/me/totp/confirm', { token: p.token, body: { code: codeA } });
        return out;
      };
      const b = await t.req('POST', '/api/v1/me/totp', { token: p.token }).finally(() => (keys.encrypt = encrypt));
      assert.equal(cf?.statusCode, 200, cf?.body);
      // Before: 200, seed A written over by B and TOTP off again, the confirmation lost unseen.
      assert.equal(b.statusCode, 409, b.body);
      assert.equal(b.json().error.code, 'totp_enrolment_changed');
      const row = await t.core.store.db.selectFrom('users').select(['totpEnabled', 'totpDataKeyId']).where('id', '=', p.id).executeTakeFirstOrThrow();
      assert.equal(Number(row.totpEnabled), 1);
      assert.notEqual(row.totpDataKeyId, sealedWith);
      assert.equal(await t.core.store.db.selectFrom('dataKeys').select('id').where('id', '=', sealedWith).executeTakeFirst(), undefined, "seed B's data key is not left behind");
      assert.equal((await login({ username: 'once-overwritten', password: p.password }, await nextTotp(seedA))).statusCode, 200);
    });

    it('the last step is in no API answer', async () => {
      const p = await enrolled(t, 'once-views');
      assert.equal((await login(p, await nextTotp(p.seed))).statusCode, 200);
      assert.equal(typeof (await t.core.dir.userRow(p.id)).totpLastStep, 'number');
      const answers = [
        await t.req('GET', '/api/v1/me', { token: p.token }),
        await t.req('GET', `/api/v1/users/${p.id}`, { token: t.adminToken }),
        await t.req('GET', `/api/v1/users?search=once-views`, { token: t.adminToken }),
        await t.req('PATCH', `/api/v1/users/${p.id}`, { token: t.adminToken, body: { displayName: 'Once Views' } }),
        await t.req('POST', `/api/v1/users/${p.id}/unlock`, { token: t.adminToken }),
        await t.req('POST', '/api/v1/auth/session', { body: { username: p.username, password: p.password, totp: await nextTotp(p.seed) } }),
      ];
      for (const r of answers) {
        assert.equal(r.statusCode, 200, r.body);
        assert.doesNotMatch(r.body, /last_?step/i);
      }
      assert.equal(answers[2]!.json().items.length, 1);
      assert.equal(answers[0]!.json().totpEnabled, true);
    });
  });
}

// Two gateway nodes on one PostgreSQL database (one master key): the same code sent to both
// at once signs in on one of them only. Before, each node accepted it.
describe('a TOTP code is accepted once across the nodes of a cluster (postgres)', () => {
  const masterKey = randomBytes(32).toString('base64');
  let a: TestApp;
  let b: TestApp;
  before(async () => {
    a = await startTestApp('postgres', { GATEHOUSE_MASTER_KEY: masterKey });
    // B on A's database (the harness's own fresh database for B goes unused).
    b = await startTestApp('postgres', { GATEHOUSE_MASTER_KEY: masterKey, GATEHOUSE_DATABASE_URL: a.config.databaseUrl! });
    for (const node of [a, b]) await node.core.settings.update({ loginAuditThreshold: 0 });
  });
  after(async () => {
    await b?.close();
    await a?.close();
  });

  it('sign-ins at once on two nodes with one code (two on each): exactly one succeeds, the others are refused as already used', async () => {
    const p = await enrolled(a, 'two-nodes');
    const login = (node: TestApp, code: string) => node.req('POST', '/api/v1/auth/login', { body: { username: p.username, password: p.password, totp: code } });
    const code = await nextTotp(p.seed);
    const answers = await Promise.all([login(a, code), login(b, code), login(a, code), login(b, code)]);
    // Whichever node wins, the other node refuses at least one of its two.
    assert.deepEqual(answers.map((r) => r.statusCode).sort(), [200, 401, 401, 401], answers.map((r) => r.body).join('\n'));
    for (const r of answers.filter((x) => x.statusCode === 401)) assert.equal(r.json().error.code, 'invalid_totp');
    assert.deepEqual(await failureReasons(a, 'auth.login', p.id), [USED, USED, USED]);
    // B reads the seed too (the same master key): the next code signs in there.
    assert.equal((await login(b, await nextTotp(p.seed))).statusCode, 200);
  });
});
