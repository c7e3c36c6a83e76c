// The bytes of session recordings this node has written, for gatehouse_recording_bytes_total:
// the sizes of the recordings sealed here (taken once, when their session ends) plus the
// current sizes of the live ones (taken when scraped). Read from the files, so the
// recording writers' hot path counts nothing; a file that cannot be read counts as 0.
import { stat } from 'node:fs/promises';
import { join } from 'node:path';

export class RecordingBytes {
  private sealedBytes = 0;

  constructor(
    private readonly dir: string,
    private readonly live: () => Iterable<{ recordingPath: string | null; isEnded: boolean }>,
  ) {}

  private async size(rel: string): Promise<number> {
    return stat(join(this.dir, rel)).then(
      (s) => s.size,
      () => 0,
    );
  }

  /** A session ended with this recording (relative path; null: none). */
  async sealed(rel: string | null): Promise<void> {
    if (rel) this.sealedBytes += await this.size(rel);
  }

  async total(): Promise<number> {
    const rels = [...this.live()].filter((s) => !s.isEnded && s.recordingPath).map((s) => s.recordingPath!);
    const sizes = await Promise.all(rels.map((r) => this.size(r)));
    return sizes.reduce((a, b) => a + b, this.sealedBytes);
  }
}
