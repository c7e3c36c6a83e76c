// A node's stop (after SIGTERM's drain, or at once) writes every session's end and seals its
// recording before it closes the database:
// - a session its door ends the moment it hears terminate (the browser terminal does) is
//   waited for. Before, the door's end was under way, so the shutdown's own end of it returned
//   at once; its end was then not written yet when the recording writer and the database went,
//   and the next start found the session 'live';
// - one session end the database refuses does not cut the others' ends (or the rest of the
//   stop) short: before, endAll rejected at the first and the stop went no further;
// - a redeem under way when the drain begins (past its check, its single-use ticket used) is
//   waited for like a live session: before, the drain saw no live session, stopped at once, and
//   the redeem was refused with its ticket used up. A request with no valid ticket is not
//   waited for (it would let anyone hold a drain up to its timeout).
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { adminSessionPlans, startTestApp, type TestApp } from '../support/harness.js';
import { startGateway, type Gateway } from '../support/gateway.js';

describe("the stop waits for a session its door ends as it hears terminate", () => {
  let t: TestApp;
  before(async () => {
    t = await startTestApp('sqlite');
  });
  after(async () => {
    await t?.close();
  });

  it('endAll and settled return once its end and seal are written', async () => {
    const plan = await adminSessionPlans(t, 'stop-door-ends');
    const s = await t.core.sessions.start(await plan(), { clientIp: '127.0.0.1', door: 'web' });
    s.begin({ cols: 80, rows: 24, term: 'xterm' });
    s.output(Buffer.from('hello from the target\r\n'));
    // As the browser terminal's relay does: terminate → its own end.
    s.onTerminate(() => void s.end('client_closed'));
    await t.core.sessions.endAll('gateway shutting down');
    await t.core.sessions.settled();
    const row = await t.core.store.db.selectFrom('sessions').select(['status', 'recordingSha256']).where('id', '=', s.id).executeTakeFirstOrThrow();
    assert.equal(row.status, 'ended', 'its end is written before the stop goes on');
    assert.ok(row.recordingSha256, 'and its recording sealed');
  });
});

describe('the stop goes on when the database refuses one session end', () => {
  let t: TestApp;
  before(async () => {
    t = await startTestApp('sqlite');
  });
  after(async () => {
    await t?.close();
  });

  it('endAll ends the other sessions and resolves', async () => {
    const plan = await adminSessionPlans(t, 'stop-one-refused');
    const a = await t.core.sessions.start(await plan(), { clientIp: '127.0.0.1', door: 'ssh' });
    const b = await t.core.sessions.start(await plan(), { clientIp: '127.0.0.1', door: 'ssh' });
    const audit = t.core.audit;
    const recordIf = audit.recordIf.bind(audit);
    audit.recordIf = async (when, events) => {
      if (events[0]?.input.action === 'session.end' && events[0].input.target?.id === a.id) throw new Error('the database refused the end (test)');
      return recordIf(when, events);
    };
    try {
      await t.core.sessions.endAll('gateway shutting down');
      await t.core.sessions.settled();
    } finally {
      audit.recordIf = recordIf;
    }
    const status = async (id: string) => (await t.core.store.db.selectFrom('sessions').select('status').where('id', '=', id).executeTakeFirstOrThrow()).status;
    assert.equal(await status(b.id), 'ended');
    assert.equal(await status(a.id), 'live', 'left for the next start, which ends it as interrupted');
  });
});

describe('a drain waits for a redeem under way', () => {
  let gw: Gateway;
  before(async () => {
    gw = await startGateway('sqlite');
  });
  after(async () => {
    await gw?.close();
  });

  it('the redeem goes live, its session runs to its end, then the node stops', async () => {
    const s = await gw.api('POST', '/api/v1/secrets', { token: gw.adminToken, body: { name: 'drain-under-way', template: 'unix-account', fields: { machine: '127.0.0.1', port: 22, username: 'nobody', password: 'Drain-Under-Way-Pw-1' } } });
    assert.equal(s.status, 201, s.raw);
    const l = await gw.api('POST', `/api/v1/secrets/${s.body.id}/launch`, { token: gw.adminToken, body: { launcher: 'ssh' } });
    assert.equal(l.status, 200, l.raw);
    const core = gw.running.core;
    // The redeem is held past its draining check and its single-use update (at the checkout gate).
    const gate = core.checkouts.gate.bind(core.checkouts);
    let reached!: () => void;
    const atGate = new Promise<void>((r) => (reached = r));
    let release!: () => void;
    const released = new Promise<void>((r) => (release = r));
    core.checkouts.gate = async (...a: Parameters<typeof gate>) => {
      reached();
      await released;
      return gate(...a);
    };
    const redeem = core.launching.redeem(l.body.ticket, { clientIp: '127.0.0.1', door: 'ssh' });
    await atGate;
    let stopped = false;
    const drained = gw.running.drain(60).then(() => (stopped = true));
    // The drain has begun (no new launches) while the redeem is under way.
    const refused = await gw.api('POST', `/api/v1/secrets/${s.body.id}/launch`, { token: gw.adminToken, body: { launcher: 'ssh' } });
    assert.equal(refused.status, 503, refused.raw);
    release();
    // Before: refused (503: the node was closing), its ticket used up.
    const handle = await redeem;
    assert.equal(stopped, false, 'the node waits for the session');
    await handle.end('client_closed');
    const row = await core.store.db.selectFrom('sessions').select(['status', 'endReason']).where('id', '=', handle.id).executeTakeFirstOrThrow();
    assert.deepEqual([row.status, row.endReason], ['ended', 'client_closed'], 'ended by its door, not by the stop');
    // Its end was the last thing the drain waited for: the node stops.
    await drained;
  });
});

describe('a drain does not wait for requests without a valid ticket', () => {
  let gw: Gateway;
  before(async () => {
    gw = await startGateway('sqlite');
  });
  after(async () => {
    await gw?.close();
  });

  it('a redeem of an unknown ticket, held while the drain begins, does not hold the node up', async () => {
    const core = gw.running.core;
    const peek = core.tickets.peek.bind(core.tickets);
    let reached!: () => void;
    const atPeek = new Promise<void>((r) => (reached = r));
    let release!: () => void;
    const released = new Promise<void>((r) => (release = r));
    core.tickets.peek = async (...a: Parameters<typeof peek>) => {
      reached();
      await released;
      return peek(...a);
    };
    const junk = core.launching.redeem('x'.repeat(32), { clientIp: '127.0.0.1', door: 'ssh' }).then(
      () => 'admitted',
      () => 'refused',
    );
    await atPeek;
    // The drain (60 s) ends as soon as it finds no session and no redeem holding a ticket.
    const drained = gw.running.drain(60).then(() => 'stopped');
    const first = await Promise.race([drained, new Promise((r) => setTimeout(() => r('still draining'), 30_000))]);
    release();
    assert.equal(first, 'stopped');
    assert.equal(await junk, 'refused');
  });
});
