// Consent to recording required by an access policy (issue 11 point 6), on both databases:
// the launch answer carries the policy's text; a ticket launched without consent is refused
// at the SSH door (a BatchMode login cannot be asked) and one launched with it opens;
// declining voids the ticket (then refused) and is audited with the policy; a
// `user:secret` login is asked by keyboard-interactive: "yes" opens, anything else refuses;
// the browser terminal takes it as consent=1; an RDP launch needs it in the launch itself.
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { once } from 'node:events';
import ssh2 from 'ssh2';
import WebSocket from 'ws';
import { ensureTargetAccount, TARGET_PASSWORD } from '../support/accounts.js';
import { startGateway, type Gateway } from '../support/gateway.js';
import { DB_KINDS } from '../support/harness.js';
import { auditEvents, clientFor, createSecret, eventually, ok, run } from '../support/ssh-client.js';
import { startSshd, type Sshd } from '../support/sshd.js';

const TEXT = 'CONSENT-TEXT: this session is recorded for the audit of change 42.';

/** ssh2's client as `user:secret`, answering the password prompt and then the consent prompt. */
function directLogin(gw: Gateway, user: string, password: string, consentAnswer: string, byPassword = false): Promise<{ ok: boolean; out: string; prompts: string[] }> {
  return new Promise((resolve) => {
    const prompts: string[] = [];
    const conn = new ssh2.Client();
    conn.on('keyboard-interactive', (_name, instructions, _lang, ps, finish) => {
      prompts.push(`${instructions}|${ps.map((p) => p.prompt).join('|')}`);
      finish(ps.map((p) => (/password/i.test(p.prompt) ? password : consentAnswer)));
    });
    conn.on('ready', () =>
      conn.exec('whoami', (err, stream) => {
        if (err) return resolve({ ok: false, out: String(err), prompts });
        let out = '';
        stream.on('data', (d: Buffer) => (out += d.toString()));
        stream.on('close', () => {
          conn.end();
          resolve({ ok: true, out, prompts });
        });
      }),
    );
    conn.on('error', (e) => resolve({ ok: false, out: e.message, prompts }));
    conn.connect({ host: '127.0.0.1', port: gw.sshPort, username: user, tryKeyboard: true, ...(byPassword ? { password } : {}), hostVerifier: () => true });
  });
}

for (const kind of DB_KINDS) {
  describe(`consent to recording on every door on ${kind}`, () => {
    let sshd: Sshd;
    let gw: Gateway;
    let secretId: string;
    let policyId: string;
    let token: string;
    const password = 'pw-alice-Consent-1';

    before(async () => {
      ensureTargetAccount();
      [sshd, gw] = await Promise.all([startSshd(), startGateway(kind)]);
      await ok(gw, 'POST', '/api/v1/users', { username: 'alice', password, roles: ['User'] }, 201);
      token = await gw.userToken('alice', password);
      secretId = await createSecret(gw, 'consent-target', { port: sshd.port, password: TARGET_PASSWORD });
      await ok(gw, 'PUT', `/api/v1/secrets/${secretId}/permissions`, { entries: [{ principalType: 'user', principal: 'alice', level: 'view' }] });
      const policy = await ok(gw, 'POST', '/api/v1/access-policies', { name: 'consent-policy', preApproved: [{ principalType: 'user', principal: 'alice' }], recordingRequired: true, consentText: TEXT }, 201);
      policyId = policy.id;
      await ok(gw, 'PATCH', `/api/v1/secrets/${secretId}`, { policyId: 'consent-policy' });
    });
    after(async () => {
      await gw?.close();
      await sshd?.stop();
    });

    const launchAs = (consent?: boolean) => ok(gw, 'POST', `/api/v1/secrets/${secretId}/launch`, { launcher: 'ssh', ...(consent ? { consent: true } : {}) }, 200, token);

    it('the launch shows the policy text; a ticket without consent is refused at the SSH door, one with consent opens', async () => {
      const without = await launchAs();
      assert.deepEqual(without.consent, { required: true, text: TEXT, given: false });
      const c = clientFor(gw, without.ssh.knownHosts);
      const refused = await run('ssh', [...c.base(['-o', 'BatchMode=yes']), `${without.ticket}@127.0.0.1`, 'whoami']);
      assert.equal(refused.code, 255, refused.stdout + refused.stderr);
      await eventually(async () => (await auditEvents(gw, 'ticket.refused')).some((e) => e.details.reason === 'consent_required'), 5000, 'ticket.refused consent_required');

      const withIt = await launchAs(true);
      assert.deepEqual(withIt.consent, { required: true, text: TEXT, given: true });
      const given = (await auditEvents(gw, 'session.consent')).find((e) => e.details.ticketId && e.details.policyId === policyId);
      assert.ok(given, 'session.consent audited with the policy');
      const opened = await run('ssh', [...c.base(['-o', 'BatchMode=yes']), `${withIt.ticket}@127.0.0.1`, 'whoami']);
      assert.equal(opened.code, 0, opened.stderr);
      assert.equal(opened.stdout, 'ghtarget\n');
    });

    it('declining voids the ticket (then refused) and is audited with the policy', async () => {
      const l = await launchAs();
      const d = await gw.api('POST', '/api/v1/tickets/decline', { token, body: { ticket: l.ticket } });
      assert.equal(d.status, 204, d.raw);
      const ev = (await auditEvents(gw, 'session.consent_declined')).find((e) => e.details.ticketId && e.details.policyId === policyId);
      assert.equal(ev?.outcome, 'failure');
      const c = clientFor(gw, l.ssh.knownHosts);
      const r = await run('ssh', [...c.base(['-o', 'BatchMode=yes']), `${l.ticket}@127.0.0.1`, 'whoami']);
      assert.equal(r.code, 255, r.stdout + r.stderr);
    });

    it('the browser terminal shows the policy text and opens only with consent=1', async () => {
      const term = async (query: string) => {
        const l = await launchAs();
        assert.equal(l.consent.text, TEXT);
        const ws = new WebSocket(`${gw.running.url.replace('https', 'wss')}/api/v1/terminal?ticket=${l.ticket}${query}`, { rejectUnauthorized: false, headers: { authorization: `Bearer ${token}` } });
        const frames: any[] = [];
        ws.on('message', (d, binary) => {
          if (binary) return;
          frames.push(JSON.parse(d.toString()));
          if (frames.at(-1).type === 'ready') ws.close();
        });
        await once(ws, 'close');
        return { frames, ticket: l.ticket };
      };
      const refused = await term('');
      assert.deepEqual(refused.frames[0], { type: 'error', message: 'this session is recorded: agree to the recording first' });
      const agreed = await term('&consent=1');
      assert.equal(agreed.frames[0]?.type, 'ready', JSON.stringify(agreed.frames));
      await eventually(async () => (await auditEvents(gw, 'session.consent')).some((e) => e.details.door === 'web' && e.details.policyId === policyId), 5000, 'consent at the browser door audited');
    });

    it('an RDP launch needs consent in the launch itself', async () => {
      const win = await ok(gw, 'POST', '/api/v1/secrets', { name: 'consent-win', template: 'windows-account', fields: { machine: '127.0.0.1', username: 'u', password: 'Consent-Test-Pw-2' } }, 201);
      await ok(gw, 'PUT', `/api/v1/secrets/${win.id}/permissions`, { entries: [{ principalType: 'user', principal: 'alice', level: 'view' }] });
      await ok(gw, 'PATCH', `/api/v1/secrets/${win.id}`, { policyId: 'consent-policy' });
      const refused = await gw.api('POST', `/api/v1/secrets/${win.id}/launch`, { token, body: { launcher: 'rdp' } });
      assert.equal(refused.status, 403, refused.raw);
      assert.equal(refused.body.error.code, 'consent_required');
      assert.ok(refused.body.error.message.includes(TEXT), refused.body.error.message);
      const l = await ok(gw, 'POST', `/api/v1/secrets/${win.id}/launch`, { launcher: 'rdp', consent: true }, 200, token);
      assert.deepEqual(l.consent, { required: true, text: TEXT, given: true });
      const f = await gw.api('GET', l.rdpFile, { token });
      assert.equal(f.status, 200, f.raw);
      assert.ok((await auditEvents(gw, 'session.consent')).some((e) => e.targetId === win.id && e.details.policyId === policyId && e.details.at === 'launch'));
    });

    it('`user:secret` login: keyboard-interactive shows the text; yes opens, anything else refuses', async () => {
      const yes = await directLogin(gw, 'alice:consent-target', password, 'yes');
      assert.ok(yes.ok, yes.out);
      assert.equal(yes.out, 'ghtarget\n');
      assert.ok(yes.prompts.some((p) => p.includes(TEXT)), JSON.stringify(yes.prompts));
      assert.ok((await auditEvents(gw, 'session.consent')).some((e) => e.details.door === 'ssh' && e.details.policyId === policyId));

      // A password login first: the door answers with partial success and asks by keyboard-interactive.
      const partial = await directLogin(gw, 'alice:consent-target', password, 'yes', true);
      assert.ok(partial.ok, partial.out);
      assert.equal(partial.out, 'ghtarget\n');
      assert.deepEqual(partial.prompts.length, 1, JSON.stringify(partial.prompts));
      assert.ok(partial.prompts[0]!.includes(TEXT));

      const no = await directLogin(gw, 'alice:consent-target', password, 'no');
      assert.equal(no.ok, false, no.out);
      await eventually(async () => (await auditEvents(gw, 'session.consent_declined')).some((e) => e.details.door === 'ssh' && e.details.policyId === policyId), 5000, 'declined at the door audited');
    });
  });
}
