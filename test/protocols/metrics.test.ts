// Observability (issue 16 point 5) on a whole gateway with a real sshd behind it, on both
// databases: GET /metrics in Prometheus text, on the HTTPS port behind its token and on a
// listener of its own, scraped over real loopback connections; the counters move with real
// launches, redeems, refusals, sign-in failures and relayed bytes; the live-session gauge
// names the protocol and the node; database latency and event-loop lag are there. And the
// id of a launch request (X-Request-Id) follows the launch through the SSH door into the
// log lines of the door and of the session.
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { request as httpRequest } from 'node:http';
import { request as httpsRequest } from 'node:https';
import { randomBytes } from 'node:crypto';
import { ensureTargetAccount, TARGET_PASSWORD } from '../support/accounts.js';
import { startSshd, type Sshd } from '../support/sshd.js';
import { startGateway, type Gateway } from '../support/gateway.js';
import { DB_KINDS } from '../support/harness.js';
import { samples, value } from '../support/prometheus.js';
import { clientFor, createSecret, endedSession, eventually, Proc, run } from '../support/ssh-client.js';

interface Answer {
  status: number;
  headers: Record<string, string | string[] | undefined>;
  body: string;
}

/** One request over a real loopback connection (HTTPS: the gateway's self-signed certificate is accepted). */
function fetchText(url: string, opts: { method?: string; token?: string; headers?: Record<string, string>; body?: unknown } = {}): Promise<Answer> {
  const u = new URL(url);
  const payload = opts.body === undefined ? undefined : Buffer.from(JSON.stringify(opts.body));
  const req = u.protocol === 'https:' ? httpsRequest : httpRequest;
  return new Promise((resolve, reject) => {
    const r = req(
      u,
      {
        method: opts.method ?? 'GET',
        agent: false,
        rejectUnauthorized: false,
        timeout: 30_000,
        headers: {
          ...(opts.token ? { authorization: `Bearer ${opts.token}` } : {}),
          ...(payload ? { 'content-type': 'application/json', 'content-length': String(payload.length) } : {}),
          ...opts.headers,
        },
      },
      (res) => {
        let body = '';
        res.on('data', (c: Buffer) => (body += c.toString()));
        res.on('end', () => resolve({ status: res.statusCode ?? 0, headers: res.headers, body }));
      },
    );
    r.on('timeout', () => r.destroy(new Error(`${url} timed out`)));
    r.on('error', reject);
    r.end(payload);
  });
}

for (const kind of DB_KINDS) {
  describe(`metrics and request ids on ${kind}`, () => {
    const token = randomBytes(24).toString('hex');
    let sshd: Sshd;
    let gw: Gateway;
    let secretId: string;
    let metricsUrl: string;
    const scrape = async () => {
      const r = await fetchText(`${gw.running.url.replace('localhost', '127.0.0.1')}/metrics`, { token });
      assert.equal(r.status, 200, r.body);
      return samples(r.body);
    };

    before(async () => {
      ensureTargetAccount();
      [sshd, gw] = await Promise.all([startSshd(), startGateway(kind, { GATEHOUSE_METRICS_TOKEN: token, GATEHOUSE_METRICS_LISTEN: '127.0.0.1:0' })]);
      secretId = await createSecret(gw, 'metrics-target', { port: sshd.port, password: TARGET_PASSWORD });
      metricsUrl = `http://127.0.0.1:${gw.running.metricsPort}/metrics`;
    });
    after(async () => {
      await gw?.close();
      await sshd?.stop();
    });

    it('serves /metrics on the HTTPS port only with its token, and on its own listener', async () => {
      const base = gw.running.url.replace('localhost', '127.0.0.1');
      const none = await fetchText(`${base}/metrics`);
      assert.equal(none.status, 401, none.body);
      assert.equal(JSON.parse(none.body).error.code, 'unauthorized');
      const wrong = await fetchText(`${base}/metrics`, { token: token.replace(/.$/, (c) => (c === '0' ? '1' : '0')) });
      assert.equal(wrong.status, 401);
      // A person's API token is no metrics token.
      const person = await fetchText(`${base}/metrics`, { token: gw.adminToken });
      assert.equal(person.status, 401);
      const ok = await fetchText(`${base}/metrics`, { token });
      assert.equal(ok.status, 200, ok.body);
      assert.match(String(ok.headers['content-type']), /^text\/plain; version=0\.0\.4/);
      assert.match(ok.body, /^# HELP gatehouse_/m);
      // Every metric is a gatehouse_ one.
      const names = new Set(ok.body.split('\n').filter((l) => l.startsWith('# TYPE ')).map((l) => l.split(' ')[2]!));
      assert.ok(names.size > 20, [...names].join(' '));
      for (const n of names) assert.match(n, /^gatehouse_/);
      for (const n of ['gatehouse_sessions_live', 'gatehouse_tickets_issued_total', 'gatehouse_tickets_redeemed_total', 'gatehouse_tickets_refused_total', 'gatehouse_relayed_bytes_total', 'gatehouse_recording_bytes_total', 'gatehouse_recording_queue_depth', 'gatehouse_login_failures_total', 'gatehouse_nodejs_eventloop_lag_seconds', 'gatehouse_db_query_duration_seconds', 'gatehouse_rate_limited_total', 'gatehouse_draining', 'gatehouse_build_info']) {
        assert.ok(names.has(n), `${n} is exposed`);
      }
      // The separate listener asks for the token as well (it is set), and serves nothing else.
      assert.equal((await fetchText(metricsUrl)).status, 401);
      const own = await fetchText(metricsUrl, { token });
      assert.equal(own.status, 200, own.body);
      assert.match(own.body, /^gatehouse_build_info\{version="[^"]+",node="[^"]+"\} 1$/m);
      assert.equal((await fetchText(metricsUrl.replace('/metrics', '/api/v1/me'), { token })).status, 404);
      assert.equal((await fetchText(metricsUrl, { method: 'POST', token })).status, 405);
    });

    it('counts tickets issued, redeemed and refused, sign-in failures, live sessions by protocol and node, relayed and recorded bytes; the launch request id reaches the door and session log lines', async () => {
      const before = await scrape();
      const reqId = `launch-${randomBytes(8).toString('hex')}`;
      const base = gw.running.url.replace('localhost', '127.0.0.1');
      // A launch over real HTTPS with the caller's request id: answered in X-Request-Id.
      const l = await fetchText(`${base}/api/v1/secrets/${secretId}/launch`, { method: 'POST', token: gw.adminToken, headers: { 'x-request-id': reqId }, body: { launcher: 'ssh' } });
      assert.equal(l.status, 200, l.body);
      assert.equal(l.headers['x-request-id'], reqId);
      const launched = JSON.parse(l.body);
      const client = clientFor(gw, launched.ssh.knownHosts);
      // A session that stays open until its stdin closes: the gauge sees it live.
      const p = new Proc('ssh', [...client.base(['-o', 'BatchMode=yes']), `${launched.ticket}@127.0.0.1`, 'echo metrics-ready; head -c 300000 /dev/zero | tr "\\0" x; echo; cat']);
      await p.waitFor('metrics-ready', 20_000);
      const session = await eventually(async () => (await gw.api('GET', `/api/v1/sessions?secretId=${secretId}&status=live&limit=1`, { token: gw.adminToken })).body.items[0], 10_000, 'the live session');
      const node = gw.running.core.sessions.node;
      const during = await scrape();
      assert.equal(value(during, 'gatehouse_sessions_live', { protocol: 'ssh', node }), 1, [...during.keys()].filter((k) => k.includes('sessions_live')).join(' '));
      assert.equal(value(during, 'gatehouse_build_info', { node }), 1, 'the same node id as build_info');
      p.child.stdin!.end();
      const done = await p.done;
      assert.equal(done.code, 0, done.stderr);
      await endedSession(gw, session.id);
      // The ticket is used: presenting it again is refused ("used").
      const again = await run('ssh', [...client.base(['-o', 'BatchMode=yes']), `${launched.ticket}@127.0.0.1`, 'true']);
      assert.notEqual(again.code, 0);
      // A failed sign-in.
      assert.equal((await gw.api('POST', '/api/v1/auth/login', { body: { username: 'admin', password: 'not-the-password' } })).status, 401);

      const after = await eventually(async () => {
        const m = await scrape();
        const settled = value(m, 'gatehouse_sessions_live', { protocol: 'ssh' }) === 0 && value(m, 'gatehouse_recording_bytes_total') - value(before, 'gatehouse_recording_bytes_total') >= 300_000;
        return settled && value(m, 'gatehouse_tickets_refused_total', { reason: 'used' }) > value(before, 'gatehouse_tickets_refused_total', { reason: 'used' }) ? m : null;
      }, 10_000, 'the refusal counted');
      const delta = (name: string, labels: Record<string, string> = {}) => value(after, name, labels) - value(before, name, labels);
      assert.equal(delta('gatehouse_tickets_issued_total', { protocol: 'ssh' }), 1);
      assert.equal(delta('gatehouse_tickets_redeemed_total', { protocol: 'ssh', door: 'ssh' }), 1);
      assert.equal(delta('gatehouse_sessions_started_total', { protocol: 'ssh', door: 'ssh' }), 1);
      assert.equal(delta('gatehouse_tickets_refused_total', { reason: 'used', door: 'ssh' }), 1);
      assert.equal(delta('gatehouse_login_failures_total', { action: 'auth.login', via: 'api' }), 1);
      assert.ok(delta('gatehouse_relayed_bytes_total', { protocol: 'ssh', direction: 'out' }) >= 300_000, `bytes out ${delta('gatehouse_relayed_bytes_total', { protocol: 'ssh', direction: 'out' })}`);
      assert.ok(delta('gatehouse_recording_bytes_total') >= 300_000, 'the recording holds the printable output');
      assert.ok(value(after, 'gatehouse_db_query_duration_seconds_count') > value(before, 'gatehouse_db_query_duration_seconds_count'), 'database latency observed');
      assert.ok(value(after, 'gatehouse_db_query_duration_seconds_bucket', { le: '+Inf' }) > 0);
      assert.equal(value(after, 'gatehouse_draining'), 0);
      assert.ok(after.has('gatehouse_nodejs_eventloop_lag_seconds'));
      assert.ok(after.has('gatehouse_recording_queue_depth'));

      // The launch's request id: the API request's own lines, the door's and the session's.
      const lines = gw
        .logs()
        .split('\n')
        .filter((x) => x.includes(reqId))
        .map((x) => JSON.parse(x) as { msg: string; reqId: string; sessionId?: string });
      const msgs = lines.map((x) => x.msg);
      for (const m of ['incoming request', 'request completed', 'ssh door: ticket accepted', 'session started', 'session ended']) assert.ok(msgs.includes(m), `"${m}" carries the launch's reqId; lines: ${msgs.join(' | ')}`);
      for (const x of lines) assert.equal(x.reqId, reqId);
      for (const x of lines.filter((y) => y.sessionId)) assert.equal(x.sessionId, session.id);
      // The refusal of the used ticket names the launch it came from too.
      assert.ok(gw.logs().split('\n').some((x) => x.includes('TicketRefused') && x.includes('"reason":"used"') && x.includes(reqId)), 'the refusal line carries the reqId');
    });

    it('gives every request an id: a bad X-Request-Id is replaced, not logged', async () => {
      const base = gw.running.url.replace('localhost', '127.0.0.1');
      const bad = 'x"}\n{"injected":true';
      const r = await fetchText(`${base}/healthz`, { headers: { 'x-request-id': encodeURIComponent(bad) } });
      assert.equal(r.status, 200);
      const id = String(r.headers['x-request-id']);
      assert.match(id, /^[0-9a-f-]{36}$/, 'a random id in place of the unusable one');
      const mine = await fetchText(`${base}/healthz`, { headers: { 'x-request-id': 'lb-0123456789' } });
      assert.equal(mine.headers['x-request-id'], 'lb-0123456789');
      assert.ok(!gw.logs().includes('injected'));
      // Nothing shaped like a ticket or token is taken (it would be logged with every line).
      const ticketLike = 'A'.repeat(32);
      const t = await fetchText(`${base}/healthz`, { headers: { 'x-request-id': ticketLike } });
      assert.notEqual(t.headers['x-request-id'], ticketLike);
      assert.ok(!gw.logs().includes(ticketLike));
    });
  });
}

describe('metrics configuration', () => {
  it('without GATEHOUSE_METRICS_TOKEN, /metrics on the HTTPS port answers 404 and the listener alone serves it', async () => {
    const gw = await startGateway('sqlite', { GATEHOUSE_METRICS_LISTEN: '127.0.0.1:0' });
    try {
      const base = gw.running.url.replace('localhost', '127.0.0.1');
      const r = await fetchText(`${base}/metrics`, { token: 'anything-at-all-0123456789' });
      assert.equal(r.status, 404, r.body);
      assert.equal(JSON.parse(r.body).error.code, 'not_found');
      const own = await fetchText(`http://127.0.0.1:${gw.running.metricsPort}/metrics`);
      assert.equal(own.status, 200, own.body);
      assert.match(own.body, /^gatehouse_draining 0$/m);
    } finally {
      await gw.close();
    }
  });
});
