// The recording settings' defaults and bounds: compressed by default, at zlib level 1 (the
// writer thread must keep up with bursts; docs/operations.md "Compression"), and the level
// reaches the gzip members the writer thread writes.
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, readFileSync, rmSync, statSync } from 'node:fs';
import { gunzipSync } from 'node:zlib';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { ConfigError, loadConfig } from '../../src/config.js';
import { Appender } from '../../src/core/sessions/appender.js';
import { DEFAULT_WRITER_LIMITS, RecordingWriter } from '../../src/core/sessions/recording-writer.js';

describe('recording settings', () => {
  it('compressed by default at zlib level 1; GATEHOUSE_RECORDING_GZIP_LEVEL takes 1–9 and nothing else', () => {
    const c = loadConfig({});
    assert.equal(c.recordingCompression, 'gzip');
    assert.equal(c.recordingGzipLevel, 1);
    assert.equal(DEFAULT_WRITER_LIMITS.gzipLevel, 1);
    assert.equal(loadConfig({ GATEHOUSE_RECORDING_GZIP_LEVEL: '6' }).recordingGzipLevel, 6);
    for (const bad of ['0', '10', 'fast', '1.5', '-1']) {
      assert.throws(() => loadConfig({ GATEHOUSE_RECORDING_GZIP_LEVEL: bad }), (e) => e instanceof ConfigError && /GATEHOUSE_RECORDING_GZIP_LEVEL/.test(e.message), bad);
    }
  });

  it('GATEHOUSE_S3_PART_MIB gives the part size in bytes up to its 1024 MiB maximum (no 32-bit shift overflow), and refuses more', () => {
    const s3 = { GATEHOUSE_RECORDING_STORAGE: 's3', GATEHOUSE_S3_BUCKET: 'recordings' };
    assert.equal(loadConfig(s3).s3!.partBytes, 8 * 1024 * 1024);
    for (const mib of [5, 1023, 1024]) assert.equal(loadConfig({ ...s3, GATEHOUSE_S3_PART_MIB: String(mib) }).s3!.partBytes, mib * 1024 * 1024, `${mib} MiB`);
    // 2048 << 20 and 4096 << 20 overflowed to a negative size and to 0; each is now refused with the range.
    for (const bad of ['4', '1025', '2048', '4096', '5120']) {
      assert.throws(() => loadConfig({ ...s3, GATEHOUSE_S3_PART_MIB: bad }), (e) => e instanceof ConfigError && /GATEHOUSE_S3_PART_MIB must be a whole number from 5 to 1024/.test(e.message), bad);
    }
    const loop = { ...s3, GATEHOUSE_S3_ENDPOINT: 'http://127.0.0.1:9000' };
    assert.equal(loadConfig({ ...loop, GATEHOUSE_S3_TEST_PART_BYTES: String(1024 * 1024 * 1024) }).s3!.partBytes, 1024 * 1024 * 1024);
    assert.throws(() => loadConfig({ ...loop, GATEHOUSE_S3_TEST_PART_BYTES: String(1024 * 1024 * 1024 + 1) }), (e) => e instanceof ConfigError && /from 4096 to 1073741824/.test(e.message));
  });

  it('GATEHOUSE_S3_ENDPOINT refused without echoing a value that may hold credentials', () => {
    const s3 = { GATEHOUSE_RECORDING_STORAGE: 's3', GATEHOUSE_S3_BUCKET: 'recordings' };
    // A secret key with a "/" makes the URL unparsable: it was echoed in the error (to stderr, journald).
    const secret = 'wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY';
    for (const bad of [`https://AKIAIOSFODNN7EXAMPLE:${secret}@s3.example.com`, `ftp://AKIAIOSFODNN7EXAMPLE:${secret.replace(/\//g, 'x')}@s3.example.com`]) {
      assert.throws(() => loadConfig({ ...s3, GATEHOUSE_S3_ENDPOINT: bad }), (e) => e instanceof ConfigError && /GATEHOUSE_S3_ENDPOINT must/.test(e.message) && !e.message.includes('EXAMPLEKEY') && !e.message.includes('AKIA'), bad);
    }
  });

  it('the writer thread compresses at its level: the same events take more room at level 1 than at level 6', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'gh-reclevel-'));
    // Terminal-like output with some variety (a fixed pseudo-random sequence of words), where levels differ.
    const words = ['ls', '-la', 'drwxr-xr-x', 'root', '4096', 'Dec', 'bin', 'lib', 'share', 'total', 'rw-r--r--', '.bashrc'];
    let seed = 7;
    const next = () => ((seed = (seed * 1103515245 + 12345) & 0x7fffffff), seed);
    const lines = Array.from({ length: 4000 }, (_, i) => `[${(i / 10).toFixed(1)},"o","${Array.from({ length: 8 }, () => words[next() % words.length]).join(' ')} ${next() % 100000}\\r\\n"]\n`).join('');
    const sizeAt = async (level: number) => {
      const writer = new RecordingWriter({ ...DEFAULT_WRITER_LIMITS, gzipLevel: level });
      const path = join(dir, `l${level}.cast.gz`);
      const a = new Appender(path, Buffer.from('{"version":2}\n'), 10, 1 << 20, undefined, { gzip: true, writer });
      a.append(Buffer.from(lines));
      await a.close();
      await writer.stop();
      assert.equal(gunzipSync(readFileSync(path)).toString(), '{"version":2}\n' + lines, `level ${level} reads back`);
      return statSync(path).size;
    };
    try {
      const [fast, six] = [await sizeAt(1), await sizeAt(6)];
      assert.ok(fast > six, `level 1 (${fast} bytes) stores more than level 6 (${six} bytes)`);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});
