// The RDP recorder on its own: what each kind of PDU becomes in the recording (header,
// DESKTOP, FASTPATH_OUTPUT, SLOWPATH_OUTPUT, INPUT, KEYS), what is never recorded (the
// Client Info PDU, other Data PDUs, keyboard input when keystrokes are off), and that bad
// input never throws into the relay: it is noted once and recording goes on.
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import type { GraphicsHeader, SessionHandle } from '../../../src/core/broker.js';
import { clientColorDepth, RdpRecorder } from '../../../src/protocols/rdp-door/recorder.js';
import { CAPSTYPE, encodeDemandActive } from '../../../src/protocols/rdp/pdu/capabilities.js';
import { encodeClientCore, RNS_UD_CS } from '../../../src/protocols/rdp/pdu/client-data.js';
import { encodeClientInfo, INFO, SEC } from '../../../src/protocols/rdp/pdu/client-info.js';
import { buildSlowPathInput } from '../../../src/protocols/rdp/pdu/input.js';
import { buildConnectInitial } from '../../../src/protocols/rdp/pdu/mcs-gcc.js';
import { buildSetErrorInfo, PDUTYPE, PDUTYPE2 } from '../../../src/protocols/rdp/pdu/share.js';
import { decodeDesktop, decodeInputEvents, INPUT_KIND, KBDFLAGS, RDPREC, type InputEvent } from '../../../src/protocols/rdp/recording/records.js';
import { fuzz, sampleClientBlocks, sampleCore } from './fixtures.js';

interface Recorded {
  header: GraphicsHeader | null;
  records: { type: number; payload: Buffer }[];
  keystrokes: string[];
  notes: { kind: string; details: Record<string, unknown> }[];
}

function fakeHandle(launcher: { record: boolean; recordKeystrokes: boolean }): { handle: SessionHandle; got: Recorded } {
  const got: Recorded = { header: null, records: [], keystrokes: [], notes: [] };
  const handle = {
    id: 'sess-1',
    plan: { sessionId: 'sess-1', user: { id: 'u1', username: 'alice' }, protocol: 'rdp', target: { host: '127.0.0.1', port: 3389 }, credential: { secretName: 'win-box' }, launcher },
    beginGraphics: (h: GraphicsHeader) => {
      got.header ??= h;
      return true;
    },
    graphics: (type: number, payload: Uint8Array) => {
      if (got.header) got.records.push({ type, payload: Buffer.from(payload) });
    },
    keystrokes: (t: string) => got.keystrokes.push(t),
    note: (kind: string, details: Record<string, unknown>) => got.notes.push({ kind, details }),
  } as unknown as SessionHandle;
  return { handle, got };
}

const SECRET = 'Vaulted-Pw-9!';

// ---- real-shaped PDUs ----

const connectInitial = () => buildConnectInitial({ blocks: sampleClientBlocks() });

function demandActive(width: number, height: number, bpp: number): Buffer {
  const bmp = Buffer.alloc(24);
  bmp.writeUInt16LE(bpp, 0);
  bmp.writeUInt16LE(width, 8);
  bmp.writeUInt16LE(height, 10);
  return encodeDemandActive({ pduTypeField: 0x10 | PDUTYPE.DEMANDACTIVE, pduSource: 1002, shareId: 0x103ea, sourceDescriptor: Buffer.from('RDP\0'), capabilities: [{ type: CAPSTYPE.BITMAP, body: bmp }], sessionId: 0 });
}

/** A fast-path output PDU with one unfragmented update of the given code. */
function fastPathOutput(updateCode: number, data: Buffer): Buffer {
  const update = Buffer.concat([Buffer.from([updateCode]), Buffer.from([data.length & 0xff, data.length >> 8]), data]);
  const len = update.length + 3;
  return Buffer.concat([Buffer.from([0x00, 0x80 | (len >> 8), len & 0xff]), update]);
}

/** A slow-path Data PDU (Share Control + Share Data headers) with the given pduType2 and body. */
function dataPdu(pduType2: number, payload: Buffer): Buffer {
  const b = Buffer.alloc(18);
  b.writeUInt16LE(18 + payload.length, 0);
  b.writeUInt16LE(0x10 | PDUTYPE.DATA, 2);
  b.writeUInt16LE(1002, 4);
  b.writeUInt32LE(0x103ea, 6);
  b.writeUInt8(1, 11);
  b.writeUInt16LE(4 + payload.length, 12);
  b.writeUInt8(pduType2, 14);
  return Buffer.concat([b, payload]);
}

// Fast-path input events (2.2.8.1.2.2).
const fpScancode = (code: number, release = false) => Buffer.from([release ? 0x01 : 0x00, code]);
const fpUnicode = (unit: number, release = false) => Buffer.from([(4 << 5) | (release ? 1 : 0), unit & 0xff, unit >> 8]);
const fpMouse = (flags: number, x: number, y: number) => {
  const b = Buffer.alloc(7);
  b.writeUInt8(1 << 5, 0);
  b.writeUInt16LE(flags, 1);
  b.writeUInt16LE(x, 3);
  b.writeUInt16LE(y, 5);
  return b;
};
const fpSync = (toggles: number) => Buffer.from([(3 << 5) | toggles]);
const fpQoe = () => Buffer.from([6 << 5, 1, 2, 3, 4]);

function fastPathInput(events: Buffer[]): Buffer {
  const body = Buffer.concat(events);
  const n = events.length;
  const head = n < 16 ? [n << 2] : [0];
  const count = n < 16 ? [] : [n];
  const len = 1 + 2 + count.length + body.length;
  return Buffer.concat([Buffer.from([...head, 0x80 | (len >> 8), len & 0xff, ...count]), body]);
}

const taps = (codes: number[]) => codes.flatMap((c) => [fpScancode(c), fpScancode(c, true)]);
const PTR_MOVE = 0x0800;
const PTR_DOWN_LEFT = 0x9000;
const inputsOf = (got: Recorded) => got.records.filter((r) => r.type === RDPREC.INPUT).flatMap((r) => decodeInputEvents(r.payload));
const keysOf = (got: Recorded) => got.records.filter((r) => r.type === RDPREC.KEYS).map((r) => r.payload.toString('utf8')).join('');

describe('RDP recorder', () => {
  it('the Connect Initial starts the recording with the client desktop, colour depth and keyboard', () => {
    const { handle, got } = fakeHandle({ record: true, recordKeystrokes: true });
    new RdpRecorder(handle).connectInitial(connectInitial());
    assert.deepEqual(got.header, { format: 'rdp', formatVersion: 1, sessionId: 'sess-1', width: 1024, height: 768, colorDepth: 24, keyboardLayout: 0x409, keystrokes: true, title: 'alice → win-box (rdp)' });
    assert.ok(got.notes.some((n) => n.kind === 'rdp_keyboard_layout'));
  });

  it('colour depth: 32 bpp when the client wants it and supports it, else highColorDepth, else the old field', () => {
    const core = sampleCore();
    assert.equal(clientColorDepth({ ...core, earlyCapabilityFlags: RNS_UD_CS.WANT_32BPP_SESSION, supportedColorDepths: 0x0f }), 32);
    assert.equal(clientColorDepth({ ...core, earlyCapabilityFlags: RNS_UD_CS.WANT_32BPP_SESSION, supportedColorDepths: 0x07 }), 24);
    assert.equal(clientColorDepth({ ...core, highColorDepth: 16 }), 16);
    assert.equal(clientColorDepth({ colorDepth: 0xca01 }), 8);
    assert.equal(clientColorDepth({ colorDepth: 0xca01, postBeta2ColorDepth: 0xca03 }), 16);
    // The header follows CS_CORE as encoded.
    const { handle, got } = fakeHandle({ record: true, recordKeystrokes: false });
    const blocks = sampleClientBlocks();
    blocks[0] = encodeClientCore({ ...core, desktopWidth: 1280, desktopHeight: 800, keyboardLayout: 0x407, earlyCapabilityFlags: RNS_UD_CS.WANT_32BPP_SESSION, supportedColorDepths: 0x0f });
    new RdpRecorder(handle).connectInitial(buildConnectInitial({ blocks }));
    assert.equal(got.header!.width, 1280);
    assert.equal(got.header!.colorDepth, 32);
    assert.equal(got.header!.keyboardLayout, 0x407);
    assert.equal(got.header!.keystrokes, false);
  });

  it('target output: Demand Active → DESKTOP, fast-path PDUs and Update/Pointer Data PDUs as sent; nothing else', () => {
    const { handle, got } = fakeHandle({ record: true, recordKeystrokes: true });
    const r = new RdpRecorder(handle);
    r.connectInitial(connectInitial());
    r.targetIo(demandActive(1280, 1024, 16));
    const bitmap = fastPathOutput(0x01, Buffer.from('0100' + '0'.repeat(36), 'hex'));
    r.targetFastPath(bitmap);
    const slowBitmap = dataPdu(PDUTYPE2.UPDATE, Buffer.from([0x01, 0x00, 0x00, 0x00]));
    const pointer = dataPdu(PDUTYPE2.POINTER, Buffer.from([0x03, 0x00, 0x00, 0x00, 10, 0, 20, 0]));
    r.targetIo(slowBitmap);
    r.targetIo(pointer);
    // Never recorded: an error info, a Save Session Info (logon notification), a control PDU.
    r.targetIo(buildSetErrorInfo({ shareId: 0x103ea, pduSource: 1002, errorInfo: 1 }));
    r.targetIo(dataPdu(0x26, Buffer.concat([Buffer.alloc(4), Buffer.from('ghtarget', 'utf16le')])));
    r.targetIo(dataPdu(PDUTYPE2.CONTROL, Buffer.alloc(8)));
    const types = got.records.map((x) => x.type);
    assert.deepEqual(types, [RDPREC.DESKTOP, RDPREC.FASTPATH_OUTPUT, RDPREC.SLOWPATH_OUTPUT, RDPREC.SLOWPATH_OUTPUT]);
    assert.deepEqual(decodeDesktop(got.records[0]!.payload), { width: 1280, height: 1024, bpp: 16 });
    assert.deepEqual(got.records[1]!.payload, bitmap);
    assert.deepEqual(got.records[2]!.payload, slowBitmap);
    assert.deepEqual(got.records[3]!.payload, pointer);
    r.finish();
    const summary = got.notes.find((n) => n.kind === 'rdp_recording_summary')!;
    assert.deepEqual(summary.details.updates, { bitmap: 2, 'pointer-position': 1 });
    assert.ok(!got.notes.some((n) => n.kind === 'rdp_recorder_warning'));
  });

  it('input: fast-path and slow-path events normalised, keystrokes decoded into KEYS and the keystroke log', () => {
    const { handle, got } = fakeHandle({ record: true, recordKeystrokes: true });
    const r = new RdpRecorder(handle);
    r.connectInitial(connectInitial());
    // "ls" Enter as scancodes, a mouse move, a QoE timestamp (dropped).
    r.clientFastPath(fastPathInput([...taps([0x26, 0x1f, 0x1c]), fpMouse(PTR_MOVE, 100, 200), fpQoe()]));
    assert.equal(r.takeActivity(), true);
    // é as a Unicode event, extended Right Ctrl (no text).
    r.clientFastPath(fastPathInput([fpUnicode(0xe9), fpUnicode(0xe9, true), Buffer.from([0x02, 0x1d]), Buffer.from([0x03, 0x1d])]));
    // Slow path: "x" and a click.
    r.clientIo(buildSlowPathInput({ shareId: 0x103ea, pduSource: 1007, events: [{ type: 'scancode', keyboardFlags: 0, keyCode: 0x2d }, { type: 'scancode', keyboardFlags: KBDFLAGS.RELEASE, keyCode: 0x2d }, { type: 'mouse', pointerFlags: PTR_DOWN_LEFT, x: 5, y: 6 }] }));
    const ev = inputsOf(got);
    const want: InputEvent[] = [
      { kind: INPUT_KIND.SCANCODE, flags: 0, a: 0x26, b: 0 },
      { kind: INPUT_KIND.SCANCODE, flags: KBDFLAGS.RELEASE, a: 0x26, b: 0 },
      { kind: INPUT_KIND.SCANCODE, flags: 0, a: 0x1f, b: 0 },
      { kind: INPUT_KIND.SCANCODE, flags: KBDFLAGS.RELEASE, a: 0x1f, b: 0 },
      { kind: INPUT_KIND.SCANCODE, flags: 0, a: 0x1c, b: 0 },
      { kind: INPUT_KIND.SCANCODE, flags: KBDFLAGS.RELEASE, a: 0x1c, b: 0 },
      { kind: INPUT_KIND.MOUSE, flags: PTR_MOVE, a: 100, b: 200 },
      { kind: INPUT_KIND.UNICODE, flags: 0, a: 0xe9, b: 0 },
      { kind: INPUT_KIND.UNICODE, flags: KBDFLAGS.RELEASE, a: 0xe9, b: 0 },
      { kind: INPUT_KIND.SCANCODE, flags: KBDFLAGS.EXTENDED, a: 0x1d, b: 0 },
      { kind: INPUT_KIND.SCANCODE, flags: KBDFLAGS.EXTENDED | KBDFLAGS.RELEASE, a: 0x1d, b: 0 },
      { kind: INPUT_KIND.SCANCODE, flags: 0, a: 0x2d, b: 0 },
      { kind: INPUT_KIND.SCANCODE, flags: KBDFLAGS.RELEASE, a: 0x2d, b: 0 },
      { kind: INPUT_KIND.MOUSE, flags: PTR_DOWN_LEFT, a: 5, b: 6 },
    ];
    assert.deepEqual(ev, want);
    assert.equal(got.records.filter((x) => x.type === RDPREC.INPUT).length, 3, 'one INPUT record per PDU');
    assert.equal(keysOf(got), 'ls\néx');
    assert.equal(got.keystrokes.join(''), 'ls\réx');
  });

  it('keystrokes off: only mouse and sync input is recorded, no KEYS, no keystroke log', () => {
    const { handle, got } = fakeHandle({ record: true, recordKeystrokes: false });
    const r = new RdpRecorder(handle);
    r.connectInitial(connectInitial());
    r.clientFastPath(fastPathInput([...taps([0x19, 0x1e]), fpUnicode(0x41), fpSync(0x04), fpMouse(PTR_MOVE, 1, 2)]));
    r.clientIo(buildSlowPathInput({ shareId: 1, pduSource: 1007, events: [{ type: 'scancode', keyboardFlags: 0, keyCode: 0x19 }] }));
    assert.deepEqual(inputsOf(got).map((e) => e.kind), [INPUT_KIND.SYNC, INPUT_KIND.MOUSE]);
    assert.equal(got.records.filter((x) => x.type === RDPREC.INPUT).length, 1, 'the keyboard-only PDU leaves no record');
    assert.equal(keysOf(got), '');
    assert.deepEqual(got.keystrokes, []);
  });

  it('recording off: nothing is recorded, but input still counts as activity', () => {
    const { handle, got } = fakeHandle({ record: false, recordKeystrokes: true });
    const r = new RdpRecorder(handle);
    r.connectInitial(connectInitial());
    r.targetIo(demandActive(800, 600, 32));
    r.targetFastPath(fastPathOutput(0x01, Buffer.alloc(4)));
    r.clientFastPath(fastPathInput(taps([0x1e])));
    assert.equal(got.header, null);
    assert.deepEqual(got.records, []);
    assert.deepEqual(got.keystrokes, []);
    assert.equal(r.takeActivity(), true);
    assert.equal(r.takeActivity(), false);
  });

  it('a bare sync (focus change) or QoE timestamp is not activity', () => {
    const { handle } = fakeHandle({ record: true, recordKeystrokes: true });
    const r = new RdpRecorder(handle);
    r.clientFastPath(fastPathInput([fpSync(0x02)]));
    r.clientFastPath(fastPathInput([fpQoe()]));
    assert.equal(r.takeActivity(), false);
  });

  it('the Client Info PDU, with the credential, leaves no trace', () => {
    const { handle, got } = fakeHandle({ record: true, recordKeystrokes: true });
    const r = new RdpRecorder(handle);
    r.connectInitial(connectInitial());
    const info = encodeClientInfo({ securityFlags: SEC.INFO_PKT, securityFlagsHi: 0, codePage: 0, flags: INFO.UNICODE | INFO.AUTOLOGON, domain: '', userName: 'ghtarget', password: SECRET, alternateShell: '', workingDir: '', extraInfo: Buffer.alloc(0) });
    r.clientIo(info);
    r.targetIo(info);
    assert.equal(got.records.length, 0);
    assert.ok(!JSON.stringify(got).includes(SECRET));
  });

  it('bad input never throws: the first failure of each kind is noted, recording goes on', () => {
    const { handle, got } = fakeHandle({ record: true, recordKeystrokes: true });
    const r = new RdpRecorder(handle);
    r.connectInitial(Buffer.from([0x7f, 0x65, 0x01]));
    assert.equal(got.header, null);
    r.connectInitial(connectInitial());
    for (let i = 0; i < 3; i++) {
      r.clientFastPath(Buffer.from([0x08, 0x04, 0x00, 0x1e])); // two events announced, one present
      r.clientIo(dataPdu(PDUTYPE2.INPUT, Buffer.from([5, 0, 0, 0])));
      r.targetIo(Buffer.concat([demandActive(800, 600, 32).subarray(0, 20)]));
    }
    r.clientFastPath(fastPathInput(taps([0x1e])));
    r.targetFastPath(fastPathOutput(0x00, Buffer.alloc(6))); // drawing orders: replay cannot show them
    r.targetFastPath(fastPathOutput(0x00, Buffer.alloc(6)));
    const warnings = got.notes.filter((n) => n.kind === 'rdp_recorder_warning').map((n) => String(n.details.message));
    assert.equal(warnings.filter((w) => w.startsWith('header')).length, 1);
    assert.equal(warnings.filter((w) => w.startsWith('client fast-path input')).length, 1);
    assert.equal(warnings.filter((w) => w.startsWith('client slow-path input')).length, 1);
    assert.equal(warnings.filter((w) => /orders/.test(w)).length, 1);
    assert.equal(keysOf(got), 'a');
    assert.equal(got.records.filter((x) => x.type === RDPREC.FASTPATH_OUTPUT).length, 2);
    // A broken session handle is no reason to fail the relay either.
    const broken = { ...handle, plan: handle.plan, graphics: () => { throw new Error('disk full'); }, note: () => { throw new Error('gone'); } } as unknown as SessionHandle;
    const r2 = new RdpRecorder(broken);
    r2.targetFastPath(fastPathOutput(0x01, Buffer.alloc(4)));
    r2.clientFastPath(fastPathInput(taps([0x1e])));
    r2.finish();
  });

  it('mutated PDUs in every entry point never throw', () => {
    const { handle } = fakeHandle({ record: true, recordKeystrokes: true });
    const r = new RdpRecorder(handle);
    r.connectInitial(connectInitial());
    const seeds = [fastPathInput([...taps([0x1e, 0x1c]), fpMouse(PTR_MOVE, 3, 4), fpUnicode(0x20ac)]), buildSlowPathInput({ shareId: 1, pduSource: 1007, events: [{ type: 'sync', toggleFlags: 2 }, { type: 'relative-mouse', pointerFlags: PTR_MOVE, dx: -3, dy: 4 }] }), demandActive(1024, 768, 32), fastPathOutput(0x01, Buffer.alloc(20))];
    fuzz(seeds, (b) => {
      r.clientFastPath(b);
      r.clientIo(b);
      r.targetIo(b);
      r.targetFastPath(b);
      r.connectInitial(b);
    }, { runs: 3000 });
  });
});
