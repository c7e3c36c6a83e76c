// A shell channel from the SSH door bridged to a Telnet target: Gatehouse logs in with
// the vaulted credential (never echoed or recorded), then hands the terminal over.
// Throws TerminalOpenError when the target cannot be reached or refuses the login; the
// door tells the person and records the reason. Writes toward the person are guarded:
// the channel may already be ended by a terminate or gone with the connection.
// Backpressure as in the SSH relay (relay.ts): while the person's channel is full (write()
// returned false: the client's window is closed and ssh2 would buffer without limit) or the
// recording is behind, the Telnet socket is not read, until 'drain' or the recording caught up.
// And the other way (inputFlow): while the Telnet socket does not take the person's input (a
// paste into a target that reads slowly or stopped reading) or the recording is behind, the
// person's channel is paused; ssh2 then stops granting the client window once its buffer is
// full, so the bytes wait in the client (connection.ts stops a client that ignores the window).
import type { ServerChannel } from 'ssh2';
import type { SessionHandle } from '../../core/broker.js';
import { openTerminal } from '../targets/open-terminal.js';
import { drained } from '../drained.js';
import { inputFlow, recordingBrake, type TerminalTarget } from '../targets/terminal.js';
import { shareChannelWindow } from './channel-output.js';
import { canWrite, endChannel } from './relay.js';

export async function bridgeTelnet(h: SessionHandle, stream: ServerChannel, term: { cols: number; rows: number; term: string }, connectTimeoutMs: number): Promise<TerminalTarget | null> {
  const tn = await openTerminal(h, term, connectTimeoutMs);
  if (!h.begin(term)) {
    // Not recordable: the session was terminated and the person told (the door's onTerminate).
    tn.close();
    return null;
  }
  // As the SSH relay does: 'drain' must follow a window-blocked write (see channel-output.ts).
  shareChannelWindow(stream);
  let heldForPerson = false;
  const brake = recordingBrake(h, tn);
  tn.on('data', (d: Buffer) => {
    h.output(d);
    if (!canWrite(stream)) return;
    let more: boolean;
    try {
      more = stream.write(d);
    } catch {
      return; // the connection is gone
    }
    if (!more && !heldForPerson) {
      heldForPerson = true;
      tn.hold('person');
      const drained = () => {
        stream.off('drain', drained);
        stream.off('close', drained);
        heldForPerson = false;
        tn.release('person');
      };
      stream.on('drain', drained);
      stream.on('close', drained);
    }
    brake();
  });
  const input = inputFlow(h, tn, { pause: () => stream.pause(), resume: () => stream.resume() });
  stream.on('data', input);
  // Shared control: joiners' input (recorded and attributed by the core) goes to the same target.
  h.onJoinInput((d) => (tn.write(d) ? undefined : drained(tn)));
  tn.once('close', () => endChannel(stream, null, { exitCode: 0 }));
  stream.on('close', () => tn.close());
  return tn;
}
