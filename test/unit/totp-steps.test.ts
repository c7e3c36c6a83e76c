// The update that takes a TOTP time step for a user (claimTotpStep, core/identity/auth.ts), on
// SQLite and PostgreSQL: a code is accepted once (RFC 6238 §5.2). It takes a step when the user
// has none yet or only an earlier one, and refuses the same step again or an earlier one; of
// many takes of one step at once exactly one succeeds; of takes of different steps at once the
// latest always succeeds and is the one kept; other users are untouched.
// (Through sign-in, step-up and enrolment: test/api/totp-once.test.ts.)
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { claimTotpStep } from '../../src/core/identity/auth.js';
import type { Store } from '../../src/store/db.js';
import { openTestStore } from '../support/store.js';

const user = (id: string) => ({
  id,
  username: id,
  displayName: id,
  email: null,
  passwordHash: null,
  isApplication: 0 as const,
  enabled: 1 as const,
  failedLogins: 0,
  lockedUntil: null,
  totpDataKeyId: null,
  totpEnc: null,
  totpEnabled: 1 as const,
  recoveryCodes: null,
  createdAt: 1,
  updatedAt: 1,
  lastLoginAt: null,
});

// About now in 30 s steps (the value itself does not matter).
const STEP = 59_000_000;

for (const kind of ['sqlite', 'postgres'] as const) {
  describe(`taking a TOTP step (${kind})`, () => {
    let store: Store;
    let close: () => Promise<void>;
    const lastStep = async (id: string) => (await store.db.selectFrom('users').select('totpLastStep').where('id', '=', id).executeTakeFirstOrThrow()).totpLastStep;

    before(async () => {
      ({ store, close } = await openTestStore(kind));
      await store.db.insertInto('users').values(['u1', 'u2', 'u3', 'u4'].map(user)).execute();
    });
    after(() => close());

    it('takes a first step and later ones; refuses the same step again and earlier ones', async () => {
      assert.equal(await lastStep('u1'), null, 'a new column, null for existing rows');
      assert.equal(await claimTotpStep(store.db, 'u1', STEP), true);
      assert.equal(await lastStep('u1'), STEP);
      assert.equal(await claimTotpStep(store.db, 'u1', STEP), false, 'the same step again');
      assert.equal(await claimTotpStep(store.db, 'u1', STEP - 1), false, 'an earlier step');
      assert.equal(await lastStep('u1'), STEP);
      assert.equal(await claimTotpStep(store.db, 'u1', STEP + 1), true, 'a later step');
      assert.equal(await lastStep('u1'), STEP + 1);
      // Another user's steps are their own.
      assert.equal(await lastStep('u2'), null);
      assert.equal(await claimTotpStep(store.db, 'u2', STEP - 5), true);
      assert.equal(await claimTotpStep(store.db, 'nobody', STEP), false, 'no such user');
    });

    it('of many takes of one step at once, exactly one succeeds', async () => {
      const taken = await Promise.all(Array.from({ length: 20 }, () => claimTotpStep(store.db, 'u3', STEP)));
      assert.equal(taken.filter(Boolean).length, 1);
      assert.equal(await lastStep('u3'), STEP);
    });

    it('of takes of different steps at once, the latest succeeds and is kept', async () => {
      const steps = [STEP + 2, STEP, STEP + 4, STEP + 1, STEP + 3, STEP + 4];
      const taken = await Promise.all(steps.map((s) => claimTotpStep(store.db, 'u4', s)));
      // Twice the latest step: one of the two.
      assert.equal(taken.filter((ok, i) => ok && steps[i] === STEP + 4).length, 1);
      assert.equal(await lastStep('u4'), STEP + 4);
      assert.equal(await claimTotpStep(store.db, 'u4', STEP + 4), false);
    });
  });
}
