// A shell channel from the SSH door bridged to a Telnet target: Gatehouse logs in with
// the vaulted credential (never echoed or recorded), then hands the terminal over.
import type { Logger } from 'pino';
import type { ServerChannel } from 'ssh2';
import type { SessionHandle } from '../../core/broker.js';
import { openTerminal, TerminalOpenError } from '../terminal-connect.js';
import type { TerminalTarget } from '../terminal.js';

export async function bridgeTelnet(h: SessionHandle, stream: ServerChannel, term: { cols: number; rows: number; term: string }, connectTimeoutMs: number, log: Logger): Promise<TerminalTarget | null> {
  let tn: TerminalTarget;
  try {
    tn = await openTerminal(h, term, connectTimeoutMs);
  } catch (e) {
    const message = e instanceof TerminalOpenError ? e.message : 'Telnet login failed';
    stream.write(`gatehouse: ${message}\r\n`);
    stream.exit(1);
    stream.end();
    // The session ends for this reason, not for the "client disconnected" that follows (end is idempotent).
    void h.end(message).catch((err) => log.error({ err: { message: (err as Error).message } }, 'session end failed'));
    return null;
  }
  h.begin(term);
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
