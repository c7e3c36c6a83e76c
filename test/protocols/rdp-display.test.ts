// Display settings chosen at launch, end to end with real processes: xfreerdp under Xvfb asks
// for its own 1600x900 desktop (the command line overrides the .rdp file), while the launch
// chose 1280x720, 144 DPI and a German keyboard. (Larger than the chosen size, not smaller:
// FreeRDP 2.11.7+dfsg1-6~deb12u2 (CVE-2026-23530) sizes its planar decoder by the size the
// client asked for and silently drops the connection on a wider bitmap, see docs/rdp.md.) The gateway writes the launch's choice into
// the Connect Initial: xrdp activates a 1280x720 desktop (its Demand Active, kept in the
// recording as DESKTOP records, is what the target drew), the recording header and the
// keystroke log use the German layout, and the session notes say what was chosen.
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { readGhrec } from '../../src/core/sessions/ghrec.js';
import { decodeDesktop, RDPREC } from '../../src/protocols/rdp/recording/records.js';
import { ensureTargetAccount } from '../support/accounts.js';
import { startGateway, type Gateway } from '../support/gateway.js';
import { runXfreerdp, startXrdp, startXvfb, waitFor, XRDP_DESKTOP_RGB, type XDisplay, type Xrdp } from '../support/xrdp.js';

async function within<T>(p: Promise<T>, ms: number): Promise<T | 'timeout'> {
  let timer: NodeJS.Timeout | undefined;
  try {
    return await Promise.race([p, new Promise<'timeout'>((r) => (timer = setTimeout(() => r('timeout'), ms)))]);
  } finally {
    clearTimeout(timer);
  }
}

describe('RDP display settings chosen at launch, through the door to xrdp', { timeout: 240_000 }, () => {
  let gw: Gateway;
  let xrdp: Xrdp;
  let client: XDisplay;
  let work: string;
  const account = ensureTargetAccount();

  before(async () => {
    work = mkdtempSync(join(tmpdir(), 'gatehouse-rdp-display-'));
    gw = await startGateway('sqlite');
    [xrdp, client] = await Promise.all([startXrdp(), startXvfb('1600x900')]);
  });

  after(async () => {
    await client?.stop();
    await xrdp?.stop();
    await gw?.close();
    if (work) rmSync(work, { recursive: true, force: true });
  });

  it('the target draws the chosen 1280x720 desktop; the recording and keystroke log use the chosen German layout', async () => {
    const s = await gw.api('POST', '/api/v1/secrets', { token: gw.adminToken, body: { name: 'xrdp-display', template: 'windows-account', fields: { machine: '127.0.0.1', port: xrdp.port, username: account.username, password: account.password } } });
    assert.equal(s.status, 201, s.raw);
    const l = await gw.api('POST', `/api/v1/secrets/${s.body.id}/launch`, { token: gw.adminToken, body: { launcher: 'rdp', width: 1280, height: 720, dpi: 144, keyboardLayout: 'de' } });
    assert.equal(l.status, 200, l.raw);
    const f = await gw.api('GET', l.body.rdpFile, { token: gw.adminToken });
    assert.equal(f.status, 200, f.raw);
    assert.match(f.raw, /desktopwidth:i:1280\r\ndesktopheight:i:720/);
    const file = join(work, 'display.rdp');
    writeFileSync(file, f.raw);
    // The client insists on its own size and US keyboard: what the target gets is the gateway's doing.
    const xf = runXfreerdp(file, client, ['/size:1600x900', '/kbd:0x00000409']);
    let sessionId = '';
    try {
      await waitFor('the client to become active', () => /CONNECTION_STATE_ACTIVE/.test(xf.output()) || (xf.proc.exitCode !== null ? Promise.reject(new Error(`xfreerdp exited ${xf.proc.exitCode}:\n${xf.output().slice(-3000)}\n${gw.logs().slice(-3000)}`)) : false), 60_000);
      const live = await waitFor('a live session', async () => ((await gw.api('GET', `/api/v1/sessions?secretId=${s.body.id}`, { token: gw.adminToken })).body.items as any[]).find((x) => x.status === 'live'), 10_000);
      sessionId = live.id;
      // The desktop shows on the client (it adapts to the size the target activated).
      // 60 s: a session's first desktop (sesman, Xorg, the window manager) is slow on a loaded machine.
      let seen = '';
      await waitFor('the xrdp desktop on the client display', () => {
        const near = (c: number) => [16, 8, 0].every((sh) => Math.abs(((c >> sh) & 0xff) - ((XRDP_DESKTOP_RGB >> sh) & 0xff)) <= 8);
        const colours = client.screenshot().histogram(4);
        seen = colours.map(([c, n]) => `#${c.toString(16).padStart(6, '0')} ${(n * 100).toFixed(0)}%`).join(', ');
        const share = colours.filter(([c]) => near(c)).reduce((sum, [, n]) => sum + n, 0);
        return share > 0.2;
      }, 60_000, 500).catch((e: Error) => {
        throw new Error(`${e.message}; the client display's main colours: ${seen}\n${xf.output().slice(-2000)}`);
      });
      const t = await gw.api('POST', `/api/v1/sessions/${sessionId}/terminate`, { token: gw.adminToken, body: { reason: 'display test over' } });
      assert.equal(t.status, 200, t.raw);
      assert.notEqual(await within(xf.exited, 60_000), 'timeout', 'xfreerdp should end');
    } finally {
      await xf.stop();
    }
    await waitFor('the session to end', async () => (await gw.api('GET', `/api/v1/sessions/${sessionId}`, { token: gw.adminToken })).body.status === 'ended', 15_000);
    const rec = await gw.running.app.inject({ method: 'GET', url: `/api/v1/recordings/${sessionId}`, headers: { authorization: `Bearer ${gw.adminToken}` }, remoteAddress: '127.0.0.1' });
    assert.equal(rec.statusCode, 200, rec.body);
    const g = readGhrec(rec.rawPayload);
    const desktops = g.records.filter((r) => r.type === RDPREC.DESKTOP).map((r) => decodeDesktop(r.payload)!);
    assert.ok(desktops.length > 0, 'the target activated a desktop');
    assert.deepEqual([desktops[0]!.width, desktops[0]!.height], [1280, 720], 'the target activated the chosen size');
    assert.deepEqual([g.header.width, g.header.height, g.header.keyboardLayout], [1280, 720, 0x0407]);
    const text = await gw.api('GET', `/api/v1/recordings/${sessionId}/text`, { token: gw.adminToken });
    assert.equal(text.status, 200, text.raw);
    const event = (kind: string) => {
      const line = (text.body.items as { kind: string; text: string }[]).find((i) => i.kind === 'event' && i.text.startsWith(`${kind} `));
      return line ? JSON.parse(line.text.slice(kind.length + 1)) : undefined;
    };
    assert.deepEqual(event('rdp_display_settings'), { client: '1600x900', chosen: '1280x720', dpi: 144, keyboardLayout: 'de' });
    assert.equal(event('rdp_keyboard_layout')?.layout, 'German');
  });
});
