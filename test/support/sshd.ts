// A real OpenSSH server on loopback for the tests, with its own host key and config.
import { execFileSync, spawn, type ChildProcess } from 'node:child_process';
import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { connect } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { freePort } from './ports.js';

// Below the kernel's ephemeral range, so no other test's connection can take it first (ports.ts).
export { freePort };

export async function waitForPort(port: number, timeoutMs = 10_000): Promise<void> {
  const until = Date.now() + timeoutMs;
  for (;;) {
    const ok = await new Promise<boolean>((resolve) => {
      const c = connect(port, '127.0.0.1');
      c.once('connect', () => {
        c.destroy();
        resolve(true);
      });
      c.once('error', () => resolve(false));
    });
    if (ok) return;
    if (Date.now() > until) throw new Error(`port ${port} did not open within ${timeoutMs} ms`);
    await new Promise((r) => setTimeout(r, 100));
  }
}

export interface Sshd {
  port: number;
  /** The listening sshd (its per-connection children are its descendants). */
  process: ChildProcess;
  /** "ssh-ed25519 AAAA…" public host key line. */
  hostKey: string;
  stop(): Promise<void>;
}

export async function startSshd(extraConfig: string[] = []): Promise<Sshd> {
  const dir = mkdtempSync(join(tmpdir(), 'gatehouse-sshd-'));
  const port = await freePort();
  const keyFile = join(dir, 'host_ed25519');
  execFileSync('ssh-keygen', ['-q', '-t', 'ed25519', '-N', '', '-f', keyFile]);
  mkdirSync('/run/sshd', { recursive: true, mode: 0o755 });
  const config = [
    `Port ${port}`,
    'ListenAddress 127.0.0.1',
    `HostKey ${keyFile}`,
    `PidFile ${join(dir, 'sshd.pid')}`,
    'PasswordAuthentication yes',
    'KbdInteractiveAuthentication no',
    'PubkeyAuthentication yes',
    'PermitRootLogin no',
    'StrictModes no',
    'UsePAM no',
    'PrintMotd no',
    'PrintLastLog no',
    'AllowTcpForwarding yes',
    'AcceptEnv LANG LC_*',
    'Subsystem sftp internal-sftp',
    'LogLevel VERBOSE',
  ];
  // sshd honours the first value of a keyword, so an extra line replaces the default it names.
  const keyword = (line: string) => line.split(/\s+/, 1)[0]!.toLowerCase();
  const overridden = new Set(extraConfig.map(keyword));
  config.splice(0, config.length, ...config.filter((l) => !overridden.has(keyword(l))), ...extraConfig);
  writeFileSync(join(dir, 'sshd_config'), config.join('\n') + '\n');
  const proc: ChildProcess = spawn('/usr/sbin/sshd', ['-D', '-e', '-f', join(dir, 'sshd_config')], { stdio: ['ignore', 'ignore', 'pipe'] });
  let stderr = '';
  proc.stderr!.on('data', (d: Buffer) => (stderr = (stderr + d.toString()).slice(-4000)));
  try {
    await waitForPort(port);
  } catch (e) {
    proc.kill('SIGKILL');
    throw new Error(`sshd did not start: ${stderr || (e as Error).message}`);
  }
  return {
    port,
    process: proc,
    hostKey: readFileSync(`${keyFile}.pub`, 'utf8').trim().split(' ').slice(0, 2).join(' '),
    stop: async () => {
      proc.kill('SIGTERM');
      await new Promise((r) => (proc.exitCode !== null ? r(null) : proc.once('exit', r)));
      rmSync(dir, { recursive: true, force: true });
    },
  };
}
