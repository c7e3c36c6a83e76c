// The PDUs the RDP door's relay reads and rewrites: MCS Send Data, the Client Info PDU
// (credential injection, auto-reconnect cookie removal), the server PDUs it drops
// (Server Redirection, Save Session Info with a cookie) and the Connect Initial flags;
// then the same parsers against mutated input (typed errors only).
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { RdpProtocolError } from '../../src/protocols/rdp/errors.js';
import { CS, decodeClientCore, RNS_UD_CS } from '../../src/protocols/rdp/pdu/client-data.js';
import { encodeClientInfo, INFO, injectLogon, parseClientInfo, SEC, stripAutoReconnectCookie, type ClientInfo } from '../../src/protocols/rdp/pdu/client-info.js';
import { buildConnectInitial, parseConnectInitial, rewriteConnectInitial } from '../../src/protocols/rdp/pdu/mcs-gcc.js';
import { buildSendData, DOMAIN_PDU, parseSendData } from '../../src/protocols/rdp/pdu/mcs-domain.js';
import { classifyServerPdu, PDUTYPE, PDUTYPE2 } from '../../src/protocols/rdp/pdu/share.js';
import { fuzz, sampleClientBlocks } from './rdp/fixtures.js';

/** TS_EXTENDED_INFO_PACKET as FreeRDP writes it, optionally with a 28-byte auto-reconnect cookie. */
function extendedInfo(cookie?: Buffer): Buffer {
  const addr = Buffer.from('10.0.0.7\0', 'utf16le');
  const dir = Buffer.from('C:\\Windows\\System32\\mstscax.dll\0', 'utf16le');
  const head = Buffer.alloc(4);
  head.writeUInt16LE(2, 0); // AF_INET
  head.writeUInt16LE(addr.length, 2);
  const cbDir = Buffer.alloc(2);
  cbDir.writeUInt16LE(dir.length, 0);
  const tz = Buffer.alloc(172, 0x11);
  const ids = Buffer.alloc(8);
  ids.writeUInt32LE(0, 0);
  ids.writeUInt32LE(0x6f, 4); // performance flags
  const cb = Buffer.alloc(2);
  cb.writeUInt16LE(cookie?.length ?? 0, 0);
  const tail = Buffer.from([0, 0, 0, 0]); // reserved1, reserved2
  return Buffer.concat([head, addr, cbDir, dir, tz, ids, cb, cookie ?? Buffer.alloc(0), tail]);
}

const clientInfo = (over: Partial<ClientInfo> = {}): ClientInfo => ({
  securityFlags: SEC.INFO_PKT,
  securityFlagsHi: 0,
  codePage: 0x409,
  flags: INFO.MOUSE | INFO.UNICODE | INFO.LOGONNOTIFY | INFO.COMPRESSION | (2 << 9) | INFO.ENABLEWINDOWSKEY,
  domain: '',
  userName: 'person',
  password: 'client-typed-pw',
  alternateShell: '',
  workingDir: '',
  extraInfo: extendedInfo(),
  ...over,
});

const VAULT = { domain: 'CORP', userName: 'svc-rdp', password: 'Vaulted-Pässwörd-1' };

describe('Client Info credential injection', () => {
  it('replaces domain, user and password, sets auto-logon, clears compression, keeps the rest', () => {
    const original = encodeClientInfo(clientInfo({ alternateShell: 'explorer.exe', workingDir: 'C:\\' }));
    const out = injectLogon(original, VAULT);
    assert.equal(out.clientUserName, 'person');
    assert.equal(out.removedCookie, false);
    const ci = parseClientInfo(out.data);
    assert.equal(ci.domain, 'CORP');
    assert.equal(ci.userName, 'svc-rdp');
    assert.equal(ci.password, 'Vaulted-Pässwörd-1');
    assert.equal(ci.alternateShell, 'explorer.exe');
    assert.equal(ci.workingDir, 'C:\\');
    assert.equal(ci.codePage, 0x409);
    assert.ok(ci.flags & INFO.AUTOLOGON);
    assert.ok(ci.flags & INFO.UNICODE);
    assert.equal(ci.flags & (INFO.COMPRESSION | INFO.COMPRESSION_TYPE_MASK), 0);
    assert.ok(ci.flags & INFO.ENABLEWINDOWSKEY);
    assert.deepEqual(ci.extraInfo, extendedInfo());
    assert.equal(out.data.indexOf(Buffer.from('client-typed-pw', 'utf16le')), -1);
  });

  it('reads an ANSI Client Info and writes it back as Unicode', () => {
    const ansi = Buffer.concat([
      Buffer.from([0x40, 0x00, 0x00, 0x00]),
      Buffer.from([0x09, 0x04, 0, 0]),
      Buffer.from([INFO.MOUSE, 0, 0, 0]),
      Buffer.from([0, 0, 4, 0, 2, 0, 0, 0, 0, 0]),
      Buffer.from('\0user\0pw\0\0\0', 'latin1'),
    ]);
    const ci = parseClientInfo(ansi);
    assert.equal(ci.userName, 'user');
    assert.equal(ci.password, 'pw');
    const out = parseClientInfo(injectLogon(ansi, VAULT).data);
    assert.equal(out.userName, 'svc-rdp');
    assert.ok(out.flags & INFO.UNICODE);
  });

  it('removes an auto-reconnect cookie the client presents', () => {
    const cookie = Buffer.alloc(28, 0xcc);
    const withCookie = extendedInfo(cookie);
    const stripped = stripAutoReconnectCookie(withCookie);
    assert.equal(stripped.removed, true);
    assert.deepEqual(stripped.extraInfo, extendedInfo());
    const out = injectLogon(encodeClientInfo(clientInfo({ extraInfo: withCookie })), VAULT);
    assert.equal(out.removedCookie, true);
    assert.equal(out.data.indexOf(cookie), -1);
    // A short extended info (no time zone onwards) passes as is; a truncated one is an error.
    const short = withCookie.subarray(0, 4 + 20 + 2 + 64);
    assert.deepEqual(stripAutoReconnectCookie(short), { extraInfo: short, removed: false });
    assert.throws(() => stripAutoReconnectCookie(withCookie.subarray(0, 30)), (e: unknown) => e instanceof RdpProtocolError && e.reason === 'truncated');
  });

  it('refuses what it cannot rewrite: not an info packet, encryption, over-long fields, truncation', () => {
    const isError = (reason: string) => (e: unknown) => e instanceof RdpProtocolError && e.reason === reason;
    assert.throws(() => parseClientInfo(Buffer.from([0x00, 0x00, 0, 0, 0, 0, 0, 0])), isError('unexpected'));
    assert.throws(() => parseClientInfo(encodeClientInfo(clientInfo({ securityFlags: SEC.INFO_PKT | SEC.ENCRYPT }))), isError('unsupported'));
    assert.throws(() => injectLogon(encodeClientInfo(clientInfo()), { ...VAULT, password: 'x'.repeat(300) }), isError('too_large'));
    const full = encodeClientInfo(clientInfo());
    assert.throws(() => parseClientInfo(full.subarray(0, 30)), isError('truncated'));
  });
});

describe('MCS Send Data', () => {
  it('round-trips requests and indications with short and long PER lengths', () => {
    for (const size of [5, 127, 128, 5000]) {
      const sd = { type: DOMAIN_PDU.SEND_DATA_REQUEST, initiator: 1007, channelId: 1003, flags: 0x70, data: Buffer.alloc(size, 7) } as const;
      const pdu = buildSendData(sd);
      assert.equal(pdu.readUInt8(0), 0x64);
      assert.deepEqual(parseSendData(pdu), sd);
    }
    const ind = buildSendData({ type: DOMAIN_PDU.SEND_DATA_INDICATION, initiator: 1002, channelId: 1003, flags: 0x70, data: Buffer.from('x') });
    assert.equal(ind.readUInt8(0), 0x68);
    assert.equal(parseSendData(ind)?.type, DOMAIN_PDU.SEND_DATA_INDICATION);
    // Attach User Request, Erect Domain: not Send Data.
    assert.equal(parseSendData(Buffer.from([0x28])), undefined);
    assert.equal(parseSendData(Buffer.from([0x04, 0x01, 0x00, 0x01, 0x00])), undefined);
    // FreeRDP writes the length in two bytes even when one would do.
    assert.deepEqual(parseSendData(Buffer.from([0x64, 0x00, 0x06, 0x03, 0xeb, 0x70, 0x80, 0x02, 0xaa, 0xbb]))?.data, Buffer.from([0xaa, 0xbb]));
  });
});

describe('server PDUs the relay drops', () => {
  const shareControl = (pduType: number, body: Buffer) => {
    const h = Buffer.alloc(6);
    h.writeUInt16LE(6 + body.length, 0);
    h.writeUInt16LE(0x10 | pduType, 2);
    h.writeUInt16LE(1002, 4);
    return Buffer.concat([h, body]);
  };
  const shareData = (pduType2: number, payload: Buffer) => {
    const d = Buffer.alloc(12);
    d.writeUInt32LE(0x103ea, 0);
    d.writeUInt8(1, 5);
    d.writeUInt16LE(payload.length + 4, 6);
    d.writeUInt8(pduType2, 8);
    return shareControl(PDUTYPE.DATA, Buffer.concat([d, payload]));
  };

  it('finds Server Redirection PDUs in both forms', () => {
    assert.equal(classifyServerPdu(shareControl(PDUTYPE.SERVER_REDIR_PKT, Buffer.alloc(40))), 'redirection');
    const standard = Buffer.alloc(40);
    standard.writeUInt16LE(SEC.REDIRECTION_PKT, 0);
    standard.writeUInt16LE(SEC.REDIRECTION_PKT, 4);
    standard.writeUInt16LE(36, 6);
    assert.equal(classifyServerPdu(standard), 'redirection');
  });

  it('finds a Save Session Info PDU carrying an auto-reconnect cookie, and lets the other kinds pass', () => {
    const logonEx = (fields: number) => {
      const b = Buffer.alloc(4 + 2 + 4 + 4 + 28);
      b.writeUInt32LE(3, 0); // INFOTYPE_LOGON_EXTENDED_INFO
      b.writeUInt16LE(b.length - 4, 4);
      b.writeUInt32LE(fields, 6);
      return b;
    };
    assert.equal(classifyServerPdu(shareData(PDUTYPE2.SAVE_SESSION_INFO, logonEx(0x1))), 'reconnect-cookie');
    assert.equal(classifyServerPdu(shareData(PDUTYPE2.SAVE_SESSION_INFO, logonEx(0x2))), 'forward');
    const plainLogon = Buffer.alloc(8);
    plainLogon.writeUInt32LE(0, 0);
    assert.equal(classifyServerPdu(shareData(PDUTYPE2.SAVE_SESSION_INFO, plainLogon)), 'forward');
    assert.equal(classifyServerPdu(shareData(PDUTYPE2.UPDATE, Buffer.alloc(30))), 'forward');
    assert.equal(classifyServerPdu(shareControl(PDUTYPE.DEMANDACTIVE, Buffer.alloc(60))), 'forward');
    // A licensing PDU (security header with SEC_LICENSE_PKT) and a flow PDU pass.
    assert.equal(classifyServerPdu(Buffer.from([0x80, 0x00, 0x00, 0x00, 0xff, 0x03, 0x10, 0x00])), 'forward');
    assert.equal(classifyServerPdu(Buffer.from([0x00, 0x80, 0x41, 0x00, 0x00, 0x00])), 'forward');
    assert.equal(classifyServerPdu(Buffer.alloc(2)), 'forward');
  });
});

describe('Connect Initial rewrite for the target', () => {
  it('sets serverSelectedProtocol, clears the graphics pipeline flag and drops multitransport', () => {
    const blocks = sampleClientBlocks();
    const mt = Buffer.alloc(8);
    mt.writeUInt16LE(CS.MULTITRANSPORT, 0);
    mt.writeUInt16LE(8, 2);
    mt.writeUInt32LE(0x301, 4);
    const core = decodeClientCore(blocks[0]!);
    assert.equal(core.earlyCapabilityFlags, 1);
    // sampleCore has earlyCapabilityFlags 1: add the GFX flag.
    blocks[0]!.writeUInt16LE(RNS_UD_CS.SUPPORT_ERRINFO_PDU | RNS_UD_CS.SUPPORT_DYNVC_GFX_PROTOCOL, 144);
    const pdu = buildConnectInitial({ blocks: [...blocks, mt] });
    const rw = rewriteConnectInitial(pdu, { serverSelectedProtocol: 2, earlyCapabilityFlags: (f) => f & ~RNS_UD_CS.SUPPORT_DYNVC_GFX_PROTOCOL, dropBlockTypes: [CS.MULTITRANSPORT] });
    const ci = parseConnectInitial(rw.pdu);
    assert.equal(ci.core.serverSelectedProtocol, 2);
    assert.equal(ci.core.earlyCapabilityFlags, RNS_UD_CS.SUPPORT_ERRINFO_PDU);
    assert.equal(ci.multitransportFlags, undefined);
    assert.deepEqual(ci.channels.map((c) => c.name), ['rdpdr', 'cliprdr', 'rdpsnd']);
  });
});

describe('relay parsers against mutated input', () => {
  it('Client Info injection', () => {
    const seeds = [encodeClientInfo(clientInfo()), encodeClientInfo(clientInfo({ extraInfo: extendedInfo(Buffer.alloc(28, 1)) })), encodeClientInfo(clientInfo({ extraInfo: Buffer.alloc(0) }))];
    const r = fuzz(seeds, (b) => injectLogon(b, VAULT));
    assert.ok(r.threw > 0 && r.threw < r.runs, `threw ${r.threw} of ${r.runs}`);
  });
  it('MCS Send Data and the server PDU classifier', () => {
    const seeds = [buildSendData({ type: DOMAIN_PDU.SEND_DATA_INDICATION, initiator: 1002, channelId: 1003, flags: 0x70, data: Buffer.alloc(200, 3) }), Buffer.from([0x64, 0x00, 0x06, 0x03, 0xeb, 0x70, 0x80, 0x02, 0xaa, 0xbb])];
    fuzz(seeds, (b) => {
      const sd = parseSendData(b);
      if (sd) classifyServerPdu(sd.data);
    });
  });
});
