// A light SSH target for the idle-session benchmark (bench/ssh.ts, benchmark 4 with
// BENCH_IDLE_TARGET=light): an ssh2 Server in a process of its own, so that thousands of
// target sessions cost neither sshd's two processes per connection nor a bash per session,
// and nothing of it counts in the gateway's RSS. It accepts one user with the key (or the
// password) the benchmark vaulted, and gives every session channel a shell that prints a
// prompt, echoes what it is sent and otherwise stays idle; pty, env and window changes are
// accepted. Loopback only.
// IPC: started with {user, password, publicKey (OpenSSH line), hostKey (private)} in
// BENCH_LIGHT_TARGET (JSON); sends {type:'ready', port}; answers {op:'count'} with the
// number of open connections and shell channels.
import { timingSafeEqual } from 'node:crypto';
import ssh2, { type AuthContext, type Connection, type ServerChannel } from 'ssh2';

interface Setup {
  user: string;
  password: string;
  publicKey: string;
  hostKey: string;
}

const setup = JSON.parse(process.env.BENCH_LIGHT_TARGET ?? '{}') as Setup;
const parsed = ssh2.utils.parseKey(setup.publicKey);
if (parsed instanceof Error) throw parsed;
const allowed = Array.isArray(parsed) ? parsed[0]! : parsed;
const allowedBlob = allowed.getPublicSSH();

const same = (a: Buffer, b: Buffer) => a.length === b.length && timingSafeEqual(a, b);

function authenticate(ctx: AuthContext): void {
  if (ctx.username !== setup.user) return ctx.reject();
  if (ctx.method === 'password' && setup.password && same(Buffer.from(ctx.password), Buffer.from(setup.password))) return ctx.accept();
  if (ctx.method === 'publickey' && ctx.key.algo === allowed.type && same(ctx.key.data, allowedBlob)) {
    // Without a signature the client only asks whether the key would do.
    if (!ctx.signature || !ctx.blob) return ctx.accept();
    if (allowed.verify(ctx.blob, ctx.signature, ctx.hashAlgo) === true) return ctx.accept();
  }
  ctx.reject(['publickey', 'password']);
}

let connections = 0;
let shells = 0;

function serve(client: Connection): void {
  connections++;
  client.on('error', () => undefined);
  client.on('close', () => connections--);
  client.on('authentication', authenticate);
  client.on('session', (accept) => {
    const session = accept();
    session.on('pty', (acc) => acc?.());
    session.on('env', (acc) => acc?.());
    session.on('window-change', (acc) => acc?.());
    const open = (ch: ServerChannel | undefined, text: string) => {
      if (!ch) return;
      shells++;
      ch.on('error', () => undefined);
      ch.on('close', () => shells--);
      ch.write(text);
      return ch;
    };
    session.on('shell', (acc) => {
      const ch = open(acc(), 'light-target$ ');
      // An echo, like a terminal in cooked mode, so that a keystroke can be seen to arrive.
      ch?.on('data', (d: Buffer) => ch.write(d));
    });
    session.on('exec', (acc, _rej, info) => {
      const ch = open(acc(), `light-target: ${info.command}\n`);
      ch?.exit(0);
      ch?.end();
    });
  });
}

const server = new ssh2.Server({ hostKeys: [setup.hostKey], ident: 'bench-light-target' }, serve);
server.on('error', () => undefined);
server.listen(0, '127.0.0.1', () => {
  const addr = server.address();
  process.send?.({ type: 'ready', port: typeof addr === 'object' && addr ? addr.port : 0 });
});
process.on('message', (m: { id: number; op: string }) => {
  if (m.op === 'count') process.send?.({ id: m.id, result: { connections, shells } });
});
// The benchmark going away must not leave this process behind.
process.on('disconnect', () => process.exit(0));
