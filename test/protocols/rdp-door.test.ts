// The RDP door end to end with real processes: xfreerdp under Xvfb opens the .rdp file a
// launch hands out, goes through a recording TCP proxy to Gatehouse's RDP door, and lands
// on xrdp (TLS target, credential in the Client Info PDU) or FreeRDP's shadow server (NLA
// target, credential through CredSSP) logged on as the vaulted account. No byte of the
// password may pass on the client leg: neither in the raw TCP stream (before TLS and the
// ciphertext after) nor in the decrypted stream the door relays. Sessions are recorded
// (ghrec-rdp: the target's bitmap updates after capability restriction, the person's input,
// the keystrokes typed with xdotool), and the recording replays to the desktop the client
// showed. Idle timeout and maximum duration end RDP sessions as they end SSH ones. A client
// on an 8K display gets a desktop no larger than recordings keep.
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { connect } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { readGhrec, type GhrecRecord } from '../../src/core/sessions/ghrec.js';
import { buildPreconnectionPdu } from '../../src/protocols/rdp/pdu/preconnection.js';
import { MAX_SCREEN_PIXELS, openRdpRecording, renderAt, type RdpScreen } from '../../src/protocols/rdp/recording/decoder/index.js';
import { decodeDesktop, decodeInputEvents, INPUT_KIND, RDPREC } from '../../src/protocols/rdp/recording/records.js';
import { ensureTargetAccount } from '../support/accounts.js';
import { decodePng, ensureBuilt } from '../support/export.js';
import { cleanEnv, runCli } from '../cli/support.js';
import { startGateway, type Gateway } from '../support/gateway.js';
import { wireLeaks } from '../support/scan.js';
import { startTap, type Tap } from '../support/tap.js';
import { runXfreerdp, SHADOW_DESKTOP_RGB, startShadowServer, startXrdp, startXvfb, waitFor, XRDP_DESKTOP_RGB, type Screenshot, type ShadowServer, type XDisplay, type XfreerdpRun, type Xrdp } from '../support/xrdp.js';

/** Every byte the tap in front of the door saw, both directions of every connection. */
const tapBytes = (tap: Tap): Buffer => Buffer.concat(tap.all().map((b) => b.data));

/** No wire form of the password (UTF-8, Latin-1, UTF-16LE, base64 of either at any alignment). */
function assertNoSecret(label: string, bytes: Buffer, secret: string): void {
  assert.deepEqual(wireLeaks([{ name: label, data: bytes }], { password: secret }), [], `${label}: the password passed on the client leg`);
}

/** Share of the client display's pixels close to the remote desktop's colour (codecs may be lossy). */
function shareOf(display: XDisplay, rgb: number): number {
  const near = (c: number) => [16, 8, 0].every((s) => Math.abs(((c >> s) & 0xff) - ((rgb >> s) & 0xff)) <= 8);
  return display
    .screenshot()
    .histogram(4)
    .filter(([c]) => near(c))
    .reduce((sum, [, n]) => sum + n, 0);
}

/** xdotool on a display (the person's keyboard and mouse on the client's Xvfb). */
function xdo(display: XDisplay, ...args: string[]): string {
  return execFileSync('xdotool', args, { env: { ...process.env, DISPLAY: display.display }, encoding: 'utf8' });
}

/** Types a line into the xfreerdp window: pointer into the window, focus, keys, Enter. */
function typeLine(display: XDisplay, text: string): void {
  xdo(display, 'mousemove', '300', '420', 'click', '1');
  try {
    const win = xdo(display, 'search', '--class', 'xfreerdp').trim().split('\n').pop();
    if (win) xdo(display, 'windowfocus', '--sync', win);
  } catch {
    /* no window manager: the pointer's window has the focus anyway */
  }
  xdo(display, 'type', '--delay', '40', text);
  xdo(display, 'key', 'Return');
}

const RECORDED_UPDATES = /^(bitmap|palette|synchronize|pointer-[a-z]+)$/;

/** What the recorder and the decoder make of a recording. */
function recordingFacts(bytes: Buffer) {
  const g = readGhrec(bytes);
  const of = (t: number) => g.records.filter((r: GhrecRecord) => r.type === t);
  const inputs = of(RDPREC.INPUT).flatMap((r) => decodeInputEvents(r.payload));
  return {
    header: g.header,
    truncated: g.truncated,
    desktops: of(RDPREC.DESKTOP).map((r) => decodeDesktop(r.payload)!),
    graphics: of(RDPREC.FASTPATH_OUTPUT).length + of(RDPREC.SLOWPATH_OUTPUT).length,
    inputs,
    inputRecords: of(RDPREC.INPUT).length,
    keys: of(RDPREC.KEYS).map((r) => Buffer.from(r.payload).toString('utf8')).join(''),
    end: g.records.reduce((m, r) => Math.max(m, r.time), 0) / 1000,
  };
}

/** The decoded screen's most frequent colour and its share. */
function dominantColour(screen: RdpScreen): [number, number] {
  const counts = new Map<number, number>();
  const px = screen.rgba;
  for (let i = 0; i < px.length; i += 4) {
    const c = (px[i]! << 16) | (px[i + 1]! << 8) | px[i + 2]!;
    counts.set(c, (counts.get(c) ?? 0) + 1);
  }
  const [c, n] = [...counts].sort((a, b) => b[1] - a[1])[0]!;
  return [c, n / (screen.width * screen.height)];
}

/** Share of the decoded desktop's pixels equal (within 8 per channel) to the client's screenshot, window at the origin. */
function agreement(screen: RdpScreen, shot: Screenshot): number {
  let same = 0;
  let total = 0;
  for (let y = 0; y < Math.min(screen.height, shot.height); y += 3) {
    for (let x = 0; x < Math.min(screen.width, shot.width); x += 3) {
      const i = (y * screen.width + x) * 4;
      const c = shot.pixel(x, y);
      const near = Math.abs(screen.rgba[i]! - ((c >> 16) & 0xff)) <= 8 && Math.abs(screen.rgba[i + 1]! - ((c >> 8) & 0xff)) <= 8 && Math.abs(screen.rgba[i + 2]! - (c & 0xff)) <= 8;
      if (near) same++;
      total++;
    }
  }
  return same / total;
}

/** Share of pixels (RGBA or RGB, `step` bytes each) within `tolerance` of a colour per channel. */
function shareNear(px: Buffer, step: number, rgb: number, tolerance: number): number {
  let n = 0;
  for (let i = 0; i + 2 < px.length; i += step) {
    if (Math.abs(px[i]! - ((rgb >> 16) & 0xff)) <= tolerance && Math.abs(px[i + 1]! - ((rgb >> 8) & 0xff)) <= tolerance && Math.abs(px[i + 2]! - (rgb & 0xff)) <= tolerance) n++;
  }
  return n / Math.floor(px.length / step);
}

const isKeyboard = (kind: number) => kind === INPUT_KIND.SCANCODE || kind === INPUT_KIND.UNICODE;

describe('RDP door with xfreerdp, xrdp and the FreeRDP shadow server', { timeout: 300_000 }, () => {
  let gw: Gateway;
  let xrdp: Xrdp;
  let client: XDisplay;
  let proxy: Tap;
  let work: string;
  const account = ensureTargetAccount();
  const tapped: Buffer[] = [];
  let tappedOut = 0;

  before(async () => {
    work = mkdtempSync(join(tmpdir(), 'gatehouse-rdp-test-'));
    // The door's tap (given when the door starts) sees the decrypted client legs.
    gw = await startGateway('sqlite', {}, {
      rdpTap: (_id, direction, data) => {
        tapped.push(Buffer.from(data));
        if (direction === 'out') tappedOut += data.length;
      },
    });
    proxy = await startTap(gw.rdpPort);
    // Launches hand out the proxy's port: the file then routes the client through it.
    const p = await gw.api('PATCH', '/api/v1/launchers/rdp', { token: gw.adminToken, body: { gatewayPort: proxy.port } });
    assert.equal(p.status, 200, p.raw);
    // Session connector launchers exist only while the setting "Session Connector" is on.
    const on = await gw.api('PATCH', '/api/v1/settings', { token: gw.adminToken, body: { sessionConnector: true } });
    assert.equal(on.status, 200, on.raw);
    [xrdp, client] = await Promise.all([startXrdp(), startXvfb()]);
  });

  after(async () => {
    await proxy?.close();
    await client?.stop();
    await xrdp?.stop();
    await gw?.close();
    if (work) rmSync(work, { recursive: true, force: true });
  });

  const secret = async (name: string, port: number, username: string, password: string) => {
    const r = await gw.api('POST', '/api/v1/secrets', { token: gw.adminToken, body: { name, template: 'windows-account', fields: { machine: '127.0.0.1', port, username, password } } });
    assert.equal(r.status, 201, r.raw);
    return r.body.id as string;
  };
  const launch = async (secretId: string) => {
    const l = await gw.api('POST', `/api/v1/secrets/${secretId}/launch`, { token: gw.adminToken, body: { launcher: 'rdp' } });
    assert.equal(l.status, 200, l.raw);
    const f = await gw.api('GET', l.body.rdpFile, { token: gw.adminToken });
    assert.equal(f.status, 200, f.raw);
    const file = join(work, `${l.body.ticket}.rdp`);
    writeFileSync(file, f.raw);
    return { ticket: l.body.ticket as string, rdpFile: l.body.rdpFile as string, text: f.raw, file };
  };
  const sessionsOf = async (secretId: string) => (await gw.api('GET', `/api/v1/sessions?secretId=${secretId}`, { token: gw.adminToken })).body.items as any[];
  const sessionById = async (id: string) => {
    const r = await gw.api('GET', `/api/v1/sessions/${id}`, { token: gw.adminToken });
    assert.equal(r.status, 200, r.raw);
    return r.body;
  };
  const endedSession = (id: string, timeoutMs = 15_000) =>
    waitFor(`session ${id} to end`, async () => {
      const s = await sessionById(id);
      return s.status === 'ended' ? s : false;
    }, timeoutMs);
  const download = async (id: string): Promise<Buffer> => {
    const r = await gw.running.app.inject({ method: 'GET', url: `/api/v1/recordings/${id}`, headers: { authorization: `Bearer ${gw.adminToken}` }, remoteAddress: '127.0.0.1' });
    assert.equal(r.statusCode, 200, r.body);
    return r.rawPayload;
  };
  const textOf = async (id: string) => (await gw.api('GET', `/api/v1/recordings/${id}/text`, { token: gw.adminToken })).body.items as { kind: string; text: string }[];
  const noteOf = async (id: string, kind: string) => {
    const line = (await textOf(id)).find((i) => i.kind === 'event' && i.text.startsWith(`${kind} `));
    return line ? JSON.parse(line.text.slice(kind.length + 1)) : undefined;
  };
  const auditEvents = async (action: string) => (await gw.api('GET', `/api/v1/audit?action=${action}&limit=500`, { token: gw.adminToken })).body.items as any[];
  const active = (xf: XfreerdpRun) =>
    waitFor('the client to become active', () => /CONNECTION_STATE_ACTIVE/.test(xf.output()) || (xf.proc.exitCode !== null ? Promise.reject(new Error(`xfreerdp exited ${xf.proc.exitCode}:\n${xf.output().slice(-3000)}\n${gw.logs().slice(-3000)}`)) : false), 60_000);
  /** A session-connector launcher for RDP (through the proxy), mapped to the windows-account template. */
  const rdpLauncher = async (name: string, settings: Record<string, unknown>) => {
    const l = await gw.api('POST', '/api/v1/launchers', { token: gw.adminToken, body: { name, type: 'session-connector', childType: 'rdp', gatewayHost: '127.0.0.1', gatewayPort: proxy.port, ...settings } });
    assert.equal(l.status, 201, l.raw);
    const t = await gw.api('GET', '/api/v1/templates/windows-account', { token: gw.adminToken });
    const p = await gw.api('PATCH', '/api/v1/templates/windows-account', { token: gw.adminToken, body: { launchers: [...t.body.launchers, l.body.id] } });
    assert.equal(p.status, 200, p.raw);
    return l.body.id as string;
  };
  const launchWith = async (secretId: string, launcher: string) => {
    const l = await gw.api('POST', `/api/v1/secrets/${secretId}/launch`, { token: gw.adminToken, body: { launcher } });
    assert.equal(l.status, 200, l.raw);
    const f = await gw.api('GET', l.body.rdpFile, { token: gw.adminToken });
    const file = join(work, `${l.body.ticket}.rdp`);
    writeFileSync(file, f.raw);
    return file;
  };

  let xrdpSecret: string;
  let firstFile = '';

  it('launch hands out a same-origin .rdp file URL; the file carries the ticket and the door address, for its owner only', async () => {
    xrdpSecret = await secret('xrdp-box', xrdp.port, account.username, account.password);
    const l = await gw.api('POST', `/api/v1/secrets/${xrdpSecret}/launch`, { token: gw.adminToken, body: { launcher: 'rdp' } });
    assert.equal(l.status, 200, l.raw);
    assert.match(l.body.ticket, /^[A-Za-z0-9_-]{32}$/);
    assert.equal(l.body.launcher.protocol, 'rdp');
    assert.equal(l.body.rdpFile, `/api/v1/launch/rdp-file?ticket=${l.body.ticket}`);
    assert.ok(!l.raw.includes(account.password));

    const r = await gw.running.app.inject({ method: 'GET', url: l.body.rdpFile, headers: { authorization: `Bearer ${gw.adminToken}` }, remoteAddress: '127.0.0.1' });
    assert.equal(r.statusCode, 200, r.body);
    assert.equal(r.headers['content-type'], 'application/x-rdp');
    assert.match(String(r.headers['content-disposition']), /^attachment; filename="xrdp-box\.rdp"$/);
    const lines = r.body.split('\r\n');
    for (const want of [
      `full address:s:127.0.0.1:${proxy.port}`,
      `loadbalanceinfo:s:${l.body.ticket}`,
      'disableconnectionsharing:i:1',
      'enablecredsspsupport:i:0',
      'authentication level:i:0',
      'prompt for credentials:i:0',
    ]) assert.ok(lines.includes(want), `${want} in\n${r.body}`);
    assert.ok(!r.body.includes(account.password));

    // Someone else cannot fetch it, and a made-up ticket is unknown.
    const bob = await gw.api('POST', '/api/v1/users', { token: gw.adminToken, body: { username: 'rdp-bob', password: 'Bob-Password-4-rdp!', roles: ['User'] } });
    assert.equal(bob.status, 201, bob.raw);
    const bobToken = await gw.userToken('rdp-bob', 'Bob-Password-4-rdp!');
    assert.equal((await gw.api('GET', l.body.rdpFile, { token: bobToken })).status, 404);
    assert.equal((await gw.api('GET', '/api/v1/launch/rdp-file?ticket=' + 'A'.repeat(32), { token: gw.adminToken })).status, 404);
    // An SSH ticket has no .rdp file.
    const unix = await gw.api('POST', '/api/v1/secrets', { token: gw.adminToken, body: { name: 'unix-box', template: 'unix-account', fields: { machine: '127.0.0.1', username: 'u', password: 'p' } } });
    const sshLaunch = await gw.api('POST', `/api/v1/secrets/${unix.body.id}/launch`, { token: gw.adminToken, body: { launcher: 'ssh' } });
    assert.equal(sshLaunch.body.rdpFile, undefined);
    const notRdp = await gw.api('GET', `/api/v1/launch/rdp-file?ticket=${sshLaunch.body.ticket}`, { token: gw.adminToken });
    assert.equal(notRdp.status, 400);
    assert.equal(notRdp.body.error.code, 'not_rdp');
    // The unix-account template maps rdp too (xrdp on Linux hosts).
    const unixRdp = await gw.api('POST', `/api/v1/secrets/${unix.body.id}/launch`, { token: gw.adminToken, body: { launcher: 'rdp' } });
    assert.equal(unixRdp.status, 200, unixRdp.raw);
    assert.ok(unixRdp.body.rdpFile);
  });

  it('xfreerdp opening the file gets an xrdp desktop logged on as the vaulted account; no password byte on the client leg', async () => {
    const { file } = await launch(xrdpSecret);
    firstFile = file;
    const xf = runXfreerdp(file, client);
    try {
      await waitFor('xrdp login as the vaulted account', () => /login successful for user ghtarget/.test(xrdp.xrdpLog()) || (xf.proc.exitCode !== null ? Promise.reject(new Error(`xfreerdp exited ${xf.proc.exitCode}:\n${xf.output().slice(-3000)}\n${gw.logs().slice(-3000)}`)) : false), 60_000);
      await waitFor('sesman session for ghtarget', () => /Session started successfully for user ghtarget/.test(xrdp.sesmanLog()), 30_000);
      assert.match(xf.output(), /CONNECTION_STATE_ACTIVE/);
      // The remote desktop shows in the client's window.
      const share = await waitFor('the xrdp desktop colour on the client display', () => {
        const s = shareOf(client, XRDP_DESKTOP_RGB);
        return s > 0.2 ? s : false;
      }, 30_000, 500);
      assert.ok(share > 0.2, `desktop colour covers ${share}`);
      const live = (await sessionsOf(xrdpSecret)).filter((s) => s.status === 'live');
      assert.equal(live.length, 1);
      assert.equal(live[0].protocol, 'rdp');
      assert.equal(live[0].door, 'rdp');
      assert.equal(live[0].target.username, 'ghtarget');
      assert.match(gw.logs(), /rdp session connected/);
      // The client sent its own user name (not the vaulted one) and the gateway swapped it.
      assert.match(xf.output(), /Client Info Packet Flags/);
    } finally {
      await xf.stop();
    }
    await waitFor('the session to end', async () => (await sessionsOf(xrdpSecret)).every((s) => s.status === 'ended'), 15_000);
    const raw = tapBytes(proxy);
    assert.ok(raw.length > 10_000, `proxy saw ${raw.length} bytes`);
    assert.ok(tappedOut > 10_000, `the door relayed ${tappedOut} decrypted bytes to the client`);
    assertNoSecret('raw client leg (TCP)', raw, account.password);
    assertNoSecret('decrypted client leg', Buffer.concat(tapped), account.password);
    assertNoSecret('gateway log', Buffer.from(gw.logs()), account.password);
    const text = await gw.api('GET', `/api/v1/recordings/${(await sessionsOf(xrdpSecret))[0].id}/text`, { token: gw.adminToken });
    assert.equal(text.status, 200, text.raw);
    assert.ok(text.raw.includes('rdp_logon_injected'), text.raw);
    assert.ok(!text.raw.includes(account.password));
  });

  it('the session is recorded (ghrec-rdp): bitmap updates only, input, the typed text; sealed, searchable, no credential; it replays to the client\'s screen', async () => {
    const { file } = await launch(xrdpSecret);
    const xf = runXfreerdp(file, client);
    let id = '';
    let shot: Screenshot;
    try {
      await active(xf);
      await waitFor('the desktop on the client display', () => shareOf(client, XRDP_DESKTOP_RGB) > 0.2, 30_000, 500);
      id = (await waitFor('a live session', async () => (await sessionsOf(xrdpSecret)).find((s) => s.status === 'live'), 10_000)).id;
      typeLine(client, 'echo rdp-typed-4242');
      await waitFor('the typed line in the session index', async () => (await textOf(id)).some((i) => i.kind === 'command' && i.text === 'echo rdp-typed-4242'), 15_000, 300);
      shot = client.screenshot();
    } finally {
      await xf.stop();
    }
    const s = await endedSession(id);
    assert.equal(s.recording.available, true);
    assert.equal(s.recording.format, 'ghrec-rdp');
    assert.equal(s.recording.keystrokes, true);
    const bytes = await download(id);
    const sha = createHash('sha256').update(bytes).digest('hex');
    assert.equal(s.recording.sha256, sha);
    const seal = (await auditEvents('recording.seal')).find((e) => e.targetId === id);
    assert.ok(seal, 'recording.seal audited');
    assert.equal(seal.details.format, 'ghrec-rdp');
    assert.equal(seal.details.sha256, sha);

    const r = recordingFacts(bytes);
    assert.equal(r.truncated, false);
    assert.equal(r.header.format, 'rdp');
    assert.equal(r.header.sessionId, id);
    assert.deepEqual([r.header.width, r.header.height, r.header.keyboardLayout, r.header.keystrokes], [1024, 768, 0x409, true]);
    assert.ok(r.desktops.length >= 1, 'a DESKTOP record');
    assert.deepEqual([r.desktops[0]!.width, r.desktops[0]!.height], [1024, 768]);
    assert.ok(r.graphics > 0, 'graphics records');
    assert.ok(r.inputRecords > 0 && r.inputs.some((e) => e.kind === INPUT_KIND.MOUSE), 'mouse input');
    assert.ok(r.inputs.filter((e) => e.kind === INPUT_KIND.SCANCODE).length >= 2 * 'echo rdp-typed-4242'.length, 'key presses and releases');
    assert.match(r.keys, /echo rdp-typed-4242\n/);
    assertNoSecret('recording file', bytes, account.password);
    assertNoSecret('session text index (API)', Buffer.from(JSON.stringify(await textOf(id))), account.password);
    assertNoSecret('session view (API)', Buffer.from(JSON.stringify(s)), account.password);

    // The target was held to what the decoder replays.
    const restricted = await noteOf(id, 'rdp_capabilities_restricted');
    for (const what of ['drawing orders', 'bitmap codecs', 'surface commands']) assert.ok(restricted?.removed.includes(what), JSON.stringify(restricted));
    const summary = await noteOf(id, 'rdp_recording_summary');
    assert.ok(summary?.updates.bitmap > 0, JSON.stringify(summary));
    for (const kind of Object.keys(summary.updates)) assert.match(kind, RECORDED_UPDATES);
    assert.equal(await noteOf(id, 'rdp_recorder_warning'), undefined);

    const found = await gw.api('GET', '/api/v1/recordings?q=rdp-typed-4242', { token: gw.adminToken });
    assert.equal(found.status, 200, found.raw);
    assert.ok(found.body.items.some((i: any) => i.id === id), found.raw);

    // Replayed to its end: the xrdp desktop, as the client showed it.
    const screen = renderAt(new Uint8Array(bytes), r.end + 1);
    assert.deepEqual(screen.warnings.size, 0, JSON.stringify([...screen.warnings]));
    const [colour, share] = dominantColour(screen);
    assert.equal(colour.toString(16), XRDP_DESKTOP_RGB.toString(16));
    assert.ok(share > 0.5, `desktop colour covers ${share}`);
    const same = agreement(screen, shot!);
    assert.ok(same > 0.95, `${same} of the replayed pixels match the client's screen`);

    // The real CLI exports this recording: a still and a video that show the remote desktop.
    ensureBuilt();
    const rec = join(work, `${id}.ghrec`);
    writeFileSync(rec, bytes);
    const png = join(work, 'end.png');
    const still = await runCli(['recording', 'export', rec, '--png-at', String(Math.floor(r.end)), '--out', png], { env: cleanEnv(), timeoutMs: 120_000 });
    assert.equal(still.code, 0, still.stderr);
    const img = decodePng(readFileSync(png));
    assert.deepEqual([img.width, img.height], [1024, 768]);
    assert.ok(shareNear(img.rgba, 4, XRDP_DESKTOP_RGB, 0) > 0.5, 'the PNG shows the xrdp desktop');
    const mp4 = join(work, 'session.mp4');
    const video = await runCli(['recording', 'export', rec, '--mp4', mp4, '--fps', '5'], { env: cleanEnv(), timeoutMs: 180_000 });
    assert.equal(video.code, 0, video.stderr);
    const probe = JSON.parse(execFileSync('ffprobe', ['-v', 'error', '-print_format', 'json', '-show_streams', mp4], { encoding: 'utf8' }));
    assert.deepEqual([probe.streams[0].codec_name, probe.streams[0].width, probe.streams[0].height], ['h264', 1024, 768]);
    // The last frame, decoded back by ffmpeg (H.264 is lossy: colours within a small distance).
    const last = execFileSync('ffmpeg', ['-v', 'error', '-sseof', '-0.5', '-i', mp4, '-frames:v', '1', '-f', 'rawvideo', '-pix_fmt', 'rgb24', '-'], { maxBuffer: 64 << 20 });
    assert.ok(shareNear(last, 3, XRDP_DESKTOP_RGB, 12) > 0.5, 'the video ends on the xrdp desktop');
  });

  it('a reused ticket is refused: the client is just disconnected, the log says TicketRefused: used', async () => {
    assert.ok(firstFile, 'needs the file of the previous test');
    const before = (await sessionsOf(xrdpSecret)).length;
    const xf = runXfreerdp(firstFile, client);
    try {
      const code = await within(xf.exited, 30_000);
      assert.notEqual(code, 'timeout', 'xfreerdp should give up');
      assert.notEqual(code, 0);
    } finally {
      await xf.stop();
    }
    assert.match(gw.logs(), /TicketRefused: used/);
    assert.equal((await sessionsOf(xrdpSecret)).length, before, 'no session for a refused ticket');
  });

  it('terminate disconnects the client at once (an administrative disconnect, no auto-reconnect) and ends the session', async () => {
    const { file } = await launch(xrdpSecret);
    const xf = runXfreerdp(file, client);
    try {
      await waitFor('the client to become active', () => /CONNECTION_STATE_ACTIVE/.test(xf.output()) || (xf.proc.exitCode !== null ? Promise.reject(new Error(`xfreerdp exited:\n${xf.output().slice(-2000)}`)) : false), 60_000);
      const live = await waitFor('a live session', async () => (await sessionsOf(xrdpSecret)).find((s) => s.status === 'live'), 10_000);
      // Let the desktop come up first: the Demand Active gives the gateway the share id its own PDUs need.
      await waitFor('the desktop on the client display', () => shareOf(client, XRDP_DESKTOP_RGB) > 0.2, 30_000, 500);
      const t = await gw.api('POST', `/api/v1/sessions/${live.id}/terminate`, { token: gw.adminToken, body: { reason: 'rdp test' } });
      assert.equal(t.status, 200, t.raw);
      const code = await within(xf.exited, 15_000);
      assert.notEqual(code, 'timeout', `xfreerdp still running after terminate:\n${xf.output().slice(-2000)}`);
      assert.match(xf.output(), /ERRINFO_RPC_INITIATED_DISCONNECT/);
      const ended = await waitFor('the session to end', async () => {
        const s = (await sessionsOf(xrdpSecret)).find((x) => x.id === live.id);
        return s?.status === 'ended' ? s : false;
      }, 15_000);
      assert.match(ended.endReason, /^terminated by admin: rdp test$/);
    } finally {
      await xf.stop();
    }
  });

  it('a client asking for a desktop larger than recordings keep gets a smaller one of the same shape, recorded and replayed whole', async () => {
    const { file } = await launch(xrdpSecret);
    // A full-screen client on an 8K display (xfreerdp asks for no more than its display holds).
    const display = await startXvfb('7680x4320');
    const xf = runXfreerdp(file, display);
    try {
      await active(xf);
      const live = await waitFor('a live session', async () => (await sessionsOf(xrdpSecret)).find((s) => s.status === 'live'), 10_000);
      const limited = await waitFor('the limit in the session notes', () => noteOf(live.id, 'rdp_desktop_limited'), 30_000, 300);
      assert.equal(limited.asked, '7680x4320');
      const [w, h] = (limited.negotiated as string).split('x').map(Number);
      assert.ok(w! * h! <= MAX_SCREEN_PIXELS && Math.abs(w! / h! - 16 / 9) < 0.01, `negotiated ${limited.negotiated}`);
      const t = await gw.api('POST', `/api/v1/sessions/${live.id}/terminate`, { token: gw.adminToken, body: { reason: 'rdp size test' } });
      assert.equal(t.status, 200, t.raw);
      await within(xf.exited, 60_000);
      await endedSession(live.id);
      const bytes = await download(live.id);
      const r = recordingFacts(bytes);
      assert.deepEqual([r.header.width, r.header.height], [w, h], 'the header has the negotiated size');
      assert.ok(r.desktops.length > 0, 'the target activated a desktop');
      for (const d of r.desktops) assert.ok(d.width * d.height <= MAX_SCREEN_PIXELS, `the target activated ${d.width}x${d.height}`);
      const rec = openRdpRecording(bytes);
      assert.deepEqual([rec.width, rec.height], [r.desktops[0]!.width, r.desktops[0]!.height], 'replayed at the size the target activated, not cut');
    } finally {
      await xf.stop();
      await display.stop();
    }
  });

  it('idle timeout: only the person\'s input keeps an RDP session open; then the client is disconnected and the end reason says why', async () => {
    const launcher = await rdpLauncher('RDP idle 3s', { idleTimeoutSeconds: 3 });
    const xf = runXfreerdp(await launchWith(xrdpSecret, launcher), client);
    try {
      await active(xf);
      const id = (await waitFor('a live session', async () => (await sessionsOf(xrdpSecret)).find((s) => s.status === 'live'), 10_000)).id;
      // Moving the mouse for longer than the timeout keeps it open …
      let lastInput = 0;
      for (let i = 0; i < 6; i++) {
        lastInput = Date.now();
        xdo(client, 'mousemove', String(100 + 40 * i), String(200 + 20 * i));
        await new Promise((r) => setTimeout(r, 1000));
      }
      assert.equal((await sessionById(id)).status, 'live', 'input resets the idle clock');
      // … and nothing the client or the target send on their own does.
      const code = await within(xf.exited, 60_000);
      assert.notEqual(code, 'timeout', `xfreerdp still running:\n${xf.output().slice(-2000)}`);
      // A lower bound only (a loaded machine makes it later, never earlier): the clock ran the
      // full 3 s from the last input the person made.
      assert.ok(Date.now() - lastInput >= 2900, 'ended by the idle clock, not before 3 s without input');
      assert.match(xf.output(), /ERRINFO_RPC_INITIATED_DISCONNECT/);
      const s = await endedSession(id);
      assert.equal(s.endReason, 'idle for 3 s');
    } finally {
      await xf.stop();
    }
  });

  it('maximum duration ends an RDP session on time; with keystrokes off the recording has no keyboard input', async () => {
    const launcher = await rdpLauncher('RDP max 5s', { maxDurationSeconds: 5, recordKeystrokes: false });
    const xf = runXfreerdp(await launchWith(xrdpSecret, launcher), client);
    try {
      await active(xf);
      const live = await waitFor('a live session', async () => (await sessionsOf(xrdpSecret)).find((s) => s.status === 'live'), 10_000);
      typeLine(client, 'echo not-recorded-77');
      const code = await within(xf.exited, 15_000);
      assert.notEqual(code, 'timeout', `xfreerdp still running:\n${xf.output().slice(-2000)}`);
      assert.match(xf.output(), /ERRINFO_RPC_INITIATED_DISCONNECT/);
      const s = await endedSession(live.id);
      assert.equal(s.endReason, 'maximum session duration (5 s) reached');
      const seconds = (Date.parse(s.endedAt) - Date.parse(s.startedAt)) / 1000;
      assert.ok(seconds >= 4.5, `lasted ${seconds} s, not the full 5`);
      assert.equal(s.recording.keystrokes, false);
      const r = recordingFacts(await download(live.id));
      assert.equal(r.header.keystrokes, false);
      assert.ok(r.inputs.length > 0, 'mouse input is recorded');
      assert.ok(!r.inputs.some((e) => isKeyboard(e.kind)), 'no keyboard events');
      assert.equal(r.keys, '');
      assert.ok(!(await textOf(live.id)).some((i) => i.kind === 'command'), 'no typed lines in the index');
    } finally {
      await xf.stop();
    }
  });

  it('an expired ticket is refused with the reason in the log', async () => {
    assert.equal((await gw.api('PATCH', '/api/v1/settings', { token: gw.adminToken, body: { sessionTimeout: 1 } })).status, 200);
    const { ticket } = await launch(xrdpSecret);
    assert.equal((await gw.api('PATCH', '/api/v1/settings', { token: gw.adminToken, body: { sessionTimeout: 900 } })).status, 200);
    await new Promise((r) => setTimeout(r, 1500));
    await assert.rejects(rawHandshake(gw.rdpPort, x224Request(ticket, 0x1)), /closed after 0 bytes/);
    await waitFor('TicketRefused: expired', () => /TicketRefused: expired/.test(gw.logs()), 30_000);
  });

  it('the ticket also works as an MS-RDPEPS preconnection blob; a client without TLS is refused before the ticket is spent', async () => {
    const { ticket } = await launch(xrdpSecret);
    // Standard RDP Security only: refused with SSL_REQUIRED_BY_SERVER, the ticket stays unused.
    const noTls = await rawHandshake(gw.rdpPort, Buffer.concat([x224Request(ticket, 0x0)]));
    assert.equal(noTls.readUInt8(11), 0x03, 'RDP_NEG_FAILURE');
    assert.equal(noTls.readUInt32LE(15), 1, 'SSL_REQUIRED_BY_SERVER');
    // Preconnection PDU v2 with the ticket, then a request without a routing token.
    const cc = await rawHandshake(gw.rdpPort, Buffer.concat([buildPreconnectionPdu({ pcb: ticket }), x224Request(undefined, 0x1)]));
    assert.equal(cc.readUInt8(11), 0x02, 'RDP_NEG_RSP');
    assert.equal(cc.readUInt32LE(15), 1, 'TLS selected');
    await waitFor('the preconnection session to end', async () => {
      const all = await sessionsOf(xrdpSecret);
      return all.length >= 2 && all.every((s) => s.status === 'ended');
    }, 20_000);
    // A connection without any ticket is refused with the fixed word in the log.
    await rawHandshake(gw.rdpPort, x224Request(undefined, 0x1)).catch(() => Buffer.alloc(0));
    await waitFor('TicketRefused: missing', () => /TicketRefused: missing/.test(gw.logs()), 30_000);
  });

  describe('NLA target (FreeRDP shadow server)', () => {
    let shadow: ShadowServer;
    const shadowAccount = { username: 'ghshadow', password: 'Sh4dow-Vault-Pw!7q' };
    before(async () => {
      shadow = await startShadowServer(shadowAccount);
    });
    after(async () => shadow?.stop());

    it('the gateway completes NLA with the vaulted credential and the client gets the desktop', async () => {
      const id = await secret('shadow-box', shadow.port, shadowAccount.username, shadowAccount.password);
      const { file } = await launch(id);
      tapped.length = 0;
      const xf = runXfreerdp(file, client);
      let shot: Screenshot;
      try {
        await active(xf);
        assert.match(gw.logs(), /"nla":true,("reqId":"[^"]+",)?"msg":"rdp session connected"/);
        const share = await waitFor('the shadowed desktop on the client display', () => {
          const s = shareOf(client, SHADOW_DESKTOP_RGB);
          return s > 0.2 ? s : false;
        }, 30_000, 500);
        assert.ok(share > 0.2);
        xdo(client, 'mousemove', '120', '130');
        await new Promise((r) => setTimeout(r, 300));
        shot = client.screenshot();
      } finally {
        await xf.stop();
      }
      await waitFor('the session to end', async () => (await sessionsOf(id)).every((s) => s.status === 'ended'), 15_000);
      const sessionId = (await sessionsOf(id))[0].id as string;
      const text = await gw.api('GET', `/api/v1/recordings/${sessionId}/text`, { token: gw.adminToken });
      assert.ok(text.raw.includes('rdp_target_nla'), text.raw);
      assertNoSecret('raw client leg (TCP)', tapBytes(proxy), shadowAccount.password);
      assertNoSecret('decrypted client leg', Buffer.concat(tapped), shadowAccount.password);

      // Recorded like the TLS target; without the restriction this server would send RemoteFX surface commands.
      const s = await sessionById(sessionId);
      assert.equal(s.recording.format, 'ghrec-rdp');
      const bytes = await download(sessionId);
      assert.equal(createHash('sha256').update(bytes).digest('hex'), s.recording.sha256);
      assertNoSecret('recording file', bytes, shadowAccount.password);
      const r = recordingFacts(bytes);
      assert.deepEqual([r.desktops[0]?.width, r.desktops[0]?.height], [800, 600]);
      assert.ok(r.graphics > 0 && r.inputRecords > 0);
      const summary = await noteOf(sessionId, 'rdp_recording_summary');
      assert.ok(summary?.updates.bitmap > 0, JSON.stringify(summary));
      for (const kind of Object.keys(summary.updates)) assert.match(kind, RECORDED_UPDATES);
      const screen = renderAt(new Uint8Array(bytes), r.end + 1);
      const [colour, cover] = dominantColour(screen);
      assert.equal(colour.toString(16), SHADOW_DESKTOP_RGB.toString(16));
      assert.ok(cover > 0.5, `desktop colour covers ${cover}`);
      const same = agreement(screen, shot!);
      assert.ok(same > 0.95, `${same} of the replayed pixels match the client's screen`);
    });

    it('a wrong vaulted password fails NLA: the client is disconnected and the reason is logged and recorded', async () => {
      const id = await secret('shadow-box-wrong', shadow.port, shadowAccount.username, 'Not-The-Password-1');
      const { file } = await launch(id);
      const xf = runXfreerdp(file, client);
      try {
        const code = await within(xf.exited, 45_000);
        assert.notEqual(code, 'timeout');
        assert.notEqual(code, 0);
      } finally {
        await xf.stop();
      }
      assert.match(gw.logs(), /rdp target connection failed/);
      const s = await waitFor('the session to end', async () => {
        const all = await sessionsOf(id);
        return all.length === 1 && all[0].status === 'ended' ? all[0] : false;
      }, 15_000);
      assert.equal(s.endReason, 'target refused the vaulted credential');
    });
  });
});

/** The promise's value, or 'timeout' after ms (the timer does not outlive the race). */
async function within<T>(p: Promise<T>, ms: number): Promise<T | 'timeout'> {
  let timer: NodeJS.Timeout | undefined;
  try {
    return await Promise.race([p, new Promise<'timeout'>((r) => (timer = setTimeout(() => r('timeout'), ms)))]);
  } finally {
    clearTimeout(timer);
  }
}

/** An X.224 Connection Request as xfreerdp writes it: routing token + CRLF, then RDP_NEG_REQ. */
function x224Request(token: string | undefined, protocols: number): Buffer {
  const variable = token ? Buffer.from(`${token}\r\n`, 'latin1') : Buffer.alloc(0);
  const neg = Buffer.from([0x01, 0x00, 0x08, 0x00, protocols, 0, 0, 0]);
  const li = 6 + variable.length + neg.length;
  const body = Buffer.concat([Buffer.from([li, 0xe0, 0, 0, 0, 0, 0]), variable, neg]);
  return Buffer.concat([Buffer.from([3, 0, (body.length + 4) >> 8, (body.length + 4) & 0xff]), body]);
}

/** Sends the first bytes and returns the door's Connection Confirm (19 bytes), then closes. */
function rawHandshake(port: number, first: Buffer): Promise<Buffer> {
  return new Promise((resolve, reject) => {
    const s = connect(port, '127.0.0.1');
    let got = Buffer.alloc(0);
    const t = setTimeout(() => {
      s.destroy();
      reject(new Error(`no Connection Confirm (got ${got.toString('hex')})`));
    }, 20_000);
    s.on('connect', () => s.write(first));
    s.on('data', (d: Buffer) => {
      got = Buffer.concat([got, d]);
      if (got.length >= 19) {
        clearTimeout(t);
        s.destroy();
        resolve(got.subarray(0, 19));
      }
    });
    s.on('close', () => {
      clearTimeout(t);
      if (got.length < 19) reject(new Error(`closed after ${got.length} bytes`));
    });
    s.on('error', () => undefined);
  });
}
