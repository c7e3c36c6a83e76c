// MD4 (RFC 1320). Node's OpenSSL 3 keeps MD4 in the legacy provider, which is not loaded,
// and NTLM needs it for exactly one thing: the NT hash, MD4(UTF-16LE(password)).

const rotl = (x: number, s: number): number => (x << s) | (x >>> (32 - s));

const R2 = [0, 4, 8, 12, 1, 5, 9, 13, 2, 6, 10, 14, 3, 7, 11, 15];
const R3 = [0, 8, 4, 12, 2, 10, 6, 14, 1, 9, 5, 13, 3, 11, 7, 15];
const S1 = [3, 7, 11, 19];
const S2 = [3, 5, 9, 13];
const S3 = [3, 9, 11, 15];

export function md4(data: Buffer): Buffer {
  // Pad: 0x80, zeros to 56 mod 64, then the bit length as a 64-bit little-endian number.
  const padded = Buffer.alloc((((data.length + 8) >> 6) + 1) << 6);
  data.copy(padded);
  padded.writeUInt8(0x80, data.length);
  const bits = BigInt(data.length) * 8n;
  padded.writeBigUInt64LE(bits & 0xffffffffffffffffn, padded.length - 8);

  const h = [0x67452301, 0xefcdab89, 0x98badcfe, 0x10325476];
  const x = new Array<number>(16);
  for (let off = 0; off < padded.length; off += 64) {
    for (let i = 0; i < 16; i++) x[i] = padded.readUInt32LE(off + 4 * i);
    const v = [...h] as [number, number, number, number];
    // Each step updates one of a, b, c, d in turn: v[(16 - i) % 4] with the others as (b, c, d).
    const step = (i: number, f: (b: number, c: number, d: number) => number, k: number, s: number, add: number) => {
      const ai = (4 - (i % 4)) % 4;
      const b = v[(ai + 1) % 4]!;
      const c = v[(ai + 2) % 4]!;
      const d = v[(ai + 3) % 4]!;
      v[ai] = rotl((v[ai]! + f(b, c, d) + x[k]! + add) | 0, s);
    };
    for (let i = 0; i < 16; i++) step(i, (b, c, d) => (b & c) | (~b & d), i, S1[i % 4]!, 0);
    for (let i = 0; i < 16; i++) step(i, (b, c, d) => (b & c) | (b & d) | (c & d), R2[i]!, S2[i % 4]!, 0x5a827999);
    for (let i = 0; i < 16; i++) step(i, (b, c, d) => b ^ c ^ d, R3[i]!, S3[i % 4]!, 0x6ed9eba1);
    for (let i = 0; i < 4; i++) h[i] = (h[i]! + v[i]!) | 0;
  }
  const out = Buffer.alloc(16);
  h.forEach((w, i) => out.writeUInt32LE(w >>> 0, 4 * i));
  return out;
}
