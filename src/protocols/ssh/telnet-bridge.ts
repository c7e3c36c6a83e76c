// A shell channel from the SSH door bridged to a Telnet target: Gatehouse logs in with
// the vaulted credential (never echoed or recorded), then hands the terminal over.
// Throws TerminalOpenError when the target cannot be reached or refuses the login; the
// door tells the person and records the reason. Writes toward the person are guarded:
// the channel may already be ended by a terminate or gone with the connection.
import type { ServerChannel } from 'ssh2';
import type { SessionHandle } from '../../core/broker.js';
import { openTerminal } from '../targets/open-terminal.js';
import type { TerminalTarget } from '../targets/terminal.js';
import { endChannel, safeWrite } from './relay.js';

export async function bridgeTelnet(h: SessionHandle, stream: ServerChannel, term: { cols: number; rows: number; term: string }, connectTimeoutMs: number): Promise<TerminalTarget | null> {
  const tn = await openTerminal(h, term, connectTimeoutMs);
  if (!h.begin(term)) {
    // Not recordable: the session was terminated and the person told (the door's onTerminate).
    tn.close();
    return null;
  }
  tn.on('data', (d: Buffer) => {
    h.output(d);
    safeWrite(stream, d);
  });
  stream.on('data', (d: Buffer) => {
    h.input(d);
    tn.write(d);
  });
  // Shared control: joiners' input (recorded and attributed by the core) goes to the same target.
  h.onJoinInput((d) => tn.write(d));
  tn.once('close', () => endChannel(stream, null, { exitCode: 0 }));
  stream.on('close', () => tn.close());
  return tn;
}
