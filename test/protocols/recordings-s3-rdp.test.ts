// An RDP session recorded into S3-compatible object storage, end to end (issue 16 point 2):
// two real `gatehouse serve` nodes on one PostgreSQL, both keeping recordings in s3rver on
// loopback (test/support/s3.ts: test-sized parts, gzip, Gatehouse-side encryption, SSE asked
// for), xfreerdp under Xvfb as the person's client and xrdp as the target.
// The session runs through node B's RDP door while the target draws noise (an image of
// random pixels, which neither the RDP bitmap codecs nor gzip shrink), so the .ghrec
// recording leaves B's spool in several parts while the session goes on. With object storage
// a graphical session's keyframe follower is fed before a segment leaves the spool
// (docs/operations.md, "Live view and keyframes"): a watcher on node A, arriving after the
// first segment is gone from B's disk, still gets a keyframe of the whole desktop, then
// records. Afterwards the object in the bucket is ciphertext only, node A plays the recording
// (our decoder renders the target's desktop and the noise it drew) and verifies it against its
// seal, and B's spool is empty.
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync, spawn, type ChildProcess } from 'node:child_process';
import { createHash, randomBytes } from 'node:crypto';
import { existsSync, writeFileSync } from 'node:fs';
import { request } from 'node:https';
import { join } from 'node:path';
import { gzipMember } from '../../src/core/sessions/recording-gzip.js';
import { spoolBytes } from '../../src/core/sessions/recording-storage-s3.js';
import { frames, openRdpRecording, renderAt, type RdpScreen } from '../../src/protocols/rdp/recording/decoder/index.js';
import { ensureTargetAccount } from '../support/accounts.js';
import { decodePng } from '../support/export.js';
import { S3Server } from '../support/s3.js';
import { sse } from '../support/sse.js';
import { runXfreerdp, startXrdp, startXvfb, waitFor, XRDP_DESKTOP_RGB, type XDisplay, type XfreerdpRun, type Xrdp } from '../support/xrdp.js';
import { api, apiLogin, clusterEnv, freshPgDatabase, killAll, type PgTestDatabase, removeTempDirs, Server, serverEnv, tempDir } from '../cli/support.js';

const PW = 'S3-Rdp-Recordings-Admin-7';
/** The noise window: 512 × 384 random pixels at (480, 360), clear of the session's xclock at (40, 40). */
const NOISE = { x: 480, y: 360, w: 512, h: 384 };
/** At most this many noise images are drawn while waiting for the parts (each is ≥ 384 KiB of bitmap updates). */
const MAX_NOISE_IMAGES = 8;

/**
 * An XWD file (what xwud shows) of random TrueColor pixels at a display's depth: 24 or 32 (32 bits
 * per pixel) or 16 (r5g6b5). xwud shows a TrueColor image only on a display of its depth ("no
 * matching visual found" otherwise), and the xrdp session's Xvnc runs at the depth the client
 * asked for.
 */
function noiseXwd(path: string, w: number, h: number, depth: number): void {
  const name = Buffer.from('noise\0');
  const head = Buffer.alloc(100);
  const bpp = depth === 16 ? 16 : 32;
  const masks = depth === 16 ? [0xf800, 0x7e0, 0x1f] : [0xff0000, 0xff00, 0xff];
  // XWDFileHeader: size, version 7, ZPixmap, depth, w, h, xoffset, LSBFirst, unit 32, bit order, pad 32,
  // bits per pixel, bytes per line, TrueColor, the RGB masks, bits per RGB, map entries, no colours, the window's w, h, x, y, border.
  [100 + name.length, 7, 2, depth, w, h, 0, 0, 32, 0, 32, bpp, (w * bpp) / 8, 4, ...masks, depth === 16 ? 6 : 8, depth === 16 ? 64 : 256, 0, w, h, 0, 0, 0].forEach((v, i) => head.writeUInt32BE(v >>> 0, i * 4));
  writeFileSync(path, Buffer.concat([head, name, randomBytes((w * h * bpp) / 8)]));
}

/** Share of a w × h RGBA picture's pixels within 8 per channel of a colour. */
function shareOf(rgba: Uint8Array | Uint8ClampedArray, rgb: number): number {
  let n = 0;
  for (let i = 0; i < rgba.length; i += 4) {
    if (Math.abs(rgba[i]! - ((rgb >> 16) & 0xff)) <= 8 && Math.abs(rgba[i + 1]! - ((rgb >> 8) & 0xff)) <= 8 && Math.abs(rgba[i + 2]! - (rgb & 0xff)) <= 8) n++;
  }
  return n / (rgba.length / 4);
}

/** Share of the client display's pixels (sampled) near a colour (the session's colour depth may round it). */
function displayShare(display: XDisplay, rgb: number): number {
  const near = (c: number) => [16, 8, 0].every((k) => Math.abs(((c >> k) & 0xff) - ((rgb >> k) & 0xff)) <= 8);
  return display
    .screenshot()
    .histogram(8)
    .filter(([c]) => near(c))
    .reduce((sum, [, n]) => sum + n, 0);
}

/** Distinct colours among 400 pixels sampled across the noise window (a noise image gives nearly 400; a flat desktop 1). */
function noiseColours(pixel: (x: number, y: number) => number): number {
  const seen = new Set<number>();
  for (let k = 0; k < 400; k++) seen.add(pixel(Math.floor(NOISE.x + 8 + ((k % 20) * (NOISE.w - 16)) / 20), Math.floor(NOISE.y + 8 + (Math.floor(k / 20) * (NOISE.h - 16)) / 20)));
  return seen.size;
}

/** The 0xRRGGBB pixel reader of an RGBA picture. */
const rgbaPixel = (p: { rgba: Uint8Array | Uint8ClampedArray; width: number }) => (x: number, y: number) => {
  const i = (y * p.width + x) * 4;
  return (p.rgba[i]! << 16) | (p.rgba[i + 1]! << 8) | p.rgba[i + 2]!;
};

/** A GET whose answer is binary (the recording). */
function getBytes(url: string, path: string, token: string): Promise<{ status: number; body: Buffer }> {
  return new Promise((res, rej) => {
    const req = request(new URL(path, url), { agent: false, rejectUnauthorized: false, headers: { authorization: `Bearer ${token}` } }, (r) => {
      const chunks: Buffer[] = [];
      r.on('data', (c: Buffer) => chunks.push(c));
      r.on('end', () => res({ status: r.statusCode ?? 0, body: Buffer.concat(chunks) }));
      r.on('error', rej);
    });
    req.on('error', rej);
    req.end();
  });
}

/** Server-Sent Events of a stream's text so far: name (message when unnamed) and data. */
function events(text: string): { name: string; data: string }[] {
  return text
    .split('\n\n')
    .slice(0, -1) // the last piece is not a whole event yet
    .filter((b) => /^data: /m.test(b))
    .map((b) => ({ name: /^event: (.*)$/m.exec(b)?.[1] ?? 'message', data: /^data: (.*)$/m.exec(b)![1]! }));
}

describe('an RDP session recorded into S3-compatible object storage, two nodes on one PostgreSQL', { timeout: 600_000 }, () => {
  let db: PgTestDatabase;
  let s3: S3Server;
  let xrdp: Xrdp;
  let client: XDisplay;
  let xf: XfreerdpRun | null = null;
  let noise: ChildProcess | null = null;
  /** What xwud said (an X error shows here). */
  let noiseErr = '';
  const account = ensureTargetAccount();

  before(async () => {
    db = await freshPgDatabase();
    s3 = new S3Server(tempDir('gatehouse-s3-rdp-'));
    await s3.start();
    [xrdp, client] = await Promise.all([startXrdp(), startXvfb()]);
  });
  after(async () => {
    noise?.kill();
    await xf?.stop();
    killAll();
    await client?.stop();
    await xrdp?.stop();
    await s3?.stop();
    await db?.drop().catch(() => undefined);
    removeTempDirs();
  });

  /** Shows a fresh noise image on the xrdp session's own X display (as root, with the session's X authority), replacing the last. */
  const drawNoise = (file: string) => {
    const displays = [...xrdp.sesmanLog().matchAll(/Starting X server on display (\d+)/g)];
    const n = displays.at(-1)?.[1];
    assert.ok(n, `the X display of the xrdp session in the sesman log:\n${xrdp.sesmanLog().slice(-2000)}`);
    const env = { ...process.env, DISPLAY: `:${n}`, XAUTHORITY: join(account.home, '.Xauthority') };
    const depth = Number(/depth of root window:\s+(\d+)/.exec(execFileSync('xdpyinfo', { env, encoding: 'utf8' }))?.[1]);
    assert.ok([16, 24, 32].includes(depth), `the session's X display depth: ${depth}`);
    noiseXwd(file, NOISE.w, NOISE.h, depth);
    noise?.kill();
    noise = spawn('xwud', ['-in', file, '-geometry', `+${NOISE.x}+${NOISE.y}`], { env, stdio: ['ignore', 'ignore', 'pipe'] });
    noise.stderr!.on('data', (d: Buffer) => (noiseErr += d.toString()));
  };

  it('uploads the .ghrec in encrypted parts while it runs; a watcher on the other node gets a keyframe after the first part left the spool; plays and verifies from there', async () => {
    const shared = clusterEnv(PW, db.url, s3.nodeEnv());
    const dirA = join(tempDir(), 'node-a');
    const dirB = join(tempDir(), 'node-b');
    const A = await Server.start(await serverEnv(dirA, shared), 120_000);
    const envB = await serverEnv(dirB, shared);
    const B = await Server.start(envB, 120_000);
    const token = await apiLogin(A.url, 'admin', PW);
    const call = async (method: string, path: string, body?: unknown, expect = 200) => {
      const r = await api(A.url, method, path, { token, body });
      assert.equal(r.status, expect, `${method} ${path}: ${r.body}`);
      // Parsed only when asked for: the .rdp file is not JSON.
      return { get json() { return r.status === 204 ? null : r.json(); }, raw: r.body };
    };
    const pgq = db.query;
    const work = tempDir('gatehouse-s3-rdp-work-');

    // Launched on A; the .rdp file sends the client to B's RDP door (the launcher is in the shared database).
    const bRdp = Number(envB.GATEHOUSE_RDP_PORT);
    await call('PATCH', '/api/v1/launchers/rdp', { gatewayPort: bRdp, record: true });
    const secretId = (await call('POST', '/api/v1/secrets', { name: 's3-rdp', template: 'windows-account', fields: { machine: '127.0.0.1', port: xrdp.port, username: account.username, password: account.password } }, 201)).json.id as string;
    const launched = (await call('POST', `/api/v1/secrets/${secretId}/launch`, { launcher: 'rdp' })).json;
    const file = (await call('GET', launched.rdpFile)).raw;
    assert.ok(file.split('\r\n').includes(`full address:s:127.0.0.1:${bRdp}`), file);
    const rdpFile = join(work, 'b.rdp');
    writeFileSync(rdpFile, file);
    const run = runXfreerdp(rdpFile, client);
    xf = run;
    await waitFor('the xrdp desktop on the client display', () => {
      if (run.proc.exitCode !== null) return Promise.reject(new Error(`xfreerdp exited ${run.proc.exitCode}:\n${run.output().slice(-3000)}\n${(B.stdout + B.stderr).slice(-3000)}`));
      return displayShare(client, XRDP_DESKTOP_RGB) > 0.2;
    }, 90_000, 500);
    const { id } = await waitFor('the live session', async () => ((await call('GET', `/api/v1/sessions?secretId=${secretId}&status=live`)).json.items as { id: string }[])[0], 30_000);
    // Asked of B, where it runs: another node knows the recording's name (hence its format) only once the session ended.
    const onB = await api(B.url, 'GET', `/api/v1/sessions/${id}`, { token });
    assert.equal(onB.json().recording.format, 'ghrec-rdp', onB.body);

    // The target draws noise until B has uploaded two parts and let the first segment go from its spool.
    const { rel } = await waitFor('the upload started', async () => (await pgq<{ rel: string }>('select rel from recording_uploads where session_id = $1', [id]))[0], 30_000);
    assert.match(rel, /\.ghrec\.gz$/);
    const spoolB = join(dirB, 'recording-spool');
    const segment = (n: number) => join(spoolB, `${rel}.${n}`);
    const partsUp = async () => JSON.parse((await pgq<{ parts: string }>('select parts from recording_uploads where session_id = $1', [id]))[0]?.parts ?? '[]').length as number;
    let drawn = 0;
    while ((await partsUp()) < 2) {
      assert.ok(drawn < MAX_NOISE_IMAGES, `two parts uploaded after ${drawn} noise images (${await partsUp()} so far)`);
      drawNoise(join(work, `noise-${drawn++}.xwd`));
      // Until the client shows this image (its bitmap updates passed the door and were recorded).
      await waitFor('the noise on the client display', () => noiseColours(client.screenshot().pixel) > 300 || (noiseErr ? Promise.reject(new Error(`xwud: ${noiseErr}`)) : false), 30_000, 300);
    }
    await waitFor('the first segment gone from B\'s spool', () => !existsSync(segment(0)), 30_000);

    // The watcher on A (relayed from B) gets the desktop as a keyframe, then records.
    const watch = await sse(A.url, `/api/v1/sessions/${id}/live`, token);
    assert.equal(watch.status, 200);
    await waitFor('the keyframe on A', () => events(watch.text()).some((e) => e.name === 'keyframe'), 30_000);
    const opening = events(watch.text());
    assert.equal(opening[0]?.name, 'header');
    assert.equal(JSON.parse(opening[0]!.data).format, 'rdp');
    assert.equal(opening[1]?.name, 'keyframe');
    const kf = JSON.parse(opening[1]!.data) as { width: number; height: number; png: string };
    const png = decodePng(Buffer.from(kf.png, 'base64'));
    assert.deepEqual([kf.width, kf.height, png.width, png.height], [1024, 768, 1024, 768]);
    // The desktop was painted at the start, in the segment already gone: the follower had it.
    assert.ok(shareOf(png.rgba, XRDP_DESKTOP_RGB) > 0.4, `the desktop colour covers ${shareOf(png.rgba, XRDP_DESKTOP_RGB)} of the keyframe`);
    assert.ok(noiseColours(rgbaPixel(png)) > 300, 'the noise drawn so far is in the keyframe');
    const seen = opening.length;
    drawNoise(join(work, `noise-${drawn++}.xwd`));
    await waitFor('records after the keyframe', () => events(watch.text()).slice(seen).some((e) => e.name === 'message'), 30_000);
    watch.close();

    // The noise goes, the desktop shows again; the person disconnects.
    noise!.kill();
    noise = null;
    await waitFor('the desktop back on the client display', () => displayShare(client, XRDP_DESKTOP_RGB) > 0.6, 30_000, 300);
    await run.stop();
    xf = null;
    const ended = await waitFor('the session to end', async () => {
      const s = (await call('GET', `/api/v1/sessions/${id}`)).json;
      return s.status === 'ended' && s.recording.sha256 ? s : false;
    }, 60_000, 250);

    // In the bucket: more than one part, ciphertext only, the SSE header with the upload.
    const key = `gh/${rel}`;
    const parts = s3.requestsFor(key).filter((r) => r.method === 'PUT' && /partNumber=/.test(r.url));
    assert.ok(parts.length > 2, `more than two parts: ${parts.length}`);
    const stored = s3.storedObjects().find((o) => o.file.includes(id));
    assert.ok(stored, 'the recording is in the bucket');
    assert.equal(stored.data.subarray(0, 6).toString(), 'GHENC1');
    for (const plain of ['GHREC', '"format"', account.username, id]) assert.ok(!stored.data.includes(plain), `no "${plain}" in the stored object`);
    // The fixed 16 bytes of our member header (ID, flags, the GH subfield's head); the 3-byte gzip
    // magic alone turns up by chance in megabytes of ciphertext (about once per 16 MiB).
    assert.ok(!stored.data.includes(gzipMember(Buffer.from('x')).subarray(0, 16)), 'no gzip member header in the stored object');
    assert.equal(s3.requestsFor(key).find((r) => r.method === 'POST' && /uploads/.test(r.url))?.headers['x-amz-server-side-encryption'], 'AES256');

    // Node A plays it: the hash is the seal's, our decoder renders the desktop, and the noise while it was shown.
    const got = await getBytes(A.url, `/api/v1/recordings/${id}`, token);
    assert.equal(got.status, 200, got.body.toString().slice(0, 500));
    const sha = createHash('sha256').update(got.body).digest('hex');
    const seal = ((await call('GET', '/api/v1/audit?action=recording.seal&limit=100')).json.items as { targetId: string; details: Record<string, unknown> }[]).find((e) => e.targetId === id);
    assert.equal(seal?.details.sha256, sha);
    assert.equal(ended.recording.sha256, sha);
    const rec = openRdpRecording(new Uint8Array(got.body));
    assert.equal(rec.truncated, false);
    assert.equal(rec.header.format, 'rdp');
    assert.deepEqual([rec.width, rec.height], [1024, 768]);
    const last: RdpScreen = renderAt(rec, rec.duration + 1);
    assert.equal(last.warnings.size, 0, JSON.stringify([...last.warnings]));
    assert.ok(shareOf(last.rgba, XRDP_DESKTOP_RGB) > 0.6, `the desktop colour covers ${shareOf(last.rgba, XRDP_DESKTOP_RGB)} of the last frame`);
    let noisy = 0;
    for (const f of frames(rec, 2, { cursor: false })) if (noiseColours(rgbaPixel(f)) > 300) noisy++;
    assert.ok(noisy > 0, 'frames show the noise');
    const verified = (await call('POST', '/api/v1/recordings/verify', { sessions: [id] })).json;
    assert.equal(verified.items[0].status, 'ok', JSON.stringify(verified.items));
    assert.equal(verified.items[0].sha256, sha);

    // Nothing left behind on B.
    assert.equal(await spoolBytes(spoolB), 0, 'B\'s spool is empty');
    assert.equal((await pgq('select 1 from recording_uploads where session_id = $1', [id])).length, 0);
    assert.doesNotMatch(A.stdout + A.stderr + B.stdout + B.stderr, /could not be decoded/, 'no keyframe decoding warning');
    await B.stop();
    await A.stop();
  });
});
