// An approved access window through the real RDP door, on both databases: xfreerdp (under
// Xvfb) opens the .rdp file a launch hands out and reaches the xrdp test target through
// Gatehouse. A secret under a policy with 3 approvers (2 required) cannot be launched until
// 2 approve; a grant whose window has not opened is refused; within the window the session
// goes live, and the door drops the five-minute warning (no text channel into a desktop)
// with an event in the session's index instead of holding it; revoking the grant ends the
// live session with a one-line reason and xfreerdp is disconnected; a ticket issued before
// the revocation is refused at the door and a new launch gets the 403 that says how to
// request access. A policy asking for consent to recording and an MFA step-up refuses an
// RDP launch without either and, with both, the session runs through the door.
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { REQUEST_ACCESS_MESSAGE } from '../../src/core/access/gate.js';
import { ensureTargetAccount } from '../support/accounts.js';
import { startGateway, type Gateway } from '../support/gateway.js';
import { DB_KINDS } from '../support/harness.js';
import { auditEvents, ok } from '../support/ssh-client.js';
import { nextTotp } from '../support/totp.js';
import { runXfreerdp, startXrdp, startXvfb, waitFor, type XDisplay, type XfreerdpRun, type Xrdp } from '../support/xrdp.js';

const CONSENT_TEXT = 'RDP-CONSENT: this desktop session is recorded.';

/** Resolves with the value, or 'timeout' (a test failure, not a measurement). */
const within = <T,>(p: Promise<T>, ms: number): Promise<T | 'timeout'> => {
  let t: NodeJS.Timeout;
  return Promise.race([p.finally(() => clearTimeout(t)), new Promise<'timeout'>((r) => (t = setTimeout(() => r('timeout'), ms)))]);
};

for (const kind of DB_KINDS) {
  describe(`access window at the RDP door on ${kind}`, { timeout: 300_000 }, () => {
    let gw: Gateway;
    let xrdp: Xrdp;
    let client: XDisplay;
    let work: string;
    let windowSecret: string;
    let gatedSecret: string;
    let seed: string;
    const account = ensureTargetAccount();
    const tokens: Record<string, string> = {};

    const windowsSecret = async (name: string) => (await ok(gw, 'POST', '/api/v1/secrets', { name, template: 'windows-account', fields: { machine: '127.0.0.1', port: xrdp.port, username: account.username, password: account.password } }, 201)).id as string;
    const launchRdp = (secretId: string, body: Record<string, unknown> = {}) => gw.api('POST', `/api/v1/secrets/${secretId}/launch`, { token: tokens.alice, body: { launcher: 'rdp', ...body } });
    /** The .rdp file of a successful launch, saved where xfreerdp can open it. */
    const rdpFileOf = async (launched: { status: number; body: any; raw: string }) => {
      assert.equal(launched.status, 200, launched.raw);
      const f = await gw.api('GET', launched.body.rdpFile, { token: tokens.alice });
      assert.equal(f.status, 200, f.raw);
      const file = join(work, `${launched.body.ticket}.rdp`);
      writeFileSync(file, f.raw);
      return file;
    };
    const sessionsOf = async (secretId: string) => (await gw.api('GET', `/api/v1/sessions?secretId=${secretId}`, { token: gw.adminToken })).body.items as any[];
    const textOf = async (id: string) => (await gw.api('GET', `/api/v1/recordings/${id}/text`, { token: gw.adminToken })).body.items as { kind: string; text: string }[];
    const active = (xf: XfreerdpRun) =>
      waitFor('the client to become active', () => /CONNECTION_STATE_ACTIVE/.test(xf.output()) || (xf.proc.exitCode !== null ? Promise.reject(new Error(`xfreerdp exited ${xf.proc.exitCode}:\n${xf.output().slice(-3000)}\n${gw.logs().slice(-3000)}`)) : false), 60_000);
    const liveSession = (secretId: string) => waitFor('a live session', async () => (await sessionsOf(secretId)).find((s) => s.status === 'live'), 15_000);
    const endedSession = (secretId: string, id: string) =>
      waitFor(`session ${id} to end`, async () => {
        const s = (await sessionsOf(secretId)).find((x) => x.id === id);
        return s?.status === 'ended' ? s : false;
      }, 15_000);

    before(async () => {
      work = mkdtempSync(join(tmpdir(), 'gatehouse-rdp-window-'));
      [gw, xrdp, client] = await Promise.all([startGateway(kind), startXrdp(), startXvfb()]);
      // The .rdp file names the door's actual port (the test gateway listens on port 0).
      await ok(gw, 'PATCH', '/api/v1/launchers/rdp', { gatewayPort: gw.rdpPort });
      for (const name of ['alice', 'bob', 'carol', 'dave']) {
        const password = `pw-${name}-RdpAccess-1`;
        await ok(gw, 'POST', '/api/v1/users', { username: name, password, roles: ['User'] }, 201);
        tokens[name] = await gw.userToken(name, password);
      }
      // alice enrols TOTP (after signing in: this token is the one the step-up is remembered on).
      seed = (await ok(gw, 'POST', '/api/v1/me/totp', undefined, 200, tokens.alice)).secret;
      await ok(gw, 'POST', '/api/v1/me/totp/confirm', { code: await nextTotp(seed) }, 200, tokens.alice);

      windowSecret = await windowsSecret('rdp-window-box');
      gatedSecret = await windowsSecret('rdp-gated-box');
      for (const id of [windowSecret, gatedSecret]) await ok(gw, 'PUT', `/api/v1/secrets/${id}/permissions`, { entries: [{ principalType: 'user', principal: 'alice', level: 'view' }] });
      await ok(gw, 'POST', '/api/v1/access-policies', { name: 'rdp-window', approvers: ['bob', 'carol', 'dave'].map((u) => ({ principalType: 'user', principal: u })), approvalsRequired: 2 }, 201);
      await ok(gw, 'PATCH', `/api/v1/secrets/${windowSecret}`, { policyId: 'rdp-window' });
      await ok(gw, 'POST', '/api/v1/access-policies', {
        name: 'rdp-consent-mfa',
        approvers: [{ principalType: 'user', principal: 'admin' }],
        approvalsRequired: 1,
        preApproved: [{ principalType: 'user', principal: 'alice' }],
        recordingRequired: true,
        consentText: CONSENT_TEXT,
        mfa: 'always',
        mfaMaxAgeMinutes: 5,
      }, 201);
      await ok(gw, 'PATCH', `/api/v1/secrets/${gatedSecret}`, { policyId: 'rdp-consent-mfa' });
    });
    after(async () => {
      await client?.stop();
      await xrdp?.stop();
      await gw?.close();
      if (work) rmSync(work, { recursive: true, force: true });
    });

    it('request → 2 of 3 approve → not before the window opens → xfreerdp live within it → revoke disconnects it → refused after', async () => {
      const refused = await launchRdp(windowSecret);
      assert.equal(refused.status, 403, refused.raw);
      assert.equal(refused.body.error.message, REQUEST_ACCESS_MESSAGE);

      // A grant whose window opens in an hour: refused now, saying when it opens.
      const later = new Date(Date.now() + 60 * 60_000);
      const future = await ok(gw, 'POST', '/api/v1/access-requests', { secretId: windowSecret, reason: 'tonight', start: later.toISOString(), end: new Date(later.getTime() + 30 * 60_000).toISOString(), modes: ['rdp'] }, 201, tokens.alice);
      await ok(gw, 'POST', `/api/v1/access-requests/${future.id}/approve`, { comment: 'ok' }, 200, tokens.carol);
      assert.equal((await ok(gw, 'POST', `/api/v1/access-requests/${future.id}/approve`, { comment: 'ok' }, 200, tokens.dave)).status, 'approved');
      const early = await launchRdp(windowSecret);
      assert.equal(early.status, 403, early.raw);
      assert.equal(early.body.error.code, 'access_not_yet_open');
      assert.equal(early.body.error.message, `Your approved access to this secret opens at ${later.toISOString()}.`);
      await ok(gw, 'POST', `/api/v1/access-requests/${future.id}/revoke`, { comment: 'not needed' }, 200, tokens.carol);

      // A window of four minutes from now: one approval is not enough, the second opens it.
      const start = new Date();
      const end = new Date(start.getTime() + 4 * 60_000);
      const req = await ok(gw, 'POST', '/api/v1/access-requests', { secretId: windowSecret, reason: 'patch the domain controller', start: start.toISOString(), end: end.toISOString(), modes: ['rdp'] }, 201, tokens.alice);
      assert.equal((await ok(gw, 'POST', `/api/v1/access-requests/${req.id}/approve`, { comment: 'ok' }, 200, tokens.bob)).status, 'pending');
      assert.equal((await launchRdp(windowSecret)).status, 403);
      const approved = await ok(gw, 'POST', `/api/v1/access-requests/${req.id}/approve`, { comment: 'ok too' }, 200, tokens.carol);
      assert.equal(approved.status, 'approved');

      const file = await rdpFileOf(await launchRdp(windowSecret));
      const spare = await rdpFileOf(await launchRdp(windowSecret));
      const xf = runXfreerdp(file, client);
      try {
        await active(xf);
        // Through the door to the target, logged on there as the vaulted account.
        await waitFor('xrdp login as the vaulted account', () => new RegExp(`login successful for user ${account.username}`).test(xrdp.xrdpLog()), 30_000);
        const live = await liveSession(windowSecret);
        assert.equal(live.protocol, 'rdp');
        assert.equal(live.door, 'rdp');
        assert.equal(live.user.username, 'alice');
        // The window ends in under five minutes: the warning was due at once. The RDP door
        // cannot show it: it takes it and drops it, leaving an event in the session's index.
        const dropped = await waitFor('the dropped notice in the session index', async () => (await textOf(live.id)).find((i) => i.kind === 'event' && i.text.startsWith('notice_not_shown ')), 10_000, 300);
        assert.match(JSON.parse(dropped.text.slice('notice_not_shown '.length)).text, new RegExp(`^your approved access ends at ${approved.grant.end.replace(/[.]/g, '\\.')} `));
        assert.match(gw.logs(), /rdp door: notice not shown to the person/);

        await ok(gw, 'POST', `/api/v1/access-requests/${req.id}/revoke`, { comment: 'change window closed early' }, 200, tokens.bob);
        const code = await within(xf.exited, 15_000);
        assert.notEqual(code, 'timeout', `xfreerdp still connected after the revocation:\n${xf.output().slice(-2000)}`);
        assert.match(xf.output(), /ERRINFO_RPC_INITIATED_DISCONNECT/);
        const s = await endedSession(windowSecret, live.id);
        assert.equal(s.endReason, 'access ended: the grant was revoked by bob');
        const rev = (await auditEvents(gw, 'access.revoke')).find((e) => e.details.requestId === req.id);
        assert.equal(rev.details.sessionsEnded, 1);
      } finally {
        await xf.stop();
      }

      // After the grant: the ticket issued within it is refused at the door, a new launch gets the 403.
      const before = (await sessionsOf(windowSecret)).length;
      const late = runXfreerdp(spare, client);
      try {
        const code = await within(late.exited, 30_000);
        assert.notEqual(code, 'timeout', 'xfreerdp should give up');
        assert.notEqual(code, 0);
      } finally {
        await late.stop();
      }
      assert.equal((await sessionsOf(windowSecret)).length, before, 'no session for a refused ticket');
      const refusal = await waitFor('ticket.refused access_policy', async () => (await auditEvents(gw, 'ticket.refused')).find((e) => e.details.reason === 'access_policy' && e.details.detail === REQUEST_ACCESS_MESSAGE), 30_000);
      assert.equal(refusal.details.door, 'rdp');
      const again = await launchRdp(windowSecret);
      assert.equal(again.status, 403, again.raw);
      assert.equal(again.body.error.code, 'access_request_required');
      assert.equal(again.body.error.message, REQUEST_ACCESS_MESSAGE);
    });

    it('consent and step-up: refused without consent, then without a fresh TOTP; with both the session runs through the door', async () => {
      const noConsent = await launchRdp(gatedSecret);
      assert.equal(noConsent.status, 403, noConsent.raw);
      assert.equal(noConsent.body.error.code, 'consent_required');
      assert.ok(noConsent.body.error.message.includes(CONSENT_TEXT), noConsent.raw);
      // A "no" given before any ticket exists: refused and audited as declined.
      const no = await launchRdp(gatedSecret, { consent: false });
      assert.equal(no.status, 403, no.raw);
      assert.equal(no.body.error.code, 'consent_declined');
      const declined = (await auditEvents(gw, 'session.consent_declined')).find((e) => e.details.policy === 'rdp-consent-mfa' && e.details.at === 'launch');
      assert.ok(declined, 'the decline at launch is audited');
      const noCode = await launchRdp(gatedSecret, { consent: true });
      assert.equal(noCode.status, 403, noCode.raw);
      assert.equal(noCode.body.error.code, 'mfa_required');

      const launched = await launchRdp(gatedSecret, { consent: true, totp: await nextTotp(seed) });
      const file = await rdpFileOf(launched);
      assert.deepEqual(launched.body.consent, { required: true, text: CONSENT_TEXT, given: true });
      const xf = runXfreerdp(file, client);
      let id = '';
      try {
        await active(xf);
        const live = await liveSession(gatedSecret);
        id = live.id;
        assert.equal(live.user.username, 'alice');
        assert.equal(live.door, 'rdp');
      } finally {
        await xf.stop();
      }
      await endedSession(gatedSecret, id);
      const consent = (await auditEvents(gw, 'session.consent')).find((e) => e.details.ticketId && e.details.policy === 'rdp-consent-mfa');
      assert.ok(consent, 'consent at launch audited');
      assert.equal(consent.details.at, 'launch');
      assert.ok((await auditEvents(gw, 'auth.step_up')).some((e) => e.outcome === 'success' && e.actorName === 'alice'), 'step-up audited');
    });
  });
}
