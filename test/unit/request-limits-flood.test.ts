// A sustained flood writes at most one rate_limit.exceeded event a minute per bucket, with the
// refusals in between counted into the next one. Before, every request the bucket admitted at a
// refill reset its "first refusal audited" mark, so a flood wrote an event per refill (60 a
// minute at 60 requests a minute) for as long as it lasted.
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { RequestLimits } from '../../src/core/identity/request-limits.js';
import { AppError } from '../../src/core/errors.js';

describe('request limits under a sustained flood', () => {
  it('five minutes at ten requests a second against 60 a minute: five events, every refusal counted', async () => {
    let clock = 1_000_000;
    const events: { details?: Record<string, unknown> }[] = [];
    const audit = { record: async (_a: unknown, input: { details?: Record<string, unknown> }) => void events.push(input) };
    const settings = { all: async () => ({ loginRequestsPerIp: 60, loginRequestsPerAccount: 0 }) };
    const limits = new RequestLimits(settings as never, audit as never, 1000, () => clock);
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
});
