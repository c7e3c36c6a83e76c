// The registry of front doors: the one place the server lists its doors, starts them (in
// order; when one cannot start, those already started are closed again and the error is
// passed on), closes them and collects their health by name.
import type { DoorHealth, FrontDoor } from './door.js';

export class DoorSet {
  private readonly started: FrontDoor[] = [];

  constructor(readonly doors: readonly FrontDoor[]) {
    const names = new Set(doors.map((d) => d.name));
    if (names.size !== doors.length) throw new Error('two front doors have the same name');
  }

  async start(): Promise<void> {
    for (const door of this.doors) {
      try {
        await door.start();
      } catch (e) {
        await this.close();
        throw e;
      }
      this.started.push(door);
    }
  }

  /** Closes the started doors in the order they were registered. */
  async close(): Promise<void> {
    for (const door of this.started.splice(0)) await door.close();
  }

  health(): Record<string, DoorHealth> {
    return Object.fromEntries(this.doors.map((d) => [d.name, d.health()]));
  }
}
