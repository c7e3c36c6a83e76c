import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { buildRdpFile, RDP_FILE_CONTENT_TYPE, rdpFileName, type RdpFileOptions } from '../../../src/protocols/rdp/rdp-file.js';

const TICKET = 'Q2hhbmdlTWUtUGxlYXNlX0FfVGlja2V0';
const base: RdpFileOptions = { host: 'gatehouse.example.com', port: 3389, ticket: TICKET, allowConnectionSharing: false };

/** Reads a file the way FreeRDP does: CRLF lines, `name:type:value`, value after the second colon. */
function parse(file: string): Map<string, string> {
  const m = new Map<string, string>();
  for (const line of file.split('\r\n')) {
    if (!line) continue;
    const a = line.indexOf(':');
    const b = line.indexOf(':', a + 1);
    assert.equal(b - a, 2, `line ${JSON.stringify(line)} has a one-letter type`);
    assert.ok(!m.has(line.slice(0, a)), `key ${line.slice(0, a)} once`);
    m.set(line.slice(0, a), `${line.slice(a + 1, b)}:${line.slice(b + 1)}`);
  }
  return m;
}

describe('.rdp file', () => {
  it('writes the whole file for a typical launch', () => {
    const file = buildRdpFile({ ...base, width: 1280, height: 800, redirectClipboard: true });
    assert.equal(
      file,
      [
        'full address:s:gatehouse.example.com:3389',
        'server port:i:3389',
        `loadbalanceinfo:s:${TICKET}`,
        'disableconnectionsharing:i:1',
        'enablecredsspsupport:i:0',
        'authentication level:i:0',
        'prompt for credentials:i:0',
        'negotiate security layer:i:1',
        'screen mode id:i:1',
        'desktopwidth:i:1280',
        'desktopheight:i:800',
        'session bpp:i:32',
        'redirectclipboard:i:1',
        'drivestoredirect:s:',
        'redirectprinters:i:0',
        'autoreconnection enabled:i:0',
        '',
      ].join('\r\n'),
    );
    assert.equal(RDP_FILE_CONTENT_TYPE, 'application/x-rdp');
  });

  it('uses CRLF only, plain ASCII and no byte-order mark', () => {
    const file = buildRdpFile({ ...base, preconnectionBlob: true, redirectDrives: true });
    assert.ok(!/[^\r]\n/.test(file) && !/\r[^\n]/.test(file));
    assert.ok(/^[\x20-\x7e\r\n]*$/.test(file));
    assert.notEqual(file.charCodeAt(0), 0xfeff);
    const m = parse(file);
    assert.equal(m.get('pcb'), `s:${TICKET}`);
    assert.equal(m.get('drivestoredirect'), 's:*');
    assert.equal(m.get('screen mode id'), 'i:2');
    assert.equal(m.has('desktopwidth'), false);
  });

  it('maps "allow connection sharing" to disableconnectionsharing', () => {
    assert.equal(parse(buildRdpFile(base)).get('disableconnectionsharing'), 'i:1');
    assert.equal(parse(buildRdpFile({ ...base, allowConnectionSharing: true })).get('disableconnectionsharing'), 'i:0');
  });

  it('writes the redirection policy: allowed asks the client to redirect, denied tells it not to', () => {
    const allowed = parse(buildRdpFile({ ...base, redirectClipboard: true, redirectDrives: true, redirectPrinters: true }));
    assert.deepEqual([allowed.get('redirectclipboard'), allowed.get('drivestoredirect'), allowed.get('redirectprinters')], ['i:1', 's:*', 'i:1']);
    const denied = parse(buildRdpFile({ ...base, redirectClipboard: false, redirectDrives: false, redirectPrinters: false }));
    assert.deepEqual([denied.get('redirectclipboard'), denied.get('drivestoredirect'), denied.get('redirectprinters')], ['i:0', 's:', 'i:0']);
    // Left out is "not asked for" at this level; the route always passes the launcher's policy.
    assert.equal(parse(buildRdpFile(base)).get('redirectclipboard'), 'i:0');
  });

  it('does not offer automatic reconnection, which the single-use ticket would refuse', () => {
    for (const o of [base, { ...base, preconnectionBlob: true, allowConnectionSharing: true, width: 1024, height: 768 }]) {
      const file = buildRdpFile(o);
      assert.equal(parse(file).get('autoreconnection enabled'), 'i:0');
      assert.doesNotMatch(file, /autoreconnection enabled:i:1/);
    }
  });

  it('leaves pcb out unless asked', () => {
    assert.equal(parse(buildRdpFile(base)).has('pcb'), false);
  });

  it('brackets IPv6 addresses and keeps the port', () => {
    assert.equal(parse(buildRdpFile({ ...base, host: '2001:db8::5', port: 13389 })).get('full address'), 's:[2001:db8::5]:13389');
    assert.equal(parse(buildRdpFile({ ...base, host: '[::1]' })).get('full address'), 's:[::1]:3389');
  });

  it('writes the colour depth', () => {
    assert.equal(parse(buildRdpFile({ ...base, colorDepth: 16 })).get('session bpp'), 'i:16');
    assert.throws(() => buildRdpFile({ ...base, colorDepth: 8 as 16 }), RangeError);
  });

  it('rejects values that would inject lines or not survive the trip', () => {
    for (const bad of [
      { ticket: `${TICKET}\r\nalternate shell:s:cmd.exe` },
      { ticket: `${TICKET}\n` },
      { host: 'evil\r\nusername:s:x' },
      { ticket: ' padded' },
      { ticket: '' },
      { host: '' },
      { host: 'hôte.example' },
      { ticket: 'two words' },
      { port: 0 },
      { port: 70000 },
      { port: 33.5 },
      { width: 1024 },
      { width: 100, height: 100 },
    ]) {
      assert.throws(() => buildRdpFile({ ...base, ...bad }), RangeError, JSON.stringify(bad));
    }
  });

  it('derives a safe download name from the title', () => {
    assert.equal(rdpFileName('Prod DB (eu-west)'), 'Prod DB _eu-west.rdp');
    assert.equal(rdpFileName('../../etc/passwd'), 'etc_passwd.rdp');
    assert.equal(rdpFileName('Café'), 'Cafe.rdp');
    assert.equal(rdpFileName(), 'gatehouse.rdp');
    assert.equal(rdpFileName('\r\n'), 'gatehouse.rdp');
  });
});
