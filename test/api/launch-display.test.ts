// Display settings at launch (issue 14): width, height, DPI and keyboard layout on
// POST /api/v1/secrets/:id/launch, bounded (a clear 400 invalid_display otherwise), kept on
// the ticket: the .rdp file asks for the chosen window, the session's plan carries them to
// the RDP door (test/protocols/rdp-display.test.ts shows the target drawing that size).
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { DISPLAY_BOUNDS as CORE_BOUNDS, KEYBOARD_LAYOUTS as CORE_LAYOUTS } from '../../src/core/launch/display.js';
import { DISPLAY_BOUNDS, KEYBOARD_LAYOUTS } from '../../src/web/contract/index.js';
import { DB_KINDS, startTestApp, type TestApp } from '../support/harness.js';

describe('display settings: one set of bounds', () => {
  it('the contract (what the portal and CLI read) states the bounds and layouts the core enforces', () => {
    assert.deepEqual(DISPLAY_BOUNDS, CORE_BOUNDS);
    assert.deepEqual(KEYBOARD_LAYOUTS, CORE_LAYOUTS);
  });
});

for (const kind of DB_KINDS) {
  describe(`launch display settings on ${kind}`, () => {
    let t: TestApp;
    let windows: string;
    let unix: string;
    before(async () => {
      t = await startTestApp(kind);
      const w = await t.req('POST', '/api/v1/secrets', { token: t.adminToken, body: { name: 'win', template: 'windows-account', fields: { machine: '127.0.0.1', username: 'u', password: 'Display-Test-Pw-1' } } });
      assert.equal(w.statusCode, 201, w.body);
      windows = w.json().id;
      const u = await t.req('POST', '/api/v1/secrets', { token: t.adminToken, body: { name: 'unix', template: 'unix-account', fields: { machine: '127.0.0.1', username: 'u', password: 'Display-Test-Pw-2' } } });
      unix = u.json().id;
    });
    after(async () => t?.close());

    const launch = (secret: string, body: Record<string, unknown>) => t.req('POST', `/api/v1/secrets/${secret}/launch`, { token: t.adminToken, body });

    it('accepts width, height, dpi and a keyboard layout; the .rdp file asks for that window', async () => {
      const l = await launch(windows, { launcher: 'rdp', width: 1280, height: 720, dpi: 144, keyboardLayout: 'de' });
      assert.equal(l.statusCode, 200, l.body);
      const f = await t.req('GET', l.json().rdpFile, { token: t.adminToken });
      assert.equal(f.statusCode, 200, f.body);
      const lines = f.body.split('\r\n');
      assert.ok(lines.includes('desktopwidth:i:1280') && lines.includes('desktopheight:i:720'), f.body);
      // Without a size the file leaves the client its own (full screen).
      const plain = await launch(windows, { launcher: 'rdp', dpi: 120 });
      assert.equal(plain.statusCode, 200, plain.body);
      const pf = await t.req('GET', plain.json().rdpFile, { token: t.adminToken });
      assert.ok(!/desktopwidth/.test(pf.body), pf.body);
      // The launch is audited with what was chosen.
      const audit = await t.req('GET', '/api/v1/audit?action=secret.launch&limit=5', { token: t.adminToken });
      assert.ok(audit.json().items.some((e: any) => e.details?.display?.width === 1280 && e.details.display.keyboardLayout === 'de'), audit.body);
    });

    it('refuses settings out of bounds with 400 invalid_display and a message naming the field and its bounds', async () => {
      const cases: [Record<string, unknown>, RegExp][] = [
        [{ width: 199, height: 600 }, /width must be an integer from 200 to 8192/],
        [{ width: 8193, height: 600 }, /width must be an integer from 200 to 8192/],
        [{ width: 800, height: 100 }, /height must be an integer from 200 to 8192/],
        [{ width: 800, height: 9000 }, /height/],
        [{ dpi: 95 }, /dpi must be an integer from 96 to 480/],
        [{ dpi: 481 }, /dpi/],
        [{ width: 800 }, /width and height go together/],
        [{ height: 800 }, /width and height go together/],
        [{ keyboardLayout: 'xx' }, /keyboardLayout must be one of us, uk, de, fr/],
      ];
      for (const [body, message] of cases) {
        const r = await launch(windows, { launcher: 'rdp', ...body });
        assert.equal(r.statusCode, 400, `${JSON.stringify(body)}: ${r.body}`);
        assert.equal(r.json().error.code, 'invalid_display', JSON.stringify(body));
        assert.match(r.json().error.message, message);
      }
      // Not a number at all: the schema refuses it.
      const typed = await launch(windows, { launcher: 'rdp', width: '1280', height: 720 });
      assert.equal(typed.statusCode, 400);
      assert.equal(typed.json().error.code, 'invalid_request');
      const fractional = await launch(windows, { launcher: 'rdp', dpi: 96.5 });
      assert.equal(fractional.statusCode, 400);
    });

    it('display settings are for RDP launchers', async () => {
      const r = await launch(unix, { launcher: 'ssh', width: 1024, height: 768 });
      assert.equal(r.statusCode, 400, r.body);
      assert.equal(r.json().error.code, 'invalid_display');
      assert.match(r.json().error.message, /RDP launchers/);
    });
  });
}
