// A shell channel from the SSH door bridged to a Telnet target: Gatehouse logs in with
// the vaulted credential (never echoed or recorded), then hands the terminal over.
import type { ServerChannel } from 'ssh2';
import type { SessionHandle } from '../../core/broker.js';
import { openTelnet, TelnetLoginError, type TelnetSession } from '../telnet/client.js';

const rx = (src: unknown): RegExp | undefined => (typeof src === 'string' && src ? new RegExp(src, 'i') : undefined);

const reasons: Record<string, string> = {
  connect: 'cannot reach the Telnet target',
  timeout: 'the Telnet target did not show a login and shell prompt in time',
  rejected: 'the Telnet target rejected the vaulted credential (login failed)',
  closed: 'the Telnet target closed the connection during login',
};

export async function bridgeTelnet(h: SessionHandle, stream: ServerChannel, term: { cols: number; rows: number; term: string }, connectTimeoutMs: number): Promise<TelnetSession | null> {
  const { plan } = h;
  const f = plan.credential.fields;
  const o = plan.launcher.options;
  let tn: TelnetSession;
  try {
    tn = await openTelnet({
      host: plan.target.host,
      port: plan.target.port,
      username: plan.credential.username ?? '',
      password: typeof f.password === 'string' ? f.password : '',
      term: term.term,
      cols: term.cols,
      rows: term.rows,
      loginPrompt: rx(o.telnetLoginPrompt),
      passwordPrompt: rx(o.telnetPasswordPrompt),
      failurePattern: rx(o.telnetFailurePattern),
      connectTimeoutMs,
    });
  } catch (e) {
    const reason = e instanceof TelnetLoginError ? e.reason : 'connect';
    h.note('target_login_failed', { protocol: 'telnet', reason });
    stream.write(`gatehouse: ${reasons[reason] ?? 'Telnet login failed'}\r\n`);
    stream.exit(1);
    stream.end();
    return null;
  }
  h.begin(term);
  if (tn.initialOutput.length) {
    stream.write(tn.initialOutput);
    h.output(tn.initialOutput);
  }
  tn.on('data', (d: Buffer) => {
    h.output(d);
    stream.write(d);
  });
  stream.on('data', (d: Buffer) => {
    h.input(d);
    tn.write(d);
  });
  tn.on('close', () => {
    stream.exit(0);
    stream.end();
  });
  stream.on('close', () => tn.close());
  return tn;
}
