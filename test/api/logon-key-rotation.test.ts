// Rotating the logon-ticket key in a cluster (the rotation listener stores it for every node,
// src/cluster-node.ts): a rotation that cannot be stored is undone here (before, this node kept
// a key no other node had, refusing what they issued until it restarted); one that lost a race
// with another node's rotation answers and audits the key in use, the winner's (before: its
// own, which nothing used). The listener here stands in for the cluster's.
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { LOGON_KEY_FILE, newPem } from '../../src/core/logon-tickets/rsa-key.js';
import { startTestApp, type TestApp } from '../support/harness.js';

describe('logon-ticket key rotation when the cluster store fails or another node wins', () => {
  let t: TestApp;
  let store: 'ok' | 'fail' | 'lose' = 'ok';
  let winner = '';
  before(async () => {
    t = await startTestApp('sqlite');
    t.core.logonTicketKey.onRotate(async () => {
      if (store === 'fail') throw new Error('the database does not answer');
      if (store === 'lose') {
        // As identity.replace writes the winner's key to this node's file, then the key is reloaded.
        writeFileSync(join(t.dataDir, LOGON_KEY_FILE), winner, { mode: 0o600 });
        t.core.logonTicketKey.reload();
      }
    });
  });
  after(async () => t?.close());

  const rotate = () => t.req('POST', '/api/v1/logon-tickets/key/rotate', { token: t.adminToken });
  const rotations = async () => (await t.core.audit.list({ limit: 50, offset: 0, action: 'logon_ticket.key_rotated' })).items;

  it('a rotation the cluster cannot store is undone: the same key, in memory and in the file, nothing audited', async () => {
    const before = t.core.logonTicketKey.public.fingerprint;
    const file = readFileSync(join(t.dataDir, LOGON_KEY_FILE), 'utf8');
    store = 'fail';
    const r = await rotate();
    store = 'ok';
    assert.ok(r.statusCode >= 500, r.body);
    assert.equal(t.core.logonTicketKey.public.fingerprint, before);
    assert.equal(readFileSync(join(t.dataDir, LOGON_KEY_FILE), 'utf8'), file);
    assert.equal((await rotations()).length, 0);
  });

  it('a rotation that lost a race answers and audits the winner\'s key', async () => {
    const before = t.core.logonTicketKey.public.fingerprint;
    winner = newPem();
    store = 'lose';
    const r = await rotate();
    store = 'ok';
    assert.equal(r.statusCode, 200, r.body);
    const inUse = t.core.logonTicketKey.public.fingerprint;
    assert.notEqual(inUse, before);
    assert.equal(r.json().fingerprint, inUse);
    assert.equal(r.json().previousFingerprint, before);
    const [ev] = await rotations();
    assert.equal(ev!.details.fingerprint, inUse);
    assert.match(String(ev!.details.note), /another node rotated the key at the same moment/);
  });
});
