// Watches an SFTP stream (draft-ietf-secsh-filexfer-02, what OpenSSH speaks) passing
// through the gateway without changing it, and reports file operations with names and
// byte counts. Observation only: if the stream looks wrong it stops watching and the
// relay goes on untouched.
const FXP = { OPEN: 3, CLOSE: 4, READ: 5, WRITE: 6, REMOVE: 13, MKDIR: 14, RMDIR: 15, RENAME: 18, STATUS: 101, HANDLE: 102, DATA: 103 } as const;
const MAX_PACKET = 1 << 20;

export interface SftpEvent {
  op: 'upload' | 'download' | 'open' | 'delete' | 'rename' | 'mkdir' | 'rmdir';
  path: string;
  bytes?: number;
  to?: string;
}

class PacketReader {
  private buf: Buffer = Buffer.alloc(0);
  broken = false;
  constructor(private readonly onPacket: (type: number, body: Buffer) => void) {}
  push(chunk: Buffer): void {
    if (this.broken) return;
    this.buf = this.buf.length ? Buffer.concat([this.buf, chunk]) : chunk;
    while (this.buf.length >= 5) {
      const len = this.buf.readUInt32BE(0);
      if (len < 1 || len > MAX_PACKET) {
        this.broken = true;
        this.buf = Buffer.alloc(0);
        return;
      }
      if (this.buf.length < 4 + len) return;
      const type = this.buf[4]!;
      const body = this.buf.subarray(5, 4 + len);
      this.buf = this.buf.subarray(4 + len);
      try {
        this.onPacket(type, body);
      } catch {
        /* a malformed packet is the server's business; we only lose its event */
      }
    }
  }
}

const str = (b: Buffer, off: number): [Buffer, number] => {
  const n = b.readUInt32BE(off);
  if (off + 4 + n > b.length) throw new RangeError('short string');
  return [b.subarray(off + 4, off + 4 + n), off + 4 + n];
};

interface OpenFile {
  path: string;
  read: number;
  written: number;
}

export class SftpObserver {
  private pendingOpen = new Map<number, string>();
  private pendingRead = new Map<number, string>();
  private files = new Map<string, OpenFile>();
  readonly fromClient: PacketReader;
  readonly fromServer: PacketReader;

  constructor(private readonly emit: (e: SftpEvent) => void) {
    this.fromClient = new PacketReader((t, b) => this.client(t, b));
    this.fromServer = new PacketReader((t, b) => this.server(t, b));
  }

  private client(type: number, b: Buffer): void {
    if (type < FXP.OPEN || type > 20) return; // INIT (1) has no request id
    const id = b.readUInt32BE(0);
    switch (type) {
      case FXP.OPEN: {
        const [path] = str(b, 4);
        this.pendingOpen.set(id, path.toString('utf8'));
        break;
      }
      case FXP.READ: {
        const [h] = str(b, 4);
        this.pendingRead.set(id, h.toString('hex'));
        break;
      }
      case FXP.WRITE: {
        const [h, off] = str(b, 4);
        const [data] = str(b, off + 8);
        const f = this.files.get(h.toString('hex'));
        if (f) f.written += data.length;
        break;
      }
      case FXP.CLOSE: {
        const [h] = str(b, 4);
        const key = h.toString('hex');
        const f = this.files.get(key);
        if (f) {
          this.files.delete(key);
          if (f.written) this.emit({ op: 'upload', path: f.path, bytes: f.written });
          if (f.read) this.emit({ op: 'download', path: f.path, bytes: f.read });
          if (!f.written && !f.read) this.emit({ op: 'open', path: f.path, bytes: 0 });
        }
        break;
      }
      case FXP.REMOVE:
        this.emit({ op: 'delete', path: str(b, 4)[0].toString('utf8') });
        break;
      case FXP.MKDIR:
        this.emit({ op: 'mkdir', path: str(b, 4)[0].toString('utf8') });
        break;
      case FXP.RMDIR:
        this.emit({ op: 'rmdir', path: str(b, 4)[0].toString('utf8') });
        break;
      case FXP.RENAME: {
        const [from, off] = str(b, 4);
        this.emit({ op: 'rename', path: from.toString('utf8'), to: str(b, off)[0].toString('utf8') });
        break;
      }
    }
    // Bound bookkeeping against a client that never gets answers.
    if (this.pendingRead.size > 10_000) this.pendingRead.clear();
    if (this.pendingOpen.size > 10_000) this.pendingOpen.clear();
  }

  private server(type: number, b: Buffer): void {
    if (type !== FXP.HANDLE && type !== FXP.DATA && type !== FXP.STATUS) return;
    const id = b.readUInt32BE(0);
    if (type === FXP.HANDLE) {
      const path = this.pendingOpen.get(id);
      this.pendingOpen.delete(id);
      if (path !== undefined && this.files.size < 10_000) this.files.set(str(b, 4)[0].toString('hex'), { path, read: 0, written: 0 });
    } else if (type === FXP.DATA) {
      const h = this.pendingRead.get(id);
      this.pendingRead.delete(id);
      const f = h ? this.files.get(h) : undefined;
      if (f) f.read += str(b, 4)[0].length;
    } else {
      this.pendingOpen.delete(id);
      this.pendingRead.delete(id);
    }
  }

  /** Files still open when the channel closes. */
  flush(): void {
    for (const f of this.files.values()) {
      if (f.written) this.emit({ op: 'upload', path: f.path, bytes: f.written });
      if (f.read) this.emit({ op: 'download', path: f.path, bytes: f.read });
    }
    this.files.clear();
  }
}
