// The RDP interceptor without sockets: synthesised PDUs in, the frames it forwards to each
// side out. The Connect Initial rewrite (and the display settings chosen at launch, the
// keyboard layout the keystroke log then reads with), the vaulted credential injected into
// the Client Info PDU with no password byte toward the client, the capability restriction,
// a denied clipboard channel, Server Redirection and reconnect-cookie PDUs dropped,
// malformed frames refused as protocol errors, the administrative disconnect at terminate.
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import pino from 'pino';
import type { GraphicsHeader, LaunchDisplay, SessionHandle } from '../../src/core/broker.js';
import { RdpInterceptor, type Forward, type InterceptorOptions } from '../../src/protocols/rdp-door/interceptor.js';
import { KEYBOARD_LAYOUT_IDS, scaleFor } from '../../src/protocols/rdp-door/display.js';
import { FinalizationHold, MAX_HELD_BYTES } from '../../src/protocols/rdp-door/finalization-hold.js';
import { RdpProtocolError } from '../../src/protocols/rdp/errors.js';
import { CAPSTYPE, encodeConfirmActive, encodeDemandActive, parseConfirmActive } from '../../src/protocols/rdp/pdu/capabilities.js';
import { CS, encodeClientCore, encodeClientMonitors, RNS_UD_CS } from '../../src/protocols/rdp/pdu/client-data.js';
import { encodeClientInfo, INFO, parseClientInfo, SEC } from '../../src/protocols/rdp/pdu/client-info.js';
import { buildConnectInitial, buildConnectResponse, parseConnectInitial, parseConnectResponse } from '../../src/protocols/rdp/pdu/mcs-gcc.js';
import { buildSendData, DOMAIN_PDU, domainPduType, parseSendData } from '../../src/protocols/rdp/pdu/mcs-domain.js';
import { PDUTYPE, PDUTYPE2 } from '../../src/protocols/rdp/pdu/share.js';
import { encodeServerCore, encodeServerNetwork, encodeServerSecurity } from '../../src/protocols/rdp/pdu/server-data.js';
import { RdpFramer } from '../../src/protocols/rdp/pdu/tpkt.js';
import { buildDataTpdu, parseDataTpdu } from '../../src/protocols/rdp/pdu/x224.js';
import { KeystrokeLog } from '../../src/protocols/rdp/recording/keyboard.js';
import { mutate, rng, sampleChannels, sampleClientBlocks, sampleCore } from '../protocols/rdp/fixtures.js';

const IO = 1003;
const [RDPDR, CLIPRDR, RDPSND] = [1004, 1005, 1006];
const USER = 1007;
const SERVER = 1002;
const SHARE_ID = 0x103ea;
const LOGON = { domain: 'CORP', username: 'svc-rdp', password: 'Vaulted-Pässwörd-7' };

interface Session {
  handle: SessionHandle;
  notes: [string, Record<string, unknown>][];
  header: GraphicsHeader | null;
  keystrokes: string[];
  traffic: { in: number; out: number };
}

function session(options: Record<string, unknown> = {}, display?: LaunchDisplay): Session {
  const s: Session = { handle: null as unknown as SessionHandle, notes: [], header: null, keystrokes: [], traffic: { in: 0, out: 0 } };
  s.handle = {
    id: 'sess-1',
    plan: { sessionId: 'sess-1', user: { id: 'u1', username: 'alice' }, protocol: 'rdp', credential: { secretName: 'win-box' }, launcher: { record: true, recordKeystrokes: true, options }, ...(display ? { display } : {}) },
    traffic: (i: number, o: number) => {
      s.traffic.in += i;
      s.traffic.out += o;
    },
    note: (kind: string, d: Record<string, unknown>) => s.notes.push([kind, d]),
    beginGraphics: (h: GraphicsHeader) => {
      s.header ??= h;
      return true;
    },
    graphics() {},
    keystrokes: (t: string) => s.keystrokes.push(t),
  } as unknown as SessionHandle;
  return s;
}

const interceptor = (s: Session, extra: Partial<InterceptorOptions> = {}) => new RdpInterceptor({ handle: s.handle, targetProtocol: 1, clientRequestedProtocols: 3, logon: LOGON, log: pino({ level: 'silent' }), ...extra });

// ---- synthesised PDUs, as clients and servers write them

const req = (channelId: number, data: Buffer) => buildDataTpdu(buildSendData({ type: DOMAIN_PDU.SEND_DATA_REQUEST, initiator: USER, channelId, flags: 0x70, data }));
const ind = (channelId: number, data: Buffer) => buildDataTpdu(buildSendData({ type: DOMAIN_PDU.SEND_DATA_INDICATION, initiator: SERVER, channelId, flags: 0x70, data }));
const vc = (data: string) => {
  const body = Buffer.from(data);
  const head = Buffer.alloc(8);
  head.writeUInt32LE(body.length, 0);
  head.writeUInt32LE(0x03, 4); // FIRST | LAST
  return Buffer.concat([head, body]);
};

function connectInitial(extra: Buffer[] = [], core: Partial<ReturnType<typeof sampleCore>> = {}): Buffer {
  const blocks = sampleClientBlocks();
  blocks[0] = encodeClientCore({ ...sampleCore(), serverSelectedProtocol: 1, earlyCapabilityFlags: RNS_UD_CS.SUPPORT_ERRINFO_PDU | RNS_UD_CS.SUPPORT_DYNVC_GFX_PROTOCOL, ...core });
  const multitransport = Buffer.alloc(8);
  multitransport.writeUInt16LE(CS.MULTITRANSPORT, 0);
  multitransport.writeUInt16LE(8, 2);
  return buildDataTpdu(buildConnectInitial({ blocks: [...blocks, multitransport, ...extra] }));
}

const connectResponse = () =>
  buildDataTpdu(buildConnectResponse({ blocks: [encodeServerCore({ version: 0x00080004, clientRequestedProtocols: 1, earlyCapabilityFlags: 0 }), encodeServerNetwork({ mcsChannelId: IO, channelIds: [RDPDR, CLIPRDR, RDPSND] }), encodeServerSecurity({ encryptionMethod: 0, encryptionLevel: 0 })] }));

const clientInfo = () =>
  encodeClientInfo({ securityFlags: SEC.INFO_PKT, securityFlagsHi: 0, codePage: 0x409, flags: INFO.MOUSE | INFO.UNICODE, domain: '', userName: 'person', password: '', alternateShell: '', workingDir: '', extraInfo: Buffer.alloc(0) });

function shareControl(pduType: number, body: Buffer): Buffer {
  const h = Buffer.alloc(6);
  h.writeUInt16LE(6 + body.length, 0);
  h.writeUInt16LE(0x10 | pduType, 2);
  h.writeUInt16LE(SERVER, 4);
  return Buffer.concat([h, body]);
}

function shareData(pduType2: number, payload: Buffer): Buffer {
  const d = Buffer.alloc(12);
  d.writeUInt32LE(SHARE_ID, 0);
  d.writeUInt8(1, 5);
  d.writeUInt16LE(payload.length + 4, 6);
  d.writeUInt8(pduType2, 8);
  return shareControl(PDUTYPE.DATA, Buffer.concat([d, payload]));
}

function demandActive(): Buffer {
  const bmp = Buffer.alloc(24);
  bmp.writeUInt16LE(32, 0);
  bmp.writeUInt16LE(1024, 8);
  bmp.writeUInt16LE(768, 10);
  return encodeDemandActive({ pduTypeField: 0x10 | PDUTYPE.DEMANDACTIVE, pduSource: SERVER, shareId: SHARE_ID, sourceDescriptor: Buffer.from('RDP\0'), capabilities: [{ type: CAPSTYPE.BITMAP, body: bmp }], sessionId: 0 });
}

function confirmActive(): Buffer {
  const order = Buffer.alloc(84);
  order.fill(1, 32, 64); // every primary drawing order supported
  return encodeConfirmActive({ pduTypeField: 0x10 | PDUTYPE.CONFIRMACTIVE, pduSource: USER, shareId: SHARE_ID, originatorId: 0x3ea, sourceDescriptor: Buffer.from('MSTSC\0'), capabilities: [{ type: CAPSTYPE.ORDER, body: order }], trailer: Buffer.alloc(0) });
}

/** A fast-path input PDU of scancode key taps (press and release). */
function fastPathKeys(codes: number[]): Buffer {
  const events = codes.flatMap((c) => [Buffer.from([0x00, c]), Buffer.from([0x01, c])]);
  const body = Buffer.concat(events);
  const len = 3 + body.length;
  return Buffer.concat([Buffer.from([events.length << 2, 0x80 | (len >> 8), len & 0xff]), body]);
}

/** The payloads of MCS PDUs in forwarded frames (TPKT framed). */
function mcsOf(frames: Buffer[]): Buffer[] {
  const framer = new RdpFramer();
  return framer.push(Buffer.concat(frames)).filter((f) => f.kind === 'tpkt').map((f) => parseDataTpdu(f.data));
}

/** Drives a connection to the active phase; returns what each side received. */
function connect(s: Session, opts: { extraBlocks?: Buffer[]; options?: Partial<InterceptorOptions> } = {}) {
  const ic = interceptor(s, opts.options);
  const toTarget: Buffer[] = [];
  const toClient: Buffer[] = [];
  const take = (f: Forward) => {
    toTarget.push(...f.toTarget);
    toClient.push(...f.toClient);
    return f;
  };
  const ci = take(ic.fromClient(connectInitial(opts.extraBlocks)));
  const cr = take(ic.fromTarget(connectResponse()));
  const info = take(ic.fromClient(req(IO, clientInfo())));
  take(ic.fromTarget(ind(IO, demandActive())));
  const confirm = take(ic.fromClient(req(IO, confirmActive())));
  return { ic, ci, cr, info, confirm, toTarget, toClient, take };
}

describe('RDP interceptor (no sockets)', () => {
  it('rewrites the Connect Initial: the target\'s protocol, no graphics pipeline, no UDP; the recording starts with what the target gets', () => {
    const s = session();
    const { ci } = connect(s);
    assert.equal(ci.toTarget.length, 1);
    assert.equal(ci.toClient.length, 0);
    const out = parseConnectInitial(mcsOf(ci.toTarget)[0]!);
    assert.equal(out.core.serverSelectedProtocol, 1);
    assert.equal(out.core.earlyCapabilityFlags! & RNS_UD_CS.SUPPORT_DYNVC_GFX_PROTOCOL, 0);
    assert.ok(out.core.earlyCapabilityFlags! & RNS_UD_CS.SUPPORT_ERRINFO_PDU);
    assert.ok(!out.blocks.some((b) => b.type === CS.MULTITRANSPORT), 'no multitransport block');
    assert.deepEqual(out.channels.map((c) => c.name), sampleChannels().map((c) => c.name));
    assert.deepEqual([s.header?.width, s.header?.height, s.header?.keyboardLayout], [1024, 768, 0x409]);
    assert.deepEqual(s.notes.find(([k]) => k === 'rdp_channels')?.[1], { channels: ['rdpdr', 'cliprdr', 'rdpsnd'] });
  });

  it('notes at the start what the launcher\'s redirection policy drops or filters (none when it allows everything)', () => {
    const all = session();
    connect(all);
    assert.equal(all.notes.find(([k]) => k === 'rdp_channel_policy'), undefined);
    const noClipboard = session({ rdpClipboard: false });
    connect(noClipboard);
    assert.deepEqual(noClipboard.notes.find(([k]) => k === 'rdp_channel_policy')?.[1], { dropped: ['cliprdr'], filtered: [] });
    const noDrives = session({ rdpDrives: false });
    connect(noDrives);
    assert.deepEqual(noDrives.notes.find(([k]) => k === 'rdp_channel_policy')?.[1], { dropped: [], filtered: ['rdpdr'] });
  });

  it('rewrites the Connect Response: the protocols the client asked the gateway for', () => {
    const { cr } = connect(session());
    assert.equal(cr.toClient.length, 1);
    assert.equal(parseConnectResponse(mcsOf(cr.toClient)[0]!).core?.clientRequestedProtocols, 3);
  });

  it('injects the vaulted credential into the Client Info PDU; no password byte ever goes toward the client', () => {
    const s = session();
    const { info, toClient, take, ic } = connect(s);
    const sd = parseSendData(mcsOf(info.toTarget)[0]!)!;
    const ci = parseClientInfo(sd.data);
    assert.deepEqual([ci.domain, ci.userName, ci.password], [LOGON.domain, LOGON.username, LOGON.password]);
    assert.ok(ci.flags & INFO.AUTOLOGON);
    assert.deepEqual(s.notes.find(([k]) => k === 'rdp_logon_injected')?.[1], { user: 'svc-rdp', domain: 'CORP', clientUserName: 'person', autoReconnectCookieRemoved: false });
    take(ic.fromTarget(ind(IO, shareData(PDUTYPE2.UPDATE, Buffer.alloc(30)))));
    take({ toTarget: [], toClient: ic.terminate() ? [ic.terminate()!] : [] });
    const all = Buffer.concat(toClient);
    for (const form of [Buffer.from(LOGON.password, 'utf8'), Buffer.from(LOGON.password, 'latin1'), Buffer.from(LOGON.password, 'utf16le')]) assert.equal(all.indexOf(form), -1);
  });

  it('restricts the client\'s capabilities to what the recording replays, and notes it', () => {
    const s = session();
    const { confirm } = connect(s);
    const ca = parseConfirmActive(parseSendData(mcsOf(confirm.toTarget)[0]!)!.data);
    const order = ca.capabilities.find((c) => c.type === CAPSTYPE.ORDER)!;
    assert.ok(order.body.subarray(32, 64).every((b) => b === 0), 'no drawing orders');
    assert.deepEqual(s.notes.find(([k]) => k === 'rdp_capabilities_restricted')?.[1], { removed: ['drawing orders'] });
  });

  it('a denied clipboard: cliprdr data is dropped both ways and noted; other channels pass', () => {
    const s = session({ rdpClipboard: false });
    const { ic } = connect(s);
    const up = ic.fromClient(Buffer.concat([req(CLIPRDR, vc('client-clipboard')), req(RDPSND, vc('client-sound'))]));
    const down = ic.fromTarget(Buffer.concat([ind(CLIPRDR, vc('target-clipboard')), ind(RDPSND, vc('target-sound'))]));
    const t = Buffer.concat(up.toTarget).toString('latin1');
    const c = Buffer.concat(down.toClient).toString('latin1');
    assert.ok(!t.includes('client-clipboard') && t.includes('client-sound'), t);
    assert.ok(!c.includes('target-clipboard') && c.includes('target-sound'), c);
    assert.ok(s.notes.some(([k, d]) => k === 'rdp_channel_denied' && d.channel === 'cliprdr' && d.action === 'channel_dropped'));
    // Allowed: the very frames pass.
    const open = connect(session()).ic;
    const frame = req(CLIPRDR, vc('client-clipboard'));
    assert.deepEqual(open.fromClient(frame).toTarget, [frame]);
  });

  it('drops Server Redirection PDUs and Save Session Info PDUs with an auto-reconnect cookie', () => {
    const s = session();
    const { ic } = connect(s);
    const redirect = shareControl(PDUTYPE.SERVER_REDIR_PKT, Buffer.alloc(40));
    const cookie = Buffer.alloc(4 + 2 + 4 + 4 + 28);
    cookie.writeUInt32LE(3, 0); // INFOTYPE_LOGON_EXTENDED_INFO
    cookie.writeUInt16LE(cookie.length - 4, 4);
    cookie.writeUInt32LE(0x1, 6); // LOGON_EX_AUTORECONNECTCOOKIE
    const update = ind(IO, shareData(PDUTYPE2.UPDATE, Buffer.alloc(30)));
    const out = ic.fromTarget(Buffer.concat([ind(IO, redirect), ind(IO, shareData(PDUTYPE2.SAVE_SESSION_INFO, cookie)), update]));
    assert.deepEqual(out.toClient, [update]);
    assert.ok(s.notes.some(([k]) => k === 'rdp_redirection_dropped'));
    assert.ok(s.notes.some(([k]) => k === 'rdp_reconnect_cookie_dropped'));
  });

  it('completeDeactivateAll (the browser door): xrdp\'s 6-byte Deactivate All reaches the client with the share id and a source descriptor', () => {
    const short = Buffer.alloc(6);
    short.writeUInt16LE(6, 0);
    short.writeUInt16LE(0x10 | PDUTYPE.DEACTIVATEALL, 2);
    short.writeUInt16LE(SERVER, 4);
    const web = connect(session(), { options: { completeDeactivateAll: true } });
    const out = web.ic.fromTarget(ind(IO, short)).toClient;
    assert.equal(out.length, 1);
    const data = parseSendData(parseDataTpdu(out[0]!))!.data;
    assert.equal(data.length, 13);
    assert.deepEqual([data.readUInt16LE(0), data.readUInt16LE(2), data.readUInt16LE(4), data.readUInt32LE(6), data.readUInt16LE(10), data[12]], [13, 0x10 | PDUTYPE.DEACTIVATEALL, SERVER, SHARE_ID, 1, 0]);
    const native = connect(session());
    assert.deepEqual(native.ic.fromTarget(ind(IO, short)).toClient, [ind(IO, short)], 'the RDP door passes it as is');
  });

  it('holdOutputDuringFinalization (the browser door): output between Demand Active (or Deactivate All) and Font Map follows the Font Map, in order', () => {
    const web = connect(session(), { options: { holdOutputDuringFinalization: true } });
    const sync = ind(IO, shareData(PDUTYPE2.SYNCHRONIZE, Buffer.alloc(4)));
    const cooperate = ind(IO, shareData(PDUTYPE2.CONTROL, Buffer.alloc(8)));
    const update = ind(IO, shareData(PDUTYPE2.UPDATE, Buffer.alloc(30)));
    const update2 = ind(IO, shareData(PDUTYPE2.UPDATE, Buffer.alloc(40)));
    const clip = ind(CLIPRDR, vc('early'));
    const fontMap = ind(IO, shareData(PDUTYPE2.FONTMAP, Buffer.alloc(8)));
    // connect() ended after the Demand Active and the client's Confirm Active: finalization.
    assert.deepEqual(web.ic.fromTarget(Buffer.concat([sync, update, cooperate, clip, update2])).toClient, [sync, cooperate], 'finalization PDUs pass, output waits');
    assert.deepEqual(web.ic.fromTarget(fontMap).toClient, [fontMap, update, clip, update2], 'what waited follows the Font Map');
    assert.deepEqual(web.ic.fromTarget(update).toClient, [update], 'once active, output passes at once');
    // Deactivation-Reactivation (a resize): output waits from the Deactivate All.
    const deactivate = ind(IO, shareControl(PDUTYPE.DEACTIVATEALL, Buffer.from([0xea, 0x03, 0x01, 0x00, 0x01, 0x00, 0x00])));
    assert.deepEqual(web.ic.fromTarget(Buffer.concat([deactivate, update])).toClient, [deactivate]);
    assert.deepEqual(web.ic.fromTarget(Buffer.concat([ind(IO, demandActive()), update2, sync])).toClient, [ind(IO, demandActive()), sync]);
    assert.deepEqual(web.ic.fromTarget(fontMap).toClient, [fontMap, update, update2]);
    // The RDP door's native clients read output whenever it comes.
    const native = connect(session());
    assert.deepEqual(native.ic.fromTarget(Buffer.concat([sync, update])).toClient, [sync, update]);
  });

  it('the finalization hold gives up beyond its bound: a target that never sends its Font Map gets its output through', () => {
    const hold = new FinalizationHold();
    assert.deepEqual(hold.pass('activation', [Buffer.from('da')]), [Buffer.from('da')]);
    const chunk = Buffer.alloc(1 << 20);
    let out: Buffer[] = [];
    let n = 0;
    while (out.length === 0 && n < 100) {
      out = hold.pass('output', [chunk]);
      n++;
    }
    assert.equal(n, MAX_HELD_BYTES / chunk.length + 1, 'held up to the bound');
    assert.equal(out.length, n, 'then everything held, in order');
    assert.deepEqual(hold.pass('output', [Buffer.from('x')]), [Buffer.from('x')], 'and no more holding until the next activation');
  });

  it('frames any chunking the same: one byte at a time gives the same frames', () => {
    const whole = connect(session());
    const s = session();
    const ic = interceptor(s);
    const bytes = (b: Buffer, from: 'client' | 'target') => [...b].flatMap((x) => (from === 'client' ? ic.fromClient(Buffer.from([x])).toTarget : ic.fromTarget(Buffer.from([x])).toClient));
    const t = [...bytes(connectInitial(), 'client')];
    const c = [...bytes(connectResponse(), 'target')];
    t.push(...bytes(req(IO, clientInfo()), 'client'));
    c.push(...bytes(ind(IO, demandActive()), 'target'));
    t.push(...bytes(req(IO, confirmActive()), 'client'));
    assert.deepEqual(Buffer.concat(t), Buffer.concat(whole.toTarget));
    assert.deepEqual(Buffer.concat(c), Buffer.concat(whole.toClient));
  });

  it('malformed or out-of-order frames are protocol errors: noted, and the end reason names the leg', () => {
    const cases: [string, (ic: RdpInterceptor) => unknown, 'client' | 'target'][] = [
      ['not a Connect Initial first', (ic) => ic.fromClient(req(IO, clientInfo())), 'client'],
      ['a bad TPKT length', (ic) => ic.fromClient(Buffer.from([3, 0, 0, 2, 0, 0, 0])), 'client'],
      ['fast-path before the Client Info', (ic) => (ic.fromClient(connectInitial()), ic.fromClient(fastPathKeys([0x1e]))), 'client'],
      ['a broken Connect Initial', (ic) => ic.fromClient(buildDataTpdu(Buffer.from([0x7f, 0x65, 0x82, 0x01, 0x00, 0x04]))), 'client'],
      ['a broken Connect Response', (ic) => (ic.fromClient(connectInitial()), ic.fromTarget(buildDataTpdu(Buffer.from([0x7f, 0x66, 0x03, 0x0a, 0x01, 0x00])))), 'target'],
      ['channel data before the Client Info', (ic) => (ic.fromClient(connectInitial()), ic.fromTarget(connectResponse()), ic.fromClient(req(CLIPRDR, vc('x')))), 'client'],
    ];
    for (const [what, run, leg] of cases) {
      const s = session();
      const ic = interceptor(s);
      let thrown: unknown;
      try {
        run(ic);
      } catch (e) {
        thrown = e;
      }
      assert.ok(thrown instanceof RdpProtocolError, `${what}: ${String(thrown)}`);
      assert.equal(ic.failure(leg, thrown), `protocol error from the ${leg}`, what);
      assert.ok(s.notes.some(([k, d]) => k === 'rdp_protocol_error' && d.from === leg), what);
    }
    // Mutated PDUs at each step of the handshake are protocol errors or pass, never a gateway error.
    const next = rng(14);
    const steps: ['client' | 'target', Buffer][] = [['client', connectInitial()], ['target', connectResponse()], ['client', req(IO, clientInfo())], ['target', ind(IO, demandActive())], ['client', req(IO, confirmActive())], ['client', fastPathKeys([0x1e])]];
    for (let run = 0; run < 1500; run++) {
      const bad = Math.floor(next() * steps.length);
      const ic = interceptor(session({ rdpClipboard: false }, { width: 1280, height: 720, dpi: 120, keyboardLayout: 'fr' }));
      for (let i = 0; i <= bad; i++) {
        const [leg, pdu] = steps[i]!;
        const bytes = i === bad ? mutate(pdu, next) : pdu;
        try {
          if (leg === 'client') ic.fromClient(bytes);
          else ic.fromTarget(bytes);
        } catch (e) {
          assert.notEqual(ic.failure(leg, e), 'gateway error', `run ${run}, step ${i}: ${(e as Error).stack}`);
          break;
        }
      }
    }
    // A bug is no protocol error: a generic reason, nothing noted for the person to read.
    const s = session();
    assert.equal(interceptor(s).failure('client', new TypeError('oops')), 'gateway error');
    assert.equal(s.notes.length, 0);
  });

  it('terminate: nothing before the session is active; then a Set Error Info (administrative disconnect) and a Disconnect Provider Ultimatum', () => {
    const early = interceptor(session());
    early.fromClient(connectInitial());
    assert.equal(early.terminate(), null);
    const { ic } = connect(session());
    const bytes = ic.terminate()!;
    const [errorInfo, ultimatum] = mcsOf([bytes]);
    const sd = parseSendData(errorInfo!)!;
    assert.deepEqual([sd.type, sd.channelId, sd.initiator], [DOMAIN_PDU.SEND_DATA_INDICATION, IO, SERVER]);
    assert.equal(sd.data.readUInt8(14), PDUTYPE2.SET_ERROR_INFO);
    assert.equal(sd.data.readUInt32LE(18), 0x00000001); // ERRINFO_RPC_INITIATED_DISCONNECT
    assert.equal(domainPduType(ultimatum!), DOMAIN_PDU.DISCONNECT_PROVIDER_ULTIMATUM);
    ic.stop();
    assert.equal(ic.terminate(), null, 'nothing after the end');
    assert.deepEqual(ic.fromClient(fastPathKeys([0x1e])), { toTarget: [], toClient: [] }, 'nothing relayed after the end');
  });

  it('counts traffic: target bytes at once, client bytes with real input once the desktop is up (and the rest at the end)', () => {
    const s = session();
    const { ic } = connect(s);
    const before = { ...s.traffic };
    assert.equal(before.out, connectResponse().length + ind(IO, demandActive()).length);
    // The Confirm Active itself activates the desktop: it waits for the next input, as all chatter from here on.
    assert.equal(before.in, connectInitial().length + req(IO, clientInfo()).length);
    const confirm = req(IO, confirmActive()).length;
    const chatter = req(IO, shareData(PDUTYPE2.UPDATE, Buffer.alloc(8)));
    ic.fromClient(chatter);
    assert.equal(s.traffic.in, before.in, 'chatter after activation does not count as activity');
    const keys = fastPathKeys([0x1e]);
    ic.fromClient(keys);
    assert.equal(s.traffic.in, before.in + confirm + chatter.length + keys.length);
    ic.fromClient(chatter);
    ic.stop();
    assert.equal(s.traffic.in, before.in + confirm + 2 * chatter.length + keys.length);
  });
});

describe('display settings chosen at launch, in the Connect Initial', () => {
  it('desktop size, DPI (physical size and scale factors) and keyboard layout go into CS_CORE; a monitor layout is left out', () => {
    const s = session({}, { width: 1280, height: 720, dpi: 144, keyboardLayout: 'de' });
    const monitors = encodeClientMonitors([{ left: 0, top: 0, right: 1919, bottom: 1079, flags: 1 }]);
    const { ci } = connect(s, { extraBlocks: [monitors] });
    const out = parseConnectInitial(mcsOf(ci.toTarget)[0]!);
    const c = out.core;
    assert.deepEqual([c.desktopWidth, c.desktopHeight, c.keyboardLayout], [1280, 720, 0x0407]);
    assert.deepEqual([c.desktopScaleFactor, c.deviceScaleFactor], [150, 140]);
    assert.deepEqual([c.desktopPhysicalWidth, c.desktopPhysicalHeight, c.desktopOrientation], [226, 127, 0]);
    assert.equal(c.serverSelectedProtocol, 1, 'the fields before are kept');
    assert.ok(!out.blocks.some((b) => b.type === CS.MONITOR), 'no monitor layout');
    assert.deepEqual([s.header?.width, s.header?.height, s.header?.keyboardLayout], [1280, 720, 0x0407]);
    assert.deepEqual(s.notes.find(([k]) => k === 'rdp_display_settings')?.[1], { client: '1024x768', chosen: '1280x720', dpi: 144, keyboardLayout: 'de' });
  });

  it('clientBuildAtLeast (the browser door): a lower CS_CORE clientBuild is raised, a higher one kept', () => {
    for (const [sent, expected] of [
      [0, 2600],
      [19041, 19041],
    ] as const) {
      const s = session();
      const ic = new RdpInterceptor({ handle: s.handle, targetProtocol: 1, clientRequestedProtocols: 3, logon: LOGON, log: pino({ level: 'silent' }), clientBuildAtLeast: 2600 });
      const out = parseConnectInitial(mcsOf(ic.fromClient(connectInitial([], { clientBuild: sent })).toTarget)[0]!);
      assert.equal(out.core.clientBuild, expected);
      assert.equal(out.core.serverSelectedProtocol, 1, 'the fields after it are kept');
    }
    const plain = parseConnectInitial(mcsOf(interceptor(session()).fromClient(connectInitial([], { clientBuild: 0 })).toTarget)[0]!);
    assert.equal(plain.core.clientBuild, 0, 'the RDP door leaves it alone');
  });

  it('the keystroke log reads the keys with the chosen layout (German: the key right of T is z)', () => {
    const s = session({}, { keyboardLayout: 'de' });
    const { ic } = connect(s);
    ic.fromClient(fastPathKeys([0x15, 0x2c])); // US y, z positions
    assert.equal(s.keystrokes.join(''), 'zy');
    assert.ok(s.notes.some(([k, d]) => k === 'rdp_keyboard_layout' && d.layout === 'German'), JSON.stringify(s.notes));
    // Every layout a launch may choose has a table in the keystroke log (no US fallback).
    for (const [name, klid] of Object.entries(KEYBOARD_LAYOUT_IDS)) assert.equal(new KeystrokeLog(klid).fallback, false, name);
  });

  it('a chosen size is still bounded by what a recording keeps', () => {
    const s = session({}, { width: 8192, height: 8192 });
    const { ci } = connect(s);
    const c = parseConnectInitial(mcsOf(ci.toTarget)[0]!).core;
    assert.ok(c.desktopWidth < 8192 && c.desktopWidth * c.desktopHeight <= 3072 * 3072, `${c.desktopWidth}x${c.desktopHeight}`);
    assert.equal(s.notes.find(([k]) => k === 'rdp_desktop_limited')?.[1]?.asked, '8192x8192');
  });

  it('a DPI alone scales the client\'s own desktop', () => {
    const s = session({}, { dpi: 192 });
    const c = parseConnectInitial(mcsOf(connect(s).ci.toTarget)[0]!).core;
    assert.deepEqual([c.desktopWidth, c.desktopHeight, c.desktopScaleFactor, c.deviceScaleFactor], [1024, 768, 200, 180]);
    assert.deepEqual([c.desktopPhysicalWidth, c.desktopPhysicalHeight], [135, 102]);
  });

  it('scaleFor: percent scale, one of the three device factors, millimetres within 10..10000', () => {
    assert.deepEqual(scaleFor(1920, 1080, 96), { physicalWidth: 508, physicalHeight: 286, desktopScaleFactor: 100, deviceScaleFactor: 100 });
    assert.deepEqual(scaleFor(2560, 1440, 480), { physicalWidth: 135, physicalHeight: 76, desktopScaleFactor: 500, deviceScaleFactor: 180 });
    assert.equal(scaleFor(200, 200, 480).physicalWidth, 11);
  });
});
