// Gatehouse-side encryption of recordings in object storage (envelope encryption, like the
// vault's secrets, keyring.ts/datakeys.ts): each recording gets its own random 256-bit data
// key, stored wrapped by the master key in data_keys (so a master key rotation rewraps it
// like any other), and the object holds only ciphertext: a header naming the data key, then
// frames of at most 1 MiB, each sealed with AES-256-GCM under a fresh random IV.
//
// Chunked so it streams both ways: the uploader seals each part as it leaves the spool, a
// reader opens frame by frame without holding the object. Each frame's additional data binds
// it to the recording's name, its index and whether it is the last, so frames cannot be
// reordered, moved to another recording or cut off at the end unnoticed (a stream that ends
// without its final frame is refused as truncated).
//
// Layout: "GHENC1" u16-BE n, n bytes of JSON {dataKeyId}; then frames:
//   u8 flags (1: final) | u32-BE plaintext length | 12-byte IV | ciphertext | 16-byte tag.
import { createCipheriv, createDecipheriv, randomBytes } from 'node:crypto';
import { Readable } from 'node:stream';

const MAGIC = Buffer.from('GHENC1');
const FRAME = 1 << 20;
const FRAME_HEAD = 1 + 4 + 12;
const TAG = 16;

/** Whether an object starts like an encrypted recording. */
export const isEnvelope = (head: Uint8Array): boolean => head.length >= MAGIC.length && Buffer.from(head.buffer, head.byteOffset, MAGIC.length).equals(MAGIC);

/** The object's first bytes: which data key seals it. */
export function envelopeHeader(dataKeyId: string): Buffer {
  const json = Buffer.from(JSON.stringify({ dataKeyId }));
  const len = Buffer.alloc(2);
  len.writeUInt16BE(json.length);
  return Buffer.concat([MAGIC, len, json]);
}

/** The data key an object's header names; null when `head` is not (or not yet all of) an envelope header. */
export function envelopeKeyId(head: Buffer): string | null {
  if (!isEnvelope(head) || head.length < MAGIC.length + 2) return null;
  const n = head.readUInt16BE(MAGIC.length);
  if (head.length < MAGIC.length + 2 + n) return null;
  try {
    const { dataKeyId } = JSON.parse(head.subarray(MAGIC.length + 2, MAGIC.length + 2 + n).toString('utf8')) as { dataKeyId?: unknown };
    return typeof dataKeyId === 'string' ? dataKeyId : null;
  } catch {
    return null;
  }
}

const aad = (name: string, index: number, final: boolean): Buffer => Buffer.from(`gatehouse-recording:${name}:${index}:${final ? 1 : 0}`);

/** Opens the frame at the start of `buf` (its whole length there) as frame `index` of `name`; throws when it does not authenticate. */
function openFrame(buf: Buffer, len: number, key: Buffer, name: string, index: number): Buffer {
  const d = createDecipheriv('aes-256-gcm', key, buf.subarray(5, FRAME_HEAD));
  d.setAAD(aad(name, index, buf[0] === 1));
  d.setAuthTag(buf.subarray(FRAME_HEAD + len, FRAME_HEAD + len + TAG));
  return Buffer.concat([d.update(buf.subarray(FRAME_HEAD, FRAME_HEAD + len)), d.final()]);
}

/** How many bytes from an object's start hold its header and first frame, at most (the length of a ranged GET). */
export const FIRST_FRAME_SPAN = MAGIC.length + 2 + 0xffff + FRAME_HEAD + FRAME + TAG;

/**
 * The data key that seals the object `name`, proven: the key its header names opens its first
 * frame as the first frame of `name`. The header alone is the object's word, which whoever can
 * write the bucket may change: taken at its word, the delete of one recording would delete
 * another's key (and that recording would be lost), and a repaired one would be sealed again
 * under another's key. Null when `head` (the object's first FIRST_FRAME_SPAN bytes, or all of
 * it) is not an envelope, or the key it names is unknown (`keyOf` gives null) or does not open
 * it. A failure to read the key (the database) is thrown, not taken for either.
 */
export async function provenKeyId(head: Buffer, name: string, keyOf: (dataKeyId: string) => Promise<Buffer | null>): Promise<string | null> {
  const id = envelopeKeyId(head);
  if (!id) return null;
  const frame = head.subarray(MAGIC.length + 2 + head.readUInt16BE(MAGIC.length));
  if (frame.length < FRAME_HEAD) return null;
  const len = frame.readUInt32BE(1);
  if (len > FRAME || frame.length < FRAME_HEAD + len + TAG) return null;
  const key = await keyOf(id);
  if (!key) return null;
  try {
    openFrame(frame, len, key, name, 0);
    return id;
  } catch {
    return null;
  }
}

/** Seals a recording's bytes frame after frame; `frames` is how many it sealed so far (the next index). */
export class FrameSealer {
  constructor(
    private readonly key: Buffer,
    private readonly name: string,
    public frames = 0,
  ) {}

  /** `data` as frames of at most 1 MiB; the last one flagged final when `final` (an empty final frame when `data` is empty). */
  seal(data: Uint8Array, final: boolean): Buffer {
    const out: Buffer[] = [];
    let off = 0;
    do {
      const piece = data.subarray(off, Math.min(data.length, off + FRAME));
      off += piece.length;
      const last = final && off >= data.length;
      const iv = randomBytes(12);
      const c = createCipheriv('aes-256-gcm', this.key, iv);
      c.setAAD(aad(this.name, this.frames++, last));
      const ct = Buffer.concat([c.update(piece), c.final()]);
      const head = Buffer.alloc(5);
      head[0] = last ? 1 : 0;
      head.writeUInt32BE(piece.length, 1);
      out.push(head, iv, ct, c.getAuthTag());
    } while (off < data.length);
    return Buffer.concat(out);
  }
}

/**
 * The plain bytes of an encrypted object as a stream. `keyOf` gives the data key its header
 * names; a frame that does not authenticate, or a stream without its final frame, errors the
 * stream (never gives plaintext that was not sealed).
 */
export function openEnvelope(source: Readable, name: string, keyOf: (dataKeyId: string) => Promise<Buffer>): Readable {
  async function* frames(): AsyncGenerator<Buffer> {
    let buf: Buffer = Buffer.alloc(0);
    let key: Buffer | null = null;
    let index = 0;
    let ended = false;
    for await (const chunk of source) {
      buf = buf.length ? Buffer.concat([buf, chunk as Buffer]) : (chunk as Buffer);
      if (!key) {
        if (buf.length < MAGIC.length + 2) continue;
        if (!isEnvelope(buf)) throw new Error('not an encrypted recording');
        const n = buf.readUInt16BE(MAGIC.length);
        if (buf.length < MAGIC.length + 2 + n) continue;
        const dataKeyId = envelopeKeyId(buf);
        if (!dataKeyId) throw new Error('an encrypted recording has a malformed header');
        key = await keyOf(dataKeyId);
        buf = buf.subarray(MAGIC.length + 2 + n);
      }
      while (buf.length >= FRAME_HEAD) {
        if (ended) throw new Error('an encrypted recording has bytes after its final frame');
        const len = buf.readUInt32BE(1);
        if (len > FRAME) throw new Error('an encrypted recording has a malformed frame');
        if (buf.length < FRAME_HEAD + len + TAG) break;
        const plain = openFrame(buf, len, key, name, index++);
        ended = buf[0] === 1;
        buf = buf.subarray(FRAME_HEAD + len + TAG);
        if (plain.length) yield plain;
      }
    }
    if (!ended || buf.length) throw new Error('an encrypted recording is truncated (its final frame is missing)');
  }
  const out = Readable.from(frames(), { objectMode: false });
  out.on('close', () => source.destroy());
  return out;
}
