// A minimal X11 client over the local Unix socket, for the RDP benchmarks: it paints
// noise on a target desktop (PutImage) and reads pixels of the client's display
// (GetImage) without spawning a process per sample, so that "the first frame" can be
// seen within a couple of milliseconds; for input latency it keeps a window that changes
// colour on every key press (on the target) and presses keys through XTEST (on the
// client's display). Only the requests the benchmarks need; 24-bit
// TrueColor screens of depth 24 or 32 with 32 bits per pixel (Xvfb, Xvnc). Written from the X11 protocol
// specification (core protocol, chapter 8 and the connection setup).
import { readFileSync } from 'node:fs';
import { connect, type Socket } from 'node:net';

const OP = { CreateWindow: 1, ChangeWindowAttributes: 2, MapWindow: 8, SetInputFocus: 42, GetInputFocus: 43, CreateGC: 55, ClearArea: 61, PutImage: 72, GetImage: 73, QueryExtension: 98 } as const;
/** Event codes (the top bit marks a SendEvent). */
export const X_EVENT = { KeyPress: 2, KeyRelease: 3 } as const;
const Z_PIXMAP = 2;
/** Without BIG-REQUESTS a request is at most 65535 four-byte units; stay well below. */
const MAX_PUT_BYTES = 200 * 1024;

interface Pending {
  resolve(reply: Buffer): void;
  reject(e: Error): void;
}

/** The MIT-MAGIC-COOKIE-1 for display `n` from an Xauthority file (big-endian records). */
export function xauthCookie(file: string, n: number): Buffer | null {
  let d: Buffer;
  try {
    d = readFileSync(file);
  } catch {
    return null;
  }
  let i = 0;
  const field = () => {
    const len = d.readUInt16BE(i + 0);
    const v = d.subarray(i + 2, i + 2 + len);
    i += 2 + len;
    return v;
  };
  while (i + 2 <= d.length) {
    i += 2; // family
    field(); // address
    const number = field().toString('latin1');
    const name = field().toString('latin1');
    const data = field();
    if (number === String(n) && name === 'MIT-MAGIC-COOKIE-1') return Buffer.from(data);
  }
  return null;
}

export class X11 {
  width = 0;
  height = 0;
  root = 0;
  depth = 0;
  private idBase = 0;
  private nextId = 1;
  private seq = 0;
  private buf: Buffer = Buffer.alloc(0);
  /** Requests with a reply, by sequence number (16 bits on the wire). */
  private readonly pending = new Map<number, Pending>();
  private lastError: string | null = null;
  private gc = 0;
  private xtest = 0;
  /** Called with each event the server sends (code without the SendEvent bit, the 32 bytes). */
  onEvent: ((code: number, event: Buffer) => void) | null = null;

  private constructor(private readonly sock: Socket) {}

  /** Connects to display `:n` over its Unix socket, with a cookie if the server wants one. */
  static async open(n: number, cookie: Buffer | null = null): Promise<X11> {
    const sock = connect(`/tmp/.X11-unix/X${n}`);
    await new Promise<void>((res, rej) => {
      sock.once('connect', res);
      sock.once('error', rej);
    });
    const x = new X11(sock);
    await x.setup(cookie);
    return x;
  }

  private async setup(cookie: Buffer | null): Promise<void> {
    const name = cookie ? Buffer.from('MIT-MAGIC-COOKIE-1', 'latin1') : Buffer.alloc(0);
    const data = cookie ?? Buffer.alloc(0);
    const pad = (b: Buffer) => Buffer.concat([b, Buffer.alloc((4 - (b.length % 4)) % 4)]);
    const head = Buffer.alloc(12);
    head.writeUInt8(0x6c, 0); // 'l': little-endian requests
    head.writeUInt16LE(11, 2);
    head.writeUInt16LE(0, 4);
    head.writeUInt16LE(name.length, 6);
    head.writeUInt16LE(data.length, 8);
    this.sock.write(Buffer.concat([head, pad(name), pad(data)]));
    const reply = await new Promise<Buffer>((res, rej) => {
      let got = Buffer.alloc(0);
      const onData = (d: Buffer) => {
        got = Buffer.concat([got, d]);
        if (got.length < 8) return;
        const total = 8 + got.readUInt16LE(6) * 4;
        if (got.length < total) return;
        this.sock.off('data', onData);
        this.buf = got.subarray(total);
        res(got.subarray(0, total));
      };
      this.sock.on('data', onData);
      this.sock.once('error', rej);
      this.sock.once('close', () => rej(new Error('X server closed the connection during setup')));
    });
    if (reply[0] !== 1) throw new Error(`X connection refused: ${reply.subarray(8, 8 + reply[1]!).toString('latin1') || 'authorization required'}`);
    this.idBase = reply.readUInt32LE(12);
    const vendorLen = reply.readUInt16LE(24);
    const nFormats = reply.readUInt8(29);
    if (reply.readUInt8(30) !== 0) throw new Error('X server with MSBFirst images is not supported');
    let off = 40 + vendorLen + ((4 - (vendorLen % 4)) % 4);
    const bppOf = new Map<number, number>();
    for (let f = 0; f < nFormats; f++, off += 8) bppOf.set(reply.readUInt8(off), reply.readUInt8(off + 1));
    this.root = reply.readUInt32LE(off);
    this.width = reply.readUInt16LE(off + 20);
    this.height = reply.readUInt16LE(off + 22);
    this.depth = reply.readUInt8(off + 38);
    // Xvfb has depth 24, Xvnc started with -depth 32 has 32; both keep 0x00RRGGBB in 32-bit words.
    const bpp = bppOf.get(this.depth);
    if ((this.depth !== 24 && this.depth !== 32) || bpp !== 32) throw new Error(`X screen of depth ${this.depth} with ${bpp} bits per pixel is not supported`);
    this.sock.on('data', (d: Buffer) => this.onData(d));
    this.sock.on('error', (e) => this.failAll(e));
    this.sock.on('close', () => this.failAll(new Error('X connection closed')));
    // A GC that draws over child windows too (the whole screen changes), without exposures.
    this.gc = this.idBase | this.nextId++;
    const gc = Buffer.alloc(24);
    gc.writeUInt8(OP.CreateGC, 0);
    gc.writeUInt16LE(6, 2);
    gc.writeUInt32LE(this.gc, 4);
    gc.writeUInt32LE(this.root, 8);
    gc.writeUInt32LE(0x8000 | 0x10000, 12); // subwindow-mode, graphics-exposures
    gc.writeUInt32LE(1, 16); // IncludeInferiors
    gc.writeUInt32LE(0, 20); // no exposures
    this.send(gc);
  }

  private send(req: Buffer): number {
    this.seq = (this.seq + 1) & 0xffff;
    this.sock.write(req);
    return this.seq;
  }

  private withReply(req: Buffer): Promise<Buffer> {
    return new Promise((resolve, reject) => {
      const seq = this.send(req);
      this.pending.set(seq, { resolve, reject });
    });
  }

  private onData(d: Buffer): void {
    this.buf = this.buf.length ? Buffer.concat([this.buf, d]) : d;
    for (;;) {
      if (this.buf.length < 32) return;
      const kind = this.buf[0]!;
      const len = kind === 1 ? 32 + this.buf.readUInt32LE(4) * 4 : 32;
      if (this.buf.length < len) return;
      const msg = this.buf.subarray(0, len);
      this.buf = this.buf.subarray(len);
      const seq = msg.readUInt16LE(2);
      if (kind === 0) {
        const err = `X error ${msg[1]} for request ${msg[10]} (sequence ${seq})`;
        const p = this.pending.get(seq);
        if (p) {
          this.pending.delete(seq);
          p.reject(new Error(err));
        } else this.lastError = err;
      } else if (kind === 1) {
        const p = this.pending.get(seq);
        this.pending.delete(seq);
        p?.resolve(msg);
      }
      else this.onEvent?.(kind & 0x7f, msg);
    }
  }

  private failAll(e: Error): void {
    for (const p of this.pending.values()) p.reject(e);
    this.pending.clear();
  }

  /** Waits until the server has handled everything sent so far (GetInputFocus round trip). */
  async sync(): Promise<void> {
    const req = Buffer.alloc(4);
    req.writeUInt8(OP.GetInputFocus, 0);
    req.writeUInt16LE(1, 2);
    await this.withReply(req);
    if (this.lastError) {
      const e = this.lastError;
      this.lastError = null;
      throw new Error(e);
    }
  }

  /** Draws `pixels` (0x00RRGGBB little-endian words, `w` × `h`) at (x, y), in requests below the size limit. */
  putImage(x: number, y: number, w: number, h: number, pixels: Buffer): void {
    const rowBytes = w * 4;
    const rows = Math.max(1, Math.floor(MAX_PUT_BYTES / rowBytes));
    for (let r = 0; r < h; r += rows) {
      const n = Math.min(rows, h - r);
      const data = pixels.subarray(r * rowBytes, (r + n) * rowBytes);
      const req = Buffer.alloc(24);
      req.writeUInt8(OP.PutImage, 0);
      req.writeUInt8(Z_PIXMAP, 1);
      req.writeUInt16LE(6 + data.length / 4, 2);
      req.writeUInt32LE(this.root, 4);
      req.writeUInt32LE(this.gc, 8);
      req.writeUInt16LE(w, 12);
      req.writeUInt16LE(n, 14);
      req.writeInt16LE(x, 16);
      req.writeInt16LE(y + r, 18);
      req.writeUInt8(0, 20);
      req.writeUInt8(this.depth, 21);
      this.seq = (this.seq + 1) & 0xffff;
      this.sock.write(req);
      this.sock.write(data);
    }
  }

  /** Repaints the root window's background over the whole screen (what painting over it left behind). */
  clearRoot(): void {
    const req = Buffer.alloc(16);
    req.writeUInt8(OP.ClearArea, 0);
    req.writeUInt8(1, 1); // exposures: windows that listen repaint as well
    req.writeUInt16LE(4, 2);
    req.writeUInt32LE(this.root, 4);
    this.send(req);
  }

  /** The screen's pixels in a rectangle as 0xRRGGBB, row by row. */
  async getImage(x: number, y: number, w: number, h: number): Promise<number[]> {
    const req = Buffer.alloc(20);
    req.writeUInt8(OP.GetImage, 0);
    req.writeUInt8(Z_PIXMAP, 1);
    req.writeUInt16LE(5, 2);
    req.writeUInt32LE(this.root, 4);
    req.writeInt16LE(x, 8);
    req.writeInt16LE(y, 10);
    req.writeUInt16LE(w, 12);
    req.writeUInt16LE(h, 14);
    req.writeUInt32LE(0xffffffff, 16);
    const reply = await this.withReply(req);
    const out: number[] = [];
    for (let i = 0; i < w * h; i++) out.push(reply.readUInt32LE(32 + 4 * i) & 0xffffff);
    return out;
  }

  /** One pixel per point (a round trip each, pipelined). */
  pixels(points: [number, number][]): Promise<number[]> {
    return Promise.all(points.map(([x, y]) => this.getImage(x, y, 1, 1).then((p) => p[0]!)));
  }

  /**
   * A mapped top-level window (override-redirect: no window manager moves it) filled with
   * `rgb`, that gets the keyboard focus and reports KeyPress events.
   */
  createWindow(x: number, y: number, w: number, h: number, rgb: number): number {
    const id = this.idBase | this.nextId++;
    const req = Buffer.alloc(44);
    req.writeUInt8(OP.CreateWindow, 0);
    req.writeUInt8(0, 1); // depth: CopyFromParent
    req.writeUInt16LE(11, 2);
    req.writeUInt32LE(id, 4);
    req.writeUInt32LE(this.root, 8);
    req.writeInt16LE(x, 12);
    req.writeInt16LE(y, 14);
    req.writeUInt16LE(w, 16);
    req.writeUInt16LE(h, 18);
    req.writeUInt16LE(0, 20); // border width
    req.writeUInt16LE(1, 22); // InputOutput
    req.writeUInt32LE(0, 24); // visual: CopyFromParent
    req.writeUInt32LE(0x2 | 0x200 | 0x800, 28); // background-pixel, override-redirect, event-mask
    req.writeUInt32LE(rgb, 32);
    req.writeUInt32LE(1, 36);
    req.writeUInt32LE(0x1, 40); // KeyPressMask
    this.send(req);
    const map = Buffer.alloc(8);
    map.writeUInt8(OP.MapWindow, 0);
    map.writeUInt16LE(2, 2);
    map.writeUInt32LE(id, 4);
    this.send(map);
    const focus = Buffer.alloc(12);
    focus.writeUInt8(OP.SetInputFocus, 0);
    focus.writeUInt8(1, 1); // revert to PointerRoot
    focus.writeUInt16LE(3, 2);
    focus.writeUInt32LE(id, 4);
    focus.writeUInt32LE(0, 8); // CurrentTime
    this.send(focus);
    return id;
  }

  /** Fills a window with a new background colour at once (ChangeWindowAttributes + ClearArea). */
  fillWindow(id: number, rgb: number): void {
    const req = Buffer.alloc(16);
    req.writeUInt8(OP.ChangeWindowAttributes, 0);
    req.writeUInt16LE(4, 2);
    req.writeUInt32LE(id, 4);
    req.writeUInt32LE(0x2, 8); // background-pixel
    req.writeUInt32LE(rgb, 12);
    this.send(req);
    const clear = Buffer.alloc(16);
    clear.writeUInt8(OP.ClearArea, 0);
    clear.writeUInt16LE(4, 2);
    clear.writeUInt32LE(id, 4); // x, y, width, height 0: the whole window
    this.send(clear);
  }

  /** The major opcode of an extension, or 0 when the server lacks it. */
  async queryExtension(name: string): Promise<number> {
    const n = Buffer.from(name, 'latin1');
    const padded = Buffer.concat([n, Buffer.alloc((4 - (n.length % 4)) % 4)]);
    const head = Buffer.alloc(8);
    head.writeUInt8(OP.QueryExtension, 0);
    head.writeUInt16LE(2 + padded.length / 4, 2);
    head.writeUInt16LE(n.length, 4);
    const reply = await this.withReply(Buffer.concat([head, padded]));
    return reply[8] ? reply[9]! : 0;
  }

  /** Presses or releases a key as if typed on this display's keyboard (XTEST FakeInput, sent at once). */
  async fakeKey(keycode: number, press: boolean): Promise<void> {
    if (!this.xtest) this.xtest = await this.queryExtension('XTEST');
    if (!this.xtest) throw new Error('the X server has no XTEST extension');
    const req = Buffer.alloc(36);
    req.writeUInt8(this.xtest, 0);
    req.writeUInt8(2, 1); // FakeInput
    req.writeUInt16LE(9, 2);
    req.writeUInt8(press ? X_EVENT.KeyPress : X_EVENT.KeyRelease, 4);
    req.writeUInt8(keycode, 5);
    // delay 0, root None, root x/y 0, device 0: all zero.
    this.send(req);
  }

  close(): void {
    this.sock.destroy();
  }
}
