// The RDP door negotiates no larger desktop than a recording's screen holds
// (MAX_SCREEN_PIXELS): a client asking for more gets a smaller desktop of the same shape,
// monitor layouts spanning more are left out, the recording header says what was negotiated,
// and a target that activates a larger desktop anyway is noted.
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { connect, createServer, type Socket } from 'node:net';
import type { TLSSocket } from 'node:tls';
import pino from 'pino';
import type { GraphicsHeader, SessionHandle } from '../../../src/core/broker.js';
import { limitDesktop } from '../../../src/protocols/rdp-door/desktop-limit.js';
import { RdpRecorder } from '../../../src/protocols/rdp-door/recorder.js';
import { RdpRelay } from '../../../src/protocols/rdp-door/relay.js';
import { CAPSTYPE, encodeDemandActive } from '../../../src/protocols/rdp/pdu/capabilities.js';
import { blockHeader, CS, decodeClientMonitors, encodeClientCore, encodeClientMonitors, type MonitorDef } from '../../../src/protocols/rdp/pdu/client-data.js';
import { buildConnectInitial, parseConnectInitial, rewriteConnectInitial } from '../../../src/protocols/rdp/pdu/mcs-gcc.js';
import { PDUTYPE } from '../../../src/protocols/rdp/pdu/share.js';
import { RdpFramer } from '../../../src/protocols/rdp/pdu/tpkt.js';
import { buildDataTpdu, parseDataTpdu } from '../../../src/protocols/rdp/pdu/x224.js';
import { MAX_SCREEN_PIXELS } from '../../../src/protocols/rdp/recording/desktop-size.js';
import { decodeDesktop, RDPREC } from '../../../src/protocols/rdp/recording/records.js';
import { sampleClientBlocks, sampleCore } from './fixtures.js';

const monitor = (left: number, top: number, width: number, height: number, primary = false): MonitorDef => ({ left, top, right: left + width - 1, bottom: top + height - 1, flags: primary ? 1 : 0 });

/** A Connect Initial as a client asking for width × height (and optionally a monitor layout) sends it. */
function connectInitial(width: number, height: number, extra: Buffer[] = []): Buffer {
  const blocks = sampleClientBlocks();
  blocks[0] = encodeClientCore({ ...sampleCore(), desktopWidth: width, desktopHeight: height });
  return buildConnectInitial({ blocks: [...blocks, ...extra] });
}

const MONITOR_EX = Buffer.concat([blockHeader(CS.MONITOR_EX, 8), Buffer.from([20, 0, 0, 0, 0, 0, 0, 0])]);

describe('the desktop the door negotiates', () => {
  it('leaves a desktop within the bound alone, 4K included', () => {
    for (const [w, h] of [[1024, 768], [1920, 1080], [3840, 2160], [4096, 2304]]) assert.deepEqual(limitDesktop(connectInitial(w!, h!)), { dropBlockTypes: [] }, `${w}x${h}`);
    const twoScreens = encodeClientMonitors([monitor(0, 0, 1920, 1080, true), monitor(1920, 0, 1920, 1080)]);
    assert.deepEqual(limitDesktop(connectInitial(3840, 1080, [twoScreens, MONITOR_EX])), { dropBlockTypes: [] });
  });

  it('shrinks a larger desktop to the bound, keeping its shape, with a width that is a multiple of 4', () => {
    for (const [w, h] of [[7680, 4320], [8192, 8192], [8192, 2400], [65535, 65535], [5120, 2880], [10000, 300]]) {
      const l = limitDesktop(connectInitial(w!, h!));
      const s = l.desktopSize!;
      assert.ok(s, `${w}x${h} is limited`);
      assert.ok(s.width * s.height <= MAX_SCREEN_PIXELS && s.width <= 8192 && s.height <= 8192, `${w}x${h} → ${s.width}x${s.height}`);
      assert.equal(s.width % 4, 0);
      assert.ok(s.width <= w! && s.height <= h!);
      if (w! <= 8192 && h! <= 8192) assert.ok(Math.abs(s.width / s.height - w! / h!) < 0.01, `${w}x${h} → ${s.width}x${s.height} keeps its shape`);
      assert.deepEqual(l.note, { asked: `${w}x${h}`, negotiated: `${s.width}x${s.height}`, monitorsDropped: false });
    }
  });

  it('leaves out a monitor layout spanning more than the bound, or one it cannot read', () => {
    const wall = encodeClientMonitors([monitor(0, 0, 3840, 2160, true), monitor(3840, 0, 3840, 2160)]);
    const l = limitDesktop(connectInitial(3840, 2160, [wall, MONITOR_EX]));
    assert.deepEqual(l.dropBlockTypes, [CS.MONITOR, CS.MONITOR_EX]);
    assert.deepEqual(l.note, { asked: '3840x2160', negotiated: '3840x2160', monitorsDropped: true });
    // Negative coordinates are fine (monitors left of the primary) as long as the whole fits.
    const left = encodeClientMonitors([monitor(-1920, 0, 1920, 1080), monitor(0, 0, 1920, 1080, true)]);
    assert.deepEqual(limitDesktop(connectInitial(3840, 1080, [left])).dropBlockTypes, []);
    const far = encodeClientMonitors([monitor(-8000, 0, 1024, 768), monitor(0, 0, 1024, 768, true)]);
    assert.deepEqual(limitDesktop(connectInitial(1024, 768, [far])).dropBlockTypes, [CS.MONITOR, CS.MONITOR_EX]);
    const broken = Buffer.concat([blockHeader(CS.MONITOR, 8), Buffer.from([0, 0, 0, 0, 99, 0, 0, 0])]);
    assert.deepEqual(limitDesktop(connectInitial(1024, 768, [broken])).dropBlockTypes, [CS.MONITOR, CS.MONITOR_EX]);
    assert.equal(decodeClientMonitors(wall).length, 2);
  });

  it('rewriteConnectInitial writes the new size into CS_CORE and changes nothing else there', () => {
    const pdu = connectInitial(7680, 4320);
    const out = parseConnectInitial(rewriteConnectInitial(pdu, { desktopSize: { width: 4092, height: 2302 } }).pdu);
    assert.deepEqual({ ...out.core, desktopWidth: 7680, desktopHeight: 4320 }, parseConnectInitial(pdu).core);
    assert.deepEqual([out.core.desktopWidth, out.core.desktopHeight], [4092, 2302]);
  });
});

/** Two connected TCP sockets (the relay only needs the stream side of its TLS sockets). */
async function socketPair(): Promise<[Socket, Socket]> {
  const server = createServer();
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  const port = (server.address() as { port: number }).port;
  const accepted = new Promise<Socket>((r) => server.once('connection', r));
  const a = connect(port, '127.0.0.1');
  const b = await accepted;
  server.close();
  await new Promise((r) => a.once('connect', r));
  return [a, b];
}

function fakeHandle() {
  const got = { header: null as GraphicsHeader | null, records: [] as { type: number; payload: Buffer }[], notes: [] as [string, Record<string, unknown>][] };
  const handle = {
    id: 'sess-1',
    plan: { sessionId: 'sess-1', user: { id: 'u1', username: 'alice' }, protocol: 'rdp', credential: { secretName: 'win-box' }, launcher: { record: true, recordKeystrokes: false, options: {} } },
    traffic() {},
    note: (kind: string, d: Record<string, unknown>) => got.notes.push([kind, d]),
    beginGraphics: (h: GraphicsHeader) => {
      got.header ??= h;
    },
    graphics: (type: number, payload: Uint8Array) => got.records.push({ type, payload: Buffer.from(payload) }),
    keystrokes() {},
    onJoinInput() {},
    onJoin() {},
  } as unknown as SessionHandle;
  return { handle, got };
}

describe('the relay limits the desktop', () => {
  it('a client asking for 7680 × 4320 on two monitors: the target gets a bounded CS_CORE and no monitor layout; the header and notes say so', async () => {
    const [clientApp, clientLeg] = await socketPair();
    const [targetLeg, targetApp] = await socketPair();
    const { handle, got } = fakeHandle();
    const relay = new RdpRelay({
      handle,
      client: clientLeg as unknown as TLSSocket,
      target: targetLeg as unknown as TLSSocket,
      targetProtocol: 1,
      clientRequestedProtocols: 1,
      logon: { domain: '', username: 'svc', password: 'Vaulted-1' },
      log: pino({ level: 'silent' }),
      onClose: () => {},
    });
    relay.start();
    try {
      const framer = new RdpFramer();
      const arrived = new Promise<Buffer>((resolve) => {
        targetApp.on('data', (d: Buffer) => {
          const f = framer.push(d)[0];
          if (f) resolve(parseDataTpdu(f.data));
        });
      });
      const wall = encodeClientMonitors([monitor(0, 0, 3840, 4320, true), monitor(3840, 0, 3840, 4320)]);
      clientApp.write(buildDataTpdu(connectInitial(7680, 4320, [wall, MONITOR_EX])));
      const ci = parseConnectInitial(await arrived);
      const { desktopWidth: w, desktopHeight: h } = ci.core;
      assert.ok(w * h <= MAX_SCREEN_PIXELS, `the target was asked for ${w}x${h}`);
      assert.ok(!ci.blocks.some((b) => b.type === CS.MONITOR || b.type === CS.MONITOR_EX), 'no monitor layout');
      assert.deepEqual([got.header?.width, got.header?.height], [w, h], 'the recording header has the negotiated size');
      assert.deepEqual(got.notes.find(([k]) => k === 'rdp_desktop_limited')?.[1], { asked: '7680x4320', negotiated: `${w}x${h}`, monitorsDropped: true });
    } finally {
      relay.close('test over');
      for (const s of [clientApp, targetApp]) s.destroy();
    }
  });
});

describe('the recorder and a target activating a larger desktop', () => {
  function demandActive(width: number, height: number): Buffer {
    const bmp = Buffer.alloc(24);
    bmp.writeUInt16LE(32, 0);
    bmp.writeUInt16LE(width, 8);
    bmp.writeUInt16LE(height, 10);
    return encodeDemandActive({ pduTypeField: 0x10 | PDUTYPE.DEMANDACTIVE, pduSource: 1002, shareId: 0x103ea, sourceDescriptor: Buffer.from('RDP\0'), capabilities: [{ type: CAPSTYPE.BITMAP, body: bmp }], sessionId: 0 });
  }

  it('records the DESKTOP as sent and notes once that the recording shows its top-left part', () => {
    const { handle, got } = fakeHandle();
    const r = new RdpRecorder(handle);
    r.connectInitial(connectInitial(1024, 768));
    r.targetIo(demandActive(1920, 1080));
    r.targetIo(demandActive(8192, 8192));
    r.targetIo(demandActive(8000, 8000));
    assert.deepEqual(got.records.filter((x) => x.type === RDPREC.DESKTOP).map((x) => decodeDesktop(x.payload)), [
      { width: 1920, height: 1080, bpp: 32 },
      { width: 8192, height: 8192, bpp: 32 },
      { width: 8000, height: 8000, bpp: 32 },
    ]);
    const warnings = got.notes.filter(([k]) => k === 'rdp_recorder_warning').map(([, d]) => d.message);
    assert.deepEqual(warnings, ['the target activated a 8192x8192 desktop; the recording shows its top-left 3072x3072']);
  });
});
