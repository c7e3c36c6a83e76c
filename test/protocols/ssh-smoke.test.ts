import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { ensureTargetAccount, TARGET_PASSWORD } from '../support/accounts.js';
import { startSshd, type Sshd } from '../support/sshd.js';
import { startGateway, type Gateway } from '../support/gateway.js';

function ssh(args: string[], input?: string): Promise<{ code: number; stdout: string; stderr: string }> {
  return new Promise((resolve) => {
    const p = execFile('ssh', args, { timeout: 30_000 }, (err, stdout, stderr) => resolve({ code: err ? ((err as any).code ?? 255) : 0, stdout, stderr }));
    if (input !== undefined) p.stdin!.end(input);
  });
}

describe('SSH door smoke', () => {
  let sshd: Sshd;
  let gw: Gateway;
  let secretId: string;
  const dir = mkdtempSync(join(tmpdir(), 'gh-ssh-client-'));
  before(async () => {
    ensureTargetAccount();
    sshd = await startSshd();
    gw = await startGateway('sqlite');
    const r = await gw.api('POST', '/api/v1/secrets', { token: gw.adminToken, body: { name: 'target', template: 'unix-account', fields: { machine: '127.0.0.1', port: sshd.port, username: 'ghtarget', password: TARGET_PASSWORD } } });
    assert.equal(r.status, 201, r.raw);
    secretId = r.body.id;
  });
  after(async () => {
    await gw?.close();
    await sshd?.stop();
  });

  it('runs a command through a ticket with BatchMode', async () => {
    const l = await gw.api('POST', `/api/v1/secrets/${secretId}/launch`, { token: gw.adminToken, body: { launcher: 'ssh' } });
    assert.equal(l.status, 200, l.raw);
    const kh = join(dir, 'known_hosts');
    writeFileSync(kh, l.body.ssh.knownHosts.join('\n') + '\n');
    const r = await ssh(['-p', String(gw.sshPort), '-o', 'BatchMode=yes', '-o', `UserKnownHostsFile=${kh}`, '-o', 'StrictHostKeyChecking=yes', `${l.body.ticket}@127.0.0.1`, 'whoami; echo marker-$((6*7))']);
    assert.equal(r.code, 0, r.stderr);
    assert.match(r.stdout, /ghtarget\nmarker-42/);
  });

  it('delivers all output to a slow reader when the target closes first (no lost tail)', async () => {
    const l = await gw.api('POST', `/api/v1/secrets/${secretId}/launch`, { token: gw.adminToken, body: { launcher: 'ssh' } });
    const kh = join(dir, 'known_hosts');
    writeFileSync(kh, l.body.ssh.knownHosts.join('\n') + '\n');
    const cmd = `ssh -p ${gw.sshPort} -o BatchMode=yes -o UserKnownHostsFile=${kh} -o StrictHostKeyChecking=yes ${l.body.ticket}@127.0.0.1 'head -c 4194304 /dev/zero' | (sleep 1; wc -c)`;
    const r = await new Promise<{ stdout: string }>((resolve) => execFile('bash', ['-c', cmd], { timeout: 30_000 }, (_e, stdout) => resolve({ stdout })));
    assert.equal(r.stdout.trim(), '4194304');
  });
});
