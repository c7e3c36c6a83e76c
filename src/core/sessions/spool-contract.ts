// Between a recording written in segments (recording-spool.ts, with the Appender of each
// segment) and the spool its segments go to (recording-s3-upload.ts): apart from both, so the
// Appender and the segmented recording do not import each other.

/** What the spool tells the recording writing into it. */
export interface SpoolEvents {
  /** Uploading failed: the recording fails like one whose disk failed (its session ends). */
  failed(err: Error): void;
  /** Segment `index` is about to leave the disk: readers get what they need first. */
  releasing(index: number): Promise<void>;
}

/** Where a segmented recording goes (one per recording; made by the storage's writeTarget). */
export interface RecordingSpool {
  /** File bytes of segment `index` after which the next flush starts a new one (Infinity: never). */
  segmentBytes(index: number): number;
  /** The file of segment `index` (0 first). */
  segmentPath(index: number): string;
  /** Called once, first, by the recording. */
  attach(events: SpoolEvents): void;
  /** Segment `index` is whole and closed on disk. */
  sealed(index: number): void;
  /** The recording is closed (`failed`: it stopped early); store what there is. Never rejects. */
  finish(lastIndex: number, failed: boolean): Promise<void>;
}
