// Pooled random padding for ssh2's packets (protocols/ssh/ssh2-padding.ts): installed on
// the AEAD ciphers ssh2 and OpenSSH negotiate by default, packets keep ssh2's layout, and
// the pool hands every random byte out once.
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { createRequire } from 'node:module';
import { fillPadding, pooledPaddingCiphers } from '../../src/protocols/ssh/ssh2-padding.js';

interface Cipher {
  allocPacket(n: number): Buffer;
  free(): void;
}
const crypto = createRequire(import.meta.url)('ssh2/lib/protocol/crypto.js') as {
  CIPHER_INFO: Record<string, { keyLen: number; ivLen: number }>;
  createCipher(c: unknown): Cipher;
};

describe('pooled ssh2 padding', () => {
  it('is installed on AES-GCM and ChaCha20-Poly1305 (native binding and not)', () => {
    assert.deepEqual([...pooledPaddingCiphers].sort(), ['AESGCMCipherBinding', 'AESGCMCipherNative', 'ChaChaPolyCipherBinding', 'ChaChaPolyCipherNative']);
  });

  it('lays packets out as RFC 4253 asks: 4 to block+3 bytes of padding up to a whole block', () => {
    for (const [name, block] of [
      ['aes128-gcm@openssh.com', 16],
      ['aes256-gcm@openssh.com', 16],
      ['chacha20-poly1305@openssh.com', 8],
    ] as const) {
      const info = crypto.CIPHER_INFO[name]!;
      for (const forceNative of [false, true]) {
        const c = crypto.createCipher({ outbound: { onWrite: () => undefined, cipherInfo: info, cipherKey: Buffer.alloc(info.keyLen), cipherIV: Buffer.alloc(info.ivLen), seqno: 0, forceNative } });
        try {
          for (const n of [0, 1, 9, 15, 16, 17, 100, 32 * 1024 + 9]) {
            const p = c.allocPacket(n);
            const len = p.readUInt32BE(0);
            const pad = p[4]!;
            assert.ok(pad >= 4 && pad < 4 + block, `${name} ${n}: padding ${pad}`);
            assert.equal(len, 1 + n + pad);
            assert.equal(len % block, 0, `${name} ${n}: length ${len} is whole blocks`);
          }
        } finally {
          c.free();
        }
      }
    }
  });

  it('never hands out the same random bytes twice', () => {
    // 64 KiB drawn in padding-sized pieces: four refills of the 16 KiB pool. Repeated bytes
    // would show as equal 16 KiB stretches.
    const out = Buffer.alloc(64 * 1024);
    for (let off = 0, n = 4; off < out.length; off += n, n = 4 + (off % 16)) fillPadding(out, off, Math.min(n, out.length - off));
    const quarters = [0, 1, 2, 3].map((i) => out.subarray(i * 16384, (i + 1) * 16384).toString('hex'));
    assert.equal(new Set(quarters).size, 4);
    // Random, not constant: all byte values show up in 64 KiB.
    assert.equal(new Set(out).size, 256);
    // Bigger than the pool: straight from the CSPRNG.
    const big = Buffer.alloc(20000);
    fillPadding(big, 0, big.length);
    assert.ok(new Set(big).size > 200);
  });
});
