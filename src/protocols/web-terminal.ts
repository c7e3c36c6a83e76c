// The browser terminal as a front door. Its connections arrive as WebSockets on the HTTPS
// server (the route in web/routes/terminal.ts carries the frames and redeems the ticket);
// this object is what makes it a door like the others: it is started and closed with
// them, knows the browser terminals it carries, ends those still open when it closes, and
// reports its health. It owns no socket, so its pre-auth limits are the HTTPS port's.
import type { DoorHealth, FrontDoor } from './door.js';

export class WebTerminalDoor implements FrontDoor {
  readonly name = 'web-terminal';
  private accepting = false;
  private readonly live = new Set<() => void>();

  /** `served`: whether the HTTPS server it rides on is listening. */
  constructor(private readonly served: () => boolean = () => true) {}

  /** A door that accepts from the start (an API built without the server's doors, as in tests). */
  static open(): WebTerminalDoor {
    const door = new WebTerminalDoor();
    door.accepting = true;
    return door;
  }

  async start(): Promise<void> {
    this.accepting = true;
  }

  async close(): Promise<void> {
    this.accepting = false;
    for (const end of [...this.live]) end();
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
    this.live.add(end);
    return () => void this.live.delete(end);
  }
}
