// Target accounts on Linux over SSH (issue 12, points 1-3 and 7) against a real OpenSSH
// server with real local accounts: rotation through a management secret (chpasswd) and by
// the account itself (passwd), verified by logging in; versions and their owner-only reveal;
// rotation after use on session end (a real SSH session through the door) and on check-in;
// heartbeat drift when the password is changed behind Gatehouse's back; bounded heartbeat
// concurrency counted on a loopback relay; failures (closed port, wrong management password)
// that leave the old password on the target and in the vault; bad input, including a
// username with shell metacharacters that must not run anything; no password in logs, API
// answers (other than reveals) or the audit trail; and a launch without rotation that makes
// no operator call at all.
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { generateKeyPairSync } from 'node:crypto';
import { existsSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createServer, connect, type Server } from 'node:net';
import ssh2 from 'ssh2';
import { startGateway, type Gateway } from '../support/gateway.js';
import { ensureLocalAccount } from '../support/accounts.js';
import { freePort, startSshd, type Sshd } from '../support/sshd.js';
import { clientFor, eventually, launch, run } from '../support/ssh-client.js';
import { generatePassword, meetsRules, normalizeRules } from '../../src/core/accounts/password-rules.js';
import { OperatorError, type AccountOperator } from '../../src/core/accounts/operator.js';
import { PendingRotations } from '../../src/core/accounts/pending-rotations.js';
import { Rotation } from '../../src/core/accounts/rotation.js';
import { SYSTEM } from '../../src/core/audit/service.js';

const ROT = 'gh12arot';
const SELF = 'gh12aself';
const HB = 'gh12ahb';
const SES = 'gh12ases';
const CHK = 'gh12achk';
const REC = 'gh12arec';
const FAIL = 'gh12afail';
const PW = { rot: 'Rot-Old-Pw-12a!x', self: 'Self-Old-Pw-12a!y', hb: 'Hb-Old-Pw-12a!z', ses: 'Ses-Old-Pw-12a!q', chk: 'Chk-Old-Pw-12a!r', rec: 'Rec-Old-Pw-12a!t', fail: 'Fail-Old-Pw-12a!s' };
const PWNED = `/tmp/gh12a-pwned-${process.pid}`;

function canLogin(port: number, username: string, password: string): Promise<boolean> {
  return new Promise((resolve, reject) => {
    const c = new ssh2.Client();
    c.on('ready', () => {
      c.end();
      resolve(true);
    });
    c.on('error', (e: Error & { level?: string }) => (e.level === 'client-authentication' ? resolve(false) : reject(e)));
    c.connect({ host: '127.0.0.1', port, username, password, readyTimeout: 10_000, tryKeyboard: false });
  });
}

describe('target accounts on Linux over SSH (real sshd, real accounts)', () => {
  let sshd: Sshd;
  let gw: Gateway;
  const answers: string[] = [];
  const api = async (method: string, url: string, body?: unknown, token?: string) => {
    const r = await gw.api(method, url, { token: token ?? gw.adminToken, ...(body !== undefined ? { body } : {}) });
    if (!/\/reveal$/.test(url)) answers.push(r.raw);
    return r;
  };
  const secret = async (name: string, username: string, password: string, extra: Record<string, unknown> = {}) => {
    const r = await api('POST', '/api/v1/secrets', { name, template: 'unix-account', fields: { machine: '127.0.0.1', port: sshd.port, username, password, ...extra } });
    assert.equal(r.status, 201, r.raw);
    return r.body.id as string;
  };
  const reveal = async (id: string) => (await gw.api('POST', `/api/v1/secrets/${id}/reveal`, { token: gw.adminToken })).body.fields.password as string;
  const account = async (id: string, body: Record<string, unknown>) => {
    const r = await api('PATCH', `/api/v1/secrets/${id}`, { account: body });
    assert.equal(r.status, 200, r.raw);
    return r.body.account;
  };
  let mgmtId: string;
  const generated: string[] = [];
  /** Holds the authorized_keys of this sshd only: root logs in with a key made for this file, nothing on the machine changes. */
  let rootKey = '';
  const keysDir = mkdtempSync(join(tmpdir(), 'gh12a-keys-'));

  before(async () => {
    // The management secret is root with a key (this machine has no sudo; as uid 0 the operator runs chpasswd directly).
    rootKey = generateKeyPairSync('rsa', { modulusLength: 2048 }).privateKey.export({ type: 'pkcs1', format: 'pem' }).toString();
    const parsed = ssh2.utils.parseKey(rootKey);
    if (parsed instanceof Error) throw parsed;
    const k = Array.isArray(parsed) ? parsed[0]! : parsed;
    writeFileSync(join(keysDir, 'root'), `${k.type} ${k.getPublicSSH().toString('base64')} gh12a-management\n`);
    sshd = await startSshd([`AuthorizedKeysFile ${keysDir}/%u`, 'PermitRootLogin prohibit-password']);
    for (const [u, p] of [[ROT, PW.rot], [SELF, PW.self], [HB, PW.hb], [SES, PW.ses], [CHK, PW.chk], [REC, PW.rec], [FAIL, PW.fail]] as const) ensureLocalAccount(u, p);
    gw = await startGateway('sqlite');
    const m = await api('POST', '/api/v1/secrets', { name: 'management root', template: 'unix-account', fields: { machine: '127.0.0.1', port: sshd.port, username: 'root', privateKey: rootKey } });
    assert.equal(m.status, 201, m.raw);
    mgmtId = m.body.id;
  });

  after(async () => {
    await gw?.running.core.rotation.settled();
    await gw?.close();
    await sshd?.stop();
    rmSync(keysDir, { recursive: true, force: true });
    rmSync(PWNED, { force: true });
  });

  it('rotates through the management secret: the old password fails and the new one works against the real sshd; the old value is a version only an owner reveals', async () => {
    const id = await secret('rot through management', ROT, PW.rot);
    const acc = await account(id, { managementSecretId: mgmtId });
    assert.equal(acc.targetKind, 'linux');
    assert.equal(acc.managementSecretId, mgmtId);
    const r = await api('POST', `/api/v1/secrets/${id}/rotate`);
    assert.equal(r.status, 200, r.raw);
    assert.equal(r.body.version, 2);
    const now = await reveal(id);
    generated.push(now);
    assert.notEqual(now, PW.rot);
    assert.ok(meetsRules(now, normalizeRules(undefined)), 'the rotated password follows the default rules');
    assert.equal(await canLogin(sshd.port, ROT, PW.rot), false, 'old password refused');
    assert.equal(await canLogin(sshd.port, ROT, now), true, 'new password accepted');
    const view = (await api('GET', `/api/v1/secrets/${id}`)).body;
    assert.equal(view.account.lastRotation.status, 'ok');
    assert.equal(view.account.versions, 1);
    const versions = await api('GET', `/api/v1/secrets/${id}/versions`);
    assert.equal(versions.status, 200, versions.raw);
    assert.equal(versions.body.items[0].reason, 'rotation');
    assert.deepEqual(versions.body.items[0].fields.sort(), ['machine', 'password', 'port', 'username']);
    const old = await gw.api('POST', `/api/v1/secrets/${id}/versions/reveal`, { token: gw.adminToken, body: { version: 1 } });
    assert.equal(old.status, 200, old.raw);
    assert.equal(old.body.fields.password, PW.rot);
    // Someone with view (not owner) sees the history but cannot reveal an old value.
    const viewer = await gw.api('POST', '/api/v1/users', { token: gw.adminToken, body: { username: 'gh12a-viewer', password: 'Viewer-pw-12a-long', roles: ['user'] } });
    assert.equal(viewer.status, 201, viewer.raw);
    await gw.api('PUT', `/api/v1/secrets/${id}/permissions`, { token: gw.adminToken, body: { entries: [{ principalType: 'user', principal: 'gh12a-viewer', level: 'view' }] } });
    const vt = await gw.userToken('gh12a-viewer', 'Viewer-pw-12a-long');
    assert.equal((await api('GET', `/api/v1/secrets/${id}/versions`, undefined, vt)).status, 200);
    assert.equal((await gw.api('POST', `/api/v1/secrets/${id}/versions/reveal`, { token: vt, body: { version: 1 } })).status, 403);
    assert.equal((await api('POST', `/api/v1/secrets/${id}/rotate`, undefined, vt)).status, 403, 'rotation needs edit');
    const audit = (await api('GET', '/api/v1/audit?action=secret.rotated&limit=50')).body.items;
    assert.ok(audit.some((e: any) => e.targetId === id && e.details.via === 'management' && e.details.trigger === 'manual'));
  });

  it('rotates by the account itself with passwd when there is no management secret', async () => {
    const id = await secret('rot by itself', SELF, PW.self);
    const r = await api('POST', `/api/v1/secrets/${id}/rotate`);
    assert.equal(r.status, 200, r.raw);
    const now = await reveal(id);
    generated.push(now);
    assert.equal(await canLogin(sshd.port, SELF, PW.self), false);
    assert.equal(await canLogin(sshd.port, SELF, now), true);
  });

  it('a failure leaves the old password on the target and in the vault: closed port, wrong management password', async () => {
    const closed = await freePort();
    const unreachable = await secret('rot unreachable', FAIL, PW.fail, { port: closed });
    const r1 = await api('POST', `/api/v1/secrets/${unreachable}/rotate`);
    assert.equal(r1.status, 502, r1.raw);
    assert.equal(r1.body.error.code, 'rotation_failed');
    assert.match(r1.body.error.message, /connection refused/);
    assert.equal(await reveal(unreachable), PW.fail);

    const wrongMgmt = await secret('wrong management', 'root', 'Not-The-Mgmt-Pw-1');
    const id = await secret('rot wrong management', FAIL, PW.fail);
    await account(id, { managementSecretId: wrongMgmt });
    const r2 = await api('POST', `/api/v1/secrets/${id}/rotate`);
    assert.equal(r2.status, 502, r2.raw);
    assert.match(r2.body.error.message, /refused the management secret/);
    assert.equal(await reveal(id), PW.fail, 'the vault keeps the old password');
    assert.equal(await canLogin(sshd.port, FAIL, PW.fail), true, 'the target keeps the old password');
    const view = (await api('GET', `/api/v1/secrets/${id}`)).body;
    assert.equal(view.account.lastRotation.status, 'failed');
    assert.equal(view.account.versions, 0);
    const failed = (await api('GET', '/api/v1/audit?action=secret.rotation_failed&limit=50')).body.items;
    assert.ok(failed.some((e: any) => e.targetId === id && /management/.test(e.details.reason)));
  });

  it('a change the new password cannot log in with is undone: the old password is set back on the target and stays in the vault', async () => {
    const core = gw.running.core;
    const real = core.targetAccounts.operator('linux')!;
    // The real operator changes the password for real; only its verdict on the new one is overridden.
    const sceptic: AccountOperator = Object.assign(Object.create(real) as AccountOperator, { verify: async () => 'refused' as const });
    core.targetAccounts.provide(sceptic);
    try {
      const id = await secret('verify fails', FAIL, PW.fail);
      await account(id, { managementSecretId: mgmtId });
      const r = await api('POST', `/api/v1/secrets/${id}/rotate`);
      assert.equal(r.status, 502, r.raw);
      assert.match(r.body.error.message, /did not work at login.*old password was set back/);
      assert.equal(await reveal(id), PW.fail, 'the vault keeps the old password');
      assert.equal((await api('GET', `/api/v1/secrets/${id}`)).body.account.versions, 0);
    } finally {
      core.targetAccounts.provide(real);
    }
    assert.equal(await canLogin(sshd.port, FAIL, PW.fail), true, 'the old password works on the target again');
  });

  /** Runs a rotation through `wrap(real)`, then puts the real operator back; the target's account is reset to PW.fail after. */
  const rotateThrough = async (name: string, wrap: (real: AccountOperator) => Partial<AccountOperator>) => {
    const core = gw.running.core;
    const real = core.targetAccounts.operator('linux')!;
    core.targetAccounts.provide(Object.assign(Object.create(real) as AccountOperator, wrap(real)));
    try {
      const id = await secret(name, FAIL, PW.fail);
      await account(id, { managementSecretId: mgmtId });
      return { id, r: await api('POST', `/api/v1/secrets/${id}/rotate`) };
    } finally {
      core.targetAccounts.provide(real);
    }
  };

  it('a change that did not answer in time but was applied keeps the new password: the vault holds what the target holds', async () => {
    // The real change runs, then its answer is lost (a command that finished after the time limit).
    const { id, r } = await rotateThrough('change lost answer', (real) => ({
      changePassword: async (...a: Parameters<AccountOperator['changePassword']>) => {
        await real.changePassword(...a);
        throw new OperatorError('unreachable', 'a command on the target did not finish in time');
      },
    }));
    const stored = await reveal(id);
    try {
      // Before: 502, the vault kept the old password while the target had the new one: nobody could log in.
      assert.equal(r.status, 200, r.raw);
      assert.notEqual(stored, PW.fail);
      assert.equal(await canLogin(sshd.port, FAIL, stored), true, 'the stored password logs in on the target');
    } finally {
      ensureLocalAccount(FAIL, PW.fail);
    }
  });

  it('a check with no answer and an undo that fails: the new password, which logs in, is stored rather than lost', async () => {
    let checks = 0;
    let changes = 0;
    const { id, r } = await rotateThrough('undo fails', (real) => ({
      verify: async (...a: Parameters<AccountOperator['verify']>) => {
        if (++checks === 1) throw new OperatorError('unreachable', 'no answer from the target');
        return real.verify(...a);
      },
      changePassword: async (...a: Parameters<AccountOperator['changePassword']>) => {
        if (++changes > 1) throw new OperatorError('unreachable', 'cannot reach the target');
        return real.changePassword(...a);
      },
    }));
    const stored = await reveal(id);
    try {
      assert.equal(r.status, 200, r.raw);
      assert.equal(await canLogin(sshd.port, FAIL, stored), true, 'the stored password logs in on the target');
    } finally {
      ensureLocalAccount(FAIL, PW.fail);
    }
  });

  /** secret_rotations rows as a node (this one, or another of the cluster) writes them before it changes the target. */
  const pendingOf = (node: string) => new PendingRotations(gw.running.core.store, gw.running.core.secrets, node);
  const lastRotation = async (id: string) => (await api('GET', `/api/v1/secrets/${id}`)).body.account.lastRotation;
  const rotationRow = (id: string) => gw.running.core.store.db.selectFrom('secretRotations').selectAll().where('secretId', '=', id).executeTakeFirst();
  const managedFail = async (name: string) => {
    const id = await secret(name, FAIL, PW.fail);
    await account(id, { managementSecretId: mgmtId });
    return id;
  };

  it('a crash between the change on the target and the store: the sweeper logs in with the sealed new password, finds it works and stores it', async () => {
    const core = gw.running.core;
    const id = await managedFail('crash after change');
    const next = generatePassword(normalizeRules(undefined));
    generated.push(next);
    try {
      // What the crashed process left: its row (this node's, lease still running) and the target changed.
      const row = await pendingOf(core.cluster.registry.self).claim(id, 'manual', next);
      assert.ok(row);
      assert.equal(JSON.stringify(row).includes(next), false, 'the pending password is sealed in the row');
      const ctx = await core.targetAccounts.context(id);
      await ctx.operator.changePassword(ctx.account, ctx.management, next);
      assert.equal(await canLogin(sshd.port, FAIL, PW.fail), false);
      // Before: nothing kept the new password; the vault held the old one and nobody could log in.
      await core.rotation.sweep();
      await core.rotation.settled();
      assert.equal(await reveal(id), next, 'the vault holds what the target holds');
      assert.equal(await canLogin(sshd.port, FAIL, next), true);
      assert.equal(await rotationRow(id), undefined, 'the row is gone once the outcome is stored');
      assert.equal((await lastRotation(id)).status, 'ok');
      const ev = (await api('GET', '/api/v1/audit?action=secret.rotated&limit=50')).body.items.find((e: any) => e.targetId === id);
      assert.equal(ev.details.recovered, true);
      assert.equal(ev.details.trigger, 'manual');
    } finally {
      ensureLocalAccount(FAIL, PW.fail);
    }
  });

  it('a rotation slower than its lease renews it: another node finds it running, not orphaned, and does not settle it beside it', async () => {
    // Before: the lease was set once at the claim; a target slower than it let another node's
    // sweeper take the row and log in with the new password while the change still ran.
    const core = gw.running.core;
    const id = await managedFail('slow target');
    const leaseMs = 2000; // renewed every ~667 ms: room for a loaded machine's event-loop stalls
    const rotation = new Rotation(core.targetAccounts, async () => false, core.log, async () => false, new PendingRotations(core.store, core.secrets, 'node-slow', leaseMs));
    const real = core.targetAccounts.operator('linux')!;
    let entered!: () => void;
    const inside = new Promise<void>((r) => (entered = r));
    let release!: () => void;
    const slow = new Promise<void>((r) => (release = r));
    core.targetAccounts.provide(
      Object.assign(Object.create(real) as AccountOperator, {
        changePassword: async (...a: Parameters<AccountOperator['changePassword']>) => {
          entered();
          await slow;
          return real.changePassword(...a);
        },
      }),
    );
    try {
      const running = rotation.rotate(SYSTEM, id, 'manual');
      await inside;
      await new Promise((r) => setTimeout(r, 3 * leaseMs));
      const other = pendingOf('node-other');
      assert.deepEqual((await other.orphans(() => false)).filter((r) => r.secretId === id), [], 'still held by node-slow');
      release();
      const done = await running;
      assert.ok(done.version > 0);
      const stored = await reveal(id);
      generated.push(stored);
      assert.equal(await canLogin(sshd.port, FAIL, stored), true, 'the rotated password is stored and works');
      assert.equal(await rotationRow(id), undefined, 'the row is gone');
    } finally {
      release();
      core.targetAccounts.provide(real);
      ensureLocalAccount(FAIL, PW.fail);
    }
  });

  it("a rotation that read the secret just before another node's rotation of it finished works with the password that one stored", async () => {
    // Before: the account's context was read once, before the row was claimed. Node B read it,
    // node A rotated and released the row, B claimed it and ran passwd with the password A had
    // replaced: the target refused it and the rotation failed (an undo would set back the wrong one).
    const core = gw.running.core;
    ensureLocalAccount(SELF, PW.self);
    const id = await secret('rot by itself, two nodes', SELF, PW.self);
    let firstRead = true;
    let read!: () => void;
    const readDone = new Promise<void>((r) => (read = r));
    let go!: () => void;
    const gate = new Promise<void>((r) => (go = r));
    const accounts = Object.assign(Object.create(core.targetAccounts) as typeof core.targetAccounts, {
      context: async (secretId: string) => {
        const ctx = await core.targetAccounts.context(secretId);
        if (secretId === id && firstRead) {
          firstRead = false;
          read();
          await gate;
        }
        return ctx;
      },
    });
    const nodeB = new Rotation(accounts, async () => false, core.log, async () => false, new PendingRotations(core.store, core.secrets, 'node-b'));
    try {
      const onB = nodeB.rotate(SYSTEM, id, 'manual');
      await readDone;
      const onA = await core.rotation.rotate(SYSTEM, id, 'manual');
      generated.push(await reveal(id));
      go();
      const done = await onB;
      assert.ok(done.version > onA.version, 'B rotated after A');
      const stored = await reveal(id);
      generated.push(stored);
      assert.equal(await canLogin(sshd.port, SELF, stored), true, "the vault holds what the target holds: B's password");
      assert.equal((await lastRotation(id)).status, 'ok');
    } finally {
      go();
      ensureLocalAccount(SELF, PW.self);
    }
  });

  it('a crash before the change reached the target: the target refuses the new password, so the old one stays in force and the failure is recorded', async () => {
    const core = gw.running.core;
    const id = await managedFail('crash before change');
    assert.ok(await pendingOf(core.cluster.registry.self).claim(id, 'checkin', generatePassword(normalizeRules(undefined))));
    await core.rotation.sweep();
    await core.rotation.settled();
    assert.equal(await rotationRow(id), undefined);
    assert.equal(await reveal(id), PW.fail);
    assert.equal(await canLogin(sshd.port, FAIL, PW.fail), true);
    const last = await lastRotation(id);
    assert.equal(last.status, 'failed');
    assert.match(last.message, /interrupted rotation: the target refused the new password, so the old one stays in force/);
  });

  it('a change with no answer whose check had no answer either: the row keeps the new password, and the sweeper stores it once the target answers', async () => {
    const { id, r } = await rotateThrough('change and check unanswered', (real) => ({
      changePassword: async (...a: Parameters<AccountOperator['changePassword']>) => {
        await real.changePassword(...a);
        throw new OperatorError('unreachable', 'a command on the target did not finish in time');
      },
      verify: async () => {
        throw new OperatorError('unreachable', 'no answer from the target');
      },
    }));
    try {
      assert.equal(r.status, 502, r.raw);
      assert.match(r.body.error.message, /no answer from the target|did not finish in time/);
      assert.match((await lastRotation(id)).message, /the sweeper tries the new password again/);
      assert.ok(await rotationRow(id), 'the row stays');
      // Before: the new password was dropped while the target held it.
      assert.equal(await canLogin(sshd.port, FAIL, PW.fail), false, 'the change was applied');
      await gw.running.core.rotation.sweep();
      await gw.running.core.rotation.settled();
      const stored = await reveal(id);
      generated.push(stored);
      assert.equal(await canLogin(sshd.port, FAIL, stored), true, 'the stored password logs in on the target');
      assert.equal(await rotationRow(id), undefined);
      assert.equal((await lastRotation(id)).status, 'ok');
    } finally {
      ensureLocalAccount(FAIL, PW.fail);
    }
  });

  it('a change with no answer whose check is refused at first (the command finished a moment later): the row stays, and the sweeper stores the new password', async () => {
    let checks = 0;
    const { id, r } = await rotateThrough('change lags', (real) => ({
      changePassword: async (...a: Parameters<AccountOperator['changePassword']>) => {
        await real.changePassword(...a);
        throw new OperatorError('unreachable', 'a command on the target did not finish in time');
      },
      // The check right after the cut sees the old state (a replica behind, a command still finishing).
      verify: async (...a: Parameters<AccountOperator['verify']>) => (++checks === 1 ? 'refused' : real.verify(...a)),
    }));
    try {
      assert.equal(r.status, 502, r.raw);
      // Before: a refused check dropped the row, the only copy of the password the target then held.
      assert.ok(await rotationRow(id), 'the row stays');
      await gw.running.core.rotation.sweep();
      await gw.running.core.rotation.settled();
      const stored = await reveal(id);
      generated.push(stored);
      assert.notEqual(stored, PW.fail);
      assert.equal(await canLogin(sshd.port, FAIL, stored), true);
    } finally {
      ensureLocalAccount(FAIL, PW.fail);
    }
  });

  it('the new password cannot be stored: it is not lost, the sweeper stores it later', async () => {
    const core = gw.running.core;
    const id = await managedFail('store fails');
    const store = core.targetAccounts.storeRotated;
    core.targetAccounts.storeRotated = async () => {
      throw new Error('database is locked');
    };
    let r;
    try {
      r = await api('POST', `/api/v1/secrets/${id}/rotate`);
    } finally {
      core.targetAccounts.storeRotated = store;
    }
    try {
      assert.equal(r.status, 502, r.raw);
      assert.match(r.body.error.message, /could not be stored; the sweeper stores it later/);
      await core.rotation.sweep();
      await core.rotation.settled();
      const stored = await reveal(id);
      generated.push(stored);
      assert.notEqual(stored, PW.fail);
      assert.equal(await canLogin(sshd.port, FAIL, stored), true);
      assert.equal(await rotationRow(id), undefined);
    } finally {
      ensureLocalAccount(FAIL, PW.fail);
    }
  });

  it('one rotation of a secret at a time across the cluster: another node\'s running rotation is a 409 for rotate, reveal, an edit of the password and a heartbeat; once its lease runs out (the node died), the sweep settles it', async () => {
    const core = gw.running.core;
    const id = await managedFail('rotating elsewhere');
    assert.ok(await pendingOf('another-node').claim(id, 'manual', generatePassword(normalizeRules(undefined))));
    const rot = await api('POST', `/api/v1/secrets/${id}/rotate`);
    assert.equal(rot.status, 409, rot.raw);
    assert.equal(rot.body.error.code, 'rotation_running');
    const rev = await gw.api('POST', `/api/v1/secrets/${id}/reveal`, { token: gw.adminToken });
    assert.equal(rev.status, 409, rev.raw);
    assert.equal(rev.body.error.code, 'rotation_running');
    const edit = await api('PATCH', `/api/v1/secrets/${id}`, { fields: { password: 'Edited-While-Rotating-1!' } });
    assert.equal(edit.status, 409, edit.raw);
    // A heartbeat now would check a password about to be replaced (drift, audited as a failure).
    const hb = await api('POST', `/api/v1/secrets/${id}/heartbeat`);
    assert.equal(hb.status, 409, hb.raw);
    assert.equal(hb.body.error.code, 'rotation_running');
    // A launch waits for it instead (at most that long), then goes on with the stored value.
    await core.secrets.valuesReady(id, 300);
    await assert.rejects(core.secrets.valuesReady(id), /being rotated/);
    // Its sweep leaves a live lease alone.
    await core.rotation.sweep();
    assert.ok(await rotationRow(id));
    // The other node died before it changed the target: its lease runs out.
    await core.store.db.updateTable('secretRotations').set({ leaseUntil: Date.now() - 1 }).where('secretId', '=', id).execute();
    await core.rotation.sweep();
    await core.rotation.settled();
    assert.equal(await rotationRow(id), undefined);
    assert.equal(await reveal(id), PW.fail);
    const again = await api('POST', `/api/v1/secrets/${id}/rotate`);
    try {
      assert.equal(again.status, 200, again.raw);
      const now = await reveal(id);
      generated.push(now);
      assert.equal(await canLogin(sshd.port, FAIL, now), true);
    } finally {
      ensureLocalAccount(FAIL, PW.fail);
    }
  });

  it('the target host key is pinned per secret as sessions pin it: a different key refuses the operation', async () => {
    const id = await secret('pinned host key', FAIL, PW.fail);
    assert.equal((await api('POST', `/api/v1/secrets/${id}/heartbeat`)).body.status, 'ok');
    const pin = await api('GET', `/api/v1/secrets/${id}/host-key`);
    assert.equal(pin.status, 200, pin.raw);
    assert.match(pin.body.hostKey.fingerprint, /^SHA256:/);
    // As if the target had been replaced: the pinned key no longer matches.
    await gw.running.core.store.db.updateTable('hostKeys').set({ fingerprint: 'SHA256:not-the-key-of-this-target' }).where('secretId', '=', id).execute();
    const r = await api('POST', `/api/v1/secrets/${id}/rotate`);
    assert.equal(r.status, 502, r.raw);
    assert.match(r.body.error.message, /host key does not match/);
    assert.equal(await reveal(id), PW.fail);
    assert.equal(await canLogin(sshd.port, FAIL, PW.fail), true);
    const hb = await api('POST', `/api/v1/secrets/${id}/heartbeat`);
    assert.equal(hb.body.status, 'unreachable');
    assert.match(hb.body.message, /host key/);
  });

  it('heartbeat flags a password changed behind Gatehouse\'s back (drift), in the API and the audit trail', async () => {
    const id = await secret('heartbeat', HB, PW.hb);
    await account(id, { heartbeat: true, heartbeatIntervalHours: 12 });
    const ok = await api('POST', `/api/v1/secrets/${id}/heartbeat`);
    assert.equal(ok.status, 200, ok.raw);
    assert.equal(ok.body.status, 'ok');
    execFileSync('chpasswd', [], { input: `${HB}:Changed-Behind-Back-12a!\n` });
    try {
      const drift = await api('POST', `/api/v1/secrets/${id}/heartbeat`);
      assert.equal(drift.body.status, 'drift');
      const view = (await api('GET', `/api/v1/secrets/${id}`)).body;
      assert.equal(view.account.lastHeartbeat.status, 'drift');
      assert.match(view.account.lastHeartbeat.message, /no longer works/);
      const events = (await api('GET', '/api/v1/audit?action=secret.heartbeat&limit=50')).body.items;
      assert.ok(events.some((e: any) => e.targetId === id && e.details.status === 'drift'));
    } finally {
      execFileSync('chpasswd', [], { input: `${HB}:${PW.hb}\n` });
    }
  });

  it('a scheduled heartbeat round never opens more than heartbeatConcurrency connections at a time (counted on a loopback relay)', async () => {
    let active = 0;
    let most = 0;
    let total = 0;
    const relay: Server = createServer((c) => {
      active++;
      total++;
      most = Math.max(most, active);
      const up = connect(sshd.port, '127.0.0.1');
      c.pipe(up).pipe(c);
      const done = () => {
        c.destroy();
        up.destroy();
      };
      let counted = true;
      const close = () => {
        if (counted) active--;
        counted = false;
        done();
      };
      c.on('close', close);
      up.on('close', close);
      c.on('error', close);
      up.on('error', close);
    });
    await new Promise<void>((r) => relay.listen(0, '127.0.0.1', r));
    const port = (relay.address() as { port: number }).port;
    try {
      assert.equal((await api('PATCH', '/api/v1/settings', { heartbeatConcurrency: 2 })).status, 200);
      const ids: string[] = [];
      for (let i = 0; i < 6; i++) {
        const id = await secret(`hb relay ${i}`, HB, PW.hb, { port });
        await account(id, { heartbeat: true });
        ids.push(id);
      }
      const checked = await gw.running.core.heartbeat.runDue();
      assert.ok(checked >= 6, `every due secret was checked (${checked})`);
      assert.ok(total >= 6, `each one connected (${total})`);
      assert.ok(most <= 2, `at most 2 connections at a time, saw ${most}`);
      for (const id of ids) assert.equal((await api('GET', `/api/v1/secrets/${id}`)).body.account.lastHeartbeat.status, 'ok');
      // Not due again until the interval has passed.
      const before = total;
      await gw.running.core.heartbeat.runDue();
      assert.equal(total, before);
    } finally {
      relay.close();
      await api('PATCH', '/api/v1/settings', { heartbeatConcurrency: 4 });
    }
  });

  it('rotation after use: a real SSH session through the door ends, then the password is rotated', async () => {
    const id = await secret('after session', SES, PW.ses);
    await account(id, { rotateAfterUse: true, managementSecretId: mgmtId });
    const l = await launch(gw, id);
    const c = clientFor(gw, l.knownHosts);
    const r = await run('ssh', [...c.base(['-o', 'BatchMode=yes', '-l', l.ticket]), '127.0.0.1', 'echo in-session-$((6*7))']);
    assert.match(r.stdout, /in-session-42/, r.stderr);
    await eventually(async () => (await api('GET', `/api/v1/secrets/${id}`)).body.account.lastRotation?.status === 'ok', 20_000, 'rotation after the session');
    const now = await reveal(id);
    generated.push(now);
    assert.notEqual(now, PW.ses);
    assert.equal(await canLogin(sshd.port, SES, PW.ses), false);
    assert.equal(await canLogin(sshd.port, SES, now), true);
    const ev = (await api('GET', '/api/v1/audit?action=secret.rotated&limit=50')).body.items.find((e: any) => e.targetId === id);
    assert.ok(['session_end', 'checkin'].includes(ev.details.trigger));
  });

  it('rotation after use on check-in of a checkout', async () => {
    const id = await secret('after checkin', CHK, PW.chk);
    await account(id, { rotateAfterUse: true, managementSecretId: mgmtId });
    assert.equal((await api('POST', `/api/v1/secrets/${id}/checkout`, { reason: 'maintenance' })).status, 200);
    assert.equal((await api('POST', `/api/v1/secrets/${id}/checkin`)).status, 200);
    // The next holder, at once: the reveal waits for the check-in's rotation. Before, it gave
    // the old password, which the rotation replaced a moment later.
    assert.equal((await api('POST', `/api/v1/secrets/${id}/checkout`, { reason: 'next holder' })).status, 200);
    const next = await reveal(id);
    assert.notEqual(next, PW.chk);
    assert.equal(await canLogin(sshd.port, CHK, next), true, 'the next holder gets the password in force');
    assert.equal((await api('POST', `/api/v1/secrets/${id}/checkin`)).status, 200);
    await gw.running.core.rotation.settled();
    const view = (await api('GET', `/api/v1/secrets/${id}`)).body;
    assert.equal(view.account.lastRotation.status, 'ok');
    const now = await reveal(id);
    generated.push(now);
    assert.equal(await canLogin(sshd.port, CHK, PW.chk), false);
    assert.equal(await canLogin(sshd.port, CHK, now), true);
    const ev = (await api('GET', '/api/v1/audit?action=secret.rotated&limit=50')).body.items.find((e: any) => e.targetId === id);
    assert.equal(ev.details.trigger, 'checkin');
  });

  it("sessions that ended before a rotation that succeeded do not rotate again (a dead node's sessions on one secret, ended together by its recovery, told one after another): once, not once each", async () => {
    const id = await secret('after recovered ends', REC, PW.rec);
    await account(id, { rotateAfterUse: true, managementSecretId: mgmtId });
    const core = gw.running.core;
    const rotations = async () => (await api('GET', '/api/v1/audit?action=secret.rotated&limit=100')).body.items.filter((e: any) => e.targetId === id).length;
    // Three sessions ended a moment ago, as a recovery ends them: their ends are told one after another.
    const endedAt = Date.now() - 1000;
    for (let i = 0; i < 3; i++) {
      await core.rotation.afterUse(id, 'session_end', REC, endedAt);
      await core.rotation.settled();
    }
    // Before: three rotations, the second and third replacing a password nobody had used.
    assert.equal(await rotations(), 1);
    // A session that ended after that rotation used its password: that one is rotated.
    await core.rotation.afterUse(id, 'session_end', REC, Date.now() + 1);
    await core.rotation.settled();
    assert.equal(await rotations(), 2);
    const now = await reveal(id);
    generated.push(now);
    assert.equal(await canLogin(sshd.port, REC, now), true);
  });

  it('a launch of a secret without rotation makes no operator call (no target round trip added)', async () => {
    const core = gw.running.core;
    const real = core.targetAccounts.operator('linux')!;
    let calls = 0;
    const counting = new Proxy(real, {
      get(target, prop, recv) {
        const v = Reflect.get(target, prop, recv);
        if (typeof v !== 'function') return v;
        return (...args: unknown[]) => {
          calls++;
          return (v as (...a: unknown[]) => unknown).apply(target, args);
        };
      },
    }) as AccountOperator;
    core.targetAccounts.provide(counting);
    try {
      const id = await secret('plain launch', HB, PW.hb);
      const l = await launch(gw, id);
      const c = clientFor(gw, l.knownHosts);
      const r = await run('ssh', [...c.base(['-o', 'BatchMode=yes', '-l', l.ticket]), '127.0.0.1', 'true']);
      assert.equal(r.code, 0, r.stderr);
      await eventually(async () => (await api('GET', `/api/v1/sessions?secretId=${id}&status=ended&limit=1`)).body.items[0], 10_000, 'session end');
      await core.rotation.settled();
      assert.equal(calls, 0, 'no operator call for a launch without rotation');
    } finally {
      core.targetAccounts.provide(real);
    }
  });

  it('bad input: unmeetable password rules, a management link to itself or to a secret without access, a username with shell metacharacters', async () => {
    const tooShort = await api('POST', '/api/v1/templates', { name: 'gh12a short', fields: [{ name: 'password', label: 'P', type: 'password' }], passwordRules: { length: 3 } });
    assert.equal(tooShort.status, 400, tooShort.raw);
    assert.match(tooShort.body.error.message, /password rules/);
    const noSymbols = await api('POST', '/api/v1/templates', { name: 'gh12a nosym', fields: [{ name: 'password', label: 'P', type: 'password' }], passwordRules: { symbol: true, symbols: '' } });
    assert.equal(noSymbols.status, 400, noSymbols.raw);
    const noClass = await api('PATCH', '/api/v1/templates/unix-account', { passwordRules: { lower: false, upper: false, digit: false, symbol: false } });
    assert.equal(noClass.status, 400, noClass.raw);
    const badSymbol = await api('PATCH', '/api/v1/templates/unix-account', { passwordRules: { symbols: 'a:' } });
    assert.equal(badSymbol.status, 400, badSymbol.raw);
    const good = await api('POST', '/api/v1/templates', { name: 'gh12a digits', fields: [{ name: 'password', label: 'P', type: 'password' }], passwordRules: { length: 12, lower: false, upper: false, symbol: false } });
    assert.equal(good.status, 201, good.raw);
    assert.deepEqual(good.body.passwordRules, { length: 12, lower: false, upper: false, digit: true, symbol: false, symbols: '' });
    assert.match(generatePassword(good.body.passwordRules), /^\d{12}$/);

    const a = await secret('link a', FAIL, PW.fail);
    const b = await secret('link b', FAIL, PW.fail);
    const self = await api('PATCH', `/api/v1/secrets/${a}`, { account: { managementSecretId: a } });
    assert.equal(self.status, 400, self.raw);
    await account(a, { managementSecretId: b });
    const cycle = await api('PATCH', `/api/v1/secrets/${b}`, { account: { managementSecretId: a } });
    assert.equal(cycle.status, 400, cycle.raw);
    assert.equal(cycle.body.error.code, 'management_cycle');
    // A user who may edit their own secret cannot link a secret they have no access to.
    const u = await gw.api('POST', '/api/v1/users', { token: gw.adminToken, body: { username: 'gh12a-editor', password: 'Editor-pw-12a-long', roles: ['user'] } });
    assert.equal(u.status, 201, u.raw);
    const ut = await gw.userToken('gh12a-editor', 'Editor-pw-12a-long');
    const own = await api('POST', '/api/v1/secrets', { name: 'editor own', template: 'unix-account', fields: { machine: '127.0.0.1', port: sshd.port, username: FAIL, password: PW.fail } }, ut);
    assert.equal(own.status, 201, own.raw);
    const noAccess = await api('PATCH', `/api/v1/secrets/${own.body.id}`, { account: { managementSecretId: mgmtId } }, ut);
    assert.equal(noAccess.status, 404, noAccess.raw);

    const evil = await secret('shell metacharacters', `x;touch ${PWNED}`, PW.fail);
    await account(evil, { managementSecretId: mgmtId, heartbeat: true });
    const rot = await api('POST', `/api/v1/secrets/${evil}/rotate`);
    assert.equal(rot.status, 400, rot.raw);
    assert.match(rot.body.error.message, /not a valid Unix login name/);
    const selfRot = await secret('shell metacharacters self', `$(touch ${PWNED})`, PW.fail);
    assert.equal((await api('POST', `/api/v1/secrets/${selfRot}/rotate`)).status, 400);
    await api('POST', `/api/v1/secrets/${evil}/heartbeat`);
    assert.equal(existsSync(PWNED), false, 'no command ran on the target');
    assert.equal(await reveal(evil), PW.fail);

    const generic = await api('POST', '/api/v1/secrets', { name: 'generic not managed', template: 'generic', fields: { username: 'u', password: 'p-generic-12a' } });
    const nm = await api('POST', `/api/v1/secrets/${generic.body.id}/rotate`);
    assert.equal(nm.status, 409, nm.raw);
    assert.equal(nm.body.error.code, 'not_managed');
  });

  it('no password in the log, the API answers (reveals aside) or the audit trail', async () => {
    await gw.running.core.rotation.settled();
    const audit = (await gw.api('GET', '/api/v1/audit?limit=1000', { token: gw.adminToken })).raw;
    const hay = [gw.logs(), audit, ...answers].join('\n');
    for (const p of [...Object.values(PW), ...generated]) assert.ok(!hay.includes(p), `a password leaked (${p.slice(0, 3)}…)`);
    assert.ok(!hay.includes(rootKey.split('\n')[5]!), 'the management key leaked');
    assert.ok(generated.length >= 4);
  });
});
