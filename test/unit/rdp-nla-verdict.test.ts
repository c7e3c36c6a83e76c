// The RDP heartbeat's reading of a failed NLA logon (issue 12, point 3), socket-free: only the
// target's own refusal is drift ('refused'); a target that cannot be asked, offers no NLA or
// fails its public-key proof is an OperatorError (the heartbeat records it as unreachable),
// never 'ok' and never drift. Every operation other than the heartbeat is refused as invalid.
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { OperatorError } from '../../src/core/accounts/operator.js';
import { nlaLogon, nlaVerdict, rdpNlaOperator } from '../../src/protocols/targets/accounts/rdp-nla.js';
import { CredSspRefused } from '../../src/protocols/rdp/credssp/client.js';
import { RdpProtocolError } from '../../src/protocols/rdp/errors.js';
import { nlaFailure, TargetError } from '../../src/protocols/targets/rdp.js';
import { ReadError } from '../../src/protocols/targets/socket-reader.js';

const account = (username: string, domain?: string) => ({ secretId: 's', host: '127.0.0.1', port: 3389, username, ...(domain ? { domain } : {}), fields: {} });
const failure = (v: unknown) => (v instanceof OperatorError ? v.failure : v);

describe('RDP heartbeat verdict', () => {
  it('the target refusing the logon is drift; a broken exchange is not', () => {
    assert.equal(nlaVerdict(new TargetError('auth', 'the target refused NLA at AUTHENTICATE: STATUS_LOGON_FAILURE', true)), 'refused');
    // A public-key proof that does not match (a machine in the middle) is not "the password is wrong".
    assert.equal(failure(nlaVerdict(new TargetError('auth', "the target's public key proof does not match"))), 'unreachable');
  });

  it('CredSSP failures: an NTSTATUS or a close after AUTHENTICATE is a refusal; a timeout, a forged proof or garbage is not', () => {
    const verdict = (e: unknown) => failure(nlaVerdict(nlaFailure(e)));
    assert.equal(verdict(new CredSspRefused('the target refused NLA at AUTHENTICATE: STATUS_LOGON_FAILURE', 0xc000006d)), 'refused');
    assert.equal(verdict(new CredSspRefused('the target closed the connection after AUTHENTICATE', undefined, new ReadError('closed', 'the peer closed the connection'))), 'refused');
    assert.equal(verdict(new CredSspRefused('no answer after AUTHENTICATE', undefined, new ReadError('timeout', 'no CredSSP message within 15000 ms'))), 'unreachable');
    assert.equal(verdict(new RdpProtocolError('credssp', 'integrity', 'proof mismatch')), 'unreachable');
    assert.equal(verdict(new RdpProtocolError('credssp', 'malformed', 'bad TSRequest')), 'unreachable');
    // Whatever the verdict, the door still sees an auth failure.
    assert.equal(nlaFailure(new RdpProtocolError('credssp', 'integrity', 'x')).kind, 'auth');
  });

  it('network, TLS and negotiation failures are unreachable; a target without NLA is invalid', () => {
    for (const kind of ['unreachable', 'negotiation', 'tls', 'protocol'] as const) assert.equal(failure(nlaVerdict(new TargetError(kind, `${kind} failed`))), 'unreachable', kind);
    const noNla = nlaVerdict(new TargetError('no_nla', 'the target does not offer NLA (CredSSP): the target requires TLS'));
    assert.ok(noNla instanceof OperatorError);
    assert.equal(noNla.failure, 'invalid');
    assert.match(noNla.message, /does not offer NLA/);
    assert.equal(failure(nlaVerdict(new Error('boom'))), 'error');
  });

  it('the logon takes the secret\'s domain, else DOMAIN\\name as given', () => {
    assert.deepEqual(nlaLogon(account('Administrator'), 'pw'), { domain: '', username: 'Administrator', password: 'pw' });
    assert.deepEqual(nlaLogon(account('svc', 'CORP'), 'pw'), { domain: 'CORP', username: 'svc', password: 'pw' });
    assert.deepEqual(nlaLogon(account('CORP\\svc'), 'pw'), { domain: 'CORP', username: 'svc', password: 'pw' });
    assert.deepEqual(nlaLogon(account('svc@corp.test'), 'pw'), { domain: '', username: 'svc@corp.test', password: 'pw' });
    assert.throws(() => nlaLogon(account('svc'), ''), (e: unknown) => e instanceof OperatorError && e.failure === 'invalid');
  });

  it('everything but the heartbeat is refused as invalid, naming what it needs', async () => {
    const a = account('svc');
    assert.equal(rdpNlaOperator.kind, 'windows');
    assert.equal(rdpNlaOperator.heartbeatOnly, true);
    const calls = [
      () => rdpNlaOperator.changePassword(a, null, 'New-Pw-1'),
      () => rdpNlaOperator.createAccount(a, { name: 'gh-x', password: 'p', groups: [] }),
      () => rdpNlaOperator.disableAccount(a, 'gh-x'),
      () => rdpNlaOperator.removeAccount(a, 'gh-x'),
      () => rdpNlaOperator.addToGroups(a, 'gh-x', ['g']),
      () => rdpNlaOperator.removeFromGroups(a, 'gh-x', ['g']),
      () => rdpNlaOperator.listAccounts(a, 'gh-'),
    ];
    for (const call of calls) {
      await assert.rejects(call(), (e: unknown) => e instanceof OperatorError && e.failure === 'invalid' && /heartbeat only/.test(e.message) && !e.message.includes('New-Pw-1'));
    }
  });
});
