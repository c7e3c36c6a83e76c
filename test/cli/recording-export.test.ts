// `gatehouse recording export` end to end with the real CLI (bin/gatehouse.js, the built
// dist/): a synthetic RDP recording (DESKTOP, fast-path bitmaps uncompressed / planar /
// interleaved RLE / fragmented, a slow-path bitmap, mouse input) exported to PNG stills
// whose pixels are checked exactly, and to MP4 checked with ffprobe and by decoding a frame
// with ffmpeg; the one-line errors; and, against a real gateway, export by session id: an
// SSH session is refused (pointing to `recording get`), an RDP recording is downloaded.
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { existsSync, readFileSync, statSync, writeFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { encodeDesktop, encodeInputEvents, INPUT_KIND, RDPREC } from '../../src/protocols/rdp/recording/records.js';
import { ensureTargetAccount, TARGET_PASSWORD } from '../support/accounts.js';
import { startGateway, type Gateway } from '../support/gateway.js';
import { ADMIN_PASSWORD } from '../support/harness.js';
import { createSecret, endedSession, eventually, launch, run } from '../support/ssh-client.js';
import { gzipMember } from '../../src/core/sessions/recording-gzip.js';
import { readRecording } from '../support/recordings.js';
import { startSshd, type Sshd } from '../support/sshd.js';
import { decodePng, ensureBuilt } from '../support/export.js';
import { bitmapUpdate, bytes, fastPathPdu, fragmentedPdus, ghrecFile, le16, planarEncode, recordingHeader, slowPathPdu, type RectSpec } from '../protocols/rdp/decoder-support.js';
import { cleanEnv, fails, killAll, ok, removeTempDirs, runCli, tempDir } from './support.js';

const T = { timeout: 120_000 };

after(() => {
  killAll();
  removeTempDirs();
});


const at = (img: { width: number; rgba: Buffer }, x: number, y: number) => [...img.rgba.subarray((y * img.width + x) * 4, (y * img.width + x) * 4 + 4)];

const RED = [255, 0, 0, 255];
const GREEN = [0, 255, 0, 255];
const BLUE = [0, 0, 255, 255];
const WHITE = [255, 255, 255, 255];
const BLACK = [0, 0, 0, 255];
const MAGENTA = [255, 0, 255, 255];

function solid32(w: number, h: number, [r, g, b]: number[]): Uint8Array {
  const d = new Uint8Array(w * h * 4);
  for (let i = 0; i < w * h; i++) d.set([b!, g!, r!, 0], i * 4);
  return d;
}

/**
 * 63 × 41 (odd, so the video is padded to 64 × 42), 3 s long:
 *   0 s    blue everywhere (uncompressed 32 bpp)
 *   0.5 s  red 20 × 10 at (10, 10) (planar RLE)
 *   1.2 s  green 8 × 8 at (40, 5) (interleaved RLE, 16 bpp)
 *   2 s    white 4 × 4 at (0, 0) (slow path, uncompressed 24 bpp)
 *   2.5 s  magenta 6 × 6 at (50, 30) (interleaved RLE, 24 bpp, in 3-byte fragments)
 *   3 s    the mouse moves to (30, 30)
 */
function syntheticRecording(): Uint8Array {
  const red = new Uint8Array(20 * 10 * 4);
  for (let i = 0; i < 200; i++) red.set([255, 0, 0, 255], i * 4);
  const fp = (rects: RectSpec[]) => fastPathPdu([{ code: 1, data: bitmapUpdate(rects) }]);
  const magenta = bitmapUpdate([{ left: 50, top: 30, width: 6, height: 6, bpp: 24, flags: 0x401, data: bytes(0xf3, le16(36), 0xff, 0x00, 0xff) }]);
  return ghrecFile(recordingHeader({ width: 63, height: 41, colorDepth: 32, title: 'synthetic' }), [
    [RDPREC.DESKTOP, 0, encodeDesktop(63, 41, 32)],
    [RDPREC.FASTPATH_OUTPUT, 0, fp([{ left: 0, top: 0, width: 63, height: 41, bpp: 32, data: solid32(63, 41, [0, 0, 255]) }])],
    [RDPREC.FASTPATH_OUTPUT, 500, fp([{ left: 10, top: 10, width: 20, height: 10, bpp: 32, flags: 0x401, data: planarEncode(red, 20, 10) }])],
    [RDPREC.FASTPATH_OUTPUT, 1200, fp([{ left: 40, top: 5, width: 8, height: 8, bpp: 16, flags: 0x401, data: bytes(0xf3, le16(64), le16(0x07e0)) }])],
    [RDPREC.SLOWPATH_OUTPUT, 2000, slowPathPdu(0x02, bitmapUpdate([{ left: 0, top: 0, width: 4, height: 4, bpp: 24, data: new Uint8Array(48).fill(0xff) }]))],
    ...fragmentedPdus(1, magenta, 3).map((p, i): [number, number, Uint8Array] => [RDPREC.FASTPATH_OUTPUT, 2500 + i, p]),
    [RDPREC.INPUT, 3000, encodeInputEvents([{ kind: INPUT_KIND.MOUSE, flags: 0x0800, a: 30, b: 30 }])],
  ]);
}

describe('gatehouse recording export (local files)', () => {
  let dir: string;
  let file: string;
  const env = () => cleanEnv({ GATEHOUSE_CLI_STATE: join(dir, 'no-state.json') });
  const cli = (args: string[], e = env()) => runCli(['recording', 'export', ...args], { env: e, timeoutMs: 90_000 });

  before(() => {
    ensureBuilt();
    dir = tempDir('gatehouse-export-');
    file = join(dir, 'session.ghrec');
    writeFileSync(file, syntheticRecording());
  });

  it('--png-at renders the screen at that time: exact colours of every codec, private file', T, async () => {
    const early = join(dir, 'early.png');
    const r = await cli([file, '--png-at', '0.6', '--out', early]);
    ok(r, 'png at 0.6');
    assert.match(r.stdout, /^wrote .*early\.png \(63x41, 0\.6 s into the session\)\n$/);
    assert.equal(statSync(early).mode & 0o777, 0o600);
    let img = decodePng(readFileSync(early));
    assert.equal(img.width, 63);
    assert.equal(img.height, 41);
    assert.deepEqual(at(img, 0, 0), BLUE);
    assert.deepEqual(at(img, 10, 10), RED);
    assert.deepEqual(at(img, 29, 19), RED);
    assert.deepEqual(at(img, 30, 19), BLUE);
    assert.deepEqual(at(img, 44, 8), BLUE, 'green comes later');

    const late = join(dir, 'late.png');
    ok(await cli([file, '--png-at', '2.8', '--out', late]), 'png at 2.8');
    img = decodePng(readFileSync(late));
    assert.deepEqual(at(img, 0, 0), WHITE);
    assert.deepEqual(at(img, 3, 3), WHITE);
    assert.deepEqual(at(img, 4, 4), BLUE);
    assert.deepEqual(at(img, 15, 15), RED);
    assert.deepEqual(at(img, 40, 5), GREEN);
    assert.deepEqual(at(img, 47, 12), GREEN);
    assert.deepEqual(at(img, 48, 12), BLUE);
    assert.deepEqual(at(img, 50, 30), MAGENTA);
    assert.deepEqual(at(img, 55, 35), MAGENTA);
    assert.deepEqual(at(img, 56, 36), BLUE);
    assert.deepEqual(at(img, 30, 30), BLUE, 'no pointer before the mouse moved');
  });

  it('--png-at the very end draws the pointer where the mouse was, unless --no-cursor', T, async () => {
    const end = join(dir, 'end.png');
    ok(await cli([file, '--png-at', '3', '--out', end]), 'png at 3');
    let img = decodePng(readFileSync(end));
    assert.deepEqual(at(img, 30, 30), BLACK, 'arrow tip');
    assert.deepEqual(at(img, 31, 32), WHITE, 'inside the arrow');
    ok(await cli([file, '--png-at', '3', '--out', end, '--no-cursor']), 'png at 3 without cursor');
    img = decodePng(readFileSync(end));
    assert.deepEqual(at(img, 30, 30), BLUE);
    assert.deepEqual(at(img, 31, 32), BLUE);
  });

  it('a recording as the gateway stores it (.ghrec.gz, one gzip member per flush) renders as the plain file', T, async () => {
    const plain = readFileSync(file);
    const gz = join(dir, 'session.ghrec.gz');
    const cut = [0, 100, Math.floor(plain.length / 2), plain.length];
    writeFileSync(gz, Buffer.concat(cut.slice(1).map((end, i) => gzipMember(plain.subarray(cut[i], end)))));
    const [a, b] = [join(dir, 'plain.png'), join(dir, 'gz.png')];
    ok(await cli([file, '--png-at', '2.8', '--out', a]), 'png of the plain file');
    ok(await cli([gz, '--png-at', '2.8', '--out', b]), 'png of the compressed file');
    assert.ok(readFileSync(a).equals(readFileSync(b)), 'the same image');
  });

  it('--mp4: H.264 of the first desktop size padded to even, one frame per 1/fps; the frames show the screen', T, async () => {
    const mp4 = join(dir, 'out.mp4');
    const r = await cli([file, '--mp4', mp4]);
    ok(r, 'mp4');
    assert.match(r.stdout, /^wrote .*out\.mp4 \(31 frames, 64x42, 10 fps, 3\.0 s of .*session\.ghrec\)\n$/);
    assert.equal(statSync(mp4).mode & 0o777, 0o600);
    const probe = spawnSync('ffprobe', ['-v', 'error', '-count_frames', '-show_entries', 'stream=codec_name,width,height,pix_fmt,nb_read_frames,r_frame_rate:format=duration', '-of', 'json', mp4], { encoding: 'utf8' });
    assert.equal(probe.status, 0, probe.stderr);
    const info = JSON.parse(probe.stdout);
    const v = info.streams[0];
    assert.equal(v.codec_name, 'h264');
    assert.equal(v.width, 64);
    assert.equal(v.height, 42);
    assert.equal(v.pix_fmt, 'yuv420p');
    assert.equal(v.r_frame_rate, '10/1');
    assert.equal(Number(v.nb_read_frames), 31);
    assert.ok(Math.abs(Number(info.format.duration) - 3.1) < 0.05, `duration ${info.format.duration}`);

    // The frame at 2.8 s, decoded back: colours survive H.264 within a margin.
    const frame = spawnSync('ffmpeg', ['-v', 'error', '-i', mp4, '-ss', '2.8', '-frames:v', '1', '-f', 'rawvideo', '-pix_fmt', 'rgba', '-'], { maxBuffer: 1 << 20 });
    assert.equal(frame.status, 0, frame.stderr.toString());
    const img = { width: 64, rgba: frame.stdout };
    assert.equal(frame.stdout.length, 64 * 42 * 4);
    const near = (got: number[], want: number[], what: string) => assert.ok(got.slice(0, 3).every((c, i) => Math.abs(c - want[i]!) <= 48), `${what}: ${got} vs ${want}`);
    near(at(img, 20, 15), RED, 'red block');
    near(at(img, 44, 9), GREEN, 'green block');
    near(at(img, 53, 33), MAGENTA, 'magenta block');
    near(at(img, 58, 12), BLUE, 'background');
    // (The 1-pixel padding shares its chroma with the picture under 4:2:0, so it is not checked here.)
  });

  it('--fps changes the frame count', T, async () => {
    const mp4 = join(dir, 'fps4.mp4');
    ok(await cli([file, '--mp4', mp4, '--fps', '4']), 'mp4 at 4 fps');
    const probe = spawnSync('ffprobe', ['-v', 'error', '-count_frames', '-show_entries', 'stream=nb_read_frames', '-of', 'csv=p=0', mp4], { encoding: 'utf8' });
    assert.equal(probe.stdout.trim(), '13');
  });

  it('one-line errors: beyond the end, bad options, missing ffmpeg, not a recording, asciicast, no such file', T, async () => {
    fails(await cli([file, '--png-at', '3.5', '--out', join(dir, 'x.png')]), /^gatehouse: 3\.5 s is beyond the end of .*session\.ghrec \(duration 3\.0 s\)$/);
    fails(await cli([file, '--png-at', '1']), /^gatehouse: --png-at needs --out FILE/);
    fails(await cli([file, '--mp4', join(dir, 'x.mp4'), '--png-at', '1', '--out', join(dir, 'x.png')]), /^gatehouse: give either --mp4 FILE or --png-at SECONDS --out FILE$/);
    fails(await cli([file]), /^gatehouse: give either/);
    fails(await cli([file, '--mp4', join(dir, 'x.mp4'), '--fps', 'fast']), /^gatehouse: --fps must be a number/);
    fails(await cli([file, '--mp4', join(dir, 'x.mp4')], { ...env(), PATH: join(dir, 'empty-bin') }), /^gatehouse: ffmpeg is not installed \(or not on PATH\)/);
    assert.ok(!existsSync(join(dir, 'x.mp4')));

    const junk = join(dir, 'junk.ghrec');
    writeFileSync(junk, 'this is not a recording at all');
    fails(await cli([junk, '--png-at', '0', '--out', join(dir, 'x.png')]), /^gatehouse: .*junk\.ghrec: not a Gatehouse recording/);
    const cast = join(dir, 'ssh.cast');
    writeFileSync(cast, '{"version": 2, "width": 80, "height": 24, "timestamp": 1700000000}\n[0.1, "o", "$ "]\n');
    fails(await cli([cast, '--mp4', join(dir, 'x.mp4')]), /^gatehouse: .*ssh\.cast is a terminal session recording \(asciicast\): play it with `asciinema play .*ssh\.cast`/);
    const cut = join(dir, 'cut.ghrec');
    writeFileSync(cut, syntheticRecording().subarray(0, 10));
    fails(await cli([cut, '--png-at', '0', '--out', join(dir, 'x.png')]), /^gatehouse: .*cut\.ghrec: recording is cut off inside its header$/);
    fails(await cli([join(dir, 'nope.ghrec'), '--mp4', join(dir, 'x.mp4')]), /^gatehouse: no such file: .*nope\.ghrec$/);
    fails(await cli(['some-session-id', '--mp4', join(dir, 'x.mp4')]), /^gatehouse: not logged in/);
  });
});

describe('gatehouse recording export <session id> against a real gateway', () => {
  let sshd: Sshd;
  let gw: Gateway;
  let dir: string;
  let sshSession: string;
  let rdpSession: string;
  const env = () => cleanEnv({ GATEHOUSE_CLI_STATE: join(dir, 'state.json') });
  const cli = (args: string[]) => runCli(args, { env: env(), input: args[0] === 'login' ? ADMIN_PASSWORD : undefined, timeoutMs: 90_000 });

  before(async () => {
    ensureBuilt();
    ensureTargetAccount();
    dir = tempDir('gatehouse-export-api-');
    [sshd, gw] = await Promise.all([startSshd(), startGateway('sqlite')]);
    const secret = await createSecret(gw, 'export-target', { port: sshd.port, password: TARGET_PASSWORD });
    const ended: string[] = [];
    for (let i = 0; i < 2; i++) {
      const { ticket, knownHosts } = await launch(gw, secret);
      const known = join(dir, `known_hosts_${i}`);
      writeFileSync(known, knownHosts.join('\n') + '\n');
      const r = await run('ssh', ['-F', '/dev/null', '-p', String(gw.sshPort), '-o', `UserKnownHostsFile=${known}`, '-o', 'StrictHostKeyChecking=yes', '-o', 'BatchMode=yes', `${ticket}@127.0.0.1`, 'echo exported']);
      assert.equal(r.code, 0, r.stderr);
      const s = await eventually(async () => {
        const r = await gw.api('GET', `/api/v1/sessions?secretId=${secret}&limit=10`, { token: gw.adminToken });
        return r.body.items.find((x: { id: string }) => !ended.includes(x.id));
      }, 10_000, 'the new session');
      ended.push((await endedSession(gw, s.id)).id);
    }
    [sshSession, rdpSession] = ended as [string, string];
    // The second session stands in for a recorded RDP session: its recording becomes the
    // synthetic .ghrec (the route picks the format from the file name), as the RDP recorder would leave it.
    const row = await gw.running.core.store.db.selectFrom('sessions').select('recording').where('id', '=', rdpSession).executeTakeFirstOrThrow();
    const rel = join(dirname(row.recording!), `${rdpSession}.ghrec`);
    const cast = join(gw.dataDir, 'recordings', row.recording!);
    assert.ok(existsSync(cast), `recording at ${cast}`);
    writeFileSync(join(gw.dataDir, 'recordings', rel), syntheticRecording());
    writeFileSync(join(dir, 'ssh.cast'), readRecording(cast));
    await gw.running.core.store.db.updateTable('sessions').set({ recording: rel }).where('id', '=', rdpSession).execute();
    ok(await cli(['login', '--url', gw.running.url, '-u', 'admin', '--password-stdin']), 'login');
  });
  after(async () => {
    await gw?.close();
    await sshd?.stop();
  });

  it('an SSH session is refused with a pointer to `recording get` and asciinema', T, async () => {
    fails(await cli(['recording', 'export', sshSession, '--mp4', join(dir, 'x.mp4')]), new RegExp(`^gatehouse: session ${sshSession} is a terminal \\(SSH/Telnet\\) session: download its recording with \`gatehouse recording get ${sshSession}\` and play it with \`asciinema play\`$`));
    assert.ok(!existsSync(join(dir, 'x.mp4')));
  });

  it('an RDP session recording is downloaded and rendered', T, async () => {
    const png = join(dir, 'rdp.png');
    const r = await cli(['recording', 'export', rdpSession, '--png-at', '2.8', '--out', png]);
    ok(r, 'export by session id');
    const img = decodePng(readFileSync(png));
    assert.deepEqual([img.width, img.height], [63, 41]);
    assert.deepEqual(at(img, 15, 15), RED);
    assert.deepEqual(at(img, 44, 8), GREEN);
    fails(await cli(['recording', 'export', rdpSession, '--png-at', '9', '--out', png]), /^gatehouse: 9 s is beyond the end of the recording of session .* \(duration 3\.0 s\)$/);
  });

  it('an unknown session id says what the server said', T, async () => {
    fails(await cli(['recording', 'export', 'no-such-session', '--mp4', join(dir, 'x.mp4')]), /^gatehouse: cannot download the recording of session no-such-session: .*not found/i);
  });
});
