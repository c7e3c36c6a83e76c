// End to end: `gatehouse launch` for a secret whose access policy requires consent to
// recording (the real CLI against a real `gatehouse serve`): without --consent and without a
// terminal the policy's text is shown and an RDP launch is refused; with --consent the launch
// records it (audited). On a terminal (a real pseudo-terminal from `script`) the CLI shows the
// text and asks: "yes" launches with consent, anything else makes no launch (an SSH ticket
// already issued is declined: voided and audited).
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { CONSENT_QUESTION } from '../../src/cli/consent.js';
import { api, apiLogin, BIN, cleanEnv, fails, killAll, ok, removeTempDirs, ROOT, runCli, Server, serverEnv, tempDir } from './support.js';

const shq = (s: string) => `'${s.replace(/'/g, `'\\''`)}'`;

/**
 * The CLI on a pseudo-terminal (`script`), so its stdin is a TTY: waits for the consent
 * question, types `answer` and Enter, and resolves with everything the terminal showed.
 */
function cliOnTty(args: string[], env: NodeJS.ProcessEnv, answer: string, timeoutMs = 60_000): Promise<{ code: number | null; out: string; asked: boolean }> {
  const cmd = ['exec', shq(process.execPath), shq(BIN), ...args.map(shq)].join(' ');
  const p = spawn('script', ['-qfec', cmd, '/dev/null'], { cwd: ROOT, env: { ...env, TERM: 'dumb' }, stdio: ['pipe', 'pipe', 'pipe'] });
  let out = '';
  let asked = false;
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => {
      p.kill('SIGKILL');
      reject(new Error(`gatehouse ${args.join(' ')} on a terminal did not finish within ${timeoutMs} ms:\n${out}`));
    }, timeoutMs);
    const seen = (d: Buffer) => {
      out += d.toString();
      if (!asked && out.includes(CONSENT_QUESTION.trim())) {
        asked = true;
        p.stdin!.write(`${answer}\r`);
      }
    };
    p.stdout!.on('data', seen);
    p.stderr!.on('data', seen);
    p.stdin!.on('error', () => undefined);
    p.once('error', reject);
    p.once('close', (code) => {
      clearTimeout(timer);
      resolve({ code, out, asked });
    });
  });
}

const T = { timeout: 120_000 };
const TEXT = 'CLI-CONSENT: this session is recorded.';

after(() => {
  killAll();
  removeTempDirs();
});

describe('gatehouse launch --consent (CLI)', () => {
  const adminPw = `Cli-Admin-${randomBytes(6).toString('hex')}`;
  let server: Server;
  let env: NodeJS.ProcessEnv;
  let token: string;
  let dir: string;
  const cli = (args: string[], input?: string) => runCli(args, { env, input });
  const auditOf = async (action: string) => JSON.parse((await api(server.url, 'GET', `/api/v1/audit?action=${action}&limit=200`, { token })).body).items as { details: Record<string, unknown> }[];

  before(async () => {
    dir = tempDir();
    server = await Server.start(await serverEnv(join(dir, 'data'), { GATEHOUSE_ADMIN_PASSWORD: adminPw }));
    token = await apiLogin(server.url, 'admin', adminPw);
    const call = async (method: string, url: string, body: unknown, status: number) => {
      const r = await api(server.url, method, url, { token, body });
      assert.equal(r.status, status, r.body);
      return JSON.parse(r.body) as { id: string };
    };
    await call('POST', '/api/v1/access-policies', { name: 'consent-policy', preApproved: [{ principalType: 'user', principal: 'admin' }], recordingRequired: true, consentText: TEXT }, 201);
    const db1 = await call('POST', '/api/v1/secrets', { name: 'db1', template: 'unix-account', fields: { machine: '127.0.0.1', username: 'root', password: 'db1-Root-pw' } }, 201);
    const win1 = await call('POST', '/api/v1/secrets', { name: 'win1', template: 'windows-account', fields: { machine: '127.0.0.1', username: 'u', password: 'Win1-Root-pw' } }, 201);
    for (const s of [db1, win1]) await call('PATCH', `/api/v1/secrets/${s.id}`, { policyId: 'consent-policy' }, 200);
    env = cleanEnv({ GATEHOUSE_CLI_STATE: join(dir, 'admin.json') });
    ok(await cli(['login', '--url', server.url, '-u', 'admin', '--password-stdin'], adminPw), 'admin login');
  });
  after(() => server?.kill());

  it('shows the text without --consent, refuses RDP without it, records it with it', T, async () => {
    const without = await cli(['launch', 'db1']);
    ok(without, 'launch without consent');
    assert.ok(without.stderr.includes(TEXT), without.stderr);
    assert.match(without.stderr, /Run again with --consent/);
    fails(await cli(['launch', 'win1', '-l', 'rdp', '-o', join(dir, 'w.rdp')]), /agree to the recording at launch/);
    const withIt = await cli(['launch', 'db1', '--consent', '--json']);
    ok(withIt, 'launch with consent');
    assert.deepEqual(JSON.parse(withIt.stdout).consent, { required: true, text: TEXT, given: true });
    ok(await cli(['launch', 'win1', '-l', 'rdp', '--consent', '-o', join(dir, 'w.rdp')]), 'rdp with consent');
    const audit = await api(server.url, 'GET', '/api/v1/audit?action=session.consent&limit=50', { token });
    assert.equal(JSON.parse(audit.body).items.length, 2, audit.body);
  });

  it('on a terminal without --consent: shows the text and asks; yes launches with consent (SSH and RDP)', T, async () => {
    const consents = (await auditOf('session.consent')).length;
    const ssh = await cliOnTty(['launch', 'db1'], env, 'yes');
    assert.ok(ssh.asked, ssh.out);
    assert.equal(ssh.code, 0, ssh.out);
    assert.ok(ssh.out.includes(TEXT), ssh.out);
    assert.match(ssh.out, /ssh -p \d+ \S+@/);
    assert.doesNotMatch(ssh.out, /Run again with --consent/);
    const file = join(dir, 'tty-yes.rdp');
    const rdp = await cliOnTty(['launch', 'win1', '-l', 'rdp', '-o', file], env, 'YES');
    assert.ok(rdp.asked, rdp.out);
    assert.equal(rdp.code, 0, rdp.out);
    // Only the policy's text, not the API's advice to run again with --consent.
    assert.ok(rdp.out.includes(TEXT), rdp.out);
    assert.doesNotMatch(rdp.out, /gatehouse launch <secret> --consent/);
    assert.ok(existsSync(file), 'the .rdp file was saved');
    const all = await auditOf('session.consent');
    const given = all.slice(0, all.length - consents);
    assert.equal(given.length, 2, JSON.stringify(given));
    assert.ok(given.every((e) => e.details.at === 'launch' && e.details.policy === 'consent-policy'));
  });

  it('on a terminal, any answer but yes makes no launch: the SSH ticket is declined (voided, audited), no .rdp file', T, async () => {
    const declined = (await auditOf('session.consent_declined')).length;
    const ssh = await cliOnTty(['launch', 'db1'], env, 'no');
    assert.ok(ssh.asked, ssh.out);
    assert.equal(ssh.code, 1, ssh.out);
    assert.match(ssh.out, /You did not agree to the recording: no launch was made\./);
    assert.doesNotMatch(ssh.out, /ssh -p \d+/);
    const after1 = await auditOf('session.consent_declined');
    assert.equal(after1.length, declined + 1);
    assert.equal(after1[0]!.details.decision, 'declined');
    assert.equal(after1[0]!.details.policy, 'consent-policy');
    assert.ok(after1[0]!.details.ticketId, 'the declined ticket is named');
    const file = join(dir, 'tty-no.rdp');
    const rdp = await cliOnTty(['launch', 'win1', '-l', 'rdp', '-o', file], env, 'maybe');
    assert.ok(rdp.asked, rdp.out);
    assert.equal(rdp.code, 1, rdp.out);
    assert.match(rdp.out, /no launch was made/);
    assert.ok(!existsSync(file), 'no .rdp file');
    // An RDP launch refused for consent issued no ticket: the "no" is sent as a launch with
    // consent false, refused and audited at launch.
    const after2 = await auditOf('session.consent_declined');
    assert.equal(after2.length, declined + 2);
    assert.equal(after2[0]!.details.at, 'launch');
    assert.equal(after2[0]!.details.policy, 'consent-policy');
  });
});
