// The people of the idle-session benchmark (bench/ssh.ts, benchmark 4): a child process that
// opens ssh2 Client sessions through the gateway and holds them, so that the memory and CPU
// of thousands of clients land neither in the gateway nor in the benchmark process. Each
// session: a ticket launched over HTTPS, an SSH connection to the door with the ticket as
// user name, a shell with a pty, and the target's first output (its prompt), which shows
// that the whole chain is up. Loopback only.
// IPC: sends {type:'ready'}; {op:'open', count, concurrency, url, token, secretId, sshPort, deadlineMs} → progress
// messages {type:'progress', open, failed} and the answer {open, failed, firstError};
// {op:'close'} ends every session and answers when all are closed.
import ssh2, { type Client, type ClientChannel } from 'ssh2';
import { api, closeApiAgent, withTimeout } from './lib.js';

interface Open {
  id: number;
  op: 'open';
  count: number;
  concurrency: number;
  url: string;
  token: string;
  secretId: string;
  sshPort: number;
  deadlineMs: number;
}
type Request = Open | { id: number; op: 'close' };

const clients: Client[] = [];
const send = (m: unknown) => process.send?.(m);

function connect(port: number, username: string): Promise<Client> {
  return new Promise((res, rej) => {
    const c = new ssh2.Client();
    c.once('ready', () => res(c));
    c.once('error', rej);
    // Host keys are not checked: loopback-only benchmark, throwaway keys.
    c.connect({ host: '127.0.0.1', port, username, readyTimeout: 120_000 });
  });
}

async function openOne(o: Open): Promise<Client> {
  const r = await api(o.url, 'POST', `/secrets/${o.secretId}/launch`, { token: o.token, body: { launcher: 'ssh' } });
  if (r.status !== 200) throw new Error(`launch: ${r.status} ${JSON.stringify(r.body)}`);
  const c = await connect(o.sshPort, r.body.ticket as string);
  c.on('error', () => undefined);
  try {
    const ch = await new Promise<ClientChannel>((res, rej) => c.shell({ rows: 24, cols: 80, term: 'xterm' }, (err, s) => (err ? rej(err) : res(s))));
    ch.on('error', () => undefined);
    await withTimeout(new Promise<void>((r) => ch.once('data', () => r())), 120_000, 'first shell output');
    return c;
  } catch (e) {
    c.end();
    throw e;
  }
}

async function open(o: Open): Promise<{ open: number; failed: number; firstError: string }> {
  let started = 0;
  let failed = 0;
  let firstError = '';
  let opened = 0;
  const worker = async () => {
    while (started < o.count && Date.now() < o.deadlineMs) {
      started++;
      try {
        clients.push(await openOne(o));
        opened++;
      } catch (e) {
        failed++;
        firstError ||= (e as Error).message;
      }
      if ((opened + failed) % 250 === 0) send({ type: 'progress', open: opened, failed });
    }
  };
  await Promise.all(Array.from({ length: o.concurrency }, worker));
  return { open: opened, failed, firstError };
}

async function closeAll(): Promise<void> {
  const all = clients.splice(0);
  await Promise.all(
    all.map((c) =>
      withTimeout(new Promise<void>((r) => (c.once('close', () => r()), c.end())), 60_000, 'client close').catch(() => undefined),
    ),
  );
}

process.on('message', (raw) => {
  const m = raw as Request;
  void (async () => {
    if (m.op === 'open') send({ id: m.id, result: await open(m) });
    else if (m.op === 'close') {
      await closeAll();
      send({ id: m.id, result: true });
    }
  })().catch((e) => send({ id: m.id, error: (e as Error).message }));
});
send({ type: 'ready' });
process.on('disconnect', () => {
  for (const c of clients) c.end();
  closeApiAgent();
  process.exit(0);
});
