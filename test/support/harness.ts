// Test harness: a real core + Fastify app on a fresh database of either kind (SQLite
// file in a temp data dir, or a new PostgreSQL database on the test cluster), with the
// log captured so tests can grep it.
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Writable } from 'node:stream';
import { randomBytes, randomUUID } from 'node:crypto';
import pg from 'pg';
import type { FastifyInstance, LightMyRequestResponse } from 'fastify';
import { loadConfig, type Config } from '../../src/config.js';
import { bootstrapAdmin, createCore, type Core } from '../../src/core/core.js';
import { createLogger } from '../../src/log.js';
import { migrate, openStore, type DbKind } from '../../src/store/db.js';
import { buildApp } from '../../src/web/app.js';
import type { ConnectPlan } from '../../src/core/broker.js';

export const DB_KINDS: DbKind[] = ['sqlite', 'postgres'];
export const ADMIN_PASSWORD = 'admin-Password-4-tests';

export function pgUrl(): string {
  const url = process.env.GATEHOUSE_TEST_PG_URL;
  if (!url) throw new Error('GATEHOUSE_TEST_PG_URL is not set: run the tests through `npm test` (scripts/run-tests.sh starts PostgreSQL)');
  return url;
}

/** Creates an empty PostgreSQL database and returns its URL and a dropper. */
export async function freshPgDatabase(): Promise<{ url: string; drop: () => Promise<void> }> {
  const admin = pgUrl();
  const name = `gh_test_${randomBytes(6).toString('hex')}`;
  const c = new pg.Client({ connectionString: admin });
  await c.connect();
  await c.query(`create database ${name}`);
  await c.end();
  const u = new URL(admin);
  u.pathname = `/${name}`;
  return {
    url: u.toString(),
    drop: async () => {
      const d = new pg.Client({ connectionString: admin });
      await d.connect();
      await d.query(`drop database if exists ${name} with (force)`);
      await d.end();
    },
  };
}

export interface TestApp {
  kind: DbKind;
  core: Core;
  app: FastifyInstance;
  config: Config;
  dataDir: string;
  adminToken: string;
  logs(): string;
  req(method: string, url: string, opts?: { token?: string; body?: unknown; headers?: Record<string, string>; payload?: string }): Promise<LightMyRequestResponse & { json(): any }>;
  login(username: string, password: string, totp?: string): Promise<string>;
  /** Creates a user with the given roles and returns its id and a login token. */
  user(username: string, roles: string[], extra?: Record<string, unknown>): Promise<{ id: string; token: string; password: string }>;
  close(): Promise<void>;
}

export async function startTestApp(kind: DbKind, env: Record<string, string> = {}): Promise<TestApp> {
  const dataDir = mkdtempSync(join(tmpdir(), 'gatehouse-test-'));
  const db = kind === 'postgres' ? await freshPgDatabase() : null;
  const config = loadConfig({
    GATEHOUSE_DATA_DIR: dataDir,
    GATEHOUSE_ADMIN_PASSWORD: ADMIN_PASSWORD,
    GATEHOUSE_LOG_LEVEL: 'info',
    // Every JSON answer is checked against its route's response schema (src/web/strict-responses.ts).
    GATEHOUSE_STRICT_RESPONSES: '1',
    ...(db ? { GATEHOUSE_DATABASE_URL: db.url } : {}),
    ...env,
  });
  const lines: string[] = [];
  const sink = new Writable({
    write(chunk, _enc, cb) {
      lines.push(chunk.toString());
      cb();
    },
  });
  const store = openStore(config);
  await migrate(store.db);
  const core = await createCore(config, store, createLogger({ level: 'info', stream: sink }));
  await bootstrapAdmin(core);
  // Every request here comes from 127.0.0.1 through inject, so the per-source limit on failed
  // sign-ins would turn one test's wrong passwords into another's 429: it is off here, and the
  // tests about it (login-abuse.test.ts) turn it on with small counts.
  // The request rate limits (request-limits.ts) likewise: every test's requests come from one
  // address; rate-limits.test.ts turns them on with small counts.
  await core.settings.update({ loginRateLimit: 0, loginRequestsPerIp: 0, loginRequestsPerAccount: 0, tokenRequestsPerIp: 0, tokenRequestsPerAccount: 0, ticketRequestsPerIp: 0, ticketRequestsPerAccount: 0 });
  const app = await buildApp(core);
  await app.ready();

  const req: TestApp['req'] = async (method, url, opts = {}) => {
    const res = await app.inject({
      method: method as 'GET',
      url,
      headers: { ...(opts.token ? { authorization: `Bearer ${opts.token}` } : {}), ...(opts.body !== undefined ? { 'content-type': 'application/json' } : {}), ...opts.headers },
      ...(opts.body !== undefined ? { payload: JSON.stringify(opts.body) } : opts.payload !== undefined ? { payload: opts.payload } : {}),
    });
    return res as LightMyRequestResponse & { json(): any };
  };
  const login = async (username: string, password: string, totp?: string) => {
    const r = await req('POST', '/api/v1/auth/login', { body: { username, password, ...(totp ? { totp } : {}) } });
    if (r.statusCode !== 200) throw new Error(`login ${username} failed: ${r.statusCode} ${r.body}`);
    return r.json().token as string;
  };
  const adminToken = await login('admin', ADMIN_PASSWORD);
  const user: TestApp['user'] = async (username, roles, extra = {}) => {
    const password = `pw-${username}-${randomBytes(6).toString('hex')}`;
    const r = await req('POST', '/api/v1/users', { token: adminToken, body: { username, password, roles, ...extra } });
    if (r.statusCode !== 201) throw new Error(`create user ${username}: ${r.statusCode} ${r.body}`);
    return { id: r.json().id, password, token: await login(username, password) };
  };
  return {
    kind,
    core,
    app,
    config,
    dataDir,
    adminToken,
    logs: () => lines.join(''),
    req,
    login,
    user,
    close: async () => {
      await app.close();
      await core.auth.flushSignInSummaries();
      await store.close();
      await db?.drop();
      rmSync(dataDir, { recursive: true, force: true });
    },
  };
}

/**
 * Requests from a chosen source address (inject's remoteAddress; loopback only), a login from
 * one, and an administrator's settings patch: what the per-address limit tests (login-abuse,
 * rate-limits) drive the app with.
 */
export function sourceRequests(t: () => TestApp) {
  const from = async (ip: string, method: string, url: string, body: unknown, headers: Record<string, string> = {}) => {
    const r = await t().app.inject({ method: method as 'POST', url, remoteAddress: ip, headers: { 'content-type': 'application/json', ...headers }, payload: JSON.stringify(body) });
    return r as typeof r & { json(): any };
  };
  const login = (ip: string, username: string, password: string) => from(ip, 'POST', '/api/v1/auth/login', { username, password });
  const settings = async (patch: Record<string, unknown>) => {
    const r = await t().req('PATCH', '/api/v1/settings', { token: t().adminToken, body: patch });
    if (r.statusCode !== 200) throw new Error(`settings ${JSON.stringify(patch)}: ${r.statusCode} ${r.body}`);
  };
  return { from, login, settings };
}

/**
 * Plans of SSH sessions of the administrator on a new secret named `name`, one per call: what
 * a door hands sessions.start (t.core.sessions.start(plan, ctx)) once a ticket is redeemed;
 * the target is never contacted.
 */
export async function adminSessionPlans(t: TestApp, name: string, password = `pw-${name}`): Promise<() => Promise<ConnectPlan>> {
  const r = await t.req('POST', '/api/v1/secrets', { token: t.adminToken, body: { name, template: 'generic', fields: { username: 'u', password } } });
  if (r.statusCode !== 201) throw new Error(`create secret ${name}: ${r.statusCode} ${r.body}`);
  const me = (await t.req('GET', '/api/v1/me', { token: t.adminToken })).json();
  return async () => ({
    sessionId: randomUUID(),
    user: { id: me.id, username: me.username },
    protocol: 'ssh',
    target: { host: 'db1', port: 22 },
    credential: await t.core.secrets.credential(r.json().id),
    launcher: await t.core.launchers.get('ssh'),
  });
}

/** A request as the administrator (or `token`), answered as status, parsed body and raw text: for a describe block's `t`. */
export function apiAs(t: () => TestApp) {
  return async (method: string, url: string, body?: unknown, token = t().adminToken) => {
    const r = await t().req(method, url, { token, ...(body !== undefined ? { body } : {}) });
    return { status: r.statusCode, body: (r.body ? r.json() : null) as any, raw: r.body };
  };
}
