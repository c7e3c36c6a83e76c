// The RDP session recorder: turns what the relay passes into the records of an "rdp"
// ghrec recording (see ../recording/records.ts). The relay hands it parsed pieces it has
// already framed — never the Client Info PDU, never virtual channel data — and it keeps:
//   Connect Initial         → the recording header (desktop size, colour depth, keyboard)
//   target Demand Active    → DESKTOP (the activated desktop's size and depth)
//   target fast-path output → FASTPATH_OUTPUT (the whole PDU, as on the wire)
//   target Update/Pointer   → SLOWPATH_OUTPUT (the Share Control PDU)
//   client input            → INPUT (normalised events; keyboard only when keystrokes are recorded)
//                           → KEYS and the session's keystroke log (the text the keys produced)
//   a joiner's input        → the same, after an AUTHOR record naming them (shared control);
//                             each person's keys go through their own keystroke decoder
// A recorder failure must never cost the person their session: every entry point catches,
// notes the first failure of each kind, and carries on.
import type { InputAuthor, SessionHandle } from '../../core/broker.js';
import { RNS_UD_CS, type ClientCoreData } from '../rdp/pdu/client-data.js';
import { bitmapCapability, isDemandActive, parseDemandActive } from '../rdp/pdu/capabilities.js';
import { FASTPATH_FLAGS, FASTPATH_KBDFLAGS, FASTPATH_UPDATE, parseFastPathInputEvents, parseFastPathInputHeader, type FastPathInputEvent } from '../rdp/pdu/fastpath.js';
import { dataPduType2, parseSlowPathInput, type SlowPathInputEvent } from '../rdp/pdu/input.js';
import { parseConnectInitial } from '../rdp/pdu/mcs-gcc.js';
import { PDUTYPE2 } from '../rdp/pdu/share.js';
import { fitsScreen, screenSize } from '../rdp/recording/desktop-size.js';
import { KeystrokeLog } from '../rdp/recording/keyboard.js';
import { encodeAuthor, encodeDesktop, encodeInputEvents, INPUT_KIND, KBDFLAGS, RDP_RECORDING_FORMAT, RDP_RECORDING_VERSION, RDPREC, type InputEvent, type RdpRecordingHeader } from '../rdp/recording/records.js';

/** CS_CORE colorDepth / postBeta2ColorDepth values (2.2.1.3.2) and the depth they mean. */
const RNS_UD_COLOR: Record<number, number> = { 0xca00: 4, 0xca01: 8, 0xca02: 15, 0xca03: 16, 0xca04: 24 };
const RNS_UD_32BPP_SUPPORT = 0x0008;

/** What the update codes are called in the recording statistics note. */
const FASTPATH_NAMES: Record<number, string> = {
  [FASTPATH_UPDATE.ORDERS]: 'orders',
  [FASTPATH_UPDATE.BITMAP]: 'bitmap',
  [FASTPATH_UPDATE.PALETTE]: 'palette',
  [FASTPATH_UPDATE.SYNCHRONIZE]: 'synchronize',
  [FASTPATH_UPDATE.SURFCMDS]: 'surface-commands',
  [FASTPATH_UPDATE.PTR_NULL]: 'pointer-hidden',
  [FASTPATH_UPDATE.PTR_DEFAULT]: 'pointer-default',
  [FASTPATH_UPDATE.PTR_POSITION]: 'pointer-position',
  [FASTPATH_UPDATE.COLOR]: 'pointer-color',
  [FASTPATH_UPDATE.CACHED]: 'pointer-cached',
  [FASTPATH_UPDATE.POINTER]: 'pointer-new',
  [FASTPATH_UPDATE.LARGE_POINTER]: 'pointer-large',
};
const SLOWPATH_UPDATE_NAMES = ['orders', 'bitmap', 'palette', 'synchronize'];
const SLOWPATH_POINTER_NAMES: Record<number, string> = { 1: 'pointer-system', 3: 'pointer-position', 6: 'pointer-color', 7: 'pointer-cached', 8: 'pointer-new', 9: 'pointer-large' };
/** Updates the decoder cannot replay: the capability restriction should have ruled them out. */
const UNREPLAYABLE = new Set(['orders', 'surface-commands', 'pointer-large', 'compressed']);

const utf8 = new TextEncoder();

/** The colour depth a client asked for in CS_CORE. */
export function clientColorDepth(core: { colorDepth: number; postBeta2ColorDepth?: number; highColorDepth?: number; supportedColorDepths?: number; earlyCapabilityFlags?: number }): number {
  if (core.earlyCapabilityFlags !== undefined && core.earlyCapabilityFlags & RNS_UD_CS.WANT_32BPP_SESSION && (core.supportedColorDepths ?? 0) & RNS_UD_32BPP_SUPPORT) return 32;
  if (core.highColorDepth) return core.highColorDepth;
  return RNS_UD_COLOR[core.postBeta2ColorDepth ?? core.colorDepth] ?? 8;
}

/** Fast-path keyboard flags in the slow-path KBDFLAGS form the INPUT records use. */
function kbdFlags(fast: number): number {
  return (fast & FASTPATH_KBDFLAGS.RELEASE ? KBDFLAGS.RELEASE : 0) | (fast & FASTPATH_KBDFLAGS.EXTENDED ? KBDFLAGS.EXTENDED : 0) | (fast & FASTPATH_KBDFLAGS.EXTENDED1 ? KBDFLAGS.EXTENDED1 : 0);
}

export function normaliseFastPathInput(e: FastPathInputEvent): InputEvent | null {
  switch (e.type) {
    case 'scancode':
      return { kind: INPUT_KIND.SCANCODE, flags: kbdFlags(e.flags), a: e.keyCode, b: 0 };
    case 'unicode':
      return { kind: INPUT_KIND.UNICODE, flags: e.flags & FASTPATH_KBDFLAGS.RELEASE ? KBDFLAGS.RELEASE : 0, a: e.unicodeCode, b: 0 };
    case 'mouse':
      return { kind: INPUT_KIND.MOUSE, flags: e.pointerFlags, a: e.x, b: e.y };
    case 'mousex':
      return { kind: INPUT_KIND.MOUSE_EXTENDED, flags: e.pointerFlags, a: e.x, b: e.y };
    case 'sync':
      return { kind: INPUT_KIND.SYNC, flags: e.flags, a: 0, b: 0 };
    case 'relative-mouse':
      return { kind: INPUT_KIND.MOUSE_RELATIVE, flags: e.pointerFlags, a: e.dx & 0xffff, b: e.dy & 0xffff };
    default:
      return null; // QoE timestamps say nothing about the screen or the person
  }
}

export function normaliseSlowPathInput(e: SlowPathInputEvent): InputEvent | null {
  switch (e.type) {
    case 'scancode':
      return { kind: INPUT_KIND.SCANCODE, flags: e.keyboardFlags, a: e.keyCode, b: 0 };
    case 'unicode':
      return { kind: INPUT_KIND.UNICODE, flags: e.keyboardFlags & KBDFLAGS.RELEASE, a: e.unicodeCode, b: 0 };
    case 'mouse':
      return { kind: INPUT_KIND.MOUSE, flags: e.pointerFlags, a: e.x, b: e.y };
    case 'mousex':
      return { kind: INPUT_KIND.MOUSE_EXTENDED, flags: e.pointerFlags, a: e.x, b: e.y };
    case 'sync':
      return { kind: INPUT_KIND.SYNC, flags: e.toggleFlags & 0xffff, a: 0, b: 0 };
    case 'relative-mouse':
      return { kind: INPUT_KIND.MOUSE_RELATIVE, flags: e.pointerFlags, a: e.dx & 0xffff, b: e.dy & 0xffff };
    default:
      return null;
  }
}

const isKeyboard = (e: InputEvent) => e.kind === INPUT_KIND.SCANCODE || e.kind === INPUT_KIND.UNICODE;

export class RdpRecorder {
  private readonly recording: boolean;
  private readonly keys: boolean;
  private keystrokeLog: KeystrokeLog | null = null;
  private keyboardLayout = 0;
  /** Shared control: each joiner's keys decoded on their own (shift and dead-key state are per person). */
  private readonly joinerLogs = new Map<string, KeystrokeLog>();
  /** Whose input the last AUTHOR record named (null: none written yet, the owner's input). */
  private author: string | null = null;
  private readonly warned = new Set<string>();
  private readonly updates = new Map<string, number>();
  private inputEvents = 0;
  /** Whether a real input event (not a QoE timestamp or a bare sync) came since the last check. */
  private activity = false;

  constructor(private readonly handle: SessionHandle) {
    const l = handle.plan.launcher;
    this.recording = l.record;
    this.keys = l.record && l.recordKeystrokes;
  }

  /**
   * The client's MCS Connect Initial as the target gets it (the desktop size limited): starts
   * the recording. The interceptor passes the CS_CORE it already has (start); this entry
   * parses a whole PDU for callers that hold nothing else.
   */
  connectInitial(mcs: Buffer): void {
    this.guard('header', () => this.begin(parseConnectInitial(mcs).core));
  }

  /** CS_CORE as the target gets it: starts the recording (the header: desktop, colour depth, keyboard). */
  start(core: ClientCoreData): void {
    this.guard('header', () => this.begin(core));
  }

  private begin(core: ClientCoreData): void {
    {
      if (!this.recording) return;
      const p = this.handle.plan;
      const header: Omit<RdpRecordingHeader, 'startedAt'> = {
        format: RDP_RECORDING_FORMAT,
        formatVersion: RDP_RECORDING_VERSION,
        sessionId: this.handle.id,
        width: core.desktopWidth,
        height: core.desktopHeight,
        colorDepth: clientColorDepth(core),
        keyboardLayout: core.keyboardLayout,
        keystrokes: p.launcher.recordKeystrokes,
        title: `${p.user.username} → ${p.credential.secretName} (rdp)`,
      };
      // Not recordable (fail closed): the session has been terminated, which closes the relay.
      if (!this.handle.beginGraphics(header)) return;
      if (this.keys) {
        this.keyboardLayout = core.keyboardLayout;
        this.keystrokeLog = new KeystrokeLog(core.keyboardLayout);
        // Which layout the keystroke log reads the keys with (a fallback to US English is worth knowing).
        this.handle.note('rdp_keyboard_layout', { layout: this.keystrokeLog.layoutName });
      }
    }
  }

  /** A Send Data Indication payload on the I/O channel (target → client). */
  targetIo(data: Buffer): void {
    if (!this.recording) return;
    this.guard('target slow-path', () => {
      const t2 = dataPduType2(data);
      if (t2 === PDUTYPE2.UPDATE) {
        this.count(SLOWPATH_UPDATE_NAMES[data.length >= 20 ? data.readUInt16LE(18) : -1] ?? 'unknown');
        if (data.readUInt8(15) !== 0) this.count('compressed');
        this.handle.graphics(RDPREC.SLOWPATH_OUTPUT, data);
      } else if (t2 === PDUTYPE2.POINTER) {
        this.count(SLOWPATH_POINTER_NAMES[data.length >= 20 ? data.readUInt16LE(18) : -1] ?? 'pointer-unknown');
        this.handle.graphics(RDPREC.SLOWPATH_OUTPUT, data);
      } else if (t2 === undefined && isDemandActive(data)) {
        const bmp = bitmapCapability(parseDemandActive(data).capabilities);
        if (!bmp) return;
        this.handle.graphics(RDPREC.DESKTOP, encodeDesktop(bmp.desktopWidth, bmp.desktopHeight, bmp.preferredBitsPerPixel));
        // The door negotiated no more, but a target may still activate (or resize to) a larger desktop.
        if (!fitsScreen(bmp.desktopWidth, bmp.desktopHeight) && !this.warned.has('desktop')) {
          this.warned.add('desktop');
          const s = screenSize(bmp.desktopWidth, bmp.desktopHeight);
          this.handle.note('rdp_recorder_warning', { message: `the target activated a ${bmp.desktopWidth}x${bmp.desktopHeight} desktop; the recording shows its top-left ${s.width}x${s.height}` });
        }
      }
    });
  }

  /** A whole fast-path output PDU (target → client). */
  targetFastPath(pdu: Buffer): void {
    if (!this.recording) return;
    this.guard('target fast-path', () => {
      this.scanFastPathUpdates(pdu);
      this.handle.graphics(RDPREC.FASTPATH_OUTPUT, pdu);
    });
  }

  /** A whole fast-path input PDU (client → target). */
  clientFastPath(pdu: Buffer): void {
    this.guard('client fast-path input', () => {
      const events = parseFastPathInputEvents(pdu, parseFastPathInputHeader(pdu));
      const out: InputEvent[] = [];
      for (const e of events) {
        const n = normaliseFastPathInput(e);
        if (n) out.push(n);
      }
      this.input(out);
    });
  }

  /** A Send Data Request payload on the I/O channel (client → target) after the Client Info PDU. */
  clientIo(data: Buffer): void {
    if (dataPduType2(data) !== PDUTYPE2.INPUT) return;
    this.guard('client slow-path input', () => {
      const out: InputEvent[] = [];
      for (const e of parseSlowPathInput(data)) {
        const n = normaliseSlowPathInput(e);
        if (n) out.push(n);
      }
      this.input(out);
    });
  }

  /** Input the gateway injected for a person who joined the session (shared control): recorded under their name. */
  joinerInput(events: InputEvent[], by: InputAuthor): void {
    this.guard('joiner input', () => this.input(events, by));
  }

  /** True once per stretch of real input: the relay's idle clock only counts what the person does. */
  takeActivity(): boolean {
    const a = this.activity;
    this.activity = false;
    return a;
  }

  /** At the end of the connection: what the target sent, for the session notes (and to spot what the restriction missed). */
  finish(): void {
    this.guard('summary', () => {
      if (!this.recording || this.updates.size === 0) return;
      this.handle.note('rdp_recording_summary', { updates: Object.fromEntries([...this.updates].sort((a, b) => b[1] - a[1])), inputEvents: this.inputEvents });
    });
  }

  /** `by`: a joiner (shared control); absent: the person at the door, the session's owner. */
  private input(events: InputEvent[], by?: InputAuthor): void {
    if (events.some((e) => e.kind !== INPUT_KIND.SYNC)) this.activity = true;
    this.inputEvents += events.length;
    if (!this.recording || events.length === 0) return;
    const kept = this.keys ? events : events.filter((e) => !isKeyboard(e));
    const log = by ? this.joinerLog(by) : this.keystrokeLog;
    let text = '';
    if (log) for (const e of events) if (isKeyboard(e) || e.kind === INPUT_KIND.SYNC) text += log.feed(e);
    if (!kept.length && !text) return;
    this.authorIs(by ?? this.handle.plan.user);
    if (kept.length) this.handle.graphics(RDPREC.INPUT, encodeInputEvents(kept));
    if (!text) return;
    this.handle.keystrokes(text, by);
    this.handle.graphics(RDPREC.KEYS, utf8.encode(text.replace(/\r/g, '\n')));
  }

  private joinerLog(by: InputAuthor): KeystrokeLog | null {
    if (!this.keystrokeLog) return null;
    let l = this.joinerLogs.get(by.id);
    if (!l) this.joinerLogs.set(by.id, (l = new KeystrokeLog(this.keyboardLayout)));
    return l;
  }

  /** An AUTHOR record when the sender changes; none until a joiner first sends input (the recording stays as before). */
  private authorIs(a: InputAuthor): void {
    if (this.author === null && a.id === this.handle.plan.user.id) return;
    if (this.author === a.id) return;
    this.author = a.id;
    const owner = a.id === this.handle.plan.user.id;
    this.handle.graphics(RDPREC.AUTHOR, encodeAuthor({ id: a.id, username: a.username, ...(owner ? { owner } : {}) }));
  }

  /** Counts the update kinds of a fast-path output PDU without copying it. */
  private scanFastPathUpdates(pdu: Buffer): void {
    if (pdu.length < 2) return;
    if ((pdu.readUInt8(0) >> 6) & FASTPATH_FLAGS.ENCRYPTED) return this.count('encrypted');
    let o = pdu.readUInt8(1) & 0x80 ? 3 : 2;
    while (o < pdu.length) {
      const h = pdu.readUInt8(o++);
      if ((h >> 6) & 0x2) {
        this.count('compressed');
        o++;
      }
      if (o + 2 > pdu.length) return this.count('malformed');
      const size = pdu.readUInt16LE(o);
      o += 2 + size;
      // Only a PDU's first (or only) fragment names the update for the statistics.
      const fragmentation = (h >> 4) & 0x3;
      if (fragmentation === 0 || fragmentation === 2) this.count(FASTPATH_NAMES[h & 0xf] ?? 'unknown');
    }
  }

  private count(kind: string): void {
    this.updates.set(kind, (this.updates.get(kind) ?? 0) + 1);
    if (UNREPLAYABLE.has(kind) && !this.warned.has(kind)) {
      this.warned.add(kind);
      this.handle.note('rdp_recorder_warning', { message: `the target sent ${kind} updates, which the recording cannot replay` });
    }
  }

  private guard(what: string, fn: () => void): void {
    try {
      fn();
    } catch (e) {
      if (this.warned.has(what)) return;
      this.warned.add(what);
      try {
        this.handle.note('rdp_recorder_warning', { message: `${what}: ${(e as Error).message}`.slice(0, 300) });
      } catch {
        /* the recording is best effort; the session goes on */
      }
    }
  }
}
