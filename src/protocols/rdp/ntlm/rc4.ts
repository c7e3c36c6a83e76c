// RC4, which NTLM uses for the key exchange and for sealing (MS-NLMP 3.4). Node's
// OpenSSL 3 no longer offers it. A stateful stream: NTLM keeps one handle per direction
// for the whole connection.

export class Rc4 {
  private readonly s = new Uint8Array(256);
  private i = 0;
  private j = 0;

  constructor(key: Buffer) {
    if (key.length < 1 || key.length > 256) throw new RangeError(`RC4 key of ${key.length} bytes`);
    for (let n = 0; n < 256; n++) this.s[n] = n;
    let j = 0;
    for (let n = 0; n < 256; n++) {
      j = (j + this.s[n]! + key.readUInt8(n % key.length)) & 0xff;
      const t = this.s[n]!;
      this.s[n] = this.s[j]!;
      this.s[j] = t;
    }
  }

  /** XORs data with the next bytes of keystream into a new buffer. */
  update(data: Buffer): Buffer {
    const out = Buffer.alloc(data.length);
    const s = this.s;
    let { i, j } = this;
    for (let n = 0; n < data.length; n++) {
      i = (i + 1) & 0xff;
      j = (j + s[i]!) & 0xff;
      const t = s[i]!;
      s[i] = s[j]!;
      s[j] = t;
      out[n] = data[n]! ^ s[(s[i]! + s[j]!) & 0xff]!;
    }
    this.i = i;
    this.j = j;
    return out;
  }
}

/** One-shot RC4K(key, data). */
export const rc4 = (key: Buffer, data: Buffer): Buffer => new Rc4(key).update(data);
