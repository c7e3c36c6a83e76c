// Shared control of live terminal sessions (issue 14 point 6) over the real doors: a browser
// terminal on a real sshd and on a real telnetd, the join routes and the joiner's WebSocket.
// Request → the owner's window is asked → accept → the joiner types → the target runs it →
// the recording and the keystroke index name the joiner; decline, invite, kick, leave, and
// launchers with the options off: refused and audited.
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { ensureTargetAccount, TARGET_PASSWORD, TARGET_USER } from '../support/accounts.js';
import { startSshd, type Sshd } from '../support/sshd.js';
import { startTelnetd, type TelnetdHandle } from '../support/telnetd.js';
import { startGateway, type Gateway } from '../support/gateway.js';
import { call, openTerm, signIn, type Browser, type Term } from '../support/web-term.js';
import { clientFor, interactive, launch, PROMPT, sessionOf } from '../support/ssh-client.js';

const PEOPLE = { olive: ['User'], audrey: ['Auditor'], bert: ['User'] } as const;

describe('shared control of browser terminal sessions', { timeout: 180_000 }, () => {
  let sshd: Sshd;
  let telnetd: TelnetdHandle;
  let gw: Gateway;
  let sshSecret: string;
  let telnetSecret: string;
  const b = {} as Record<keyof typeof PEOPLE, Browser>;

  const admin = (method: string, url: string, body?: unknown) => gw.api(method, url, { token: gw.adminToken, ...(body !== undefined ? { body } : {}) });
  const launcherOptions = async (id: string, options: Record<string, unknown>) => {
    const r = await admin('PATCH', `/api/v1/launchers/${id}`, { options });
    assert.equal(r.status, 200, r.raw);
    assert.deepEqual(r.body.options, options);
  };
  /** Olive's browser terminal on a secret, ready. */
  const ownerTerm = async (secretId: string, launcher = 'ssh'): Promise<{ t: Term; sessionId: string }> => {
    const l = await call(gw, b.olive, 'POST', `/api/v1/secrets/${secretId}/launch`, { launcher });
    assert.equal(l.status, 200, JSON.stringify(l.body));
    const t = openTerm(gw, b.olive, `ticket=${l.body.ticket}&consent=1&cols=100&rows=30`);
    await t.waitFor(() => t.messages.some((m) => m.type === 'ready'), 30_000);
    return { t, sessionId: t.messages.find((m) => m.type === 'ready')!.sessionId as string };
  };
  const joinTerm = (who: Browser, sessionId: string, joinId: string, origin?: string) => openTerm(gw, who, '', origin, `/api/v1/sessions/${sessionId}/joins/${joinId}/terminal`);
  const audit = async (action: string, sessionId: string) => (await admin('GET', `/api/v1/audit?action=${action}&targetId=${sessionId}&limit=500`)).body.items;
  const ended = async (sessionId: string) => {
    for (let i = 0; i < 100; i++) {
      const s = await admin('GET', `/api/v1/sessions/${sessionId}`);
      if (s.body.status === 'ended') return;
      await new Promise((r) => setTimeout(r, 100));
    }
    assert.fail('the session did not end');
  };

  before(async () => {
    ensureTargetAccount();
    [sshd, telnetd, gw] = await Promise.all([startSshd(), startTelnetd(), startGateway('sqlite')]);
    const fields = (port: number) => ({ machine: '127.0.0.1', port, username: TARGET_USER, password: TARGET_PASSWORD });
    sshSecret = (await admin('POST', '/api/v1/secrets', { name: 'shared-ssh', template: 'unix-account', fields: fields(sshd.port) })).body.id;
    telnetSecret = (await admin('POST', '/api/v1/secrets', { name: 'shared-telnet', template: 'unix-account', fields: fields(telnetd.port) })).body.id;
    for (const [u, roles] of Object.entries(PEOPLE)) {
      const r = await admin('POST', '/api/v1/users', { username: u, password: `${u}-Sharing-pass-1`, roles });
      assert.equal(r.status, 201, r.raw);
      b[u as keyof typeof PEOPLE] = await signIn(gw, u, `${u}-Sharing-pass-1`);
    }
    for (const id of [sshSecret, telnetSecret]) await admin('PUT', `/api/v1/secrets/${id}/permissions`, { entries: [{ principalType: 'user', principal: 'olive', level: 'view' }] });
    await launcherOptions('ssh', { allowJoinRequests: true, allowJoinInvites: true });
    await launcherOptions('telnet', { allowJoinRequests: true, allowJoinInvites: true });
  });
  after(async () => {
    await gw?.close();
    await sshd?.stop();
    await telnetd?.stop();
  });

  it('request → the owner accepts in the window → the joiner types → the target runs it → the recording and the index name the joiner', async () => {
    const { t: owner, sessionId } = await ownerTerm(sshSecret);
    owner.ws.send(JSON.stringify({ type: 'input', data: 'echo owner-$((20+1))\r' }));
    await owner.waitFor(() => owner.output().includes('owner-21'));
    const req = await call(gw, b.audrey, 'POST', `/api/v1/sessions/${sessionId}/join-requests`);
    assert.equal(req.status, 201, JSON.stringify(req.body));
    assert.equal(req.body.status, 'pending');
    assert.equal(req.body.via, 'request');
    assert.equal(req.body.owner.username, 'olive');
    // The owner's window is asked.
    await owner.waitFor(() => owner.messages.some((m) => m.type === 'join' && m.event === 'request' && m.requestId === req.body.id && m.user === 'audrey'));
    const joiner = joinTerm(b.audrey, sessionId, req.body.id);
    await joiner.waitFor(() => joiner.messages.some((m) => m.type === 'pending'));
    owner.ws.send(JSON.stringify({ type: 'join-answer', requestId: req.body.id, accept: true }));
    await joiner.waitFor(() => joiner.messages.some((m) => m.type === 'ready'));
    const ready = joiner.messages.find((m) => m.type === 'ready')!;
    assert.equal(ready.cols, 100);
    assert.equal(ready.rows, 30);
    // The joiner sees what happened before they came (the recording so far).
    await joiner.waitFor(() => joiner.output().includes('owner-21'));
    await owner.waitFor(() => owner.messages.some((m) => m.type === 'join' && m.event === 'joined' && m.user === 'audrey'));
    joiner.ws.send(JSON.stringify({ type: 'input', data: 'echo joined-$((40+2))\r' }));
    await owner.waitFor(() => owner.output().includes('joined-42'));
    await joiner.waitFor(() => joiner.output().includes('joined-42'));
    owner.ws.send(JSON.stringify({ type: 'input', data: 'echo after-$((1+1))\r' }));
    await joiner.waitFor(() => joiner.output().includes('after-2'));
    // Leaving: the owner is told; the session goes on.
    joiner.ws.close();
    await owner.waitFor(() => owner.messages.some((m) => m.type === 'join' && m.event === 'left' && m.user === 'audrey'));
    owner.ws.send(JSON.stringify({ type: 'input', data: 'exit\r' }));
    await owner.closed;
    await ended(sessionId);

    const cast = (await gw.running.app.inject({ method: 'GET', url: `/api/v1/recordings/${sessionId}`, headers: { authorization: `Bearer ${gw.adminToken}` } })).body;
    const events = cast.split('\n').slice(1).filter(Boolean).map((l: string) => JSON.parse(l) as unknown[]);
    const inputs = events.filter((e: unknown[]) => e[1] === 'i');
    assert.ok(inputs.some((e: unknown[]) => String(e[2]).includes('echo joined') && e[3] === 'audrey'), 'the joiner’s input names them');
    assert.ok(inputs.some((e: unknown[]) => String(e[2]).includes('echo after') && e[3] === 'olive'), 'after a join, the owner’s input names the owner');
    assert.ok(events.some((e: unknown[]) => e[1] === 'm' && String(e[2]).startsWith('session.join:') && String(e[2]).includes('audrey')));
    assert.ok(!cast.includes(TARGET_PASSWORD));
    const text = await admin('GET', `/api/v1/recordings/${sessionId}/text`);
    const lines = text.body.items as { text: string; by: string | null; kind: string }[];
    assert.ok(lines.some((l) => l.kind === 'command' && l.text.includes('echo owner-') && l.by === null), JSON.stringify(lines));
    assert.ok(lines.some((l) => l.kind === 'command' && l.text.includes('echo joined-') && l.by === 'audrey'), JSON.stringify(lines));
    const hit = await admin('GET', '/api/v1/recordings?q=echo%20joined');
    assert.equal(hit.body.items[0].id, sessionId);
    assert.equal(hit.body.items[0].matches[0].by, 'audrey');
    for (const a of ['session.join_request', 'session.join_accept', 'session.join', 'session.leave']) assert.equal((await audit(a, sessionId)).length, 1, a);
    assert.equal((await audit('session.join_accept', sessionId))[0].actorName, 'olive');
  });

  it('decline: the joiner is refused; the answer and the refusal are audited; a cross-origin page is refused', async () => {
    const { t: owner, sessionId } = await ownerTerm(sshSecret);
    const req = await call(gw, b.audrey, 'POST', `/api/v1/sessions/${sessionId}/join-requests`);
    assert.equal(req.status, 201);
    const evil = joinTerm(b.audrey, sessionId, req.body.id, 'https://evil.example');
    await evil.closed;
    assert.ok(evil.messages.some((m) => m.type === 'error' && /cross-origin/.test(String(m.message))));
    const joiner = joinTerm(b.audrey, sessionId, req.body.id);
    await joiner.waitFor(() => joiner.messages.some((m) => m.type === 'pending'));
    // Only the owner answers (the portal's way).
    assert.equal((await call(gw, b.audrey, 'POST', `/api/v1/sessions/${sessionId}/joins/${req.body.id}/accept`)).status, 403);
    const d = await call(gw, b.olive, 'POST', `/api/v1/sessions/${sessionId}/joins/${req.body.id}/decline`);
    assert.equal(d.status, 200, JSON.stringify(d.body));
    assert.equal(d.body.status, 'declined');
    await joiner.closed;
    assert.ok(joiner.messages.some((m) => m.type === 'error' && /declined/.test(String(m.message))));
    assert.ok(!joiner.messages.some((m) => m.type === 'ready'));
    await owner.waitFor(() => owner.messages.some((m) => m.type === 'join' && m.event === 'declined'));
    assert.equal((await call(gw, b.olive, 'POST', `/api/v1/sessions/${sessionId}/joins/${req.body.id}/accept`)).status, 409);
    assert.equal((await audit('session.join_decline', sessionId)).length, 1);
    const refused = await audit('session.join_refused', sessionId);
    assert.ok(refused.some((e: { details: { reason: string } }) => e.details.reason === 'declined'));
    owner.ws.close();
    await ended(sessionId);
  });

  it('invite: the invited person finds it under their joins and joins; the owner kicks them; others cannot invite or request', async () => {
    const { t: owner, sessionId } = await ownerTerm(sshSecret);
    // Bert (a User) has no join_sessions: his request is refused and audited; he cannot invite into Olive's session.
    const no = await call(gw, b.bert, 'POST', `/api/v1/sessions/${sessionId}/join-requests`);
    assert.equal(no.status, 403);
    assert.ok((await audit('session.join_refused', sessionId)).some((e: { details: { reason: string } }) => e.details.reason === 'no_permission'));
    assert.equal((await call(gw, b.bert, 'POST', `/api/v1/sessions/${sessionId}/invites`, { user: 'audrey' })).status, 403);
    assert.equal((await call(gw, b.olive, 'POST', `/api/v1/sessions/${sessionId}/invites`, { user: 'nobody-here' })).status, 400);
    const inv = await call(gw, b.olive, 'POST', `/api/v1/sessions/${sessionId}/invites`, { user: 'bert' });
    assert.equal(inv.status, 201, JSON.stringify(inv.body));
    assert.equal(inv.body.via, 'invite');
    assert.equal(inv.body.status, 'accepted');
    const mine = await call(gw, b.bert, 'GET', '/api/v1/me/joins');
    assert.deepEqual(mine.body.items.map((j: { id: string }) => j.id), [inv.body.id]);
    // Someone else cannot use Bert's invitation.
    const other = joinTerm(b.audrey, sessionId, inv.body.id);
    await other.closed;
    assert.ok(other.messages.some((m) => m.type === 'error'));
    const joiner = joinTerm(b.bert, sessionId, inv.body.id);
    await joiner.waitFor(() => joiner.messages.some((m) => m.type === 'ready'));
    joiner.ws.send(JSON.stringify({ type: 'input', data: 'echo bert-$((3*3))\r' }));
    await owner.waitFor(() => owner.output().includes('bert-9'));
    const list = await call(gw, b.olive, 'GET', `/api/v1/sessions/${sessionId}/joins`);
    assert.ok(list.body.items.some((j: { id: string; status: string }) => j.id === inv.body.id && j.status === 'joined'));
    assert.equal((await call(gw, b.bert, 'GET', `/api/v1/sessions/${sessionId}/joins`)).status, 403);
    const kick = await call(gw, b.olive, 'POST', `/api/v1/sessions/${sessionId}/joins/${inv.body.id}/kick`);
    assert.equal(kick.status, 200, JSON.stringify(kick.body));
    assert.equal(kick.body.status, 'kicked');
    await joiner.closed;
    assert.ok(joiner.messages.some((m) => m.type === 'end' && /removed from the session by olive/.test(String(m.reason))));
    // A kicked person's input no longer reaches the target; the owner's session goes on.
    owner.ws.send(JSON.stringify({ type: 'input', data: 'echo still-$((2+3))\r' }));
    await owner.waitFor(() => owner.output().includes('still-5'));
    assert.equal((await audit('session.invite', sessionId)).length, 1);
    assert.equal((await audit('session.kick', sessionId)).length, 1);
    assert.equal((await call(gw, b.bert, 'GET', '/api/v1/me/joins')).body.items.length, 0);
    owner.ws.close();
    await ended(sessionId);
  });

  it('a launcher with the options off: requests, invites and the live view are refused and audited', async () => {
    await launcherOptions('ssh', { allowLiveSnooping: false, allowJoinRequests: false, allowJoinInvites: false });
    try {
      const { t: owner, sessionId } = await ownerTerm(sshSecret);
      const r = await call(gw, b.audrey, 'POST', `/api/v1/sessions/${sessionId}/join-requests`);
      assert.equal(r.status, 403);
      assert.equal(r.body.error.code, 'join_disallowed');
      const i = await call(gw, b.olive, 'POST', `/api/v1/sessions/${sessionId}/invites`, { user: 'bert' });
      assert.equal(i.status, 403);
      assert.equal(i.body.error.code, 'join_disallowed');
      const reasons = (await audit('session.join_refused', sessionId)).map((e: { details: { reason: string } }) => e.details.reason).sort();
      assert.deepEqual(reasons, ['invites_disallowed', 'requests_disallowed']);
      const live = await call(gw, b.audrey, 'GET', `/api/v1/sessions/${sessionId}/live`);
      assert.equal(live.status, 403);
      assert.equal(live.body.error.code, 'live_view_disallowed');
      const watch = await audit('session.watch', sessionId);
      assert.equal(watch.length, 1);
      assert.equal(watch[0].outcome, 'failure');
      assert.equal(owner.messages.filter((m) => m.type === 'join').length, 0);
      owner.ws.close();
      await ended(sessionId);
      // An ended session cannot be joined.
      assert.equal((await call(gw, b.audrey, 'POST', `/api/v1/sessions/${sessionId}/join-requests`)).status, 409);
    } finally {
      await launcherOptions('ssh', { allowJoinRequests: true, allowJoinInvites: true });
    }
  });

  it('a joiner who stops reading is cut past the live view\'s bound; the owner is told they left, the session goes on', async () => {
    const { t: owner, sessionId } = await ownerTerm(sshSecret);
    const req = await call(gw, b.audrey, 'POST', `/api/v1/sessions/${sessionId}/join-requests`);
    assert.equal(req.status, 201, JSON.stringify(req.body));
    await owner.waitFor(() => owner.messages.some((m) => m.type === 'join' && m.event === 'request' && m.requestId === req.body.id));
    const joiner = joinTerm(b.audrey, sessionId, req.body.id);
    await joiner.waitFor(() => joiner.messages.some((m) => m.type === 'pending'));
    owner.ws.send(JSON.stringify({ type: 'join-answer', requestId: req.body.id, accept: true }));
    await joiner.waitFor(() => joiner.messages.some((m) => m.type === 'ready'));
    // The joiner's client stops reading; the owner's output (~27 MB) goes on.
    (joiner.ws as unknown as { _socket: { pause(): void; resume(): void } })._socket.pause();
    owner.ws.send(JSON.stringify({ type: 'input', data: 'head -c 20000000 /dev/zero | base64 -w 0; echo; echo DONE-$((2+3))\r' }));
    await owner.waitFor(() => owner.messages.some((m) => m.type === 'join' && m.event === 'left' && m.user === 'audrey'), 120_000);
    await owner.waitFor(() => owner.output().includes('DONE-5'), 120_000);
    (joiner.ws as unknown as { _socket: { resume(): void } })._socket.resume();
    await joiner.closed;
    assert.ok(joiner.output().length < 27_000_000, `the joiner got ${joiner.output().length} bytes: cut, not sent everything`);
    owner.ws.send(JSON.stringify({ type: 'input', data: 'exit\r' }));
    await ended(sessionId);
  });

  it('a native SSH session: the owner reads a notice line and answers in the portal; the joiner types into the same shell', async () => {
    const l = await launch(gw, sshSecret);
    const p = interactive([...clientFor(gw, l.knownHosts).base(), `${l.ticket}@127.0.0.1`], { cols: 90, rows: 30 });
    try {
      await p.waitFor(PROMPT);
      const sessionId = (await sessionOf(gw, sshSecret, 'live')).id as string;
      const req = await call(gw, b.audrey, 'POST', `/api/v1/sessions/${sessionId}/join-requests`);
      assert.equal(req.status, 201, JSON.stringify(req.body));
      await p.waitFor(/\[gatehouse\] audrey asks to join this session \(shared control\): accept or decline it in the Gatehouse portal/);
      assert.equal((await admin('POST', `/api/v1/sessions/${sessionId}/joins/${req.body.id}/accept`)).status, 200);
      const joiner = joinTerm(b.audrey, sessionId, req.body.id);
      await joiner.waitFor(() => joiner.messages.some((m) => m.type === 'ready'));
      assert.equal(joiner.messages.find((m) => m.type === 'ready')!.cols, 90);
      await p.waitFor(/audrey joined this session/);
      joiner.ws.send(JSON.stringify({ type: 'input', data: 'echo native-join-$((6*7))\r' }));
      await p.waitFor(/native-join-42/);
      await joiner.waitFor(() => joiner.output().includes('native-join-42'));
      p.write('exit\r');
      await p.done;
      await joiner.closed;
      await ended(sessionId);
      const cast = (await gw.running.app.inject({ method: 'GET', url: `/api/v1/recordings/${sessionId}`, headers: { authorization: `Bearer ${gw.adminToken}` } })).body;
      assert.ok(cast.split('\n').some((l: string) => l.includes('echo native-join') && l.endsWith(',"audrey"]')));
    } finally {
      p.kill();
    }
  });

  it('a Telnet session: the joiner types into the same login shell, attributed', async () => {
    const { t: owner, sessionId } = await ownerTerm(telnetSecret, 'telnet');
    const req = await call(gw, b.audrey, 'POST', `/api/v1/sessions/${sessionId}/join-requests`);
    assert.equal(req.status, 201, JSON.stringify(req.body));
    await owner.waitFor(() => owner.messages.some((m) => m.type === 'join' && m.event === 'request'));
    const a = await call(gw, b.olive, 'POST', `/api/v1/sessions/${sessionId}/joins/${req.body.id}/accept`);
    assert.equal(a.status, 200);
    const joiner = joinTerm(b.audrey, sessionId, req.body.id);
    await joiner.waitFor(() => joiner.messages.some((m) => m.type === 'ready'));
    joiner.ws.send(JSON.stringify({ type: 'input', data: 'echo telnet-join-$((5*5))\r' }));
    await owner.waitFor(() => owner.output().includes('telnet-join-25'));
    owner.ws.send(JSON.stringify({ type: 'input', data: 'exit\r' }));
    await joiner.closed;
    await ended(sessionId);
    const cast = (await gw.running.app.inject({ method: 'GET', url: `/api/v1/recordings/${sessionId}`, headers: { authorization: `Bearer ${gw.adminToken}` } })).body;
    assert.ok(cast.split('\n').some((l: string) => l.includes('"i"') && l.includes('echo telnet-join') && l.endsWith(',"audrey"]')));
    assert.ok(!cast.includes(TARGET_PASSWORD));
  });
});
