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

  it('redacts a ticket anywhere in a URL (other parameter, path, with junk), keeping object ids', () => {
    const t = 'Ab3_-xYz0123456789abcdefghijKLMN';
    const id = 'b57e643b-0565-433f-92c3-e11bcb90faca';
    assert.equal(scrubUrl(`/api/v1/terminal?t=${t}&consent=1`), '/api/v1/terminal?t=[redacted]&consent=1');
    assert.equal(scrubUrl(`/api/v1/terminal/${t}`), '/api/v1/terminal/[redacted]');
    assert.equal(scrubUrl(`/x?q=foo${t}bar`), '/x?q=[redacted]');
    assert.equal(scrubUrl(`/api/v1/sessions/${id}/live`), `/api/v1/sessions/${id}/live`);
    assert.equal(scrubUrl('/api/v1/sessions?limit=50'), '/api/v1/sessions?limit=50');
  });

  it('redacts an OIDC callback\'s code and state (UUID-shaped codes too) and OpenPSM\'s ApiApplicationKey', () => {
    const code = 'b57e643b-0565-433f-92c3-e11bcb90faca.0a1b2c3d-0565-433f-92c3-e11bcb90facb.9e8d7c6b-0565-433f-92c3-e11bcb90facc';
    assert.equal(scrubUrl(`/auth/oidc/callback?state=st4te&session_state=x&code=${code}`), '/auth/oidc/callback?state=[redacted]&session_state=x&code=[redacted]');
    assert.equal(scrubUrl('/start?ApiApplicationKey=0a1b2c3d-0565-433f-92c3-e11bcb90facb&User=bob'), '/start?ApiApplicationKey=[redacted]&User=bob');
  });

  it('redacts every password parameter html5.html refuses (pwd, pass, password) and passwd', () => {
    for (const k of ['pwd', 'pass', 'PASS', 'passwd', 'password', 'WinPassword']) {
      assert.equal(scrubUrl(`/software/html5.html?x=alice&${k}=Winter2024!&y=1`), `/software/html5.html?x=alice&${k}=[redacted]&y=1`);
    }
    // A parameter whose name only begins so is left alone.
    assert.equal(scrubUrl('/x?passage=1'), '/x?passage=1');
  });
});
