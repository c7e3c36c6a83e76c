// A real rsyslogd (Debian's) on loopback as an audit streaming receiver: imtcp (which takes
// RFC 6587 octet-counted frames) on a free port, messages parsed by rsyslog's own RFC 5424
// parser and written to a file one per line (MSGID, structured data, message). Runs in the
// foreground with its own config and work dir in a temp dir, removed by stop().
import { spawn, type ChildProcess } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { StreamedEvent } from '../../src/core/audit/streaming/event.js';
import { freePort, waitForPort } from './sshd.js';

export interface RsyslogLine {
  pri: number;
  msgId: string;
  appName: string;
  structuredData: string;
  event: StreamedEvent;
}

export class Rsyslog {
  private constructor(
    private readonly proc: ChildProcess,
    private readonly dir: string,
    readonly port: number,
  ) {}

  static async start(): Promise<Rsyslog> {
    const dir = mkdtempSync(join(tmpdir(), 'gatehouse-rsyslog-'));
    const port = await freePort();
    const out = join(dir, 'audit.log');
    writeFileSync(
      join(dir, 'rsyslog.conf'),
      [
        `global(workDirectory="${dir}" maxMessageSize="64k")`,
        'module(load="imtcp")',
        `template(name="gh" type="string" string="%pri%\\t%app-name%\\t%msgid%\\t%structured-data%\\t%msg%\\n")`,
        `ruleset(name="gh") { action(type="omfile" file="${out}" template="gh" flushOnTXEnd="on" asyncWriting="off") }`,
        `input(type="imtcp" port="${port}" address="127.0.0.1" ruleset="gh")`,
        '',
      ].join('\n'),
    );
    const proc = spawn('rsyslogd', ['-n', '-f', join(dir, 'rsyslog.conf'), '-i', join(dir, 'rsyslogd.pid')], { stdio: ['ignore', 'pipe', 'pipe'] });
    let err = '';
    proc.stderr!.on('data', (c: Buffer) => (err += c.toString()));
    proc.stdout!.on('data', (c: Buffer) => (err += c.toString()));
    try {
      await waitForPort(port, 15_000);
    } catch (e) {
      proc.kill('SIGKILL');
      throw new Error(`rsyslogd did not listen: ${(e as Error).message}\n${err}`);
    }
    return new Rsyslog(proc, dir, port);
  }

  /** What rsyslog parsed and wrote so far (audit events; checkpoint messages left out). */
  lines(): RsyslogLine[] {
    return this.all().filter((l) => l.msgId !== 'audit.checkpoint');
  }

  all(): RsyslogLine[] {
    const f = join(this.dir, 'audit.log');
    if (!existsSync(f)) return [];
    return readFileSync(f, 'utf8')
      .split('\n')
      .filter(Boolean)
      .map((l) => {
        const [pri, appName, msgId, structuredData, ...msg] = l.split('\t');
        return { pri: Number(pri), appName: appName!, msgId: msgId!, structuredData: structuredData!, event: JSON.parse(msg.join('\t').replace(/^\ufeff/, '').trim()) as StreamedEvent };
      });
  }

  async stop(): Promise<void> {
    if (this.proc.exitCode === null) {
      const done = new Promise((r) => this.proc.once('close', r));
      this.proc.kill('SIGTERM');
      await Promise.race([done, new Promise((r) => setTimeout(r, 5000))]);
      if (this.proc.exitCode === null) this.proc.kill('SIGKILL');
    }
    rmSync(this.dir, { recursive: true, force: true });
  }
}
