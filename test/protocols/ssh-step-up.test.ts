// MFA step-up at the real SSH door for `ssh user:secret@gatehouse` logins, on both databases:
// when the secret's access policy asks for a second factor, a key login is only the first
// factor and keyboard-interactive asks "Verification code: " (answered here by OpenSSH
// through SSH_ASKPASS); a wrong or missing code refuses; a password login with its TOTP
// code passes; the door's checks are audited as auth.step_up.
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { chmodSync, existsSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { ensureTargetAccount, TARGET_PASSWORD } from '../support/accounts.js';
import { startGateway, type Gateway } from '../support/gateway.js';
import { DB_KINDS } from '../support/harness.js';
import { auditEvents, clientFor, createSecret, eventually, launch, ok, run, type Client } from '../support/ssh-client.js';
import { startSshd, type Sshd } from '../support/sshd.js';
import { nextTotp, wrongTotp } from '../support/totp.js';

for (const kind of DB_KINDS) {
  describe(`SSH door MFA step-up on ${kind}`, () => {
    let sshd: Sshd;
    let gw: Gateway;
    let c: Client;
    let key: string;
    let seed: string;
    const password = `pw-alice-${randomBytes(6).toString('hex')}`;
    const dest = 'alice:mfa-box@127.0.0.1';

    /** An askpass program answering each prompt (logged to a file): the password, or a code. */
    const askpass = (code: string) => {
      const id = randomBytes(3).toString('hex');
      const file = join(c.dir, `askpass-${id}.sh`);
      const log = join(c.dir, `prompts-${id}.txt`);
      writeFileSync(file, `#!/bin/sh\nprintf '%s\\n' "$1" >> '${log}'\ncase "$1" in *assword*) printf '%s\\n' '${password}';; *) printf '%s\\n' '${code}';; esac\n`);
      chmodSync(file, 0o700);
      return { env: { SSH_ASKPASS: file, SSH_ASKPASS_REQUIRE: 'force', DISPLAY: ':0' }, prompts: () => (existsSync(log) ? readFileSync(log, 'utf8') : '') };
    };
    const byKey = ['-o', 'IdentitiesOnly=yes', '-i', '', '-o', 'PreferredAuthentications=publickey,keyboard-interactive', '-o', 'NumberOfPasswordPrompts=1'];
    const keyArgs = () => byKey.map((a) => (a === '' ? key : a));

    before(async () => {
      ensureTargetAccount();
      [sshd, gw] = await Promise.all([startSshd(), startGateway(kind)]);
      const boxId = await createSecret(gw, 'mfa-box', { port: sshd.port, password: TARGET_PASSWORD });
      c = clientFor(gw, (await launch(gw, boxId)).knownHosts);
      await ok(gw, 'POST', '/api/v1/users', { username: 'alice', password, roles: ['user'] }, 201);
      const token = await gw.userToken('alice', password);
      await ok(gw, 'PUT', `/api/v1/secrets/${boxId}/permissions`, { entries: [{ principalType: 'user', principal: 'alice', level: 'view' }] });
      key = join(c.dir, 'alice_ed25519');
      const keygen = await run('ssh-keygen', ['-q', '-t', 'ed25519', '-N', '', '-C', 'alice@laptop', '-f', key]);
      assert.equal(keygen.code, 0, keygen.stderr);
      await ok(gw, 'POST', '/api/v1/me/ssh-keys', { name: 'laptop', publicKey: readFileSync(`${key}.pub`, 'utf8').trim() }, 201, token);
      seed = (await ok(gw, 'POST', '/api/v1/me/totp', undefined, 200, token)).secret;
      await ok(gw, 'POST', '/api/v1/me/totp/confirm', { code: await nextTotp(seed) }, 200, token);
      const policy = await ok(gw, 'POST', '/api/v1/access-policies', { name: 'mfa-door', approvers: [{ principalType: 'user', principal: 'admin' }], approvalsRequired: 1, preApproved: [{ principalType: 'user', principal: 'alice' }], mfa: 'always', mfaMaxAgeMinutes: 5 }, 201);
      await ok(gw, 'PATCH', `/api/v1/secrets/${boxId}`, { policyId: policy.id });
    });
    after(async () => {
      await gw?.close();
      await sshd?.stop();
    });

    it('a key login is asked "Verification code: " by keyboard-interactive, and the right code opens the session', async () => {
      const a = askpass(await nextTotp(seed));
      const r = await run('ssh', [...c.base(keyArgs()), dest, 'whoami'], { env: a.env });
      assert.equal(r.code, 0, r.stderr);
      assert.equal(r.stdout, 'ghtarget\n');
      assert.match(a.prompts(), /Verification code: /);
    });

    it('a wrong code, or none (BatchMode), refuses the login; the wrong code is audited', async () => {
      const a = askpass(wrongTotp(seed));
      const wrong = await run('ssh', [...c.base(keyArgs()), dest, 'whoami'], { env: a.env });
      assert.equal(wrong.code, 255, wrong.stdout + wrong.stderr);
      assert.match(wrong.stderr, /Permission denied/);
      assert.equal(wrong.stdout, '');
      assert.match(a.prompts(), /Verification code: /);
      const batch = await run('ssh', [...c.base(['-o', 'BatchMode=yes', ...keyArgs()]), dest, 'whoami']);
      assert.equal(batch.code, 255, batch.stdout + batch.stderr);
      assert.equal(batch.stdout, '');
      await eventually(async () => (await auditEvents(gw, 'auth.step_up')).some((e) => e.outcome === 'failure' && e.details.via === 'ssh'), 5000, 'failed step-up audited');
      assert.ok((await auditEvents(gw, 'auth.step_up')).some((e) => e.outcome === 'success' && e.details.via === 'ssh'));
    });

    it('a password login with its TOTP code is the second factor already', async () => {
      const a = askpass(await nextTotp(seed));
      const kbd = ['-o', 'PreferredAuthentications=keyboard-interactive', '-o', 'PubkeyAuthentication=no', '-o', 'NumberOfPasswordPrompts=1'];
      const r = await run('ssh', [...c.base(kbd), dest, 'whoami'], { env: a.env });
      assert.equal(r.code, 0, r.stderr);
      assert.equal(r.stdout, 'ghtarget\n');
      assert.doesNotMatch(a.prompts(), /Verification code/);
    });
  });
}
