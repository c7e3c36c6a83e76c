// The audit trail cannot be rewritten with database write access alone: checkpoints are
// verified against keys pinned outside the database (audit-signing.pub), they are required
// (events older than the interval must be covered), and anchors kept outside the database
// (audit-anchor.json, exported checkpoints) must still be found in it. Every tamper form is
// checked through the API and through a fresh verifier on the same data dir (what
// `gatehouse audit verify --offline` runs), on both databases.
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { generateKeyPairSync, sign } from 'node:crypto';
import { existsSync, readFileSync, renameSync, rmSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { createCore, type Core } from '../../src/core/core.js';
import { GENESIS, eventHash } from '../../src/core/audit/chain.js';
import { ANCHOR_FILE, PINNED_KEYS_FILE, parsePublicKeys } from '../../src/core/audit/pinning.js';
import { AuditSigner, checkpointMessage, fingerprintOf, keyIdOf, publicKeyLine } from '../../src/core/audit/signer.js';
import { createLogger } from '../../src/log.js';
import { openStore, type Store } from '../../src/store/db.js';
import { DB_KINDS, startTestApp, type TestApp } from '../support/harness.js';

type Result = { ok: boolean; count: number; brokenAt?: number; reason?: string; message?: string; checkpoints: number; unsigned: number; anchors: number; trust: string };

async function apiVerify(t: TestApp): Promise<Result> {
  const r = await t.req('GET', '/api/v1/audit/verify', { token: t.adminToken });
  assert.equal(r.statusCode, 200, r.body);
  return r.json();
}

/** A second verifier over the same data dir and database: no memory of what the gateway wrote. */
async function offline<T>(t: TestApp, fn: (core: Core) => Promise<T>): Promise<T> {
  const store: Store = openStore(t.config);
  try {
    return await fn(await createCore(t.config, store, createLogger({ level: 'silent' })));
  } finally {
    await store.close();
  }
}
const offlineVerify = (t: TestApp, opts: Parameters<Core['audit']['verify']>[0] = {}, clock?: () => number) =>
  offline(t, (c) => {
    if (clock) c.audit.clock = clock;
    return c.audit.verify(opts);
  });

async function events(t: TestApp, n: number): Promise<void> {
  for (let i = 0; i < n; i++) {
    const r = await t.req('POST', '/api/v1/folders', { token: t.adminToken, body: { name: `f-${i}-${Math.random().toString(36).slice(2, 8)}` } });
    assert.equal(r.statusCode, 201, r.body);
  }
}

async function checkpoint(t: TestApp): Promise<{ seq: number; hash: string; keyId: string; signature: string }> {
  const r = await t.req('POST', '/api/v1/audit/checkpoint', { token: t.adminToken, body: {} });
  assert.equal(r.statusCode, 200, r.body);
  assert.ok(r.json().checkpoint, 'a new head to sign');
  return r.json().checkpoint;
}

const head = async (t: TestApp) => (await t.core.store.db.selectFrom('auditEvents').select(['seq', 'hash']).orderBy('seq', 'desc').limit(1).executeTakeFirstOrThrow());

/** The attacker's rewrite: change one event's details and recompute every hash after it. */
async function rewrite(t: TestApp, seq: number): Promise<void> {
  const db = t.core.store.db;
  let prev = GENESIS;
  for (const r of await db.selectFrom('auditEvents').selectAll().orderBy('seq').execute()) {
    const row = { ...r, prevHash: prev, details: r.seq === seq ? JSON.stringify({ rewritten: true }) : r.details };
    const hash = eventHash(row);
    await db.updateTable('auditEvents').set({ details: row.details, prevHash: prev, hash }).where('seq', '=', r.seq).execute();
    prev = hash;
  }
}

const dropCheckpoints = (t: TestApp) => t.core.store.db.deleteFrom('auditCheckpoints').execute();
const anchorFile = (t: TestApp) => join(t.dataDir, ANCHOR_FILE);
const HOUR = 3600_000;

const broken = (r: Result, reason: string, at?: number) => {
  assert.equal(r.ok, false, JSON.stringify(r));
  assert.equal(r.reason, reason, JSON.stringify(r));
  if (at !== undefined) assert.equal(r.brokenAt, at, JSON.stringify(r));
  assert.match(r.message!, /^audit chain broken at event \d+: /);
};

for (const kind of DB_KINDS) {
  describe(`audit trail tampering with database access only, on ${kind}`, () => {
    let t: TestApp | undefined;
    const fresh = async () => {
      t = await startTestApp(kind);
      await events(t, 3);
      return t;
    };
    after(async () => t?.close());
    const done = async () => {
      await t?.close();
      t = undefined;
    };

    it('the signing key is pinned in the data dir at first start, announced once, and named by the API', async () => {
      try {
        const t = await fresh();
        const file = join(t.dataDir, PINNED_KEYS_FILE);
        const pinned = parsePublicKeys(readFileSync(file, 'utf8'), file);
        const own = t.core.audit.publicKey;
        assert.deepEqual(pinned, [own.publicKeyPem]);
        assert.equal(statSync(file).mode & 0o777, 0o644);
        assert.match(t.core.audit.keyAnnouncement ?? '', new RegExp(`audit signing key created: fingerprint ${own.fingerprint.replace(/[+/]/g, '\\$&')}, public key ${publicKeyLine(own.publicKeyPem).replace(/[+/]/g, '\\$&')} \\(pinned in .*audit-signing\\.pub`));
        const r = await t.req('GET', '/api/v1/audit/public-key', { token: t.adminToken });
        assert.deepEqual(r.json().pinned, [{ keyId: own.keyId, fingerprint: own.fingerprint }]);
        assert.equal(r.json().pinnedFrom, file);
        assert.equal(await offline(t, async (c) => c.audit.keyAnnouncement), null, 'a later start does not announce again');
      } finally {
        await done();
      }
    });

    it('checkpoints are required: unsigned events within the interval are reported, older ones fail', async () => {
      try {
        const t = await fresh();
        let v = await apiVerify(t);
        assert.equal(v.ok, true, JSON.stringify(v));
        assert.equal(v.checkpoints, 0);
        assert.equal(v.unsigned, v.count, 'every event is reported as not yet signed');
        t.core.audit.clock = () => Date.now() + 300_000 + 61_000;
        v = await apiVerify(t);
        broken(v, 'missing_checkpoint', 1);
        assert.match(v.message!, /no signed checkpoint covers this event of .*, though one is due within 360 s/);
        // A shorter interval makes checkpoints due sooner.
        t.core.audit.clock = () => Date.now() + 75_000;
        assert.equal((await apiVerify(t)).ok, true);
        assert.equal((await t.req('PATCH', '/api/v1/settings', { token: t.adminToken, body: { auditCheckpointSeconds: 10 } })).statusCode, 200);
        broken(await apiVerify(t), 'missing_checkpoint', 1);
        await checkpoint(t);
        v = await apiVerify(t);
        assert.equal(v.ok, true, JSON.stringify(v));
        assert.equal(v.unsigned, 0);
      } finally {
        await done();
      }
    });

    it('an edited row with every hash recomputed and the checkpoints deleted fails (API, offline, offline with the key given)', async () => {
      try {
        const t = await fresh();
        const cp = await checkpoint(t);
        await events(t, 2);
        await rewrite(t, 2);
        await dropCheckpoints(t);
        const apiR = await apiVerify(t);
        broken(apiR, 'edited', cp.seq);
        assert.match(apiR.message!, /rewritten: the signed checkpoint kept in .*audit-anchor\.json names another hash/);
        broken(await offlineVerify(t), 'edited', cp.seq);
        broken(await offlineVerify(t, { pinnedKeys: [t.core.audit.publicKey.publicKeyPem] }), 'edited', cp.seq);
        // Verified somewhere without the data dir's anchor: caught once the checkpoint was due.
        rmSync(anchorFile(t));
        const later = () => Date.now() + HOUR;
        broken(await offlineVerify(t, { pinnedKeys: [t.core.audit.publicKey.publicKeyPem] }, later), 'missing_checkpoint', 1);
      } finally {
        await done();
      }
    });

    it('deleted checkpoints alone fail: the anchor names a checkpoint the database no longer has', async () => {
      try {
        const t = await fresh();
        const cp = await checkpoint(t);
        await dropCheckpoints(t);
        const r = await apiVerify(t);
        broken(r, 'missing_checkpoint', cp.seq);
        assert.match(r.message!, /signed checkpoint kept in .*audit-anchor\.json is missing from the database \(checkpoints deleted\)/);
        broken(await offlineVerify(t), 'missing_checkpoint', cp.seq);
      } finally {
        await done();
      }
    });

    it('dropping the last events together with the checkpoints fails as truncated', async () => {
      try {
        const t = await fresh();
        const cp = await checkpoint(t);
        await t.core.store.db.deleteFrom('auditEvents').where('seq', '>=', cp.seq - 1).execute();
        await dropCheckpoints(t);
        const r = await apiVerify(t);
        broken(r, 'truncated', cp.seq - 1);
        assert.match(r.message!, new RegExp(`names event ${cp.seq}, the chain ends at ${cp.seq - 2}`));
        broken(await offlineVerify(t), 'truncated', cp.seq - 1);
      } finally {
        await done();
      }
    });

    it('a signing key inserted into meta and the rewritten chain re-signed with it is not trusted', async () => {
      try {
        const t = await fresh();
        await checkpoint(t);
        await events(t, 1);
        await checkpoint(t);
        await rewrite(t, 1);
        const { privateKey, publicKey } = generateKeyPairSync('ed25519');
        const pem = publicKey.export({ type: 'spki', format: 'pem' }).toString();
        const db = t.core.store.db;
        await db.insertInto('meta').values({ key: `audit_key:${keyIdOf(pem)}`, value: pem }).execute();
        for (const cp of await db.selectFrom('auditCheckpoints').selectAll().execute()) {
          const h = (await db.selectFrom('auditEvents').select('hash').where('seq', '=', cp.seq).executeTakeFirstOrThrow()).hash;
          await db.updateTable('auditCheckpoints').set({ hash: h, keyId: keyIdOf(pem), signature: sign(null, Buffer.from(checkpointMessage(cp.seq, h, Number(cp.createdAt))), privateKey).toString('base64') }).where('seq', '=', cp.seq).execute();
        }
        const r = await apiVerify(t);
        broken(r, 'bad_signature');
        assert.match(r.message!, new RegExp(`signed by key ${keyIdOf(pem)}, which is not pinned`));
        broken(await offlineVerify(t), 'bad_signature');
        // Trusting the database's keys lets the forged signatures through; the anchor still catches the rewrite…
        broken(await offlineVerify(t, { trustDbKeys: true }), 'edited');
        // …and without it nothing does: why --trust-db-keys is off by default and warned about.
        rmSync(anchorFile(t));
        const trusting = await offlineVerify(t, { trustDbKeys: true });
        assert.equal(trusting.ok, true, JSON.stringify(trusting));
        assert.equal(trusting.trust, 'database');
      } finally {
        await done();
      }
    });

    it('the tail after the last checkpoint truncated: the writing gateway notices, everyone once the next checkpoint is due', async () => {
      try {
        const t = await fresh();
        const cp = await checkpoint(t);
        await events(t, 3);
        const last = await head(t);
        await t.core.store.db.deleteFrom('auditEvents').where('seq', '>', cp.seq).execute();
        // Not detectable from the database and the data dir alone before the next checkpoint (documented).
        const before = await offlineVerify(t);
        assert.equal(before.ok, true, JSON.stringify(before));
        // The gateway that wrote the removed events knows its newest one is gone.
        broken(await apiVerify(t), 'truncated', cp.seq + 1);
        // The next checkpoint signs what that event was: from then on every verifier sees it.
        await t.core.audit.checkpoint();
        const r = await offlineVerify(t);
        broken(r, 'truncated', cp.seq + 1);
        const anchor = JSON.parse(readFileSync(anchorFile(t), 'utf8'));
        assert.deepEqual(anchor.witnessed.map((w: { seq: number; hash: string }) => [w.seq, w.hash]), [[last.seq, last.hash]]);
        assert.match(t.logs(), /audit chain tampered: an event this gateway wrote is gone or changed/);
        // Deleting that checkpoint from the database does not help: the data dir keeps it.
        await t.core.store.db.deleteFrom('auditCheckpoints').where('seq', '>', cp.seq).execute();
        broken(await offlineVerify(t), 'truncated', cp.seq + 1);
      } finally {
        await done();
      }
    });

    it('the tail truncated and refilled with new events fails after the next checkpoint', async () => {
      try {
        const t = await fresh();
        const cp = await checkpoint(t);
        await events(t, 2);
        const last = await head(t);
        await t.core.store.db.deleteFrom('auditEvents').where('seq', '>', cp.seq).execute();
        await events(t, 3); // the chain grows past the removed events again
        await t.core.audit.checkpoint();
        broken(await offlineVerify(t), 'edited', last.seq);
        broken(await apiVerify(t), 'edited', last.seq);
      } finally {
        await done();
      }
    });

    it('an exported checkpoint anchors the chain elsewhere: POST /audit/verify finds truncation and rejects a forged anchor', async () => {
      try {
        const t = await fresh();
        await checkpoint(t);
        const exp = await t.req('GET', '/api/v1/audit/checkpoint', { token: t.adminToken });
        assert.equal(exp.statusCode, 200, exp.body);
        const anchor = exp.json().checkpoint;
        const own = t.core.audit.publicKey;
        assert.deepEqual(Object.keys(anchor).sort(), ['fingerprint', 'format', 'hash', 'keyId', 'seq', 'signature', 'ts']);
        assert.equal(anchor.fingerprint, own.fingerprint);
        assert.equal(anchor.format, 'gatehouse-audit-checkpoint/1');
        await events(t, 2);
        await checkpoint(t);
        const post = (a: unknown) => t!.req('POST', '/api/v1/audit/verify', { token: t!.adminToken, body: { anchors: [a] } });
        let r = await post(anchor);
        assert.equal(r.statusCode, 200, r.body);
        assert.equal(r.json().ok, true, r.body);
        assert.equal(r.json().anchors, 2, 'the data dir anchor and the given one');
        // Everything from the anchored event on removed, checkpoints and the data dir anchor too.
        await t.core.store.db.deleteFrom('auditEvents').where('seq', '>=', anchor.seq).execute();
        await dropCheckpoints(t);
        rmSync(anchorFile(t));
        const offline = await offlineVerify(t);
        assert.equal(offline.ok, true, 'without an anchor the shortened chain looks whole');
        r = await post(anchor);
        broken(r.json(), 'truncated', anchor.seq);
        assert.match(r.json().message, /the given anchor names event/);
        r = await post({ ...anchor, hash: 'a'.repeat(64) });
        broken(r.json(), 'bad_anchor', anchor.seq);
      } finally {
        await done();
      }
    });
  });
}

describe('pinned keys: GATEHOUSE_AUDIT_PUBLIC_KEY, rotation and earlier checkpoints', () => {
  let t: TestApp | undefined;
  after(async () => t?.close());

  it('GATEHOUSE_AUDIT_PUBLIC_KEY replaces the data dir file: another key fails the gateway\'s own checkpoints', async () => {
    const { publicKey } = generateKeyPairSync('ed25519');
    const other = publicKey.export({ type: 'spki', format: 'pem' }).toString();
    t = await startTestApp('sqlite', { GATEHOUSE_AUDIT_PUBLIC_KEY: other });
    await events(t, 1);
    await checkpoint(t);
    const r = await apiVerify(t);
    broken(r, 'bad_signature');
    assert.match(r.message!, /which is not pinned/);
    assert.match(t.logs(), /GATEHOUSE_AUDIT_PUBLIC_KEY does not include this node's audit signing key/);
    await t.close();
    t = undefined;
  });

  it('GATEHOUSE_AUDIT_PUBLIC_KEY as the one-line key printed at first start verifies', async () => {
    t = await startTestApp('sqlite');
    const line = publicKeyLine(t.core.audit.publicKey.publicKeyPem);
    const dir = t.dataDir;
    await checkpoint(t);
    const r = await offline({ ...t, config: { ...t.config, auditPublicKey: line } }, (c) => c.audit.verify());
    assert.equal(r.ok, true, JSON.stringify(r));
    assert.equal((r as unknown as { keySource: string }).keySource, 'GATEHOUSE_AUDIT_PUBLIC_KEY');
    assert.ok(existsSync(dir));
    await t.close();
    t = undefined;
  });

  it('a replaced signing key is pinned next to the old one; old and new checkpoints verify; v1 checkpoints still verify', async () => {
    t = await startTestApp('sqlite');
    const old = AuditSigner.load(t.dataDir);
    // A checkpoint as earlier versions signed it (seq and hash only).
    const h1 = await head(t);
    await t.core.store.db.insertInto('auditCheckpoints').values({ seq: h1.seq, hash: h1.hash, keyId: old.keyId, signature: old.sign(checkpointMessage(h1.seq, h1.hash)), createdAt: Date.now() }).execute();
    await events(t, 1);
    await checkpoint(t);
    renameSync(join(t.dataDir, 'audit-signing.key'), join(t.dataDir, 'audit-signing.key.old'));
    const v = await offline(t, async (c) => {
      assert.match(c.audit.keyAnnouncement ?? '', /new audit signing key SHA256:\S+ pinned in .*audit-signing\.pub next to the earlier ones/);
      await c.audit.record({ id: null, name: 'test' }, { action: 'test.after_rotation' });
      const cp = await c.audit.checkpoint();
      assert.notEqual(cp?.keyId, old.keyId);
      return c.audit.verify();
    });
    assert.equal(v.ok, true, JSON.stringify(v));
    assert.equal(v.checkpoints, 3);
    const file = join(t.dataDir, PINNED_KEYS_FILE);
    const keys = parsePublicKeys(readFileSync(file, 'utf8'), file);
    assert.equal(keys.length, 2);
    assert.equal(fingerprintOf(keys[0]!), fingerprintOf(old.publicKeyPem));
    await t.close();
    t = undefined;
  });
});
