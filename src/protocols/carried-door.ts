// What the doors carried by the HTTPS server share (the browser terminal, browser RDP): they
// own no listening socket — their connections arrive as WebSockets on the HTTPS port — so
// being a door means only this: accepting or not, knowing the connections they carry, and
// ending those still open when they close. Each door adds its own health and admission.
import type { DoorHealth, FrontDoor } from './door.js';

export abstract class CarriedDoor implements FrontDoor {
  abstract readonly name: string;
  protected accepting = false;
  /** How to end each connection it carries (called with the reason when the door closes). */
  protected readonly live = new Set<(reason: string) => void>();

  async start(): Promise<void> {
    this.accepting = true;
  }

  async close(): Promise<void> {
    this.accepting = false;
    for (const end of [...this.live]) end('gateway shutting down');
  }

  abstract health(): DoorHealth;

  /** Accept from the start, without start() (an API built without the server's doors, as in tests). */
  acceptNow(): this {
    this.accepting = true;
    return this;
  }

  /** Carries one more connection; call the answer once it has ended. */
  protected track(end: (reason: string) => void): () => void {
    this.live.add(end);
    return () => void this.live.delete(end);
  }
}
