// The SSH door end to end with the stock OpenSSH client against a real sshd: exec and
// interactive sessions, both credential kinds, environment, terminate, live view,
// recordings (and their crash safety), and a final scan for credential leaks.
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { readFileSync, writeFileSync } from 'node:fs';
import { request } from 'node:https';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { ensureTargetAccount, ensureTargetKey, TARGET_PASSWORD } from '../support/accounts.js';
import { startGateway, type Gateway } from '../support/gateway.js';
import { leaks, sqliteFiles, type Blob } from '../support/scan.js';
import { auditEvents, clientFor, createSecret, endedSession, eventually, interactive, launch, ok, PROMPT, run, sessionOf, type Client } from '../support/ssh-client.js';
import { findRecording, readRecording } from '../support/recordings.js';
import { startSshd, type Sshd } from '../support/sshd.js';

const castLines = (text: string) =>
  text
    .split('\n')
    .filter((l) => l.length)
    .map((l) => JSON.parse(l));

describe('SSH door', () => {
  let sshd: Sshd;
  let gw: Gateway;
  let c: Client;
  let pwSecret: string;
  let keySecret: string;
  let privateKey: string;
  /** Every byte any client printed in this file, for the leak check. */
  const printed: Blob[] = [];
  const keep = (name: string, s: string) => printed.push({ name, data: Buffer.from(s) });

  before(async () => {
    ensureTargetAccount();
    privateKey = ensureTargetKey().privateKey;
    // Debug logging makes the leak check stricter.
    [sshd, gw] = await Promise.all([startSshd(), startGateway('sqlite', { GATEHOUSE_LOG_LEVEL: 'debug' })]);
    pwSecret = await createSecret(gw, 'target-pw', { port: sshd.port, password: TARGET_PASSWORD });
    keySecret = await createSecret(gw, 'target-key', { port: sshd.port, privateKey });
    c = clientFor(gw, (await launch(gw, pwSecret)).knownHosts);
  });
  after(async () => {
    await gw?.close();
    await sshd?.stop();
  });

  const exec = async (secretId: string, command: string, extra: string[] = [], env?: Record<string, string>) => {
    const { ticket } = await launch(gw, secretId);
    const r = await run('ssh', [...c.base(['-o', 'BatchMode=yes', ...extra]), `${ticket}@127.0.0.1`, command], { env });
    keep(`exec ${command}`, r.stdout + r.stderr);
    return r;
  };

  it('exec with BatchMode runs as the target account, propagates the exit status and keeps stderr apart', async () => {
    const r = await exec(pwSecret, 'whoami; echo to-stderr-$((2+3)) >&2; exit 7');
    assert.equal(r.code, 7, r.stderr);
    assert.equal(r.stdout, 'ghtarget\n');
    assert.match(r.stderr, /to-stderr-5/);
    assert.doesNotMatch(r.stdout, /to-stderr/);
    const ok0 = await exec(pwSecret, 'true');
    assert.equal(ok0.code, 0, ok0.stderr);
    // stdin is relayed too (and its end, so `cat` finishes).
    const { ticket } = await launch(gw, pwSecret);
    const piped = await run('ssh', [...c.base(['-o', 'BatchMode=yes']), `${ticket}@127.0.0.1`, 'cat; exit 3'], { input: 'piped-input\n' });
    assert.equal(piped.code, 3, piped.stderr);
    assert.equal(piped.stdout, 'piped-input\n');
  });

  it('interactive pty session: typed keys reach the shell and the window size is the one the client asked for', async () => {
    const { ticket } = await launch(gw, pwSecret);
    const p = interactive([...c.base(), `${ticket}@127.0.0.1`], { cols: 111, rows: 37 });
    try {
      await p.waitFor(PROMPT);
      p.write('echo typed-$((40+2))\r');
      await p.waitFor(/typed-42/);
      p.write('stty size\r');
      await p.waitFor(/\b37 111\b/);
      p.write('exit\r');
      const d = await p.done;
      assert.equal(d.code, 0, p.all);
    } finally {
      p.kill();
      keep('interactive', p.all);
    }
    // The recording's header carries the same size.
    const s = await sessionOf(gw, pwSecret);
    await endedSession(gw, s.id);
    const cast = castLines((await gw.api('GET', `/api/v1/recordings/${s.id}`, { token: gw.adminToken })).raw);
    assert.equal(cast[0].width, 111);
    assert.equal(cast[0].height, 37);
  });

  it('logs in to the target with both credential kinds: password and private key', async () => {
    const pw = await exec(pwSecret, 'whoami');
    assert.equal(pw.code, 0, pw.stderr);
    assert.equal(pw.stdout.trim(), 'ghtarget');
    const key = await exec(keySecret, 'whoami; echo key-$((1+1))');
    assert.equal(key.code, 0, key.stderr);
    assert.equal(key.stdout, 'ghtarget\nkey-2\n');
    const s = await sessionOf(gw, keySecret);
    assert.equal(s.target.username, 'ghtarget');
  });

  it('passes LANG sent with SendEnv to the target', async () => {
    const r = await exec(pwSecret, 'echo "lang=$LANG"', ['-o', 'SendEnv=LANG'], { LANG: 'C.UTF-8' });
    assert.equal(r.code, 0, r.stderr);
    assert.equal(r.stdout, 'lang=C.UTF-8\n');
    // Without SendEnv the target does not get it (so the value above came through the door).
    const none = await exec(pwSecret, 'echo "lang=$LANG"', [], { LANG: 'C.UTF-8' });
    assert.equal(none.stdout, 'lang=\n');
  });

  it('terminate: an administrator ends a live session, the person sees the reason, and it is audited', async () => {
    const { ticket } = await launch(gw, pwSecret);
    const p = interactive([...c.base(), `${ticket}@127.0.0.1`]);
    try {
      await p.waitFor(PROMPT);
      // Newest first: earlier sessions of this secret may still be closing.
      const live = await ok(gw, 'GET', `/api/v1/sessions?status=live&secretId=${pwSecret}`);
      assert.ok(live.items.length >= 1, JSON.stringify(live));
      const id = live.items[0].id;
      assert.equal(live.items[0].status, 'live');
      assert.deepEqual(await ok(gw, 'POST', `/api/v1/sessions/${id}/terminate`, { reason: 'policy test' }), { terminated: true });
      await p.waitFor(/[^\r\n]*policy test[^\r\n]*\r?\n/);
      const d = await p.done;
      assert.notEqual(d.code, 0);
      const s = await endedSession(gw, id);
      assert.equal(s.status, 'ended');
      assert.match(s.endReason, /policy test/);
      const term = (await auditEvents(gw, 'session.terminate')).find((e) => e.targetId === id);
      assert.ok(term, 'session.terminate audited');
      assert.equal(term.details.reason, 'policy test');
      const end = (await auditEvents(gw, 'session.end')).find((e) => e.targetId === id);
      assert.match(end.details.reason, /policy test/);
    } finally {
      p.kill();
      keep('terminate', p.all);
    }
  });

  it('live view: an auditor watches the session over Server-Sent Events', async () => {
    const { ticket } = await launch(gw, pwSecret);
    const p = interactive([...c.base(), `${ticket}@127.0.0.1`]);
    let sse = '';
    let req: ReturnType<typeof request> | null = null;
    try {
      await p.waitFor(PROMPT);
      const s = await sessionOf(gw, pwSecret, 'live');
      const headers = await new Promise<Record<string, unknown>>((resolve, reject) => {
        req = request(`${gw.running.url}/api/v1/sessions/${s.id}/live`, { rejectUnauthorized: false, headers: { authorization: `Bearer ${gw.adminToken}` } }, (res) => {
          res.on('data', (d: Buffer) => (sse += d.toString()));
          resolve({ status: res.statusCode, type: res.headers['content-type'] });
        });
        req.on('error', reject);
        req.end();
      });
      assert.deepEqual(headers, { status: 200, type: 'text/event-stream' });
      await eventually(async () => sse.includes('event: header'), 5000, 'header event');
      assert.ok(sse.startsWith('event: header\n'), 'the header comes first');
      const header = JSON.parse(/event: header\ndata: (.*)\n/.exec(sse)![1]!);
      assert.equal(header.version, 2);
      assert.equal(header.sessionId, s.id);
      // What the session printed before the auditor arrived comes first (the backlog).
      await eventually(
        async () =>
          sse
            .split('\n\n')
            .filter((e) => e.startsWith('data: '))
            .some((e) => JSON.parse(e.slice(6))[1] === 'o'),
        5000,
        'backlog output before any new input',
      );
      p.write('echo live-$((20+3))\r');
      await p.waitFor(/live-23/);
      await eventually(
        async () =>
          sse
            .split('\n\n')
            .filter((e) => e.startsWith('data: '))
            .map((e) => JSON.parse(e.slice(6)))
            .some((ev) => ev[1] === 'o' && String(ev[2]).includes('live-23')),
        5000,
        'an output event with live-23',
      );
      p.write('exit\r');
      await p.done;
      await eventually(async () => sse.includes('event: end'), 5000, 'end event');
      assert.ok((await auditEvents(gw, 'session.watch')).some((e) => e.targetId === s.id));
    } finally {
      (req as ReturnType<typeof request> | null)?.destroy();
      p.kill();
      keep('live', p.all);
    }
  });

  it('recording: asciicast v2 with output and keystrokes, plays in asciinema, sealed with its sha256, searchable', async () => {
    const { ticket } = await launch(gw, pwSecret);
    const p = interactive([...c.base(), `${ticket}@127.0.0.1`]);
    try {
      await p.waitFor(PROMPT);
      p.write('echo typed-$((40+2))\r');
      await p.waitFor(/typed-42/);
      p.write('exit\r');
      await p.done;
    } finally {
      p.kill();
      keep('recording', p.all);
    }
    const s = await endedSession(gw, (await sessionOf(gw, pwSecret)).id);
    assert.equal(s.recording.available, true);
    const dl = await gw.api('GET', `/api/v1/recordings/${s.id}`, { token: gw.adminToken });
    assert.equal(dl.status, 200);
    const cast = castLines(dl.raw);
    assert.equal(cast[0].version, 2);
    assert.equal(typeof cast[0].width, 'number');
    assert.equal(typeof cast[0].timestamp, 'number');
    const events = cast.slice(1) as [number, string, string][];
    for (const e of events) assert.ok(typeof e[0] === 'number' && ['o', 'i', 'r', 'm'].includes(e[1]) && typeof e[2] === 'string', JSON.stringify(e));
    assert.match(events.filter((e) => e[1] === 'o').map((e) => e[2]).join(''), /typed-42/);
    assert.match(events.filter((e) => e[1] === 'i').map((e) => e[2]).join(''), /echo typed-\$\(\(40\+2\)\)\r/);

    // The stock player replays it (play wants a terminal: give it one).
    const file = join(c.dir, `${s.id}.cast`);
    writeFileSync(file, dl.raw);
    const play = await run('script', ['-qec', `asciinema play -s 50 ${file}`, '/dev/null'], { timeoutMs: 20_000 });
    assert.equal(play.code, 0, play.stdout + play.stderr);
    assert.match(play.stdout, /typed-42/);

    const sha = createHash('sha256').update(dl.raw).digest('hex');
    assert.equal(s.recording.sha256, sha);
    const seal = (await auditEvents(gw, 'recording.seal')).find((e) => e.targetId === s.id);
    assert.ok(seal, 'recording.seal audited');
    assert.equal(seal.details.sha256, sha);
    assert.equal(seal.details.format, 'asciicast-v2');

    const found = await ok(gw, 'GET', '/api/v1/recordings?q=typed');
    assert.ok(found.items.some((i: any) => i.id === s.id), JSON.stringify(found));
    const text = await ok(gw, 'GET', `/api/v1/recordings/${s.id}/text`);
    assert.ok(text.items.some((i: any) => i.kind === 'command' && i.text === 'echo typed-$((40+2))'), JSON.stringify(text));
  });

  it('crash safety: the .cast file of a live session already parses line by line', async () => {
    const { ticket } = await launch(gw, pwSecret);
    const p = interactive([...c.base(), `${ticket}@127.0.0.1`]);
    try {
      await p.waitFor(PROMPT);
      p.write('echo crash-$((1+2))\r');
      await p.waitFor(/crash-3/);
      const s = await sessionOf(gw, pwSecret, 'live');
      await sleep(200);
      const path = findRecording(join(gw.dataDir, 'recordings'), s.id);
      assert.ok(path, 'recording file exists while live');
      const text = readRecording(path).toString('utf8');
      assert.ok(text.endsWith('\n'), 'only whole lines are written');
      const lines = castLines(text);
      assert.equal(lines[0].version, 2);
      assert.ok(lines.length > 1);
      assert.ok(lines.slice(1).every((l) => Array.isArray(l) && l.length === 3));
      assert.match(lines.slice(1).map((l) => l[2]).join(''), /crash-3/);
      assert.equal((await ok(gw, 'GET', `/api/v1/sessions/${s.id}`)).status, 'live');
      p.write('exit\r');
      await p.done;
    } finally {
      p.kill();
      keep('crash', p.all);
    }
  });

  it('leak check: the target password and private key appear in no client output, recording, log, database file or audit export', async () => {
    // More sessions with verbose clients, both credential kinds, interactive and exec.
    for (const secretId of [pwSecret, keySecret]) {
      const r = await exec(secretId, 'whoami', ['-v']);
      assert.equal(r.code, 0, r.stderr);
      assert.match(r.stderr, /debug1:/);
      const { ticket } = await launch(gw, secretId);
      const p = interactive([...c.base(['-v']), `${ticket}@127.0.0.1`]);
      try {
        await p.waitFor(PROMPT);
        p.write('id; exit\r');
        await p.done;
      } finally {
        p.kill();
        keep('verbose interactive', p.all);
      }
    }
    // Let every session end (recordings sealed, text indexed).
    await eventually(async () => (await ok(gw, 'GET', '/api/v1/sessions?status=live')).total === 0, 10_000, 'no live sessions');

    const sessions = (await ok(gw, 'GET', '/api/v1/sessions?limit=500')).items;
    const recordings: Blob[] = [];
    for (const s of sessions.filter((x: any) => x.recording.available)) {
      const r = await gw.api('GET', `/api/v1/recordings/${s.id}`, { token: gw.adminToken });
      assert.equal(r.status, 200);
      recordings.push({ name: `recording ${s.id}`, data: Buffer.from(r.raw) });
      const t = await gw.api('GET', `/api/v1/recordings/${s.id}/text`, { token: gw.adminToken });
      recordings.push({ name: `text ${s.id}`, data: Buffer.from(t.raw) });
    }
    assert.ok(recordings.length >= 10, `recordings scanned: ${recordings.length}`);
    const exportRes = await gw.api('GET', '/api/v1/audit/export', { token: gw.adminToken });
    assert.equal(exportRes.status, 200);
    assert.match(exportRes.raw, /session\.start/);
    const blobs: Blob[] = [
      ...printed,
      ...recordings,
      { name: 'gateway log', data: Buffer.from(gw.logs()) },
      { name: 'audit export', data: Buffer.from(exportRes.raw) },
      ...sqliteFiles(gw.dataDir),
    ];
    assert.ok(blobs.some((b) => b.name === 'gatehouse.db'));
    assert.ok(blobs.some((b) => b.name === 'gatehouse.db-wal'));
    assert.ok(printed.length >= 15, `client outputs scanned: ${printed.length}`);

    const body = privateKey.split('\n').filter((l) => l && !l.startsWith('-----'));
    const values: Record<string, string> = { password: TARGET_PASSWORD, 'private key PEM': privateKey.trim(), 'private key base64 body': body.join('') };
    body.filter((l) => l.length === 64).forEach((l, i) => (values[`private key line ${i + 1}`] = l));
    // leaks() looks for UTF-8 and UTF-16LE forms of each value.
    assert.deepEqual(leaks(blobs, values), []);
    // The scan does find what is there (guards against scanning nothing).
    assert.notDeepEqual(leaks(blobs, { probe: 'typed-42' }), []);
  });
});
