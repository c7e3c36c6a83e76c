// A sustained flood writes at most one rate_limit.exceeded event a minute per bucket, with the
// refusals in between counted into the next one. Before, every request the bucket admitted at a
// refill reset its "first refusal audited" mark, so a flood wrote an event per refill (60 a
// minute at 60 requests a minute) for as long as it lasted.
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { RequestLimits } from '../../src/core/identity/request-limits.js';
import { AppError } from '../../src/core/errors.js';

/** Limits on sign-in requests per address (`perIp` a minute) on `clock`, and the audit events they write. */
function loginLimits(perIp: number, clock: () => number) {
  const events: { details?: Record<string, unknown> }[] = [];
  const audit = { record: async (_a: unknown, input: { details?: Record<string, unknown> }) => void events.push(input) };
  const settings = { all: async () => ({ loginRequestsPerIp: perIp, loginRequestsPerAccount: 0 }) };
  return { limits: new RequestLimits(settings as never, audit as never, 1000, clock), events };
}

describe('request limits under a sustained flood', () => {
  it('five minutes at ten requests a second against 60 a minute: five events, every refusal counted', async () => {
    let clock = 1_000_000;
    const { limits, events } = loginLimits(60, () => clock);
    let admitted = 0;
    let refused = 0;
    for (let i = 0; i < 3000; i++) {
      try {
        await limits.take('login', '192.0.2.7', null, { id: null, name: null, ip: '192.0.2.7' });
        admitted++;
      } catch (e) {
        assert.ok(e instanceof AppError && e.status === 429);
        refused++;
      }
      clock += 100;
    }
    assert.ok(admitted >= 60 && admitted <= 60 + 300 + 1, `admitted ${admitted}`);
    assert.equal(events.length, 5, `events: ${events.length}`);
    // The refusals between two events are counted in the later one.
    const counted = events.length + events.reduce((n, e) => n + Number(e.details?.refusedSinceLastEvent ?? 0), 0);
    assert.ok(counted <= refused && counted > refused - 700, `counted ${counted} of ${refused}`);
    assert.match(String(events[0]!.details?.note), /at most one event a minute/);
  });

  it('the refusals counted after an event are written when the flood stops (a minute after it) and at shutdown', async () => {
    let clock = 2_000_000;
    const { limits, events } = loginLimits(2, () => clock);
    const take = (ip: string) => limits.take('login', ip, null, { id: null, name: null, ip }).then(() => 'ok', (e) => (e instanceof AppError ? e.status : e));
    for (let i = 0; i < 2; i++) assert.equal(await take('192.0.2.1'), 'ok');
    assert.equal(await take('192.0.2.1'), 429);
    assert.equal(events.length, 1, 'the first refusal: its event');
    // Just before that minute ends (the bucket has nearly refilled), twelve more requests: all
    // but the first or two refused; then the flood stops.
    clock += 59_900;
    const answers: unknown[] = [];
    for (let i = 0; i < 12; i++) answers.push(await take('192.0.2.1'));
    const refused = answers.filter((a) => a === 429).length;
    assert.ok(refused >= 10, JSON.stringify(answers));
    assert.equal(events.length, 1, 'counted, not written one by one');
    // The minute's end (100 ms of the test's own time from here) writes them.
    for (let i = 0; i < 100 && events.length < 2; i++) await new Promise((r) => setTimeout(r, 20));
    assert.equal(events.length, 2);
    assert.equal(events[1]!.details?.refusedSinceLastEvent, refused);

    // Another address: refusals counted when the node stops go out with the stop.
    for (let i = 0; i < 2; i++) assert.equal(await take('192.0.2.2'), 'ok');
    for (let i = 0; i < 6; i++) assert.equal(await take('192.0.2.2'), 429);
    assert.equal(events.length, 3);
    await limits.flush();
    assert.equal(events.length, 4);
    assert.equal(events[3]!.details?.refusedSinceLastEvent, 5);
    assert.equal(events[3]!.details?.ip, '192.0.2.2');
    await limits.flush();
    assert.equal(events.length, 4, 'nothing written twice');
  });
});
