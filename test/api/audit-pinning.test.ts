// Pinned signing keys catch a chain rewritten and re-signed with a key added to the database.
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { generateKeyPairSync, sign } from 'node:crypto';
import { startTestApp } from '../support/harness.js';
import { eventHash } from '../../src/core/audit/chain.js';
import { checkpointMessage, keyIdOf } from '../../src/core/audit/signer.js';

describe('audit verification with pinned keys', () => {
  it('trusts database keys by default but only pinned keys when asked', async () => {
    const t = await startTestApp('sqlite');
    try {
      await t.req('POST', '/api/v1/audit/checkpoint', { token: t.adminToken, body: {} });
      const genuine = t.core.audit.publicKey.publicKeyPem;
      // The attacker edits event 1, recomputes every hash, adds their own key and re-signs.
      const db = t.core.store.db;
      const rows = await db.selectFrom('auditEvents').selectAll().orderBy('seq').execute();
      let prev = '0'.repeat(64);
      for (const r of rows) {
        const changed = { ...r, prevHash: prev, details: r.seq === 1 ? JSON.stringify({ forged: true }) : r.details };
        const hash = eventHash(changed);
        await db.updateTable('auditEvents').set({ prevHash: prev, details: changed.details, hash }).where('seq', '=', r.seq).execute();
        prev = hash;
      }
      const { privateKey, publicKey } = generateKeyPairSync('ed25519');
      const pem = publicKey.export({ type: 'spki', format: 'pem' }).toString();
      await db.insertInto('meta').values({ key: `audit_key:${keyIdOf(pem)}`, value: pem }).execute();
      const cps = await db.selectFrom('auditCheckpoints').selectAll().execute();
      for (const cp of cps) {
        const h = (await db.selectFrom('auditEvents').select('hash').where('seq', '=', cp.seq).executeTakeFirstOrThrow()).hash;
        await db.updateTable('auditCheckpoints').set({ hash: h, keyId: keyIdOf(pem), signature: sign(null, Buffer.from(checkpointMessage(cp.seq, h)), privateKey).toString('base64') }).where('seq', '=', cp.seq).execute();
      }
      assert.equal((await t.core.audit.verify()).ok, true, 'database-trusted keys cannot catch a re-signed rewrite');
      const pinned = await t.core.audit.verify({ pinnedKeys: [genuine] });
      assert.equal(pinned.ok, false);
      assert.equal(pinned.reason, 'bad_signature');
    } finally {
      await t.close();
    }
  });
});
