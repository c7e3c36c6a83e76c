import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { Writable } from 'node:stream';
import Fastify from 'fastify';
import { createLogger, scrubUrl } from '../../src/log.js';

describe('request logging', () => {
  it('never writes a ticket or token from a query string', async () => {
    assert.equal(scrubUrl('/api/v1/launch/rdp-file?ticket=abc&x=1'), '/api/v1/launch/rdp-file?ticket=[redacted]&x=1');
    let out = '';
    const sink = new Writable({ write(c, _e, cb) { out += c.toString(); cb(); } });
    const app = Fastify({ loggerInstance: createLogger({ level: 'info', stream: sink }) });
    app.get('/t', async () => 'ok');
    await app.inject({ method: 'GET', url: '/t?ticket=SECRET-TICKET-VALUE&token=SECRET-TOKEN' });
    await app.close();
    assert.match(out, /incoming request/);
    assert.ok(!out.includes('SECRET-TICKET-VALUE'));
    assert.ok(!out.includes('SECRET-TOKEN'));
  });
});
