// Option negotiation after RFC 1143's Q method (without the queue bit): each side of
// each option is NO, YES, WANTNO or WANTYES, and a request that confirms the current
// state is never answered, so two peers can not loop.
import { DO, DONT, WILL, WONT, type NegotiationVerb } from './codes.js';
import { negotiation } from './encode.js';

const enum Q {
  No,
  Yes,
  WantNo,
  WantYes,
}

/** 'local': we perform the option (WILL/WONT from us). 'remote': the peer does (DO/DONT from us). */
export type OptionSide = 'local' | 'remote';

export interface NegotiationPolicy {
  /** Options we agree to perform when asked with DO. */
  local: ReadonlySet<number>;
  /** Options we agree to let the peer perform when it offers WILL. */
  remote: ReadonlySet<number>;
}

export class OptionNegotiator {
  private readonly us = new Uint8Array(256);
  private readonly him = new Uint8Array(256);

  constructor(
    private readonly policy: NegotiationPolicy,
    private readonly send: (bytes: Buffer) => void,
    /** Called when an option side becomes enabled or disabled. */
    private readonly onChange: (side: OptionSide, option: number, enabled: boolean) => void = () => {},
  ) {}

  isEnabled(side: OptionSide, option: number): boolean {
    return (side === 'local' ? this.us : this.him)[option & 0xff] === Q.Yes;
  }

  /** We asked to change the option and the peer has not answered yet. */
  isPending(side: OptionSide, option: number): boolean {
    const state = (side === 'local' ? this.us : this.him)[option & 0xff];
    return state === Q.WantYes || state === Q.WantNo;
  }

  /** Handles WILL/WONT/DO/DONT from the peer. */
  receive(verb: NegotiationVerb, option: number): void {
    const o = option & 0xff;
    switch (verb) {
      case WILL:
        return this.receiveEnable('remote', o);
      case WONT:
        return this.receiveDisable('remote', o);
      case DO:
        return this.receiveEnable('local', o);
      case DONT:
        return this.receiveDisable('local', o);
    }
  }

  /** Asks to enable or disable an option; does nothing if that is already the state or pending. */
  request(side: OptionSide, option: number, enable: boolean): void {
    const o = option & 0xff;
    const table = side === 'local' ? this.us : this.him;
    const state = table[o]!;
    if (enable && state === Q.No) {
      table[o] = Q.WantYes;
      this.send(negotiation(side === 'local' ? WILL : DO, o));
    } else if (!enable && state === Q.Yes) {
      table[o] = Q.WantNo;
      this.send(negotiation(side === 'local' ? WONT : DONT, o));
      // RFC 1143: the option is off from the moment we ask.
      this.onChange(side, o, false);
    }
  }

  private receiveEnable(side: OptionSide, o: number): void {
    const table = side === 'local' ? this.us : this.him;
    const [yes, no] = side === 'local' ? ([WILL, WONT] as const) : ([DO, DONT] as const);
    switch (table[o]) {
      case Q.No:
        if ((side === 'local' ? this.policy.local : this.policy.remote).has(o)) {
          table[o] = Q.Yes;
          this.send(negotiation(yes, o));
          this.onChange(side, o, true);
        } else {
          this.send(negotiation(no, o));
        }
        return;
      case Q.Yes:
        return; // already on: answering would start a loop
      case Q.WantNo:
        // The peer answered our disable with an enable: a protocol error; stay off.
        table[o] = Q.No;
        return;
      case Q.WantYes:
        table[o] = Q.Yes;
        this.onChange(side, o, true);
        return;
    }
  }

  private receiveDisable(side: OptionSide, o: number): void {
    const table = side === 'local' ? this.us : this.him;
    const no = side === 'local' ? WONT : DONT;
    switch (table[o]) {
      case Q.No:
        return;
      case Q.Yes:
        table[o] = Q.No;
        this.send(negotiation(no, o));
        this.onChange(side, o, false);
        return;
      case Q.WantNo:
      case Q.WantYes:
        table[o] = Q.No;
        return;
    }
  }
}
