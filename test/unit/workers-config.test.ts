// GATEHOUSE_WORKERS on its own (issue 16 point 3): how it reads (a count or `auto`), that it
// needs PostgreSQL, and what each worker gets of its own (src/cluster-workers.ts): its index,
// a node-to-node listener on loopback (a node alone) or at the cluster port + index - 1, and
// its own metrics port.
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { availableParallelism } from 'node:os';
import { ConfigError, loadConfig } from '../../src/config.js';
import { workerConfig, workersWarning } from '../../src/cluster-workers.js';

const PG = { GATEHOUSE_DATABASE_URL: 'postgres://gatehouse@127.0.0.1/gatehouse', GATEHOUSE_DATA_DIR: '/tmp/gatehouse-workers-config' };

describe('GATEHOUSE_WORKERS', () => {
  it('is 1 unless set, a count, or auto (one per core)', () => {
    assert.equal(loadConfig({ ...PG }).workers, 1);
    assert.equal(loadConfig({ ...PG, GATEHOUSE_WORKERS: '4' }).workers, 4);
    assert.equal(loadConfig({ ...PG, GATEHOUSE_WORKERS: 'auto' }).workers, availableParallelism());
    for (const bad of ['0', 'two', '257', '-1']) assert.throws(() => loadConfig({ ...PG, GATEHOUSE_WORKERS: bad }), (e) => e instanceof ConfigError && /GATEHOUSE_WORKERS must be a whole number from 1 to 256, or auto/.test(e.message));
  });

  it('above 1 needs PostgreSQL', () => {
    assert.throws(() => loadConfig({ GATEHOUSE_DATA_DIR: PG.GATEHOUSE_DATA_DIR, GATEHOUSE_WORKERS: '2' }), (e) => e instanceof ConfigError && /GATEHOUSE_WORKERS above 1 needs PostgreSQL/.test(e.message));
    assert.equal(loadConfig({ GATEHOUSE_DATA_DIR: PG.GATEHOUSE_DATA_DIR, GATEHOUSE_WORKERS: '1' }).workers, 1);
  });

  it('gives each worker its index, its own node-to-node listener and its own metrics port', () => {
    const alone = loadConfig({ ...PG, GATEHOUSE_WORKERS: '2', GATEHOUSE_METRICS_LISTEN: '127.0.0.1:9464', GATEHOUSE_BIND_HOST: '0.0.0.0' });
    const w2 = workerConfig(alone, 2);
    assert.equal(w2.worker, 2);
    assert.deepEqual([w2.clusterPort, w2.clusterListenHost, w2.clusterAddress], [0, '127.0.0.1', '127.0.0.1'], 'a node alone: loopback, a port the kernel picks');
    assert.deepEqual(w2.metricsListen, { host: '127.0.0.1', port: 9465 });
    assert.equal(w2.bindHost, '0.0.0.0', 'the public ports are the node\'s');
    const member = loadConfig({ ...PG, GATEHOUSE_WORKERS: '3', GATEHOUSE_CLUSTER_PORT: '7443', GATEHOUSE_CLUSTER_ADDRESS: 'gh1.internal' });
    const w3 = workerConfig(member, 3);
    assert.deepEqual([w3.clusterPort, w3.clusterListenHost, w3.clusterAddress], [7445, undefined, 'gh1.internal'], 'one machine of a cluster: the cluster port + index - 1');
    assert.equal(workerConfig(loadConfig({ ...PG, GATEHOUSE_WORKERS: '2', GATEHOUSE_METRICS_LISTEN: '127.0.0.1:0' }), 2).metricsListen?.port, 0);
  });

  it('warns at start when /metrics is on the HTTPS port only (each scrape answers for one worker)', () => {
    const token = { GATEHOUSE_METRICS_TOKEN: 'm'.repeat(32) };
    assert.match(workersWarning(loadConfig({ ...PG, ...token, GATEHOUSE_WORKERS: '2' })) ?? '', /with GATEHOUSE_WORKERS=2, \/metrics on the HTTPS port answers for whichever worker takes the connection; set GATEHOUSE_METRICS_LISTEN/);
    assert.equal(workersWarning(loadConfig({ ...PG, ...token, GATEHOUSE_WORKERS: '2', GATEHOUSE_METRICS_LISTEN: '127.0.0.1:9464' })), null);
    assert.equal(workersWarning(loadConfig({ ...PG, ...token, GATEHOUSE_WORKERS: '1' })), null);
    assert.equal(workersWarning(loadConfig({ ...PG, GATEHOUSE_WORKERS: '2' })), null, 'no /metrics on the HTTPS port without a token');
  });
});
