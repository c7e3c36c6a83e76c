// OpenPSM's GET /start takes no sign-in, and each start it accepts is kept ten minutes for its
// person. With openpsmAllowedApiUrls set (the IAM's URL is in every link it issues), anyone
// could send valid starts in a loop: before, each was kept and audited, without a bound. Now
// one address keeps at most PENDING_LIMITS.perSource starts (its oldest makes room), the
// gateway at most PENDING_LIMITS.total, and /start is under the per-address limit on ticket
// requests (429 with Retry-After, its refusals audited once).
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { createServer, type Server } from 'node:net';
import type { AddressInfo } from 'node:net';
import { OpenPsmGateway, PENDING_LIMITS } from '../../src/core/openpsm/gateway.js';
import { IamClient } from '../../src/core/openpsm/iam-client.js';
import { startTestApp, type TestApp } from '../support/harness.js';
import { openpsmLoop, type OpenPsmLoop } from '../support/openpsm.js';

describe('OpenPSM /start: the starts kept and the requests taken are bounded', () => {
  let t: TestApp;
  let psm: OpenPsmLoop;
  let target: Server;
  before(async () => {
    t = await startTestApp('sqlite');
    target = createServer((s) => s.end());
    await new Promise<void>((r) => target.listen(0, '127.0.0.1', r));
    const s = await t.req('POST', '/api/v1/secrets', { token: t.adminToken, body: { name: 'psm-bounds', template: 'unix-account', fields: { machine: '127.0.0.1', port: (target.address() as AddressInfo).port, username: 'root', password: 'Psm-Bounds-Pw-1' } } });
    assert.equal(s.statusCode, 201, s.body);
    psm = await openpsmLoop(t, s.json().id);
  });
  after(async () => {
    await psm?.close();
    await new Promise((r) => target?.close(r));
    await t?.close();
  });

  it('one address keeps its newest starts only; the gateway refuses new ones when full', async () => {
    const q = Object.fromEntries(await psm.link());
    const gw = t.core.openpsm.gateway;
    const before = gw.waiting;
    const ids: string[] = [];
    for (let i = 0; i < PENDING_LIMITS.perSource + 15; i++) {
      const r = await gw.begin(q, '198.51.100.7');
      assert.ok(r.ok);
      ids.push(r.id);
    }
    assert.equal(gw.waiting - before, PENDING_LIMITS.perSource, 'one address: at most perSource starts kept');
    assert.throws(() => gw.view(ids[0]!), /unknown or has expired/, 'the oldest made room');
    assert.equal(gw.view(ids.at(-1)!).state, 'password', 'the newest is kept');
    // Another address in the same IPv6 /64 counts as the same source.
    for (let i = 0; i < PENDING_LIMITS.perSource + 5; i++) assert.ok((await gw.begin(q, `2001:db8:1:2::${i + 1}`)).ok);
    assert.equal(gw.waiting - before, 2 * PENDING_LIMITS.perSource);

    // Full: with a small total, a start from a new address is refused (and audited), not kept.
    const small = new OpenPsmGateway({
      store: t.core.store,
      settings: t.core.settings,
      dataKeys: t.core.dataKeys,
      sessions: t.core.sessions,
      audit: t.core.audit,
      log: t.core.log,
      client: new IamClient(() => t.core.settings.get('openpsmTrustedCa')),
      draining: () => false,
      pendingLimits: { perSource: 2, total: 3 },
    });
    try {
      for (const ip of ['192.0.2.1', '192.0.2.2', '192.0.2.3']) assert.ok((await small.begin(q, ip)).ok);
      const full = await small.begin(q, '192.0.2.4');
      assert.equal(full.ok, false);
      assert.match((full as { message: string }).message, /Too many connection requests are waiting/);
      assert.equal(small.waiting, 3);
      const refused = (await t.core.audit.list({ limit: 5, offset: 0, action: 'openpsm.start' })).items.find((e) => e.outcome === 'failure');
      assert.equal(refused?.details.detail, 'too many starts waiting');
    } finally {
      small.stop();
    }
  });

  it('GET /start is under ticketRequestsPerIp: 429 with Retry-After past it, one audit event for the refusals', async () => {
    const s = await t.req('PATCH', '/api/v1/settings', { token: t.adminToken, body: { ticketRequestsPerIp: 5 } });
    assert.equal(s.statusCode, 200, s.body);
    const link = (await psm.link()).toString();
    const answers: number[] = [];
    let retryAfter: string | undefined;
    for (let i = 0; i < 12; i++) {
      const r = await t.app.inject({ method: 'GET', url: `/start?${link}`, remoteAddress: '203.0.113.9' });
      answers.push(r.statusCode);
      if (r.statusCode === 429) retryAfter ??= r.headers['retry-after'] as string | undefined;
    }
    assert.deepEqual(answers, [...Array(5).fill(303), ...Array(7).fill(429)]);
    assert.ok(Number(retryAfter) > 0, 'Retry-After');
    const limited = (await t.core.audit.list({ limit: 50, offset: 0, action: 'rate_limit.exceeded' })).items.filter((e) => e.ip === '203.0.113.9');
    assert.equal(limited.length, 1, 'the refusals in one event');
  });
});
