// A shell channel from the SSH door bridged to a Telnet target: Gatehouse logs in with
// the vaulted credential (never echoed or recorded), then hands the terminal over.
import type { ServerChannel } from 'ssh2';
import type { SessionHandle } from '../../core/broker.js';
import { openTerminal, TerminalOpenError } from '../terminal-connect.js';
import type { TerminalTarget } from '../terminal.js';

export async function bridgeTelnet(h: SessionHandle, stream: ServerChannel, term: { cols: number; rows: number; term: string }, connectTimeoutMs: number): Promise<TerminalTarget | null> {
  let tn: TerminalTarget;
  try {
    tn = await openTerminal(h, term, connectTimeoutMs);
  } catch (e) {
    stream.write(`gatehouse: ${e instanceof TerminalOpenError ? e.message : 'Telnet login failed'}\r\n`);
    stream.exit(1);
    stream.end();
    return null;
  }
  if (!h.begin(term)) {
    // Not recordable: the session was terminated and the person told (the door's onTerminate).
    tn.close();
    return null;
  }
  tn.on('data', (d: Buffer) => {
    h.output(d);
    stream.write(d);
  });
  stream.on('data', (d: Buffer) => {
    h.input(d);
    tn.write(d);
  });
  tn.once('close', () => {
    stream.exit(0);
    stream.end();
  });
  stream.on('close', () => tn.close());
  return tn;
}
