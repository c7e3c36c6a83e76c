// `gatehouse recording verify` end to end: real SSH sessions through a real gateway leave
// asciicast recordings sealed by `recording.seal` audit events (and a graphical ghrec
// recording sealed the same way); the real CLI re-hashes them online (through the API)
// and --offline (database and files in the data dir), and names what is ok, differs, is
// missing or unsealed (a compressed recording damaged so it no longer inflates differs too,
// and does not stop the others being checked), exiting 3 when anything is wrong.
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { createHash, randomUUID } from 'node:crypto';
import { appendFileSync, copyFileSync, mkdirSync, readFileSync, rmSync, statSync, truncateSync, writeFileSync } from 'node:fs';
import { basename, join } from 'node:path';
import { GZIP_MEMBER_HEAD, gzipMember, memberIndex } from '../../src/core/sessions/recording-gzip.js';
import { SYSTEM } from '../../src/core/audit/service.js';
import { ensureTargetAccount, TARGET_PASSWORD } from '../support/accounts.js';
import { startGateway, type Gateway } from '../support/gateway.js';
import { ADMIN_PASSWORD } from '../support/harness.js';
import { auditEvents, createSecret, endedSession, eventually, launch, run } from '../support/ssh-client.js';
import { appendToRecording, readRecording, writeRecording } from '../support/recordings.js';
import { startSshd, type Sshd } from '../support/sshd.js';
import { ghrecFile, recordingHeader } from '../protocols/rdp/decoder-support.js';
import { cleanEnv, fails, killAll, ok, removeTempDirs, runCli, tempDir, type RunResult } from './support.js';

const T = { timeout: 120_000 };

after(() => {
  killAll();
  removeTempDirs();
});

const line = (status: string, session: string, rest: RegExp | string = '.*') => new RegExp(`^${status}\\s+${session}\\s+\\S+\\s+${typeof rest === 'string' ? rest : rest.source}$`, 'm');
const summary = (n: number, counts: [number, number, number, number, number]) =>
  new RegExp(`^${n} recordings?: ${counts[0]} ok, ${counts[1]} differs, ${counts[2]} missing, ${counts[3]} unsealed, ${counts[4]} live$`, 'm');

function failed(r: RunResult): void {
  assert.equal(r.code, 3, `exit 3 expected\nstdout: ${r.stdout}\nstderr: ${r.stderr}`);
}

describe('gatehouse recording verify against a real gateway', () => {
  let sshd: Sshd;
  let gw: Gateway;
  let dir: string;
  let recordings: string;
  const sessions: { id: string; file: string }[] = [];
  let graphical: { id: string; file: string };
  const env = () => cleanEnv({ GATEHOUSE_CLI_STATE: join(dir, 'state.json') });
  const cli = (args: string[]) => runCli(args, { env: env(), input: args[0] === 'login' ? ADMIN_PASSWORD : undefined, timeoutMs: 90_000 });
  const offline = (args: string[]) => runCli(['recording', 'verify', '--offline', ...args], { env: cleanEnv({ GATEHOUSE_DATA_DIR: gw.dataDir }), timeoutMs: 90_000 });
  let secret: string;
  const recorded = new Set<string>();

  /** One real SSH session through the gateway, ended and sealed: its id and recording file. */
  async function record(): Promise<{ id: string; file: string }> {
    const i = recorded.size;
    const { ticket, knownHosts } = await launch(gw, secret);
    const known = join(dir, `known_hosts_${i}`);
    writeFileSync(known, knownHosts.join('\n') + '\n');
    const r = await run('ssh', ['-F', '/dev/null', '-p', String(gw.sshPort), '-o', `UserKnownHostsFile=${known}`, '-o', 'StrictHostKeyChecking=yes', '-o', 'BatchMode=yes', `${ticket}@127.0.0.1`, `echo recorded-${i}`]);
    assert.equal(r.code, 0, r.stderr);
    const s = await eventually(async () => {
      const r = await gw.api('GET', `/api/v1/sessions?secretId=${secret}&limit=10`, { token: gw.adminToken });
      return r.body.items.find((x: { id: string }) => !recorded.has(x.id));
    }, 10_000, 'the new session');
    recorded.add(s.id);
    await endedSession(gw, s.id);
    const seal = await eventually(async () => (await auditEvents(gw, 'recording.seal')).find((e) => e.targetId === s.id), 10_000, 'the recording seal');
    return { id: s.id, file: join(recordings, seal.details.file) };
  }

  before(async () => {
    ensureTargetAccount();
    dir = tempDir('gatehouse-recverify-');
    [sshd, gw] = await Promise.all([startSshd(), startGateway('sqlite')]);
    recordings = join(gw.dataDir, 'recordings');
    secret = await createSecret(gw, 'verify-target', { port: sshd.port, password: TARGET_PASSWORD });
    for (let i = 0; i < 3; i++) sessions.push(await record());
    // A graphical recording, sealed as the RDP recorder's session end seals it.
    const id = randomUUID();
    const rel = join('2025', '01', '01', `${id}.ghrec`);
    mkdirSync(join(recordings, '2025', '01', '01'), { recursive: true });
    const bytes = ghrecFile(recordingHeader({ sessionId: id }), []);
    writeFileSync(join(recordings, rel), bytes);
    await gw.running.core.audit.record(SYSTEM, { action: 'recording.seal', target: { type: 'session', id }, details: { file: rel, sha256: createHash('sha256').update(bytes).digest('hex'), format: 'ghrec-rdp' } });
    graphical = { id, file: join(recordings, rel) };
    ok(await cli(['login', '--url', gw.running.url, '-u', 'admin', '--password-stdin']), 'login');
  });
  after(async () => {
    await gw?.close();
    await sshd?.stop();
  });

  it('a session id, --all and a downloaded copy verify ok, online and --offline', T, async () => {
    const [a] = sessions;
    const one = await cli(['recording', 'verify', a!.id]);
    ok(one, 'verify one session');
    assert.match(one.stdout, line('ok', a!.id, /matches the seal at audit event \d+/));
    assert.match(one.stdout, summary(1, [1, 0, 0, 0, 0]));
    for (const r of [await cli(['recording', 'verify', '--all']), await offline(['--all'])]) {
      ok(r, 'verify --all');
      for (const s of [...sessions, graphical]) assert.match(r.stdout, line('ok', s.id), r.stdout);
      assert.match(r.stdout, summary(4, [4, 0, 0, 0, 0]));
    }
    const copy = join(dir, `${a!.id}.cast`);
    ok(await cli(['recording', 'get', a!.id, '-o', copy]), 'recording get');
    for (const r of [await cli(['recording', 'verify', copy]), await offline([copy])]) {
      ok(r, 'verify a downloaded copy');
      assert.match(r.stdout, new RegExp(`^ok\\s+${a!.id}\\s+${copy}\\s+matches the seal of session ${a!.id} at audit event \\d+$`, 'm'));
    }
  });

  it('a changed recording differs, a deleted one is missing, a stray file is unsealed; exit 3 online and --offline', T, async () => {
    const [a, b, c] = sessions;
    appendToRecording(b!.file, '[9.9, "o", "forged output"]\n');
    const bytes = new Uint8Array(readRecording(graphical.file));
    bytes[bytes.length - 1] = bytes[bytes.length - 1]! ^ 0xff;
    writeRecording(graphical.file, bytes);
    rmSync(c!.file);
    const stray = randomUUID();
    writeFileSync(join(recordings, `${stray}.cast`), readRecording(a!.file));

    for (const r of [await cli(['recording', 'verify', b!.id]), await offline([b!.id])]) {
      failed(r);
      assert.match(r.stdout, line('differs', b!.id, /does not match the seal at audit event \d+ \(changed since the session ended\)/));
    }
    for (const r of [await cli(['recording', 'verify', c!.id]), await offline([c!.id])]) {
      failed(r);
      assert.match(r.stdout, line('missing', c!.id, /sealed at audit event \d+, but the file is gone/));
    }
    for (const r of [await cli(['recording', 'verify', '--all']), await offline(['--all'])]) {
      failed(r);
      assert.match(r.stdout, line('ok', a!.id));
      assert.match(r.stdout, line('differs', b!.id));
      assert.match(r.stdout, line('differs', graphical.id));
      assert.match(r.stdout, line('missing', c!.id));
      assert.match(r.stdout, line('unsealed', '-', /no session and no recording\.seal event name this file/));
      assert.match(r.stdout, summary(5, [1, 2, 1, 1, 0]));
    }
    // Local copies: one changed after download (found by its name), one nobody sealed.
    const changed = join(dir, `${a!.id}.cast`);
    appendFileSync(changed, '\n');
    const r = await cli(['recording', 'verify', changed]);
    failed(r);
    assert.match(r.stdout, new RegExp(`^differs\\s+${a!.id}\\s+${changed}\\s+does not match the seal of session ${a!.id}`, 'm'));
    const unknown = join(dir, 'notes.cast');
    writeFileSync(unknown, 'not a recording anyone sealed\n');
    for (const u of [await cli(['recording', 'verify', unknown]), await offline([unknown])]) {
      failed(u);
      assert.match(u.stdout, /^unsealed\s+-\s+\S+notes\.cast\s+no recording\.seal event has this SHA-256$/m);
    }
  });

  it('a damaged compressed recording differs and the others are still checked: exit 3 online and --offline, the API answers 200', T, async () => {
    // Three more sessions, recorded compressed (the default), each then damaged another way.
    const flipped = await record();
    const appended = await record();
    const cut = await record();
    const nulled = await record();
    for (const s of [flipped, appended, cut, nulled]) assert.match(s.file, /\.cast\.gz$/);
    // A byte inside the first member's deflate data (past its 24-byte head, before its CRC and size).
    const bytes = readFileSync(flipped.file);
    const [first] = memberIndex(flipped.file).members;
    const at = first!.offset + GZIP_MEMBER_HEAD + Math.floor((first!.length - GZIP_MEMBER_HEAD - 8) / 2);
    bytes[at] = bytes[at]! ^ 0xff;
    writeFileSync(flipped.file, bytes);
    // Bytes after the last member; and the last member cut short.
    appendFileSync(appended.file, 'not a gzip member');
    truncateSync(cut.file, statSync(cut.file).size - 5);
    // Bytes after the last member that begin with a NUL: zlib stops there quietly (it matched the seal before).
    appendFileSync(nulled.file, Buffer.concat([Buffer.from([0]), Buffer.from('forged tail')]));
    const damaged = [flipped, appended, cut, nulled];

    const [a] = sessions;
    const reported = /cannot be read \(.+\), so it does not match the seal at audit event \d+/;
    for (const r of [await cli(['recording', 'verify', '--all']), await offline(['--all'])]) {
      failed(r);
      assert.match(r.stdout, line('ok', a!.id));
      for (const s of damaged) assert.match(r.stdout, line('differs', s.id, reported), r.stdout);
      assert.doesNotMatch(r.stdout + r.stderr, /\n\s+at /, 'no stack trace');
      assert.match(r.stdout, summary(9, [1, 6, 1, 1, 0]));
    }
    for (const s of damaged) {
      for (const r of [await cli(['recording', 'verify', s.id]), await offline([s.id])]) {
        failed(r);
        assert.match(r.stdout, line('differs', s.id, reported));
      }
    }
    const api = await gw.api('POST', '/api/v1/recordings/verify', { token: gw.adminToken, body: { all: true } });
    assert.equal(api.status, 200, JSON.stringify(api.body));
    for (const s of damaged) {
      const item = api.body.items.find((i: { sessionId: string | null }) => i.sessionId === s.id);
      assert.equal(item?.status, 'differs');
      assert.equal(item?.sha256, null);
    }
    // A damaged copy: cannot be hashed, so it is matched by its name only.
    const copy = join(dir, basename(flipped.file));
    copyFileSync(flipped.file, copy);
    for (const r of [await cli(['recording', 'verify', copy]), await offline([copy])]) {
      failed(r);
      assert.match(r.stdout, new RegExp(`^differs\\s+${flipped.id}\\s+${copy}\\s+cannot be read \\(.+\\), so it does not match the seal of session ${flipped.id} at audit event \\d+$`, 'm'));
    }
    const stray = join(dir, 'stray.cast.gz');
    writeFileSync(stray, Buffer.concat([gzipMember(Buffer.from('x')), Buffer.from('garbage')]));
    for (const r of [await cli(['recording', 'verify', stray]), await offline([stray])]) {
      failed(r);
      assert.match(r.stdout, /^unsealed\s+-\s+\S+stray\.cast\.gz\s+cannot be read \(.+\); no recording\.seal event names it$/m);
    }
  });

  it('one-line errors: an unknown session, nothing to verify', T, async () => {
    fails(await cli(['recording', 'verify', 'no-such-session']), /^gatehouse: session no-such-session not found$/);
    fails(await offline(['no-such-session']), /^gatehouse: session no-such-session not found$/);
    fails(await cli(['recording', 'verify']), /^gatehouse: give a session id, a recording file or --all$/);
  });
});
