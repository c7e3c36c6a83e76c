// Tickets nobody was issued (random text at a door, a connection with no ticket) are refused
// and audited like failed sign-ins: past loginAuditThreshold per source and window, counted
// into the source's auth.login.failed.aggregated summary instead of one ticket.refused row
// each. Before, each wrote its own row: a client retrying `none` auth at the SSH door, or
// opening RDP connections with random routing tokens, grew the audit trail without bound
// (against "a flood cannot flood the trail"). A refusal of a ticket that was issued (used,
// expired, another address) still gets its own event. The log's warnings follow the trail: the
// summed refusals log at debug.
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { AGGREGATED_ACTION } from '../../src/core/identity/rate-limit.js';
import { TicketRefused } from '../../src/core/broker.js';
import { startTestApp, type TestApp } from '../support/harness.js';
import { until } from '../support/audit-receivers.js';

describe('refused unknown tickets: bounded in the audit trail', () => {
  let t: TestApp;
  before(async () => {
    t = await startTestApp('sqlite');
  });
  after(async () => t?.close());

  const count = async (action: string) => (await t.core.store.db.selectFrom('auditEvents').select((eb) => eb.fn.countAll<number>().as('n')).where('action', '=', action).executeTakeFirstOrThrow()).n;

  it('fifty random tickets and ten connections without one from one address: the threshold\'s events, then one summary counting the rest', async () => {
    const s = await t.req('PATCH', '/api/v1/settings', { token: t.adminToken, body: { loginAuditThreshold: 5, loginRateWindowSeconds: 2 } });
    assert.equal(s.statusCode, 200, s.body);
    const ctx = { clientIp: '198.51.100.23', door: 'rdp' as const };
    for (let i = 0; i < 50; i++) {
      await assert.rejects(t.core.launching.redeem(randomBytes(24).toString('base64url'), ctx), (e: unknown) => e instanceof TicketRefused && e.reason === 'unknown');
    }
    for (let i = 0; i < 10; i++) await t.core.launching.doorRefused('missing', ctx);
    assert.equal(Number(await count('ticket.refused')), 5, 'the first five on their own');
    await until(async () => Number(await count(AGGREGATED_ACTION)) > 0, () => 'the summary at the window\'s end', 30_000);
    const d = JSON.parse((await t.core.store.db.selectFrom('auditEvents').select('details').where('action', '=', AGGREGATED_ACTION).executeTakeFirstOrThrow()).details);
    assert.equal(d.count, 55, JSON.stringify(d));
    assert.deepEqual(d.actions, { 'ticket.refused': 55 });
    assert.deepEqual(d.reasons, { unknown: 45, missing: 10 });
    // The log goes with the trail: a warning for each refusal with its own event, the summed
    // ones at debug (below the log level here). Before, each of the sixty logged a warning.
    const warned = t.logs().split('\n').filter((l) => l.includes('SessionConnector TicketRefused') && l.includes('198.51.100.23'));
    assert.equal(warned.length, 5, warned.join('\n'));
  });

  it('the browser RDP door\'s OpenPSM tokens nobody was given: the same bound', async () => {
    const ip = '198.51.100.24';
    for (let i = 0; i < 20; i++) {
      await assert.rejects(t.core.openpsm.gateway.openRdp(randomBytes(24).toString('base64url'), { clientIp: ip }), /unknown or has expired/);
    }
    const refused = async () => Number((await t.core.store.db.selectFrom('auditEvents').select((eb) => eb.fn.countAll<number>().as('n')).where('action', '=', 'openpsm.session').where('ip', '=', ip).executeTakeFirstOrThrow()).n);
    assert.equal(await refused(), 5, 'the threshold\'s events on their own');
    assert.equal(t.logs().split('\n').filter((l) => l.includes('OpenPsmRdpRefused') && l.includes(ip)).length, 5, 'a warning for each of those only');
    const summary = async () => (await t.core.store.db.selectFrom('auditEvents').select('details').where('action', '=', AGGREGATED_ACTION).where('ip', '=', ip).executeTakeFirst())?.details;
    await until(async () => (await summary()) !== undefined, () => 'the summary at the window\'s end', 30_000);
    assert.equal(JSON.parse((await summary())!).count, 15);
  });
});
