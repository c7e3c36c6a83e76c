// End to end: audit streaming from the real `gatehouse serve` (issue 16 point 6) on both
// databases, to real receivers on loopback: a plain TCP syslog collector, a TLS one that asks
// for a client certificate (RFC 5425, octet counting), and an HTTPS webhook that checks every
// HMAC signature and refuses deliveries on purpose. Every receiver gets every event exactly
// once, in chain order, across an orderly restart (with the webhook down over it: its events
// wait in the durable cursor), each copy hashing to its chain hash and linking to the one
// before; after a kill -9 nothing is lost and what comes twice is an identical copy; a wrong
// CA is refused and, once fixed, the sink catches up; on PostgreSQL two nodes streaming one
// sink deliver each event once. The secrets never show in answers, logs or the database.
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { readFileSync, readdirSync, existsSync } from 'node:fs';
import { join } from 'node:path';
import { streamedHashOk, type StreamedCheckpoint, type StreamedEvent } from '../../src/core/audit/streaming/event.js';
import { SD_ID } from '../../src/core/audit/streaming/syslog-format.js';
import { makePki, SyslogReceiver, until, WebhookReceiver, type Pki } from '../support/audit-receivers.js';
import { Rsyslog } from '../support/rsyslog.js';
import { writeFileSync } from 'node:fs';
import { api, apiLogin, cleanEnv, freePort, freshPgDatabase, killAll, ok as cliOk, removeTempDirs, runCli, Server, serverEnv, tempDir } from './support.js';

const T = { timeout: 240_000 };
const PASSWORD = 'stream-Admin-Password-1';
const HMAC_KEY = `hmac-${randomBytes(24).toString('hex')}`;
let pki: Pki;

before(() => {
  pki = makePki();
});
after(() => {
  killAll();
  removeTempDirs();
});

/** The chain as the server holds it, oldest first. */
async function chain(url: string, token: string): Promise<{ seq: number; hash: string; action: string }[]> {
  const out: { seq: number; hash: string; action: string }[] = [];
  for (let offset = 0; ; offset += 500) {
    const r = await api(url, 'GET', `/api/v1/audit?limit=500&offset=${offset}`, { token });
    assert.equal(r.status, 200, r.body);
    const items = r.json().items as { seq: number; hash: string; action: string }[];
    out.push(...items);
    if (items.length < 500) break;
  }
  return out.sort((a, b) => a.seq - b.seq);
}

/** Every event exactly once, in chain order, each hashing to its hash and linked to the one before, equal to the server's chain. */
function assertExactlyOnce(got: StreamedEvent[], want: { seq: number; hash: string }[], who: string): void {
  assert.deepEqual(got.map((e) => e.seq), want.map((e) => e.seq), `${who}: every event once, in order`);
  for (const [i, e] of got.entries()) {
    assert.equal(e.hash, want[i]!.hash, `${who}: event ${e.seq} carries the chain's hash`);
    assert.ok(streamedHashOk(e), `${who}: event ${e.seq} hashes to its hash`);
    if (i > 0) assert.equal(e.prevHash, got[i - 1]!.hash, `${who}: event ${e.seq} links to the one before`);
  }
}

/**
 * The checkpoints a receiver got: each once, in order, after the event it signs (so the copy
 * has that event with that hash), and every one an anchor the server's chain still holds.
 */
async function assertCheckpoints(cps: StreamedCheckpoint[], events: StreamedEvent[], url: string, token: string, who: string): Promise<void> {
  assert.ok(cps.length >= 1, `${who}: signed checkpoints streamed`);
  const seqs = cps.map((c) => c.seq);
  assert.deepEqual(seqs, [...new Set(seqs)].sort((a, b) => a - b), `${who}: each checkpoint once, in order`);
  const bySeq = new Map(events.map((e) => [e.seq, e]));
  for (const c of cps) assert.equal(bySeq.get(c.seq)?.hash, c.hash, `${who}: checkpoint ${c.seq} signs the hash the copy holds`);
  const r = await api(url, 'POST', '/api/v1/audit/verify', { token, body: { anchors: cps.slice(-100) } });
  assert.equal(r.status, 200, r.body);
  assert.equal(r.json().ok, true, `${who}: the streamed checkpoints verify as anchors: ${r.body}`);
}

for (const kind of ['sqlite', 'postgres'] as const) {
  describe(`audit streaming to syslog and a webhook (${kind})`, () => {
    let plain: SyslogReceiver;
    let secure: SyslogReceiver;
    let wrongCa: SyslogReceiver;
    let hook: WebhookReceiver;
    let rsyslog: Rsyslog;
    let env: NodeJS.ProcessEnv;
    let dataDir: string;
    let server: Server;
    let token: string;
    let pg: Awaited<ReturnType<typeof freshPgDatabase>> | null = null;
    const sinkIds: Record<string, string> = {};
    /** Tokens in the path and query of webhook URLs given to the CLI (sealed: in no answer, log or database row). */
    const urlTokens: string[] = [];

    before(async () => {
      plain = await SyslogReceiver.start();
      secure = await SyslogReceiver.start({ tls: { cert: pki.serverCert, key: pki.serverKey, ca: pki.caPem, requireClientCert: true } });
      wrongCa = await SyslogReceiver.start({ tls: { cert: pki.serverCert, key: pki.serverKey } });
      hook = await WebhookReceiver.start(HMAC_KEY, { cert: pki.serverCert, key: pki.serverKey });
      rsyslog = await Rsyslog.start();
      dataDir = join(tempDir(), 'data');
      if (kind === 'postgres') pg = await freshPgDatabase();
      env = await serverEnv(dataDir, {
        GATEHOUSE_ADMIN_PASSWORD: PASSWORD,
        GATEHOUSE_MASTER_KEY: randomBytes(32).toString('base64'),
        ...(pg ? { GATEHOUSE_DATABASE_URL: pg.url } : {}),
      });
      server = await Server.start(env);
      token = await apiLogin(server.url, 'admin', PASSWORD);
    });
    after(async () => {
      server?.kill();
      await Promise.all([plain?.close(), secure?.close(), wrongCa?.close(), hook?.close(), rsyslog?.stop()]);
      await pg?.drop();
    });

    const call = async (method: string, path: string, body?: unknown) => api(server.url, method, path, { token, body });
    const makeEvents = async (n: number, tag: string) => {
      for (let i = 0; i < n; i++) {
        // A failed sign-in (an event with outcome failure; one per call, well under the per-address limit) and users created (success).
        if (i === 0) await api(server.url, 'POST', '/api/v1/auth/login', { body: { username: `nobody-${tag}`, password: 'wrong-password-123' } });
        const r = await call('POST', '/api/v1/users', { username: `u-${tag}-${i}`, password: `pw-${tag}-${i}-long-enough`, roles: ['user'] });
        assert.equal(r.status, 201, r.body);
      }
    };
    const sink = async (name: string) => {
      const r = await call('GET', `/api/v1/audit-sinks/${sinkIds[name]}`);
      assert.equal(r.status, 200, r.body);
      return r.json();
    };
    const caughtUp = async (...names: string[]) => {
      const head = (await chain(server.url, token)).at(-1)!.seq;
      await until(
        async () => (await Promise.all(names.map(sink))).every((s) => s.status.cursor === head),
        () => `sinks ${names.join(', ')} at ${head}`,
        60_000,
      );
    };

    it('adds a syslog sink over TCP, one over TLS with a client certificate and a webhook; secrets are write-only', T, async () => {
      hook.failNext = 3;
      const create = async (body: Record<string, unknown>) => {
        const r = await call('POST', '/api/v1/audit-sinks', body);
        assert.equal(r.status, 201, r.body);
        for (const secret of [HMAC_KEY, pki.clientKey, pki.caPem]) assert.ok(!r.body.includes(secret.trim().split('\n')[1] ?? secret), 'no secret in the answer');
        sinkIds[body.name as string] = r.json().id;
        return r.json();
      };
      const p = await create({ name: 'siem-tcp', kind: 'syslog', host: '127.0.0.1', port: plain.port, hostname: 'gh-test', facility: 10 });
      assert.deepEqual([p.kind, p.tls, p.hasCa, p.hasHmacKey, p.facility, p.status.cursor], ['syslog', false, false, false, 10, 0]);
      const s = await create({ name: 'siem-tls', kind: 'syslog', host: '127.0.0.1', port: secure.port, tls: true, serverName: 'localhost', caPem: pki.caPem, clientCertPem: pki.clientCert, clientKeyPem: pki.clientKey, batchSize: 7 });
      assert.deepEqual([s.tls, s.hasCa, s.hasClientCert, s.hasHmacKey], [true, true, true, false]);
      const w = await create({ name: 'siem-hook', kind: 'webhook', url: hook.url, hmacKey: HMAC_KEY, caPem: pki.caPem, batchSize: 5, retryInitialMs: 100, retryMaxMs: 400 });
      // The URL is sealed: answers show scheme, host and port, the path as /….
      assert.deepEqual([w.kind, w.url, w.tls, w.hasHmacKey, w.host], ['webhook', `${hook.origin}/…`, true, true, null]);
      // A real rsyslogd (imtcp, its own RFC 5424 parser) as a fourth receiver.
      await create({ name: 'siem-rsyslog', kind: 'syslog', host: '127.0.0.1', port: rsyslog.port });
      // A webhook needs its key; a syslog sink has no use for one.
      assert.equal((await call('POST', '/api/v1/audit-sinks', { name: 'no-key', kind: 'webhook', url: hook.url })).status, 400);
      assert.equal((await call('POST', '/api/v1/audit-sinks', { name: 'plain-hook', kind: 'webhook', url: 'http://siem.example.com/x', hmacKey: HMAC_KEY })).status, 400);
      // A CA or client certificate on a plain TCP syslog sink would be ignored (events in clear to a TLS port): refused.
      const caNoTls = await call('POST', '/api/v1/audit-sinks', { name: 'ca-no-tls', kind: 'syslog', host: '127.0.0.1', port: secure.port, caPem: pki.caPem });
      assert.equal(caNoTls.status, 400, caNoTls.body);
      assert.match(caNoTls.body, /used only with tls: true/);
      const certNoTls = await call('POST', '/api/v1/audit-sinks', { name: 'cert-no-tls', kind: 'syslog', host: '127.0.0.1', port: secure.port, clientCertPem: pki.clientCert, clientKeyPem: pki.clientKey });
      assert.equal(certNoTls.status, 400, certNoTls.body);
      const tlsOff = await call('PATCH', `/api/v1/audit-sinks/${sinkIds['siem-tls']}`, { tls: false });
      assert.equal(tlsOff.status, 400, tlsOff.body);
      assert.equal((await sink('siem-tls')).tls, true, 'unchanged');
    });

    it('every receiver gets every event once, in order, with its chain hash; the webhook retried with backoff', T, async () => {
      await makeEvents(4, 'a');
      await caughtUp('siem-tcp', 'siem-tls', 'siem-hook', 'siem-rsyslog');
      const want = await chain(server.url, token);
      assertExactlyOnce(plain.events, want, 'tcp syslog');
      assertExactlyOnce(secure.events, want, 'tls syslog');
      assertExactlyOnce(hook.events, want, 'webhook');
      assert.deepEqual(plain.errors, []);
      // rsyslog parsed every frame as RFC 5424: APP-NAME, MSGID and the structured data as sent.
      await until(() => rsyslog.lines().length >= want.length, () => `rsyslog wrote ${rsyslog.lines().length} of ${want.length}`);
      const rl = rsyslog.lines();
      assertExactlyOnce(rl.map((l) => l.event), want, 'rsyslog');
      for (const l of rl) {
        assert.equal(l.appName, 'gatehouse');
        assert.equal(l.msgId, l.event.action.slice(0, 32));
        assert.equal(l.pri, 13 * 8 + (l.event.outcome === 'failure' ? 4 : 5));
        assert.ok(l.structuredData.startsWith(`[${SD_ID} seq="${l.event.seq}" hash="${l.event.hash}" prevHash="${l.event.prevHash}"`), l.structuredData);
      }
      // RFC 5424 fields: facility 10 → PRI 85 (notice) or 84 (warning for a failure), MSGID the action, SD the chain fields.
      const failed = plain.messages.find((m) => m.event.outcome === 'failure')!;
      assert.equal(failed.pri, 10 * 8 + 4);
      const ok = plain.messages.find((m) => m.event.action === 'user.create' || m.event.outcome === 'success')!;
      assert.equal(ok.pri, 10 * 8 + 5);
      assert.deepEqual([ok.version, ok.hostname, ok.appName, ok.sd.id], [1, 'gh-test', 'gatehouse', SD_ID]);
      assert.equal(ok.msgId, ok.event.action.slice(0, 32));
      assert.deepEqual([ok.sd.seq, ok.sd.hash, ok.sd.prevHash], [String(ok.event.seq), ok.event.hash, ok.event.prevHash]);
      assert.equal(secure.messages[0]!.pri, 13 * 8 + 5, 'default facility 13 (log audit)');
      // The webhook refused three deliveries; they were retried, every signature was good.
      assert.deepEqual(hook.answers.slice(0, 3), [503, 503, 503]);
      assert.equal(hook.badSignatures, 0);
      // The delivery id names the events (and the checkpoints) it carries: a repeat has the same id.
      const range = (xs: { seq: number }[], p = '') => (xs.length ? `${p}${xs[0]!.seq}-${xs.at(-1)!.seq}` : '');
      for (const d of hook.deliveries) {
        assert.equal(d.sink, 'siem-hook');
        assert.ok(d.events.length <= 5);
        assert.equal(d.delivery, `${sinkIds['siem-hook']}:${[range(d.events), range(d.checkpoints, 'cp')].filter(Boolean).join(',')}`);
      }
      const w = await sink('siem-hook');
      assert.equal(w.status.lastError, 'webhook answered HTTP 503');
      assert.equal(w.status.attempts, 0, 'healthy again');
      assert.equal(w.status.delivered, want.length);
      assert.equal(w.status.pending, 0);
    });

    it('across an orderly restart with the webhook down: nothing lost, nothing twice, in order', T, async () => {
      hook.failing = true;
      await makeEvents(3, 'b');
      await until(async () => (await sink('siem-hook')).status.attempts >= 2, () => 'the webhook failing');
      const exit = await server.stop('SIGTERM');
      assert.equal(exit.code, 0, server.stderr);
      // The syslog sinks drained at stop: their last event is the stop itself.
      assert.equal(plain.events.at(-1)!.action, 'system.stop');
      assert.equal(secure.events.at(-1)!.action, 'system.stop');
      const stoppedAt = plain.events.at(-1)!.seq;
      assert.ok(hook.events.at(-1)!.seq < stoppedAt, 'the webhook has not had the latest events');
      hook.failing = false;
      server = await Server.start(env);
      token = await apiLogin(server.url, 'admin', PASSWORD);
      await makeEvents(2, 'c');
      await caughtUp('siem-tcp', 'siem-tls', 'siem-hook', 'siem-rsyslog');
      const want = await chain(server.url, token);
      assert.ok(want.some((e) => e.seq > stoppedAt && e.action === 'system.start'));
      await until(() => rsyslog.lines().length >= want.length, () => `rsyslog wrote ${rsyslog.lines().length} of ${want.length}`);
      assertExactlyOnce(rsyslog.lines().map((l) => l.event), want, 'rsyslog');
      assertExactlyOnce(plain.events, want, 'tcp syslog');
      assertExactlyOnce(secure.events, want, 'tls syslog');
      assertExactlyOnce(hook.events, want, 'webhook');
      assert.equal(hook.badSignatures, 0);
      assert.ok(plain.connections >= 2 && secure.connections >= 2, 'a new connection after the restart');
      // The signed checkpoints came along: the one signed at the stop is in the syslog copies.
      for (const [who, r] of [['tcp syslog', plain], ['tls syslog', secure], ['webhook', hook]] as const) await assertCheckpoints(r.checkpoints, r.events, server.url, token, who);
      assert.ok(plain.checkpoints.some((c) => c.seq === stoppedAt), 'the checkpoint of the stop went out before it');
    });

    it('after a kill -9 nothing is lost; an event sent twice is the same copy', T, async () => {
      hook.failing = true;
      await makeEvents(2, 'd');
      server.kill();
      await server.waitExit();
      hook.failing = false;
      server = await Server.start(env);
      token = await apiLogin(server.url, 'admin', PASSWORD);
      await makeEvents(1, 'e');
      await caughtUp('siem-tcp', 'siem-tls', 'siem-hook');
      const want = await chain(server.url, token);
      for (const [who, r] of [['tcp syslog', plain], ['tls syslog', secure], ['webhook', hook]] as const) {
        const bySeq = new Map<number, StreamedEvent>();
        let last = 0;
        for (const e of r.events) {
          const seen = bySeq.get(e.seq);
          if (seen) assert.deepEqual(e, seen, `${who}: a repeated event ${e.seq} is the same copy`);
          else {
            assert.equal(e.seq, last + 1, `${who}: no gap before ${e.seq}`);
            last = e.seq;
          }
          bySeq.set(e.seq, e);
        }
        assertExactlyOnce([...bySeq.values()], want, `${who} (each seq once)`);
      }
    });

    it('a TLS sink refuses a receiver its CA did not sign; with the right CA it catches up from the start', T, async () => {
      const r = await call('POST', '/api/v1/audit-sinks', { name: 'siem-wrong-ca', kind: 'syslog', host: '127.0.0.1', port: wrongCa.port, tls: true, caPem: pki.otherCaPem, retryInitialMs: 100, retryMaxMs: 200 });
      assert.equal(r.status, 201, r.body);
      sinkIds['siem-wrong-ca'] = r.json().id;
      await until(async () => (await sink('siem-wrong-ca')).status.attempts >= 1, () => 'a failed TLS connection');
      const s = await sink('siem-wrong-ca');
      assert.match(s.status.lastError, /cannot connect to 127\.0\.0\.1:\d+: .*(certificate|verify)/i);
      assert.equal(s.status.cursor, 0);
      assert.equal(wrongCa.messages.length, 0);
      const p = await call('PATCH', `/api/v1/audit-sinks/${sinkIds['siem-wrong-ca']}`, { caPem: pki.caPem });
      assert.equal(p.status, 200, p.body);
      await caughtUp('siem-wrong-ca');
      assertExactlyOnce(wrongCa.events, await chain(server.url, token), 'tls syslog after the CA was fixed');
    });

    if (kind === 'postgres') {
      it('two nodes on one database: each event reaches the receiver once', T, async () => {
        const before = plain.events.length;
        const second = await Server.start(await serverEnv(join(tempDir(), 'data-b'), { GATEHOUSE_MASTER_KEY: env.GATEHOUSE_MASTER_KEY, GATEHOUSE_DATABASE_URL: pg!.url }));
        try {
          const tokenB = await apiLogin(second.url, 'admin', PASSWORD);
          for (let i = 0; i < 3; i++) {
            await makeEvents(1, `f${i}`);
            const r = await api(second.url, 'POST', '/api/v1/users', { token: tokenB, body: { username: `node-b-${i}`, password: `pw-node-b-${i}-long-enough`, roles: ['user'] } });
            assert.equal(r.status, 201, r.body);
          }
          await caughtUp('siem-tcp', 'siem-tls', 'siem-hook');
          const want = await chain(server.url, token);
          assertExactlyOnce(plain.events.filter((e, i, all) => all.findIndex((x) => x.seq === e.seq) === i), want, 'tcp syslog (two nodes)');
          const tail = plain.events.slice(before);
          assert.equal(new Set(tail.map((e) => e.seq)).size, tail.length, 'no event twice while two nodes run');
          const holders = new Set((await Promise.all(['siem-tcp', 'siem-tls', 'siem-hook'].map(sink))).map((s) => s.status.node));
          assert.ok(![...holders].includes(null), 'each sink held by a node');
        } finally {
          await second.stop('SIGTERM');
        }
      });
    }

    if (kind === 'sqlite') {
      it('the CLI lists the sinks, adds a webhook with its key from standard input, disables and removes it', T, async () => {
        const dir = tempDir();
        const cliEnv = cleanEnv({ GATEHOUSE_CLI_STATE: join(dir, 'cli.json') });
        const cli = (args: string[], input?: string) => runCli(args, { env: cliEnv, input });
        cliOk(await cli(['login', '--url', server.url, '-u', 'admin', '--password-stdin'], PASSWORD), 'login');
        const list = await cli(['audit', 'sinks', 'list']);
        cliOk(list, 'audit sinks list');
        assert.match(list.stdout, /^siem-tcp\tsyslog\ttcp:\/\/127\.0\.0\.1:\d+\tenabled\t\d+\/\d+\tok$/m);
        assert.match(list.stdout, /^siem-hook\twebhook\thttps:\/\/127\.0\.0\.1:\d+\/…\tenabled\t/m, 'the webhook URL in its display form');
        assert.ok(!list.stdout.includes('/audit'), 'not its path');
        writeFileSync(join(dir, 'ca.pem'), pki.caPem);
        const caNoTls = await cli(['audit', 'sinks', 'add-syslog', 'cli-syslog', '--host', '127.0.0.1', '--port', String(secure.port), '--ca', join(dir, 'ca.pem')]);
        assert.notEqual(caNoTls.code, 0, 'a CA without --tls is refused');
        assert.match(caNoTls.stderr, /add --tls/);
        assert.ok(!(await call('GET', '/api/v1/audit-sinks')).body.includes('cli-syslog'), 'no sink made');
        const key = `cli-${randomBytes(16).toString('hex')}`;
        const add = await cli(['audit', 'sinks', 'add-webhook', 'cli-hook', '--url', `https://127.0.0.1:${await freePort()}/nobody-here`, '--ca', join(dir, 'ca.pem'), '--from-now'], key + '\n');
        cliOk(add, 'add-webhook');
        assert.match(add.stdout, /^cli-hook\twebhook\t/);
        assert.ok(!add.stdout.includes(key) && !add.stderr.includes(key));
        const made = (await call('GET', '/api/v1/audit-sinks')).json().items.find((x: { name: string }) => x.name === 'cli-hook');
        assert.deepEqual([made.hasHmacKey, made.hasCa], [true, true]);
        // The URL (with the receiver's token in its path and query) from standard input, its first
        // line, the key on the next; or from a file. Not on the command line, and printed only as its host.
        const urlToken = `tok${randomBytes(16).toString('hex')}`;
        const tokUrl = `${hook.origin}/services/T0/B0/${urlToken}?api-key=${urlToken}`;
        urlTokens.push(urlToken);
        const viaStdin = await cli(['audit', 'sinks', 'add-webhook', 'cli-hook-stdin', '--url-file', '-', '--ca', join(dir, 'ca.pem'), '--from-now'], `${tokUrl}\n${HMAC_KEY}\n`);
        cliOk(viaStdin, 'add-webhook --url-file -');
        assert.match(viaStdin.stdout, /^cli-hook-stdin\twebhook\thttps:\/\/127\.0\.0\.1:\d+\/…\tenabled\t/);
        writeFileSync(join(dir, 'hook.url'), `${tokUrl}\n`);
        const viaFile = await cli(['audit', 'sinks', 'add-webhook', 'cli-hook-file', '--url-file', join(dir, 'hook.url'), '--ca', join(dir, 'ca.pem'), '--from-now'], HMAC_KEY + '\n');
        cliOk(viaFile, 'add-webhook --url-file <file>');
        const noUrl = await cli(['audit', 'sinks', 'add-webhook', 'cli-hook-none'], key + '\n');
        assert.notEqual(noUrl.code, 0, 'a webhook without a URL is refused');
        assert.match(noUrl.stderr, /--url-file/);
        // set-url replaces it (standard input); deliveries go to the new URL.
        const before = hook.deliveries.length;
        const newToken = `new${randomBytes(16).toString('hex')}`;
        urlTokens.push(newToken);
        cliOk(await cli(['audit', 'sinks', 'set-url', 'cli-hook-stdin'], `${hook.origin}/in/${newToken}\n`), 'set-url');
        const listed = await cli(['audit', 'sinks', 'list']);
        cliOk(listed, 'list');
        for (const out of [viaStdin, viaFile, noUrl, listed]) for (const secret of [urlToken, newToken, HMAC_KEY]) assert.ok(!out.stdout.includes(secret) && !out.stderr.includes(secret), 'no URL token or key printed');
        await call('POST', '/api/v1/users', { username: 'u-cli-url', password: 'pw-cli-url-long-enough', roles: ['user'] });
        await until(() => hook.deliveries.slice(before).some((d) => d.sink === 'cli-hook-stdin'), () => 'a delivery to the URL set by set-url', 60_000);
        assert.deepEqual([...new Set(hook.deliveries.slice(before).filter((d) => d.sink === 'cli-hook-stdin').map((d) => d.path))], [`/in/${newToken}`]);
        await until(() => hook.deliveries.slice(before).some((d) => d.sink === 'cli-hook-file'), () => 'a delivery to the URL from a file', 60_000);
        assert.equal(hook.deliveries.slice(before).find((d) => d.sink === 'cli-hook-file')!.path, `/services/T0/B0/${urlToken}?api-key=${urlToken}`);
        for (const n of ['cli-hook-stdin', 'cli-hook-file']) cliOk(await cli(['audit', 'sinks', 'remove', n]), `remove ${n}`);
        cliOk(await cli(['audit', 'sinks', 'disable', 'cli-hook']), 'disable');
        assert.equal((await call('GET', `/api/v1/audit-sinks/${made.id}`)).json().enabled, false);
        cliOk(await cli(['audit', 'sinks', 'remove', 'cli-hook']), 'remove');
        assert.equal((await call('GET', `/api/v1/audit-sinks/${made.id}`)).status, 404);
        const missing = await cli(['audit', 'sinks', 'disable', 'no-such-sink']);
        assert.notEqual(missing.code, 0);
        assert.match(missing.stderr, /no audit sink named "no-such-sink"/);
      });
    }

    it('the secrets appear in no answer, log line, audit event or database row in plaintext', T, async () => {
      const list = await call('GET', '/api/v1/audit-sinks');
      assert.equal(list.status, 200);
      const audit = await call('GET', '/api/v1/audit?action=audit.sink_*&limit=100');
      assert.equal(audit.json().items.length >= 4, true);
      const keyLine = pki.clientKey.split('\n')[1]!;
      const haystacks = [list.body, audit.body, server.stdout, server.stderr];
      const logs = join(dataDir, 'logs');
      if (existsSync(logs)) for (const f of readdirSync(logs)) haystacks.push(readFileSync(join(logs, f), 'utf8'));
      if (kind === 'sqlite') for (const f of readdirSync(dataDir).filter((f) => f.startsWith('gatehouse.db'))) haystacks.push(readFileSync(join(dataDir, f)).toString('latin1'));
      else {
        const { default: pgLib } = await import('pg');
        const c = new pgLib.Client({ connectionString: pg!.url });
        await c.connect();
        const rows = await c.query('select * from audit_sinks');
        haystacks.push(JSON.stringify(rows.rows));
        await c.end();
      }
      for (const h of haystacks) {
        assert.ok(!h.includes(HMAC_KEY), 'no HMAC key');
        assert.ok(!h.includes(keyLine), 'no client key');
        for (const tok of urlTokens) assert.ok(!h.includes(tok), 'no webhook URL token');
      }
    });
  });
}
