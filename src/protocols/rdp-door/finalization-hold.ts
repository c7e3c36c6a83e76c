// Holds the target's output back from a client that cannot take it yet: IronRDP's web client
// (0.7), between the server's Demand Active and its Font Map PDU (capability exchange and
// connection finalization, MS-RDPBCGR 1.3.1.1), reads only the finalization PDUs (Synchronize,
// Control, Set Error Info, Font Map) and ends the session on anything else ("unexpected server
// message"). MS-RDPBCGR lets a server send output once it has the client's Font List, and xrdp
// does: when it resizes the desktop (the Deactivation-Reactivation sequence after a Display
// Control request) its next screen update or pointer can overtake the Font Map on the wire
// (and output between a Deactivate All and the Demand Active ends the session the same way).
// So for the browser door those frames wait here, in order, and follow the Font Map; a
// native client (the TCP door) reads them as they come and gets them unheld.
// Socket-free: the interceptor says what each frame is; the recorder has seen it already.

/** What a frame from the target is to the hold. */
export type FinalizationRole =
  /** Deactivate All or Demand Active: (re)activation starts, output waits from here. */
  | 'activation'
  /** A PDU the client reads during finalization (Synchronize, Control, Set Error Info; MCS/X.224 control). */
  | 'finalization'
  /** Font Map: finalization is done; what waited follows it. */
  | 'font-map'
  /** Output: graphics, pointer, virtual channel data, any other share data. */
  | 'output';

/** Beyond this much held output the hold gives up and lets everything through (a target that never sends its Font Map). */
export const MAX_HELD_BYTES = 16 << 20;

export class FinalizationHold {
  private holding = false;
  private held: Buffer[] = [];
  private heldBytes = 0;
  /** How many times output was held (for the session's notes and tests). */
  holds = 0;

  /** The frames to send now for one frame from the target (already rewritten for the client). */
  pass(role: FinalizationRole, frames: Buffer[]): Buffer[] {
    if (role === 'activation') {
      this.holding = true;
      return frames;
    }
    if (!this.holding || role === 'finalization') return frames;
    if (role === 'font-map') return this.release(frames);
    if (this.held.length === 0) this.holds++;
    for (const f of frames) {
      this.held.push(f);
      this.heldBytes += f.length;
    }
    return this.heldBytes > MAX_HELD_BYTES ? this.release([]) : [];
  }

  private release(first: Buffer[]): Buffer[] {
    const out = [...first, ...this.held];
    this.holding = false;
    this.held = [];
    this.heldBytes = 0;
    return out;
  }
}
