// Random padding for ssh2's outgoing packets from a pool, instead of one randomFillSync
// call per packet.
//
// Why: every SSH packet carries 4–19 bytes of random padding (RFC 4253 §6). ssh2 (1.17)
// fills them with `randomFillSync(packet, offset, padLen)` in its ciphers' allocPacket(),
// once per packet; each call validates its arguments and makes a native call into OpenSSL
// for a few bytes. On bulk output that was 8% of the gateway's CPU (docs/performance.md).
// Here the bytes come from a 16 KiB pool filled by one randomFillSync call, each byte used
// once: the same CSPRNG output, about a thousand packets per call instead of one.
//
// How: ssh2 does not export its cipher classes, so one probe instance of each AEAD cipher
// (AES-GCM and ChaCha20-Poly1305, with ssh2's native binding and without) is made through
// its exported createCipher() with a zero key, and allocPacket is replaced on that
// instance's prototype. These are the ciphers ssh2 and OpenSSH negotiate by default; the
// CTR+ETM ciphers keep ssh2's own allocPacket. Before a prototype is patched, the
// replacement is checked against ssh2's own for every residue of the block size and a
// full-size packet (same length, same packet-length and padding-length fields): an ssh2
// that lays packets out differently, or that no longer has these internals, keeps its own
// code, unchanged, and only loses the saving.
//
// Imported for its effect by the SSH door and the SSH target connector; installing twice
// does nothing.
import { randomFillSync } from 'node:crypto';
import { createRequire } from 'node:module';

const POOL_BYTES = 16 * 1024;
const pool = Buffer.allocUnsafe(POOL_BYTES);
let used = POOL_BYTES;

/** Writes `n` fresh random bytes into `dst` at `offset` (never hands out a byte twice). */
export function fillPadding(dst: Uint8Array, offset: number, n: number): void {
  if (n > POOL_BYTES) {
    randomFillSync(dst, offset, n);
    return;
  }
  if (used + n > POOL_BYTES) {
    randomFillSync(pool);
    used = 0;
  }
  // A loop: padding is at most a few dozen bytes, below what Buffer.copy's call costs.
  for (let i = 0; i < n; i++) dst[offset + i] = pool[used + i]!;
  used += n;
}

interface Cipher {
  allocPacket(payloadLen: number): Buffer;
  free(): void;
}

interface Ssh2Crypto {
  CIPHER_INFO: Record<string, { keyLen: number; ivLen: number }>;
  createCipher(config: { outbound: Record<string, unknown> }): Cipher;
}

/** An AEAD allocPacket: padding to `block` bytes of everything after the (plain) length field, then `tail` bytes for the tag. */
function aeadAllocPacket(block: number, tail: number): (payloadLen: number) => Buffer {
  return (payloadLen: number): Buffer => {
    let pktLen = 4 + 1 + payloadLen;
    let padLen = block - ((pktLen - 4) & (block - 1));
    if (padLen < 4) padLen += block;
    pktLen += padLen;
    const packet = Buffer.allocUnsafe(pktLen + tail);
    packet.writeUInt32BE(pktLen - 4, 0);
    packet[4] = padLen;
    fillPadding(packet, 5 + payloadLen, padLen);
    return packet;
  };
}

/** Whether `mine` lays out packets exactly as ssh2's own `theirs` does. */
function sameLayout(theirs: (n: number) => Buffer, mine: (n: number) => Buffer, block: number): boolean {
  const sizes = [...Array.from({ length: 3 * block }, (_, i) => i), 32 * 1024 + 9, 35000 - 64];
  for (const n of sizes) {
    const a = theirs(n);
    const b = mine(n);
    if (a.length !== b.length || a.readUInt32BE(0) !== b.readUInt32BE(0) || a[4] !== b[4]) return false;
  }
  return true;
}

const AEAD: { name: string; block: number }[] = [
  { name: 'aes128-gcm@openssh.com', block: 16 },
  { name: 'chacha20-poly1305@openssh.com', block: 8 },
];

/** Patches what it can; returns the names of the patched cipher classes (for the tests). */
function install(): string[] {
  const patched: string[] = [];
  let crypto: Ssh2Crypto;
  try {
    crypto = createRequire(import.meta.url)('ssh2/lib/protocol/crypto.js') as Ssh2Crypto;
  } catch {
    return patched;
  }
  if (typeof crypto?.createCipher !== 'function' || typeof crypto.CIPHER_INFO !== 'object') return patched;
  for (const { name, block } of AEAD) {
    const info = crypto.CIPHER_INFO[name];
    if (!info) continue;
    for (const forceNative of [false, true]) {
      let probe: Cipher;
      try {
        probe = crypto.createCipher({
          outbound: { onWrite: () => undefined, cipherInfo: info, cipherKey: Buffer.alloc(info.keyLen), cipherIV: Buffer.alloc(info.ivLen), seqno: 0, forceNative },
        });
      } catch {
        continue;
      }
      try {
        const proto = Object.getPrototypeOf(probe) as { allocPacket?: unknown; constructor: { name: string } };
        if (typeof proto.allocPacket !== 'function' || (proto.allocPacket as { gatehousePooled?: boolean }).gatehousePooled) continue;
        const theirs = (proto.allocPacket as Cipher['allocPacket']).bind(probe);
        const p0 = theirs(0);
        const tail = p0.length - (p0.readUInt32BE(0) + 4);
        const mine = aeadAllocPacket(block, tail);
        if (tail < 0 || !sameLayout(theirs, mine, block)) continue;
        Object.defineProperty(mine, 'gatehousePooled', { value: true });
        proto.allocPacket = mine;
        patched.push(proto.constructor.name);
      } finally {
        probe.free();
      }
    }
  }
  return patched;
}

/** The ssh2 cipher classes whose padding comes from the pool. */
export const pooledPaddingCiphers: readonly string[] = install();
