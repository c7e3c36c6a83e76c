// What a request names is never a metric label nor an unbounded audit summary: a logon-ticket
// refusal's `via` is the /~~<server> of its URL, any text anyone sends without signing in (and
// with logon tickets off, `not_configured` is not a guess, so no limit stops the requests).
// Before, each text became a key of the source's failure summary (one audit row growing with
// every name sent). The metric's `via` label is kept to a fixed set as well (defence in depth:
// logon-ticket refusals are not counted there today).
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { AGGREGATED_ACTION } from '../../src/core/identity/rate-limit.js';
import { startTestApp, type TestApp } from '../support/harness.js';
import { samples } from '../support/prometheus.js';
import { until } from '../support/audit-receivers.js';

describe('failed sign-ins: labels and summaries from request text stay bounded', () => {
  let t: TestApp;
  before(async () => {
    t = await startTestApp('sqlite');
  });
  after(async () => t?.close());

  it('fifty /~~<server> names: no label from them, a summary with at most 20 names and the rest as (other)', async () => {
    const s = await t.req('PATCH', '/api/v1/settings', { token: t.adminToken, body: { loginAuditThreshold: 1, loginRateWindowSeconds: 2 } });
    assert.equal(s.statusCode, 200, s.body);
    for (let i = 0; i < 50; i++) {
      const r = await t.req('GET', `/~~probe${i}/socket.io/WCREDS?GetRuntimePublicModulusExponent`);
      assert.equal(r.statusCode, 403, r.body);
    }
    const text = (await t.core.metrics.exposition()).body;
    assert.doesNotMatch(text, /probe\d/, 'no label from the URL');
    assert.ok([...samples(text).keys()].every((k) => !k.startsWith('gatehouse_login_failures_total') || /via="(api|web|ssh|oauth2|cli|other)"/.test(k)));

    const summary = async () => (await t.core.store.db.selectFrom('auditEvents').select('details').where('action', '=', AGGREGATED_ACTION).executeTakeFirst())?.details;
    await until(async () => (await summary()) !== undefined, () => 'the summary written when the window ends', 30_000);
    const d = JSON.parse((await summary())!);
    assert.equal(d.count, 49, 'the first one audited on its own');
    assert.equal(Object.keys(d.via).length, 21, JSON.stringify(d.via));
    assert.equal(d.via['(other)'], 29);
  });

  it('names an object already has (constructor, __proto__, toString) are counted as names, as numbers', async () => {
    await t.core.store.db.deleteFrom('auditEvents').where('action', '=', AGGREGATED_ACTION).execute();
    // A fresh window: the one of the test before has ended (2 s) and its summary was written.
    for (const name of ['constructor', 'constructor', 'constructor', '__proto__', 'toString', 'hasOwnProperty']) {
      const r = await t.req('GET', `/~~${name}/socket.io/WCREDS?GetRuntimePublicModulusExponent`);
      assert.equal(r.statusCode, 403, r.body);
    }
    const summary = async () => (await t.core.store.db.selectFrom('auditEvents').select('details').where('action', '=', AGGREGATED_ACTION).executeTakeFirst())?.details;
    await until(async () => (await summary()) !== undefined, () => 'the summary written when the window ends', 30_000);
    const d = JSON.parse((await summary())!);
    assert.equal(d.count, 5, 'the first one audited on its own');
    assert.deepEqual(d.via, { constructor: 2, ['__proto__']: 1, toString: 1, hasOwnProperty: 1 }, JSON.stringify(d.via));
  });
});
