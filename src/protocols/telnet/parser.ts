// Incremental Telnet stream parser (RFC 854/855). Feed it TCP chunks in order; it
// separates terminal data from commands, negotiations and subnegotiations, keeps its
// state across chunk boundaries, and never throws or buffers without bound.
import { CR, IAC, NUL, SB, SE, WILL, isNegotiationVerb, type NegotiationVerb } from './codes.js';

export type TelnetEvent =
  | { type: 'data'; data: Buffer }
  | { type: 'negotiate'; verb: NegotiationVerb; option: number }
  | { type: 'subnegotiation'; option: number; data: Buffer }
  /** Any other IAC command (GA, NOP, DM, AYT, ...), or a stray IAC SE. */
  | { type: 'command'; command: number };

export interface TelnetParserOptions {
  /** Largest subnegotiation payload kept; longer ones are dropped whole. Default 4096. */
  maxSubnegotiation?: number;
}

const enum State {
  Data,
  Iac,
  Negotiate,
  SbOption,
  SbData,
  SbIac,
}

export class TelnetParser {
  /**
   * In NVT (non-BINARY) mode a bare CR is sent as CR NUL; the NUL is padding and is
   * dropped here. Turn off when the peer sends in BINARY mode.
   */
  stripCrNul = true;

  private state = State.Data;
  private verb: NegotiationVerb = WILL;
  private prevCr = false;
  private sbOption = 0;
  private sbLength = 0;
  private sbOverflow = false;
  private readonly sb: Buffer;

  constructor(opts: TelnetParserOptions = {}) {
    this.sb = Buffer.alloc(Math.max(0, opts.maxSubnegotiation ?? 4096));
  }

  push(chunk: Buffer): TelnetEvent[] {
    const events: TelnetEvent[] = [];
    // Data bytes of this chunk are gathered here and flushed before any other event,
    // so events keep stream order.
    const out = Buffer.allocUnsafe(chunk.length);
    let n = 0;
    const flush = () => {
      if (n > 0) events.push({ type: 'data', data: Buffer.from(out.subarray(0, n)) });
      n = 0;
    };

    for (let i = 0; i < chunk.length; i++) {
      const b = chunk[i]!;
      switch (this.state) {
        case State.Data:
          if (b === IAC) this.state = State.Iac;
          else if (b === NUL && this.prevCr && this.stripCrNul) this.prevCr = false;
          else {
            out[n++] = b;
            this.prevCr = b === CR;
          }
          break;
        case State.Iac:
          if (b === IAC) {
            out[n++] = IAC;
            this.prevCr = false;
            this.state = State.Data;
          } else {
            flush();
            this.afterIac(b, events);
          }
          break;
        case State.Negotiate:
          events.push({ type: 'negotiate', verb: this.verb, option: b });
          this.state = State.Data;
          break;
        case State.SbOption:
          this.sbOption = b;
          this.sbLength = 0;
          this.sbOverflow = false;
          this.state = State.SbData;
          break;
        case State.SbData:
          if (b === IAC) this.state = State.SbIac;
          else this.sbAppend(b);
          break;
        case State.SbIac:
          if (b === SE) {
            if (!this.sbOverflow) {
              events.push({ type: 'subnegotiation', option: this.sbOption, data: Buffer.from(this.sb.subarray(0, this.sbLength)) });
            }
            this.state = State.Data;
          } else if (b === IAC) {
            this.sbAppend(IAC);
            this.state = State.SbData;
          } else {
            // IAC <command> inside SB means the peer forgot IAC SE: drop the partial
            // subnegotiation and honour the command, rather than swallowing the session.
            flush();
            this.afterIac(b, events);
          }
          break;
      }
    }
    flush();
    return events;
  }

  /** Handles the byte after an IAC that is not a second IAC. */
  private afterIac(b: number, events: TelnetEvent[]): void {
    if (isNegotiationVerb(b)) {
      this.verb = b;
      this.state = State.Negotiate;
    } else if (b === SB) {
      this.state = State.SbOption;
    } else {
      events.push({ type: 'command', command: b });
      this.state = State.Data;
    }
  }

  private sbAppend(b: number): void {
    if (this.sbLength < this.sb.length) this.sb[this.sbLength++] = b;
    else this.sbOverflow = true;
  }
}
