// Shared test material for the RDP foundations: hex helpers, sample PDUs close to what
// mstsc sends, and a seeded mutation fuzzer that only tolerates RdpProtocolError.
import assert from 'node:assert/strict';
import { RdpProtocolError } from '../../../src/protocols/rdp/errors.js';
import { CS, encodeClientCluster, encodeClientCore, encodeClientNetwork, encodeClientSecurity, type ClientCoreData } from '../../../src/protocols/rdp/pdu/client-data.js';

/** Hex with any whitespace. */
export const hex = (s: string): Buffer => Buffer.from(s.replace(/\s+/g, ''), 'hex');

/** CS_CORE as in MS-RDPBCGR 4.1.3 (mstsc 6.0 on "ELTONS-DEV2"), with serverSelectedProtocol. */
export const sampleCore = (): ClientCoreData => ({
  version: 0x00080004,
  desktopWidth: 1024,
  desktopHeight: 768,
  colorDepth: 0xca01,
  sasSequence: 0xaa03,
  keyboardLayout: 0x409,
  clientBuild: 3790,
  clientName: 'ELTONS-DEV2',
  keyboardType: 4,
  keyboardSubType: 0,
  keyboardFunctionKey: 12,
  imeFileName: '',
  postBeta2ColorDepth: 0xca01,
  clientProductId: 1,
  serialNumber: 0,
  highColorDepth: 24,
  supportedColorDepths: 7,
  earlyCapabilityFlags: 1,
  clientDigProductId: '69712-783-0357974-42714',
  connectionType: 0,
  serverSelectedProtocol: 0,
});

export const sampleChannels = () => [
  { name: 'rdpdr', options: 0x80800000 },
  { name: 'cliprdr', options: 0xc0a00000 },
  { name: 'rdpsnd', options: 0xc0000000 },
];

/** Client data blocks in mstsc's order: core, cluster, security, network. */
export function sampleClientBlocks(): Buffer[] {
  return [
    encodeClientCore(sampleCore()),
    encodeClientCluster({ flags: 0x0d, redirectedSessionId: 0 }),
    encodeClientSecurity({ encryptionMethods: 0x1b, extEncryptionMethods: 0 }),
    encodeClientNetwork(sampleChannels()),
  ];
}

export { CS };

// ---- fuzzing ----

/** mulberry32: small, fast, seeded. */
export function rng(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

const INTERESTING = [0x00, 0x01, 0x02, 0x03, 0x04, 0x06, 0x0a, 0x30, 0x7f, 0x80, 0x81, 0x82, 0x84, 0xa0, 0xa1, 0xfe, 0xff];

/** One random mutation (sometimes a few) of a seed input: flips, truncation, huge lengths, splices, noise. */
export function mutate(seed: Buffer, next: () => number): Buffer {
  const int = (n: number) => Math.floor(next() * n);
  let b = Buffer.from(seed);
  const rounds = 1 + int(3);
  for (let k = 0; k < rounds; k++) {
    const pos = b.length ? int(b.length) : 0;
    switch (int(9)) {
      case 0: // bit flips
        for (let i = 0, n = 1 + int(4); i < n && b.length; i++) b[int(b.length)]! ^= 1 << int(8);
        break;
      case 1: // truncation
        b = b.subarray(0, int(b.length + 1));
        break;
      case 2: // an interesting byte
        if (b.length) b[pos] = INTERESTING[int(INTERESTING.length)]!;
        break;
      case 3: // a huge length: 0xff.. or a long-form BER length
        if (b.length) {
          const huge = [Buffer.from([0xff, 0xff]), Buffer.from([0x84, 0xff, 0xff, 0xff, 0xff]), Buffer.from([0x7f, 0xff]), Buffer.from([0xff, 0xff, 0xff, 0x7f])][int(4)]!;
          huge.copy(b, pos);
        }
        break;
      case 4: // insert random bytes
        b = Buffer.concat([b.subarray(0, pos), Buffer.from(Array.from({ length: 1 + int(16) }, () => int(256))), b.subarray(pos)]);
        break;
      case 5: // delete a range
        b = Buffer.concat([b.subarray(0, pos), b.subarray(pos + 1 + int(16))]);
        break;
      case 6: // duplicate a range
        b = Buffer.concat([b.subarray(0, pos), b.subarray(pos, pos + 1 + int(32)), b.subarray(pos)]);
        break;
      case 7: // a random u16/u32 somewhere (length fields are everywhere)
        if (b.length >= 4) {
          const p = int(b.length - 3);
          if (next() < 0.5) b.writeUInt16LE(int(0x10000), p);
          else b.writeUInt32LE(int(0x100000000), p);
        }
        break;
      default: // pure noise
        b = Buffer.from(Array.from({ length: int(64) }, () => int(256)));
    }
  }
  return b;
}

export interface FuzzReport {
  runs: number;
  threw: number;
}

/**
 * Runs fn over `runs` mutated inputs. Anything but a return or an RdpProtocolError fails
 * the test with the offending input. The work is bounded by the number and size of the
 * inputs, not timed: a parser that hangs is caught by the test runner's timeout.
 */
export function fuzz(seeds: Buffer[], fn: (input: Buffer) => unknown, opts: { runs?: number; seed?: number } = {}): FuzzReport {
  // RDP_FUZZ_RUNS / RDP_FUZZ_SEED scale a local soak run; the suite defaults stay fast.
  const runs = opts.runs ?? (Number(process.env.RDP_FUZZ_RUNS) || 5000);
  const next = rng((opts.seed ?? 0x5eed) ^ (Number(process.env.RDP_FUZZ_SEED) || 0));
  const report: FuzzReport = { runs, threw: 0 };
  for (let i = 0; i < runs; i++) {
    const seed = seeds[i % seeds.length]!;
    // Keep some unmutated and some lightly mutated inputs in the mix.
    const input = i < seeds.length ? seed : mutate(seed, next);
    try {
      fn(input);
    } catch (e) {
      if (!(e instanceof RdpProtocolError)) {
        assert.fail(`input #${i} ${input.toString('hex')} threw ${e instanceof Error ? `${e.name}: ${e.message}\n${e.stack}` : String(e)}`);
      }
      assert.ok(e.reason && e.layer, 'typed errors carry a layer and a reason');
      report.threw++;
    }
  }
  return report;
}
