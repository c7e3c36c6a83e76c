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
