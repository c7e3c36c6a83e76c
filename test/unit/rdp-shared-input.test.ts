// Shared control of an RDP session without sockets: the fast-path input PDUs the gateway
// builds for a joiner (keys, mouse, wheel: exact bytes, and read back by the parser), the
// joiner's event frames checked, and the interceptor injecting them toward the target —
// fast-path when the client uses it, slow-path otherwise — recorded under the joiner's name
// (an AUTHOR record before their INPUT/KEYS records; their own line in the keystroke log).
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import pino from 'pino';
import type { GraphicsHeader, InputAuthor, SessionHandle } from '../../src/core/broker.js';
import { RdpInterceptor } from '../../src/protocols/rdp-door/interceptor.js';
import { parseJoinerEvents, toFastPath, toSlowPath } from '../../src/protocols/rdp-door/join-input.js';
import { CAPSTYPE, encodeConfirmActive, encodeDemandActive } from '../../src/protocols/rdp/pdu/capabilities.js';
import { encodeClientCore, RNS_UD_CS } from '../../src/protocols/rdp/pdu/client-data.js';
import { encodeClientInfo, INFO, SEC } from '../../src/protocols/rdp/pdu/client-info.js';
import { parseFastPathInputEvents, parseFastPathInputHeader } from '../../src/protocols/rdp/pdu/fastpath.js';
import { buildFastPathInput, PTRFLAGS } from '../../src/protocols/rdp/pdu/fastpath-input.js';
import { parseSlowPathInput } from '../../src/protocols/rdp/pdu/input.js';
import { buildConnectInitial, buildConnectResponse } from '../../src/protocols/rdp/pdu/mcs-gcc.js';
import { buildSendData, DOMAIN_PDU, parseSendData } from '../../src/protocols/rdp/pdu/mcs-domain.js';
import { PDUTYPE } from '../../src/protocols/rdp/pdu/share.js';
import { encodeServerCore, encodeServerNetwork, encodeServerSecurity } from '../../src/protocols/rdp/pdu/server-data.js';
import { RdpFramer } from '../../src/protocols/rdp/pdu/tpkt.js';
import { buildDataTpdu, parseDataTpdu } from '../../src/protocols/rdp/pdu/x224.js';
import { decodeAuthor, decodeInputEvents, encodeAuthor, encodeDesktop, INPUT_KIND, RDPREC } from '../../src/protocols/rdp/recording/records.js';
import { renderAt } from '../../src/protocols/rdp/recording/decoder/index.js';
import { parseRecording } from '../../ui/src/rdp/recording.js';
import { ghrecFile, recordingHeader } from '../protocols/rdp/decoder-support.js';
import { sampleClientBlocks, sampleCore } from '../protocols/rdp/fixtures.js';

describe('fast-path input PDUs for a joiner', () => {
  it('a key press and release: exact bytes', () => {
    // 'a' (scancode 0x1e) down, up: header = 2 events << 2, length 6, then [code 0 | flags, key] twice.
    const pdu = buildFastPathInput(toFastPath([{ t: 'key', sc: 0x1e, ext: false, up: false }, { t: 'key', sc: 0x1e, ext: false, up: true }]));
    assert.deepEqual([...pdu], [0x08, 0x06, 0x00, 0x1e, 0x01, 0x1e]);
  });

  it('an extended key (right Ctrl, E0 1D) carries the EXTENDED flag', () => {
    const pdu = buildFastPathInput(toFastPath([{ t: 'key', sc: 0x1d, ext: true, up: false }]));
    assert.deepEqual([...pdu], [0x04, 0x04, 0x02, 0x1d]);
  });

  it('mouse move, left button down at a point: exact bytes', () => {
    const pdu = buildFastPathInput(toFastPath([{ t: 'move', x: 0x0102, y: 0x0304 }, { t: 'button', b: 1, down: true, x: 0x0102, y: 0x0304 }]));
    assert.deepEqual([...pdu], [0x08, 0x10, 0x20, 0x00, 0x08, 0x02, 0x01, 0x04, 0x03, 0x20, 0x00, 0x90, 0x02, 0x01, 0x04, 0x03]);
  });

  it('wheel up and down: WHEEL with 120 rotation units, 9-bit two\'s complement (WHEEL_NEGATIVE) for down', () => {
    const [up, down] = toFastPath([{ t: 'wheel', d: 1, x: 5, y: 6, h: false }, { t: 'wheel', d: -1, x: 5, y: 6, h: false }]);
    assert.equal((up as { pointerFlags: number }).pointerFlags, PTRFLAGS.WHEEL | 0x78);
    assert.equal((down as { pointerFlags: number }).pointerFlags, PTRFLAGS.WHEEL | PTRFLAGS.WHEEL_NEGATIVE | 0x88);
    const pdu = buildFastPathInput([up!, down!]);
    assert.deepEqual([...pdu.subarray(0, 4)], [0x08, 16, 0x20, 0x78]);
  });

  it('round-trips through the parser; 15 events (the most one PDU takes) still fit a one-byte length', () => {
    const events = toFastPath(Array.from({ length: 15 }, (_, i) => ({ t: 'button' as const, b: 2 as const, down: i % 2 === 0, x: i, y: 2 * i })));
    const pdu = buildFastPathInput(events);
    assert.equal(pdu.length, 2 + 15 * 7);
    assert.deepEqual([pdu[0], pdu[1]], [15 << 2, 107]);
    assert.deepEqual(parseFastPathInputEvents(pdu, parseFastPathInputHeader(pdu)), events);
    assert.throws(() => buildFastPathInput([]), RangeError);
  });

  it('slow-path form: press without flags, release with KBDFLAGS_RELEASE, extended 0x0100', () => {
    assert.deepEqual(toSlowPath([{ t: 'key', sc: 0x48, ext: true, up: false }, { t: 'key', sc: 0x48, ext: true, up: true }]), [
      { type: 'scancode', keyboardFlags: 0x0100, keyCode: 0x48 },
      { type: 'scancode', keyboardFlags: 0x8100, keyCode: 0x48 },
    ]);
  });
});

describe("a joiner's event frames", () => {
  it('keeps valid events and drops anything else', () => {
    const frame = JSON.stringify([
      { t: 'key', sc: 30, up: false },
      { t: 'key', sc: 300 },
      { t: 'move', x: 10, y: 20 },
      { t: 'move', x: -1, y: 20 },
      { t: 'button', b: 4, down: true, x: 1, y: 1 },
      { t: 'wheel', d: -1, x: 1, y: 1 },
      { t: 'wheel', d: 50, x: 1, y: 1 },
      { t: 'exec', cmd: 'x' },
      null,
    ]);
    assert.deepEqual(parseJoinerEvents(Buffer.from(frame)), [
      { t: 'key', sc: 30, ext: false, up: false },
      { t: 'move', x: 10, y: 20 },
      { t: 'wheel', d: -1, x: 1, y: 1, h: false },
    ]);
    assert.deepEqual(parseJoinerEvents('not json'), []);
    assert.deepEqual(parseJoinerEvents('{"t":"key","sc":30}'), []);
    assert.equal(parseJoinerEvents(JSON.stringify(Array.from({ length: 500 }, () => ({ t: 'move', x: 1, y: 1 })))).length, 64);
  });
});

// ---- the interceptor, driven to the active phase with synthesised PDUs

const IO = 1003;
const USER = 1007;
const SERVER = 1002;
const SHARE_ID = 0x103ea;
const OWNER = { id: 'u1', username: 'alice' };
const AUDREY: InputAuthor = { id: 'u2', username: 'audrey' };

interface Got {
  handle: SessionHandle;
  records: { type: number; payload: Buffer }[];
  keystrokes: { text: string; by?: string }[];
}

function session(): Got {
  const got: Got = { handle: null as unknown as SessionHandle, records: [], keystrokes: [] };
  got.handle = {
    id: 'sess-1',
    plan: { sessionId: 'sess-1', user: OWNER, protocol: 'rdp', credential: { secretName: 'win-box' }, launcher: { record: true, recordKeystrokes: true, options: {} } },
    traffic() {},
    note() {},
    beginGraphics: (_h: GraphicsHeader) => true,
    graphics: (type: number, payload: Uint8Array) => got.records.push({ type, payload: Buffer.from(payload) }),
    keystrokes: (text: string, by?: InputAuthor) => got.keystrokes.push({ text, ...(by ? { by: by.username } : {}) }),
  } as unknown as SessionHandle;
  return got;
}

const req = (data: Buffer) => buildDataTpdu(buildSendData({ type: DOMAIN_PDU.SEND_DATA_REQUEST, initiator: USER, channelId: IO, flags: 0x70, data }));
const ind = (data: Buffer) => buildDataTpdu(buildSendData({ type: DOMAIN_PDU.SEND_DATA_INDICATION, initiator: SERVER, channelId: IO, flags: 0x70, data }));

function connect(g: Got): RdpInterceptor {
  const ic = new RdpInterceptor({ handle: g.handle, targetProtocol: 1, clientRequestedProtocols: 3, logon: { domain: '', username: 'svc', password: 'pw' }, log: pino({ level: 'silent' }) });
  const blocks = sampleClientBlocks();
  blocks[0] = encodeClientCore({ ...sampleCore(), serverSelectedProtocol: 1, earlyCapabilityFlags: RNS_UD_CS.SUPPORT_ERRINFO_PDU });
  ic.fromClient(buildDataTpdu(buildConnectInitial({ blocks })));
  ic.fromTarget(buildDataTpdu(buildConnectResponse({ blocks: [encodeServerCore({ version: 0x00080004, clientRequestedProtocols: 1, earlyCapabilityFlags: 0 }), encodeServerNetwork({ mcsChannelId: IO, channelIds: [] }), encodeServerSecurity({ encryptionMethod: 0, encryptionLevel: 0 })] })));
  ic.fromClient(req(encodeClientInfo({ securityFlags: SEC.INFO_PKT, securityFlagsHi: 0, codePage: 0x409, flags: INFO.MOUSE | INFO.UNICODE, domain: '', userName: 'p', password: '', alternateShell: '', workingDir: '', extraInfo: Buffer.alloc(0) })));
  const bmp = Buffer.alloc(24);
  bmp.writeUInt16LE(32, 0);
  bmp.writeUInt16LE(1024, 8);
  bmp.writeUInt16LE(768, 10);
  ic.fromTarget(ind(encodeDemandActive({ pduTypeField: 0x10 | PDUTYPE.DEMANDACTIVE, pduSource: SERVER, shareId: SHARE_ID, sourceDescriptor: Buffer.from('RDP\0'), capabilities: [{ type: CAPSTYPE.BITMAP, body: bmp }], sessionId: 0 })));
  ic.fromClient(req(encodeConfirmActive({ pduTypeField: 0x10 | PDUTYPE.CONFIRMACTIVE, pduSource: USER, shareId: SHARE_ID, originatorId: 0x3ea, sourceDescriptor: Buffer.from('MSTSC\0'), capabilities: [], trailer: Buffer.alloc(0) })));
  return ic;
}

/** Key taps ('h', 'i', Enter) as a joiner's page sends them. */
const taps = (codes: number[]) => parseJoinerEvents(JSON.stringify(codes.flatMap((sc) => [{ t: 'key', sc }, { t: 'key', sc, up: true }])));
const H_I_ENTER = [0x23, 0x17, 0x1c];

describe('the interceptor injects a joiner\'s input', () => {
  it('nothing before the desktop is up', () => {
    const g = session();
    const ic = new RdpInterceptor({ handle: g.handle, targetProtocol: 1, clientRequestedProtocols: 3, logon: { domain: '', username: 'svc', password: 'pw' }, log: pino({ level: 'silent' }) });
    assert.deepEqual(ic.inject(taps([0x23]), AUDREY), []);
  });

  it('slow-path (the client sent no fast-path input): an Input Event PDU from the client\'s MCS user on the I/O channel', () => {
    const g = session();
    const ic = connect(g);
    const frames = ic.inject(taps([0x23]), AUDREY);
    assert.equal(frames.length, 1);
    const [f] = new RdpFramer().push(frames[0]!);
    assert.equal(f!.kind, 'tpkt');
    const sd = parseSendData(parseDataTpdu(f!.data))!;
    assert.deepEqual([sd.type, sd.initiator, sd.channelId], [DOMAIN_PDU.SEND_DATA_REQUEST, USER, IO]);
    assert.equal(sd.data.readUInt32LE(6), SHARE_ID);
    assert.deepEqual(parseSlowPathInput(sd.data), [
      { type: 'scancode', keyboardFlags: 0, keyCode: 0x23 },
      { type: 'scancode', keyboardFlags: 0x8000, keyCode: 0x23 },
    ]);
  });

  it('fast-path once the client uses it; recorded under the joiner, the owner\'s input after it under the owner', () => {
    const g = session();
    const ic = connect(g);
    // The owner types 'a' (fast-path): no AUTHOR record while nobody else has typed.
    ic.fromClient(Buffer.from([0x08, 0x06, 0x00, 0x1e, 0x01, 0x1e]));
    assert.ok(!g.records.some((r) => r.type === RDPREC.AUTHOR));
    const frames = ic.inject(taps(H_I_ENTER), AUDREY);
    assert.equal(frames.length, 1);
    const ev = parseFastPathInputEvents(frames[0]!, parseFastPathInputHeader(frames[0]!));
    assert.deepEqual(ev.map((e) => e.type === 'scancode' && [e.keyCode, e.flags]), [[0x23, 0], [0x23, 1], [0x17, 0], [0x17, 1], [0x1c, 0], [0x1c, 1]]);
    ic.fromClient(Buffer.from([0x08, 0x06, 0x00, 0x30, 0x01, 0x30])); // the owner: 'b'
    const types = g.records.filter((r) => r.type !== RDPREC.DESKTOP).map((r) => r.type);
    assert.deepEqual(types, [RDPREC.INPUT, RDPREC.KEYS, RDPREC.AUTHOR, RDPREC.INPUT, RDPREC.KEYS, RDPREC.AUTHOR, RDPREC.INPUT, RDPREC.KEYS]);
    const authors = g.records.filter((r) => r.type === RDPREC.AUTHOR).map((r) => decodeAuthor(r.payload));
    assert.deepEqual(authors, [AUDREY, { ...OWNER, owner: true }]);
    const joinerInput = decodeInputEvents(g.records.filter((r) => r.type === RDPREC.INPUT)[1]!.payload);
    assert.deepEqual(joinerInput.map((e) => [e.kind, e.a]), H_I_ENTER.flatMap((c) => [[INPUT_KIND.SCANCODE, c], [INPUT_KIND.SCANCODE, c]]));
    assert.deepEqual(g.keystrokes, [{ text: 'a' }, { text: 'hi\r', by: 'audrey' }, { text: 'b' }]);
  });

  it('mouse and wheel go to the target and into the recording (not the keystroke log)', () => {
    const g = session();
    const ic = connect(g);
    ic.fromClient(buildFastPathInput(toFastPath([{ t: 'move', x: 1, y: 1 }])));
    const frames = ic.inject(parseJoinerEvents(JSON.stringify([{ t: 'button', b: 1, down: true, x: 40, y: 50 }, { t: 'wheel', d: -1, x: 40, y: 50 }])), AUDREY);
    const ev = parseFastPathInputEvents(frames[0]!, parseFastPathInputHeader(frames[0]!));
    assert.deepEqual(ev.map((e) => e.type === 'mouse' && [e.pointerFlags, e.x, e.y]), [[PTRFLAGS.BUTTON1 | PTRFLAGS.DOWN, 40, 50], [PTRFLAGS.WHEEL | 0x188, 40, 50]]);
    assert.equal(g.keystrokes.length, 0);
    assert.ok(g.records.some((r) => r.type === RDPREC.AUTHOR));
  });

  it('nothing after the connection ended', () => {
    const g = session();
    const ic = connect(g);
    ic.stop();
    assert.deepEqual(ic.inject(taps([0x23]), AUDREY), []);
  });
});

describe('a shared recording in the player', () => {
  const keys = (t: string) => new TextEncoder().encode(t);
  it('typed lines name who typed them (AUTHOR records); a recording with no AUTHOR reads as before; the decoder skips AUTHOR', () => {
    const file = ghrecFile(recordingHeader({ keystrokes: true }), [
      [RDPREC.DESKTOP, 0, encodeDesktop(64, 48, 32)],
      [RDPREC.KEYS, 1000, keys('ls')],
      [RDPREC.AUTHOR, 2000, encodeAuthor(AUDREY)],
      [RDPREC.KEYS, 2000, keys('who')],
      [RDPREC.AUTHOR, 3000, encodeAuthor({ ...OWNER, owner: true })],
      [RDPREC.KEYS, 3000, keys(' -l\n')],
      [RDPREC.AUTHOR, 4000, encodeAuthor(AUDREY)],
      [RDPREC.KEYS, 4000, keys('ami\n')],
    ]);
    const rec = parseRecording(file);
    assert.deepEqual(rec.keyLines.map((l) => [l.text, l.by]), [['ls -l', 'alice'], ['whoami', 'audrey']]);
    assert.deepEqual([renderAt(file, 5).width, renderAt(file, 5).height], [64, 48]);
    const plain = parseRecording(ghrecFile(recordingHeader({ keystrokes: true }), [[RDPREC.KEYS, 1000, keys('ls\n')]]));
    assert.deepEqual(plain.keyLines.map((l) => [l.text, l.by]), [['ls', undefined]]);
  });
});
