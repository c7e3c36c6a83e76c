// MD4 (RFC 1320 A.5) and RC4 (RFC 6229) against their published vectors: Node's OpenSSL 3
// offers neither, so NTLM carries its own.
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { md4 } from '../../../src/protocols/rdp/ntlm/md4.js';
import { Rc4, rc4 } from '../../../src/protocols/rdp/ntlm/rc4.js';
import { ntHash } from '../../../src/protocols/rdp/ntlm/ntlmv2.js';
import { hex } from './fixtures.js';

describe('MD4', () => {
  it('matches the RFC 1320 test suite', () => {
    const suite: [string, string][] = [
      ['', '31d6cfe0d16ae931b73c59d7e0c089c0'],
      ['a', 'bde52cb31de33e46245e05fbdbd6fb24'],
      ['abc', 'a448017aaf21d8525fc10ae87aa6729d'],
      ['message digest', 'd9130a8164549fe818874806e1c7014b'],
      ['abcdefghijklmnopqrstuvwxyz', 'd79e1c308aa5bbcdeea8ed63df412da9'],
      ['ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789', '043f8582f241db351ce627e153e7f0e4'],
      ['12345678901234567890123456789012345678901234567890123456789012345678901234567890', 'e33b4ddc9c38f2199c3e7b164fcc0536'],
    ];
    for (const [input, digest] of suite) assert.equal(md4(Buffer.from(input, 'latin1')).toString('hex'), digest, JSON.stringify(input));
  });

  it('pads correctly at every block boundary (values from OpenSSL legacy provider)', () => {
    const edges: [number, string][] = [
      [55, '92f32bb82c95ad10e8f87ae58ab06807'],
      [56, '374d5f08103b7092c83b4626ebceffab'],
      [63, '2870452596e98fffd48332289b3472b9'],
      [64, 'b1abf956a5ae6f3221e5fe85e300fbb0'],
      [65, 'afc1a3308fc176a53238a09aeddec2e6'],
      [119, 'b55ae15e41e55643b0c3daad5e05c905'],
      [120, 'd8f9adfc41ec43552619606c70cfd287'],
      [1000, '4b4cacfefc79bf951c60620df38532dc'],
    ];
    for (const [n, digest] of edges) assert.equal(md4(Buffer.alloc(n, 0x78)).toString('hex'), digest, `${n} × 'x'`);
  });

  it('gives the NT hash of MS-NLMP 4.2.2.1.2 (NTOWFv1 of "Password")', () => {
    assert.equal(ntHash('Password').toString('hex'), 'a4f49c406510bdcab6824ee7c30fd852');
  });
});

describe('RC4', () => {
  // RFC 6229 section 2: keystream at the given offsets.
  const vectors: { key: string; stream: [number, string][] }[] = [
    {
      key: '0102030405',
      stream: [
        [0x0000, 'b2396305f03dc027ccc3524a0a1118a8'],
        [0x0010, '6982944f18fc82d589c403a47a0d0919'],
        [0x00f0, '28cb1132c96ce286421dcaadb8b69eae'],
        [0x0100, '1cfcf62b03eddb641d77dfcf7f8d8c93'],
        [0x01f0, '42b7d0cdd918a8a33dd51781c81f4041'],
        [0x0200, '6459844432a7da923cfb3eb4980661f6'],
        [0x02f0, 'ec10327bde2beefd18f9277680457e22'],
        [0x0300, 'eb62638d4f0ba1fe9fca20e05bf8ff2b'],
        [0x03f0, '45129048e6a0ed0b56b490338f078da5'],
        [0x0400, '30abbcc7c20b01609f23ee2d5f6bb7df'],
        [0x05f0, '3294f744d8f9790507e70f62e5bbceea'],
        [0x0600, 'd8729db41882259bee4f825325f5a130'],
        [0x07f0, '1eb14a0c13b3bf47fa2a0ba93ad45b8b'],
        [0x0800, 'cc582f8ba9f265e2b1be9112e975d2d7'],
        [0x0bf0, 'f2e30f9bd102ecbf75aaade9bc35c43c'],
        [0x0c00, 'ec0e11c479dc329dc8da7968fe965681'],
        [0x0ff0, '068326a2118416d21f9d04b2cd1ca050'],
        [0x1000, 'ff25b58995996707e51fbdf08b34d875'],
      ],
    },
    {
      key: '0102030405060708090a0b0c0d0e0f10',
      stream: [
        [0x0000, '9ac7cc9a609d1ef7b2932899cde41b97'],
        [0x0010, '5248c4959014126a6e8a84f11d1a9e1c'],
        [0x00f0, '065902e4b620f6cc36c8589f66432f2b'],
        [0x0100, 'd39d566bc6bce3010768151549f3873f'],
        [0x01f0, 'b6d1e6c4a5e4771cad79538df295fb11'],
        [0x0200, 'c68c1d5c559a974123df1dbc52a43b89'],
        [0x02f0, 'c5ecf88de897fd57fed301701b82a259'],
        [0x0300, 'eccbe13de1fcc91c11a0b26c0bc8fa4d'],
        [0x03f0, 'e7a72574f8782ae26aabcf9ebcd66065'],
        [0x0400, 'bdf0324e6083dcc6d3cedd3ca8c53c16'],
        [0x05f0, 'b40110c4190b5622a96116b0017ed297'],
        [0x0600, 'ffa0b514647ec04f6306b892ae661181'],
        [0x07f0, 'd03d1bc03cd33d70dff9fa5d71963ebd'],
        [0x0800, '8a44126411eaa78bd51e8d87a8879bf5'],
        [0x0bf0, 'fabeb76028ade2d0e48722e46c4615a3'],
        [0x0c00, 'c05d88abd50357f935a63c59ee537623'],
        [0x0ff0, 'ff38265c1642c1abe8d3c2fe5e572bf8'],
        [0x1000, 'a36a4c301ae8ac13610ccbc12256cacc'],
      ],
    },
  ];

  for (const v of vectors) {
    it(`matches RFC 6229 for the ${v.key.length * 4}-bit key ${v.key}`, () => {
      const stream = rc4(hex(v.key), Buffer.alloc(0x1010));
      for (const [offset, bytes] of v.stream) assert.equal(stream.subarray(offset, offset + 16).toString('hex'), bytes, `offset 0x${offset.toString(16)}`);
    });
  }

  it('is one continuous stream across calls, and its own inverse', () => {
    const key = hex('0102030405');
    const whole = rc4(key, Buffer.alloc(100));
    const s = new Rc4(key);
    const pieces = Buffer.concat([s.update(Buffer.alloc(7)), s.update(Buffer.alloc(0)), s.update(Buffer.alloc(93))]);
    assert.deepEqual(pieces, whole);
    const msg = Buffer.from('attack at dawn');
    assert.deepEqual(rc4(key, rc4(key, msg)), msg);
  });

  it('refuses empty and over-long keys', () => {
    assert.throws(() => new Rc4(Buffer.alloc(0)), RangeError);
    assert.throws(() => new Rc4(Buffer.alloc(257)), RangeError);
  });
});
