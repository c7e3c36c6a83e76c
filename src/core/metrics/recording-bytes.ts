// The bytes of session recordings this node has recorded, for gatehouse_recording_bytes_total:
// the plain recording (asciicast or ghrec, before compression, wherever it is stored) of the
// sessions that ended here, plus what the live ones have recorded so far (taken when
// scraped). Counted from the recording writers' own totals, so neither compression nor object
// storage changes what the counter means, and scraping reads no file.

interface Recorded {
  isEnded: boolean;
  cast: { size: number } | null;
  ghrec: { size: number } | null;
}

export class RecordingBytes {
  private endedBytes = 0;

  constructor(private readonly live: () => Iterable<Recorded>) {}

  /** A session ended, having recorded this many bytes. */
  ended(recordedBytes: number): void {
    this.endedBytes += recordedBytes;
  }

  total(): number {
    let sum = this.endedBytes;
    for (const s of this.live()) if (!s.isEnded) sum += s.cast?.size ?? s.ghrec?.size ?? 0;
    return sum;
  }
}
