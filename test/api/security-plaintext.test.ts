// "No plaintext secret value ever sits in the database files": secret field values,
// user passwords, TOTP seeds, recovery codes and API tokens are looked for byte by byte
// (UTF-8 and UTF-16LE) in the SQLite files (WAL as it is, then after closing) and, for
// PostgreSQL, in a pg_dump and in the cluster's heap and WAL files for the database.
// A control string written to public fields must be found, so the scan is shown to work.
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { rmSync } from 'node:fs';
import { Secret } from 'otpauth';
import { ADMIN_PASSWORD, DB_KINDS, startTestApp, type TestApp } from '../support/harness.js';
import { leaks, occurrences, pgClusterFiles, pgDump, sqliteFiles, type Blob } from '../support/scan.js';
import { nextTotp } from '../support/totp.js';

const rnd = () => randomBytes(12).toString('base64url');

function fakePrivateKey(): { pem: string; lines: string[] } {
  const lines = Array.from({ length: 12 }, () => randomBytes(52).toString('base64'));
  return { pem: `-----BEGIN OPENSSH PRIVATE KEY-----\n${lines.join('\n')}\n-----END OPENSSH PRIVATE KEY-----\n`, lines };
}

for (const kind of DB_KINDS) {
  describe(`plaintext never reaches the database files on ${kind}`, () => {
    let t: TestApp;
    let closed = false;
    /** label -> value that must never be found. */
    const secrets: Record<string, string | Buffer> = {};
    /** label -> value that must be found (public fields). */
    const controls: Record<string, string> = {};

    before(async () => {
      t = await startTestApp(kind);
      const key = fakePrivateKey();
      const v = {
        unixPassword: `UnixPw-${rnd()}-ü€`,
        unixPassphrase: `UnixPassphrase-${rnd()}`,
        winPassword: `WinPw-${rnd()}-Pässwörd`,
        adPassword: `AdPw-${rnd()}`,
        unixPasswordV2: `UnixPwUpdated-${rnd()}`,
        adPasswordV2: `AdPwUpdated-${rnd()}`,
      };
      Object.assign(secrets, v);
      secrets.privateKey = key.pem;
      key.lines.forEach((l, i) => (secrets[`privateKey line ${i}`] = l));
      controls.notes = `ControlNotes-${rnd()}`;
      controls.name = `ControlName-${rnd()}`;

      const mk = async (body: unknown) => {
        const r = await t.req('POST', '/api/v1/secrets', { token: t.adminToken, body });
        assert.equal(r.statusCode, 201, r.body);
        return r.json().id as string;
      };
      const unix = await mk({
        name: controls.name,
        template: 'unix-account',
        fields: { machine: 'db1.example', username: 'root', password: v.unixPassword, privateKey: key.pem, passphrase: v.unixPassphrase, notes: controls.notes },
      });
      await mk({ name: 'win', template: 'windows-account', fields: { machine: 'win1', username: 'Administrator', password: v.winPassword } });
      const ad = await mk({ name: 'ad', template: 'active-directory-account', fields: { domain: 'CORP', username: 'svc', password: v.adPassword } });
      for (const [id, pw] of [
        [unix, v.unixPasswordV2],
        [ad, v.adPasswordV2],
      ] as const) {
        const u = await t.req('PATCH', `/api/v1/secrets/${id}`, { token: t.adminToken, body: { fields: { password: pw } } });
        assert.equal(u.statusCode, 200, u.body);
      }
      // The update took effect (so the new value did pass through the store).
      const rv = await t.req('POST', `/api/v1/secrets/${unix}/reveal`, { token: t.adminToken });
      assert.equal(rv.json().fields.password, v.unixPasswordV2);
      assert.equal(rv.json().fields.privateKey, key.pem);

      // A user with TOTP: the seed, the recovery codes and the password stay out of the files.
      const alice = await t.user('alice', ['user']);
      secrets.alicePassword = alice.password;
      secrets.adminPassword = ADMIN_PASSWORD;
      const en = await t.req('POST', '/api/v1/me/totp', { token: alice.token });
      assert.equal(en.statusCode, 200, en.body);
      const seed: string = en.json().secret;
      secrets.totpSeed = seed;
      secrets.totpSeedLower = seed.toLowerCase();
      secrets['totpSeed raw bytes'] = Buffer.from(Secret.fromBase32(seed).bytes);
      const code = await nextTotp(seed);
      const cf = await t.req('POST', '/api/v1/me/totp/confirm', { token: alice.token, body: { code } });
      assert.equal(cf.statusCode, 200, cf.body);
      (cf.json().recoveryCodes as string[]).forEach((c, i) => {
        secrets[`recovery code ${i}`] = c;
        secrets[`recovery code ${i} compact`] = c.replace('-', '');
      });
      // Bearer tokens are stored hashed.
      const tok = await t.req('POST', '/api/v1/tokens', { token: t.adminToken, body: { name: 'scan', scopes: ['read'] } });
      assert.equal(tok.statusCode, 201, tok.body);
      secrets.apiToken = tok.json().token;
      secrets.adminSessionToken = t.adminToken;
      secrets.aliceSessionToken = alice.token;
    });

    after(async () => {
      if (!closed) await t?.close();
    });

    const assertClean = (blobs: Blob[]) => {
      assert.ok(blobs.length > 0, 'nothing to scan');
      assert.deepEqual(leaks(blobs, secrets), [], 'plaintext found in the database files');
    };
    const assertControls = (blobs: Blob[]) => {
      for (const [label, value] of Object.entries(controls)) assert.ok(occurrences(blobs, value).length > 0, `control ${label} (${value}) not found: the scan does not see the data`);
    };

    if (kind === 'sqlite') {
      it('finds the control strings in the live files (WAL not checkpointed), and no secret', () => {
        const blobs = sqliteFiles(t.dataDir);
        assert.ok(blobs.some((b) => b.name === 'gatehouse.db-wal'), 'expected a WAL file while the database is open');
        assertControls(blobs);
        assertClean(blobs);
      });

      it('finds the control strings and no secret after closing (WAL checkpointed)', async () => {
        await t.app.close();
        await t.core.store.close();
        closed = true;
        try {
          const blobs = sqliteFiles(t.dataDir);
          assertControls(blobs);
          assertClean(blobs);
        } finally {
          rmSync(t.dataDir, { recursive: true, force: true });
        }
      });
    } else {
      it('pg_dump holds the control strings and no secret', async () => {
        const dump = await pgDump(t.config.databaseUrl!);
        assert.ok(dump.data.length > 1000);
        assertControls([dump]);
        assertClean([dump]);
      });

      it("the cluster's heap and WAL files for the database hold the control strings and no secret", async () => {
        const blobs = await pgClusterFiles(t.config.databaseUrl!);
        assert.ok(blobs.some((b) => b.name.startsWith('base/')), 'no heap files found');
        assert.ok(blobs.some((b) => b.name.startsWith('pg_wal/')), 'no WAL files found');
        assertControls(blobs.filter((b) => b.name.startsWith('base/')));
        assertControls(blobs.filter((b) => b.name.startsWith('pg_wal/')));
        assertClean(blobs);
      });
    }
  });
}
