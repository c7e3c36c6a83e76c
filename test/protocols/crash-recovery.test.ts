// A crash loses no recording. The real `gatehouse serve` runs an SSH session (OpenSSH sshd),
// a Telnet session (inetutils telnetd) and an RDP session (xfreerdp → the RDP door → xrdp) at
// once; the server is killed with SIGKILL mid-session; a torn partial record is appended to
// each recording (what a write cut by the crash leaves); the server restarts on the same data
// dir and database. Every session then reads "interrupted", ends at its last recorded event,
// has its recording linked, counted, downloadable and playable, cut back to its whole records,
// and sealed into the audit chain (recording.seal, recovered: true, the hash of the file as it
// is now) after a session.end; the chain verifies. On SQLite and on PostgreSQL; there a
// second node shares the database, and its live session is left alone by the recovery.
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { createHash, randomBytes } from 'node:crypto';
import { copyFileSync, mkdirSync, mkdtempSync, readFileSync, statSync, writeFileSync } from 'node:fs';
import { request } from 'node:https';
import { join } from 'node:path';
import { readGhrec, GhrecReader, encodeGhrecRecord } from '../../src/core/sessions/ghrec.js';
import { renderAt, type RdpScreen } from '../../src/protocols/rdp/recording/decoder/index.js';
import { RDPREC } from '../../src/protocols/rdp/recording/records.js';
import { ensureTargetAccount, TARGET_PASSWORD, TARGET_USER } from '../support/accounts.js';
import { interactive, PROMPT, type Proc } from '../support/ssh-client.js';
import { appendToRecording, findRecording, readRecording } from '../support/recordings.js';
import { startSshd, type Sshd } from '../support/sshd.js';
import { startTelnetd, type TelnetdHandle } from '../support/telnetd.js';
import { runXfreerdp, startXrdp, startXvfb, waitFor, XRDP_DESKTOP_RGB, type XDisplay, type XfreerdpRun, type Xrdp } from '../support/xrdp.js';
import { api, apiLogin, freshPgDatabase, killAll, removeTempDirs, Server, serverEnv, tempDir } from '../cli/support.js';

const PW = 'Crash-Recovery-Admin-Pw-7';
const sha = (b: Buffer) => createHash('sha256').update(b).digest('hex');

/** A whole download (binary-safe, unlike api(), which decodes text). */
function download(url: string, path: string, token: string): Promise<{ status: number; body: Buffer }> {
  return new Promise((res, rej) => {
    const req = request(new URL(path, url), { agent: false, rejectUnauthorized: false, timeout: 60_000, headers: { authorization: `Bearer ${token}` } }, (r) => {
      const parts: Buffer[] = [];
      r.on('data', (c: Buffer) => parts.push(c));
      r.on('end', () => res({ status: r.statusCode ?? 0, body: Buffer.concat(parts) }));
    });
    req.on('timeout', () => req.destroy(new Error(`GET ${path} timed out`)));
    req.on('error', rej);
    req.end();
  });
}

/** The recording file of a session in a data dir (recordings/YYYY/MM/DD/<id>.*, plain or compressed). */
function recordingOf(dataDir: string, id: string): string | undefined {
  return findRecording(join(dataDir, 'recordings'), id) ?? undefined;
}

/** The part of a cast made of whole lines, and what its events say. */
function castFacts(b: Buffer) {
  const whole = b.subarray(0, b.lastIndexOf(10) + 1);
  const events = whole.toString('utf8').split('\n').slice(1, -1).map((l) => JSON.parse(l) as [number, string, string]);
  const bytes = (type: string) => events.filter((e) => e[1] === type).reduce((n, e) => n + Buffer.byteLength(e[2]), 0);
  return { whole, events, lastMs: Math.max(0, ...events.map((e) => Math.round(e[0] * 1000))), bytesIn: bytes('i'), bytesOut: bytes('o') };
}

/** The part of a ghrec file made of whole records, and what they say. */
function ghrecFacts(b: Buffer) {
  const r = new GhrecReader();
  const records = r.push(b);
  const size = (types: number[]) => records.filter((x) => types.includes(x.type)).reduce((n, x) => n + x.payload.length, 0);
  return {
    whole: b.subarray(0, r.consumed),
    startedAt: Date.parse(r.header!.startedAt),
    lastMs: Math.max(0, ...records.map((x) => x.time)),
    bytesIn: size([RDPREC.INPUT]),
    bytesOut: size([RDPREC.FASTPATH_OUTPUT, RDPREC.SLOWPATH_OUTPUT]),
  };
}

/** The decoded screen's most frequent colour and its share. */
function dominantColour(screen: RdpScreen): [number, number] {
  const counts = new Map<number, number>();
  const px = screen.rgba;
  for (let i = 0; i < px.length; i += 16) {
    const c = (px[i]! << 16) | (px[i + 1]! << 8) | px[i + 2]!;
    counts.set(c, (counts.get(c) ?? 0) + 1);
  }
  const [c, n] = [...counts].sort((a, b) => b[1] - a[1])[0]!;
  return [c, n / (px.length / 16)];
}

/** The recording on disk shows the xrdp desktop (its records so far decode to it). */
function ghrecShowsDesktop(file: string): boolean {
  try {
    const b = readRecording(file);
    const g = readGhrec(b);
    if (g.records.length === 0) return false;
    const [colour, share] = dominantColour(renderAt(new Uint8Array(b), g.records.at(-1)!.time / 1000 + 1));
    return colour === XRDP_DESKTOP_RGB && share > 0.5;
  } catch {
    return false;
  }
}

describe('a crash loses no recording: kill -9 mid-session, restart, each interrupted session recovered and sealed', { timeout: 1_200_000 }, () => {
  let sshd: Sshd;
  let telnetd: TelnetdHandle;
  let xrdp: Xrdp;
  let display: XDisplay;
  let work: string;

  before(async () => {
    ensureTargetAccount();
    work = mkdtempSync(join(tempDir(), 'rdp-'));
    [sshd, telnetd, xrdp, display] = await Promise.all([startSshd(), startTelnetd(), startXrdp(), startXvfb()]);
  });
  after(async () => {
    killAll();
    await display?.stop();
    await xrdp?.stop();
    await telnetd?.stop();
    await sshd?.stop();
    removeTempDirs();
  });

  for (const kind of ['sqlite', 'postgres'] as const) {
    it(`on ${kind}: SSH, Telnet and RDP sessions end "interrupted" at their last event, recordings cut to whole records, sealed, playable`, { timeout: 600_000 }, async () => {
      const db = kind === 'postgres' ? await freshPgDatabase() : null;
      const clients: Proc[] = [];
      let xf: XfreerdpRun | undefined;
      let server: Server | undefined;
      let other: Server | undefined;
      try {
        const dataDir = join(tempDir(), 'data');
        // Nodes sharing a database share the master key.
        const shared = { GATEHOUSE_ADMIN_PASSWORD: PW, GATEHOUSE_DATABASE_URL: db?.url, GATEHOUSE_MASTER_KEY: randomBytes(32).toString('base64') };
        const env = await serverEnv(dataDir, shared);
        server = await Server.start(env);
        let token = await apiLogin(server.url, 'admin', PW);
        assert.equal(statSync(join(dataDir, 'node-id')).mode & 0o777, 0o600, 'the node id is kept in the data dir');
        const call = async (method: string, path: string, body?: unknown, expect = 200, on = server!) => {
          const r = await api(on.url, method, path, { token, body });
          assert.equal(r.status, expect, `${method} ${path}: ${r.body}`);
          return r.json();
        };
        const secret = async (name: string, template: string, port: number) =>
          (await call('POST', '/api/v1/secrets', { name, template, fields: { machine: '127.0.0.1', port, username: TARGET_USER, password: TARGET_PASSWORD } }, 201)).id as string;
        const liveSessionOf = (secretId: string) =>
          waitFor(`a live session of ${secretId}`, async () => (await call('GET', `/api/v1/sessions?secretId=${secretId}&status=live`)).items[0] as { id: string } | undefined, 30_000);

        // SSH and Telnet: through the SSH door, a command whose output only the target makes.
        const terminal = async (name: string, launcher: string, port: number, marker: string, node = { server: server!, env, dataDir }) => {
          const secretId = await secret(`crash-${name}`, 'unix-account', port);
          const l = await call('POST', `/api/v1/secrets/${secretId}/launch`, { launcher }, 200, node.server);
          const kh = join(work, `${name}-${kind}-known_hosts`);
          writeFileSync(kh, l.ssh.knownHosts.join('\n') + '\n');
          const p = interactive(['-F', '/dev/null', '-p', node.env.GATEHOUSE_SSH_PORT!, '-o', `UserKnownHostsFile=${kh}`, '-o', 'StrictHostKeyChecking=yes', '-o', 'ConnectTimeout=10', `${l.ticket}@127.0.0.1`], { timeoutMs: 300_000 });
          clients.push(p);
          await p.waitFor(PROMPT, 30_000);
          p.write(`echo ${marker}-$((6*7))\r`);
          await p.waitFor(`${marker}-42`, 15_000);
          const { id } = await liveSessionOf(secretId);
          // Written to disk within the flush interval: wait for the output line in the file.
          const file = await waitFor(`${name} output in the recording`, () => {
            const f = recordingOf(node.dataDir, id);
            return f && readRecording(f).toString('utf8').includes(`${marker}-42`) ? f : false;
          }, 15_000, 100);
          return { id, file, client: p };
        };
        const ssh = await terminal('ssh', 'ssh', sshd.port, 'crash-ssh');
        const telnet = await terminal('telnet', 'telnet', telnetd.port, 'crash-telnet');
        // PostgreSQL: a second node on the same database, with a live SSH session of its own.
        let elsewhere: { id: string; file: string; client: Proc } | undefined;
        if (db) {
          const otherDir = join(tempDir(), 'data-b');
          // One audit identity for the cluster: node B signs with node A's key, which A has pinned
          // (a key of B's own would not be trusted by A's verification).
          mkdirSync(otherDir, { recursive: true, mode: 0o700 });
          for (const k of ['audit-signing.key', 'audit-signing.pub']) copyFileSync(join(dataDir, k), join(otherDir, k));
          const otherEnv = await serverEnv(otherDir, shared);
          other = await Server.start(otherEnv);
          elsewhere = await terminal('ssh-b', 'ssh', sshd.port, 'crash-other-node', { server: other, env: otherEnv, dataDir: otherDir });
          assert.notEqual(readFileSync(join(otherDir, 'node-id'), 'utf8'), readFileSync(join(dataDir, 'node-id'), 'utf8'), 'each node has its own id');
        }

        // RDP: xfreerdp opens the launch's .rdp file; the xrdp desktop shows, on the client and in the recording.
        const rdpSecret = await secret('crash-rdp', 'windows-account', xrdp.port);
        const l = await call('POST', `/api/v1/secrets/${rdpSecret}/launch`, { launcher: 'rdp' });
        const f = await api(server.url, 'GET', l.rdpFile, { token });
        assert.equal(f.status, 200, f.body);
        const rdpFile = join(work, `${kind}.rdp`);
        writeFileSync(rdpFile, f.body);
        xf = runXfreerdp(rdpFile, display);
        const x = xf;
        await waitFor('the RDP client to become active', () => /CONNECTION_STATE_ACTIVE/.test(x.output()) || (x.proc.exitCode !== null ? Promise.reject(new Error(`xfreerdp exited ${x.proc.exitCode}:\n${x.output().slice(-3000)}`)) : false), 90_000);
        const { id: rdpId } = await liveSessionOf(rdpSecret);
        const rdpFileOnDisk = await waitFor('the xrdp desktop in the recording on disk', () => {
          const file = recordingOf(dataDir, rdpId);
          return file && ghrecShowsDesktop(file) ? file : false;
        }, 90_000, 500);
        const rdp = { id: rdpId, file: rdpFileOnDisk };

        const live = (await call('GET', '/api/v1/sessions?status=live')).items.map((s: { id: string }) => s.id).sort();
        assert.deepEqual(live, [ssh.id, telnet.id, rdp.id, ...(elsewhere ? [elsewhere.id] : [])].sort(), 'the live sessions');

        // The crash.
        server.proc.kill('SIGKILL');
        assert.equal((await server.waitExit()).signal, 'SIGKILL');
        const killedAt = Date.now();
        await xf.stop();
        for (const p of clients) if (p !== elsewhere?.client) p.kill();

        // What the dead server left, and then half a record more, as a write cut short leaves it.
        const sshGood = castFacts(readRecording(ssh.file));
        const telnetGood = castFacts(readRecording(telnet.file));
        const rdpGood = ghrecFacts(readRecording(rdp.file));
        const tornCast = Buffer.concat([Buffer.from(`[${(sshGood.lastMs / 1000 + 0.5).toFixed(3)}, "o", "torn-write-`), Buffer.from('é').subarray(0, 1)]);
        appendToRecording(ssh.file, tornCast);
        appendToRecording(telnet.file, tornCast);
        const tornGhrec = encodeGhrecRecord(RDPREC.FASTPATH_OUTPUT, rdpGood.lastMs + 500, new Uint8Array(4000).fill(7)).subarray(0, 9 + 1500);
        appendToRecording(rdp.file, tornGhrec);
        assert.equal(readGhrec(readRecording(rdp.file)).truncated, true);

        // The restart, on the same data dir and database.
        server = await Server.start(env);
        token = await apiLogin(server.url, 'admin', PW);
        const restart = (await call('GET', '/api/v1/audit?action=system.start&limit=1')).items[0];

        const cases = [
          { name: 'ssh', ...ssh, good: sshGood, startedAt: null as number | null, torn: tornCast.length, format: 'asciicast', sealFormat: 'asciicast-v2' },
          { name: 'telnet', ...telnet, good: telnetGood, startedAt: null as number | null, torn: tornCast.length, format: 'asciicast', sealFormat: 'asciicast-v2' },
          { name: 'rdp', ...rdp, good: rdpGood, startedAt: rdpGood.startedAt as number | null, torn: tornGhrec.length, format: 'ghrec-rdp', sealFormat: 'ghrec-rdp' },
        ];
        const seals = (await call('GET', '/api/v1/audit?action=recording.seal&limit=500')).items;
        const ends = (await call('GET', '/api/v1/audit?action=session.end&limit=500')).items;
        for (const c of cases) {
          const s = await call('GET', `/api/v1/sessions/${c.id}`);
          const onDisk = readRecording(c.file);
          assert.ok(onDisk.equals(c.good.whole), `${c.name}: the file is cut back to exactly its whole records`);
          assert.equal(s.status, 'ended', c.name);
          assert.equal(s.endReason, 'interrupted', c.name);
          assert.deepEqual(s.recording, { available: true, sha256: sha(onDisk), keystrokes: true, format: c.format }, c.name);
          const end = (c.startedAt ?? Date.parse(s.startedAt)) + c.good.lastMs;
          assert.equal(s.endedAt, new Date(end).toISOString(), `${c.name}: ends at its last recorded event`);
          assert.ok(Date.parse(s.endedAt) <= killedAt && Date.parse(s.endedAt) < Date.parse(restart.ts), `${c.name}: the end is before the kill, not the restart`);
          assert.deepEqual([s.bytesIn, s.bytesOut], [c.good.bytesIn, c.good.bytesOut], `${c.name}: the bytes the recording holds`);
          assert.ok(s.bytesOut > 0 && (c.name === 'rdp' || s.bytesIn > 0), `${c.name}: bytes counted`);

          const dl = await download(server.url, `/api/v1/recordings/${c.id}`, token);
          assert.equal(dl.status, 200, `${c.name}: GET /api/v1/recordings/:id`);
          assert.ok(dl.body.equals(onDisk), `${c.name}: the download is the recovered file`);
          if (c.format === 'asciicast') {
            const evs = castFacts(dl.body).events;
            assert.ok(evs.length > 0 && !dl.body.includes('torn-write'), `${c.name}: plays (every line an event), the torn line gone`);
            assert.ok(evs.some((e) => e[1] === 'o' && e[2].includes(`crash-${c.name}-42`)), `${c.name}: the output before the crash is in it`);
          } else {
            const g = readGhrec(dl.body);
            assert.equal(g.truncated, false, 'rdp: no torn record left');
            const [colour, share] = dominantColour(renderAt(new Uint8Array(dl.body), c.good.lastMs / 1000 + 1));
            assert.equal(colour.toString(16), XRDP_DESKTOP_RGB.toString(16), 'rdp: replays to the xrdp desktop');
            assert.ok(share > 0.5);
          }

          const mine = seals.filter((e: any) => e.targetId === c.id);
          assert.equal(mine.length, 1, `${c.name}: one recording.seal`);
          assert.equal(mine[0].details.recovered, true);
          assert.equal(mine[0].details.sha256, sha(onDisk), `${c.name}: the sealed hash is the recovered file's`);
          assert.equal(mine[0].details.format, c.sealFormat);
          assert.equal(mine[0].details.tornBytes, c.torn);
          assert.match(mine[0].details.note, /recovered after the gateway was interrupted/);
          assert.equal(join(dataDir, 'recordings', mine[0].details.file), c.file);
          const end2 = ends.filter((e: any) => e.targetId === c.id);
          assert.equal(end2.length, 1, `${c.name}: one session.end`);
          assert.deepEqual([end2[0].details.reason, end2[0].details.recovered, end2[0].actorName], ['interrupted', true, 'admin']);
          assert.ok(end2[0].seq < mine[0].seq, 'session.end, then recording.seal, as at a normal end');
        }
        const v = await call('GET', '/api/v1/audit/verify');
        assert.equal(v.ok, true, JSON.stringify(v));
        assert.deepEqual((await call('GET', '/api/v1/sessions?status=live')).items.map((s: { id: string }) => s.id), elsewhere ? [elsewhere.id] : []);
        if (elsewhere) {
          // The other node's session was not this node's to end: still live, still working, its recording untouched.
          assert.ok(!seals.some((e: any) => e.targetId === elsewhere!.id) && !ends.some((e: any) => e.targetId === elsewhere!.id));
          elsewhere.client.write('echo still-$((20+22))-here\r');
          await elsewhere.client.waitFor('still-42-here', 15_000);
          elsewhere.client.write('exit\r');
          await elsewhere.client.done;
          const s = await waitFor('the other node\'s session to end', async () => {
            const x = await call('GET', `/api/v1/sessions/${elsewhere!.id}`);
            return x.status === 'ended' ? x : false;
          }, 15_000);
          assert.notEqual(s.endReason, 'interrupted');
          assert.equal(s.recording.available, true);
          await other!.stop();
        }

        // A clean stop and start later: nothing recovered twice.
        assert.deepEqual(await server.stop(), { code: 0, signal: null });
        server = await Server.start(env);
        token = await apiLogin(server.url, 'admin', PW);
        const sealsAfter = (await call('GET', '/api/v1/audit?action=recording.seal&limit=500')).items;
        for (const c of cases) assert.equal(sealsAfter.filter((e: any) => e.targetId === c.id).length, 1, `${c.name}: no second seal`);
        assert.equal((await call('GET', '/api/v1/audit/verify')).ok, true);
        assert.deepEqual(await server.stop(), { code: 0, signal: null });
      } finally {
        for (const p of clients) p.kill();
        await xf?.stop();
        for (const s of [server, other]) {
          s?.kill();
          await s?.waitExit(10_000).catch(() => {});
        }
        await db?.drop();
      }
    });
  }
});
