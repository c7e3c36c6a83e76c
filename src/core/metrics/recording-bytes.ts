// The bytes of session recordings this node has recorded, for gatehouse_recording_bytes_total:
// the plain recording (asciicast or ghrec, before compression, wherever it is stored) of the
// sessions that ended here, plus what the live ones have recorded so far (taken when
// scraped). Counted from the recording writers' own totals, so neither compression nor object
// storage changes what the counter means, and scraping reads no file.
//
// A session is counted live while it is in Sessions.live (a session closing its recording
// included: ended, still there, still writing) and moves to the ended total as it leaves it
// (Sessions.onLeftLive, synchronously): never in both, never in neither, so the counter
// never goes down.

interface Recorded {
  cast: { size: number } | null;
  ghrec: { size: number } | null;
}

/** Bytes a session has recorded so far (0 when it is not recorded). */
const recorded = (s: Recorded): number => s.cast?.size ?? s.ghrec?.size ?? 0;

export class RecordingBytes {
  private endedBytes = 0;

  constructor(private readonly live: () => Iterable<Recorded>) {}

  /** A session left the live ones, having recorded what it has. */
  ended(s: Recorded): void {
    this.endedBytes += recorded(s);
  }

  total(): number {
    let sum = this.endedBytes;
    for (const s of this.live()) sum += recorded(s);
    return sum;
  }
}
