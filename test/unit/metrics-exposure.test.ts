// GATEHOUSE_METRICS_LISTEN on every interface without GATEHOUSE_METRICS_TOKEN: `gatehouse serve`
// says so at start (a warning line and a log entry, server.ts); loopback, a management address
// or a token: nothing to say.
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { loadConfig, metricsExposure } from '../../src/config.js';

const TOKEN = 'a'.repeat(32);

describe('metrics served on every interface without a token', () => {
  it('is warned about, naming the setting and the address', () => {
    for (const [listen, shown] of [['0.0.0.0:9464', '0.0.0.0:9464'], ['[::]:9464', '[::]:9464'], ['[::0]:9464', '[::0]:9464'], ['[0:0::0]:9464', '[0:0::0]:9464']]) {
      const w = metricsExposure(loadConfig({ GATEHOUSE_METRICS_LISTEN: listen }));
      assert.ok(w, listen);
      assert.match(w, /without GATEHOUSE_METRICS_TOKEN on every interface/);
      assert.ok(w.includes(`GATEHOUSE_METRICS_LISTEN=${shown}`), w);
    }
  });

  it('is not, on loopback, on a management address, with a token, or without the listener', () => {
    for (const env of [
      { GATEHOUSE_METRICS_LISTEN: '127.0.0.1:9464' },
      { GATEHOUSE_METRICS_LISTEN: '[::1]:9464' },
      { GATEHOUSE_METRICS_LISTEN: '10.20.0.5:9464' },
      { GATEHOUSE_METRICS_LISTEN: '0.0.0.0:9464', GATEHOUSE_METRICS_TOKEN: TOKEN },
      {},
    ]) {
      assert.equal(metricsExposure(loadConfig(env)), null, JSON.stringify(env));
    }
  });
});
