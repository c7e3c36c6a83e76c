// The browser terminal as a front door. Its connections arrive as WebSockets on the HTTPS
// server (the route in web/routes/terminal.ts carries the frames and redeems the ticket);
// this object is what makes it a door like the others: it is started and closed with
// them, knows the browser terminals it carries, ends those still open when it closes, and
// reports its health. It owns no socket, so its pre-auth limits are the HTTPS port's.
import { CarriedDoor } from './carried-door.js';
import type { DoorHealth } from './door.js';

export class WebTerminalDoor extends CarriedDoor {
  readonly name = 'web-terminal';

  /** `served`: whether the HTTPS server it rides on is listening. */
  constructor(private readonly served: () => boolean = () => true) {
    super();
  }

  /** A door that accepts from the start (an API built without the server's doors, as in tests). */
  static open(): WebTerminalDoor {
    return new WebTerminalDoor().acceptNow();
  }

  health(): DoorHealth {
    return { listening: this.accepting && this.served(), connections: this.live.size };
  }

  /**
   * A browser terminal connection arrives. Null when the door is closed (refuse it);
   * otherwise call the answer once the connection has ended. `end` is how the door
   * ends it when the door closes.
   */
  admit(end: () => void): (() => void) | null {
    if (!this.accepting) return null;
    return this.track(() => end());
  }
}
