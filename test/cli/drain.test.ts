// Graceful shutdown (issue 16 point 7) of the real `gatehouse serve` with a real sshd behind
// it: SIGTERM drains. From then on /healthz answers 503 "draining", launches answer 503
// draining, and the SSH door refuses tickets (left unused, for another node); a session that
// was running goes on and the server stops by itself once it has ended. When the drain time
// (GATEHOUSE_DRAIN_SECONDS) is over, or on a second SIGTERM, the sessions still running are
// ended. Either way every recording is sealed (checked offline with `recording verify`) and
// the audit trail ends with system.stop.
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { ensureTargetAccount, TARGET_PASSWORD } from '../support/accounts.js';
import { ensureBuilt } from '../support/built.js';
import { eventually, Proc, run } from '../support/ssh-client.js';
import { startSshd, type Sshd } from '../support/sshd.js';
import { api, apiLogin, cleanEnv, killAll, lines, removeTempDirs, runCli, Server, serverEnv, tempDir } from './support.js';

const ADMIN_PW = 'Drain-Admin-Password-1';
const T = { timeout: 180_000 };

after(() => {
  killAll();
  removeTempDirs();
});

describe('SIGTERM drains the gateway', () => {
  let sshd: Sshd;

  before(async () => {
    ensureTargetAccount();
    ensureBuilt();
    sshd = await startSshd();
  });
  after(async () => {
    await sshd?.stop();
  });

  /** A server with one target secret, and what a test needs to use it. */
  async function boot(drainSeconds: number) {
    const dataDir = join(tempDir('gatehouse-drain-'), 'data');
    const env = await serverEnv(dataDir, { GATEHOUSE_ADMIN_PASSWORD: ADMIN_PW, GATEHOUSE_DRAIN_SECONDS: String(drainSeconds) });
    const server = await Server.start(env);
    const token = await apiLogin(server.url, 'admin', ADMIN_PW);
    const s = await api(server.url, 'POST', '/api/v1/secrets', { token, body: { name: 'drain-target', template: 'unix-account', fields: { machine: '127.0.0.1', port: sshd.port, username: 'ghtarget', password: TARGET_PASSWORD } } });
    assert.equal(s.status, 201, s.body);
    const secretId = s.json().id as string;
    const knownHosts = join(dataDir, '..', 'known_hosts');
    const launch = async () => {
      const r = await api(server.url, 'POST', `/api/v1/secrets/${secretId}/launch`, { token, body: { launcher: 'ssh' } });
      return r;
    };
    const first = await launch();
    assert.equal(first.status, 200, first.body);
    writeFileSync(knownHosts, first.json().ssh.knownHosts.join('\n') + '\n');
    const ssh = (ticket: string, command: string) => ['-F', '/dev/null', '-p', env.GATEHOUSE_SSH_PORT!, '-o', `UserKnownHostsFile=${knownHosts}`, '-o', 'StrictHostKeyChecking=yes', '-o', 'BatchMode=yes', '-o', 'ConnectTimeout=10', `${ticket}@127.0.0.1`, command];
    /** A session that runs until its stdin closes (cat echoes what it is sent). */
    const open = async (ticket: string) => {
      const p = new Proc('ssh', ssh(ticket, 'echo drain-ready; cat'), { timeoutMs: 150_000 });
      await p.waitFor('drain-ready', 30_000);
      const live = await eventually(async () => (await api(server.url, 'GET', `/api/v1/sessions?secretId=${secretId}&status=live&limit=5`, { token })).json().items[0], 10_000, 'the live session');
      return { p, sessionId: live.id as string };
    };
    const draining = () =>
      eventually(async () => {
        const h = await api(server.url, 'GET', '/healthz');
        return h.status === 503 && h.json().status === 'draining';
      }, 20_000, '/healthz answering 503 draining');
    /** The audit trail, read offline once the server has stopped. */
    const auditTrail = async () => {
      const out = join(dataDir, '..', 'audit.jsonl');
      const x = await runCli(['audit', 'export', '--offline', '-o', out], { env: cleanEnv({ GATEHOUSE_DATA_DIR: dataDir }) });
      assert.equal(x.code, 0, x.stderr);
      return lines(readFileSync(out, 'utf8')).map((l) => JSON.parse(l) as { action: string; targetId: string | null; details: Record<string, any> });
    };
    const verifyRecording = async (sessionId: string) => {
      const v = await runCli(['recording', 'verify', '--offline', sessionId], { env: cleanEnv({ GATEHOUSE_DATA_DIR: dataDir }), timeoutMs: 90_000 });
      assert.equal(v.code, 0, `recording verify: ${v.stdout}\n${v.stderr}`);
      assert.match(v.stdout, new RegExp(`^ok\\s+${sessionId}`, 'm'));
    };
    return { server, token, secretId, launch, ssh, open, draining, auditTrail, verifyRecording, firstTicket: first.json().ticket as string };
  }

  it('refuses new sessions while the running one goes on to its end; then stops by itself with its recording sealed', T, async () => {
    const g = await boot(600);
    const spare = await g.launch();
    assert.equal(spare.status, 200, spare.body);
    const { p, sessionId } = await g.open(g.firstTicket);
    g.server.proc.kill('SIGTERM');
    await g.draining();
    // No new tickets: 503 draining (the client retries, through the load balancer, elsewhere).
    const refused = await g.launch();
    assert.equal(refused.status, 503, refused.body);
    assert.equal(refused.json().error.code, 'draining');
    // No new sessions: the door refuses a ticket issued before the drain (and leaves it unused).
    const late = await run('ssh', g.ssh(spare.json().ticket, 'echo must-not-run'), { timeoutMs: 60_000 });
    assert.notEqual(late.code, 0);
    assert.ok(!late.stdout.includes('must-not-run'));
    // The running session goes on.
    p.write('still-relayed-after-sigterm\n');
    await p.waitFor('still-relayed-after-sigterm', 20_000);
    assert.ok(g.server.running, 'the server waits for the session');
    // The live view of the API still works during the drain.
    const live = await api(g.server.url, 'GET', `/api/v1/sessions/${sessionId}`, { token: g.token });
    assert.equal(live.json().status, 'live');
    p.child.stdin!.end();
    const done = await p.done;
    assert.equal(done.code, 0, done.stderr);
    assert.deepEqual(await g.server.waitExit(60_000), { code: 0, signal: null }, g.server.stderr);

    const evs = await g.auditTrail();
    const drain = evs.find((e) => e.action === 'system.drain');
    assert.ok(drain, 'system.drain audited');
    assert.equal(drain.details.liveSessions, 1);
    const refusal = evs.find((e) => e.action === 'ticket.refused' && e.details.reason === 'draining');
    assert.ok(refusal, 'the door refusal is audited with its reason');
    assert.ok(!evs.some((e) => e.action === 'ticket.redeem' && e.details.ticketId === refusal.details.ticketId), 'the refused ticket was not used');
    const end = evs.find((e) => e.action === 'session.end' && e.targetId === sessionId);
    assert.ok(end && end.details.reason !== 'gateway shutting down', `the session ended on its own: ${end?.details.reason}`);
    const seal = evs.find((e) => e.action === 'recording.seal' && e.targetId === sessionId);
    assert.ok(seal?.details.sha256 && !seal.details.incomplete, JSON.stringify(seal));
    assert.equal(evs.at(-1)!.action, 'system.stop');
    await g.verifyRecording(sessionId);
  });

  it('when the drain time is over, the sessions still running are ended and sealed', T, async () => {
    const g = await boot(2);
    const { p, sessionId } = await g.open(g.firstTicket);
    g.server.proc.kill('SIGTERM');
    assert.deepEqual(await g.server.waitExit(60_000), { code: 0, signal: null }, g.server.stderr);
    await p.done;
    const evs = await g.auditTrail();
    assert.equal(evs.find((e) => e.action === 'session.end' && e.targetId === sessionId)?.details.reason, 'gateway shutting down');
    const seal = evs.find((e) => e.action === 'recording.seal' && e.targetId === sessionId);
    assert.ok(seal?.details.sha256 && !seal.details.incomplete, JSON.stringify(seal));
    assert.equal(evs.at(-1)!.action, 'system.stop');
    await g.verifyRecording(sessionId);
  });

  it('a second SIGTERM ends the drain at once', T, async () => {
    const g = await boot(600);
    const { p, sessionId } = await g.open(g.firstTicket);
    g.server.proc.kill('SIGTERM');
    await g.draining();
    assert.ok(g.server.running);
    g.server.proc.kill('SIGTERM');
    assert.deepEqual(await g.server.waitExit(60_000), { code: 0, signal: null }, g.server.stderr);
    await p.done;
    const evs = await g.auditTrail();
    assert.equal(evs.find((e) => e.action === 'session.end' && e.targetId === sessionId)?.details.reason, 'gateway shutting down');
    assert.ok(evs.some((e) => e.action === 'recording.seal' && e.targetId === sessionId && e.details.sha256));
    await g.verifyRecording(sessionId);
  });
});
