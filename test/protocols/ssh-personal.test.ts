// A launch with a personal credential through the real SSH door to a real OpenSSH target,
// on both databases: the shared secret's own password is wrong for the target, so only the
// person's credential (opened while their vault is unlocked) gets in. Locked, it is refused
// with a message saying to unlock; someone else's with the seed's message; the ticket,
// used up, does not carry the credential a second time.
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { ensureTargetAccount, TARGET_PASSWORD, TARGET_USER } from '../support/accounts.js';
import { startGateway, type Gateway } from '../support/gateway.js';
import { DB_KINDS } from '../support/harness.js';
import { auditEvents, clientFor, createSecret, ok, run, type Client } from '../support/ssh-client.js';
import { startSshd, type Sshd } from '../support/sshd.js';

for (const kind of DB_KINDS) {
  describe(`SSH door with a personal credential on ${kind}`, () => {
    let sshd: Sshd;
    let gw: Gateway;
    let c: Client;
    let secretId: string;
    let alice: { id: string; token: string };
    let bobToken: string;
    let credId: string;
    const master = `Alice-Master-${randomBytes(6).toString('hex')}`;

    const launch = (token: string, personalCredentialId?: string) =>
      gw.api('POST', `/api/v1/secrets/${secretId}/launch`, { token, body: { launcher: 'ssh', ...(personalCredentialId ? { personalCredentialId } : {}) } });
    const exec = (ticket: string) => run('ssh', [...c.base(['-o', 'BatchMode=yes']), `${ticket}@127.0.0.1`, 'whoami']);

    before(async () => {
      ensureTargetAccount();
      [sshd, gw] = await Promise.all([startSshd(), startGateway(kind)]);
      // The shared credential does not open the target: only a personal one can.
      secretId = await createSecret(gw, 'personal-target', { port: sshd.port, username: 'nobody-shared', password: 'not-the-target-password' });
      const mk = async (username: string) => {
        const password = `pw-${username}-${randomBytes(6).toString('hex')}`;
        const u = await ok(gw, 'POST', '/api/v1/users', { username, password, roles: ['user'] }, 201);
        return { id: u.id as string, token: await gw.userToken(username, password) };
      };
      alice = await mk('alice');
      bobToken = (await mk('bob')).token;
      await ok(gw, 'PUT', `/api/v1/secrets/${secretId}/permissions`, { entries: ['alice', 'bob'].map((principal) => ({ principalType: 'user', principal, level: 'view' })) });
      await ok(gw, 'PUT', '/api/v1/me/master-password', { masterPassword: master }, 200, alice.token);
      credId = (await ok(gw, 'POST', '/api/v1/me/personal-credentials', { name: 'my target account', target: { secretId }, username: TARGET_USER, password: TARGET_PASSWORD }, 201, alice.token)).id;
      const l = await launch(alice.token);
      c = clientFor(gw, l.body.ssh.knownHosts);
    });
    after(async () => {
      await gw?.close();
      await sshd?.stop();
    });

    it('the shared credential alone does not get in (control)', async () => {
      const l = await launch(alice.token);
      assert.equal(l.status, 200, l.raw);
      const r = await exec(l.body.ticket);
      assert.notEqual(r.code, 0);
      assert.ok(!r.stdout.includes(TARGET_USER), r.stdout);
    });

    it('a launch with the unlocked personal credential opens the session as the person', async () => {
      const l = await launch(alice.token, credId);
      assert.equal(l.status, 200, l.raw);
      assert.ok(!l.raw.includes(TARGET_PASSWORD));
      const r = await exec(l.body.ticket);
      assert.equal(r.code, 0, r.stderr);
      assert.equal(r.stdout, `${TARGET_USER}\n`);
      // Single use: the ticket (and the credential it carried) is gone.
      const again = await exec(l.body.ticket);
      assert.equal(again.code, 255);
      const sessions = (await ok(gw, 'GET', `/api/v1/sessions?secretId=${secretId}&limit=5`)).items;
      assert.equal(sessions[0].target.username, TARGET_USER);
      const use = (await auditEvents(gw, 'personal.credential.use')).find((e) => e.outcome === 'success');
      assert.equal(use.targetId, credId);
      assert.ok(!JSON.stringify(use).includes(TARGET_PASSWORD));
      assert.ok(!gw.logs().includes(TARGET_PASSWORD), 'the password is in the log');
    });

    it('locked: refused with a message telling the person to unlock; unlocking again works', async () => {
      await ok(gw, 'POST', '/api/v1/me/master-password/lock', undefined, 200, alice.token);
      const l = await launch(alice.token, credId);
      assert.equal(l.status, 423, l.raw);
      assert.equal(l.body.error.code, 'personal_vault_locked');
      assert.match(l.body.error.message, /unlock/i);
      const wrong = await gw.api('POST', '/api/v1/me/master-password/unlock', { token: alice.token, body: { masterPassword: 'not-my-master-password' } });
      assert.equal(wrong.status, 401, wrong.raw);
      await ok(gw, 'POST', '/api/v1/me/master-password/unlock', { masterPassword: master }, 200, alice.token);
      const l2 = await launch(alice.token, credId);
      assert.equal(l2.status, 200, l2.raw);
      assert.equal((await exec(l2.body.ticket)).stdout, `${TARGET_USER}\n`);
    });

    it("someone else's personal credential: 403 \"Invalid Credential. You cannot use someone else's personal credential.\"", async () => {
      const l = await launch(bobToken, credId);
      assert.equal(l.status, 403, l.raw);
      assert.equal(l.body.error.message, "Invalid Credential. You cannot use someone else's personal credential.");
    });

    it('a credential deleted between launch and connection is refused at the door', async () => {
      const id = (await ok(gw, 'POST', '/api/v1/me/personal-credentials', { name: 'short-lived', target: { secretId }, username: TARGET_USER, password: TARGET_PASSWORD }, 201, alice.token)).id;
      const l = await launch(alice.token, id);
      assert.equal(l.status, 200, l.raw);
      assert.equal((await gw.api('DELETE', `/api/v1/me/personal-credentials/${id}`, { token: alice.token })).status, 204);
      const r = await exec(l.body.ticket);
      assert.equal(r.code, 255);
      assert.ok(!r.stdout.includes(TARGET_USER));
      // Refused at the door (not tried with the shared credential instead).
      const refused = (await auditEvents(gw, 'ticket.refused'))[0];
      assert.equal(refused.details.reason, 'permission_withdrawn');
      assert.match(refused.details.detail, /personal credential was deleted/);
    });
  });
}
