// A whole Gatehouse (HTTPS API + SSH door) running in-process on loopback with free
// ports, on SQLite or PostgreSQL, with its log captured.
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Writable } from 'node:stream';
import { loadConfig } from '../../src/config.js';
import { startServer, type Running, type ServerOptions } from '../../src/server.js';
import type { DbKind } from '../../src/store/db.js';
import { ADMIN_PASSWORD, freshPgDatabase } from './harness.js';

export interface Gateway {
  running: Running;
  dataDir: string;
  sshPort: number;
  rdpPort: number;
  adminToken: string;
  logs(): string;
  api(method: string, url: string, opts?: { token?: string; body?: unknown; remoteAddress?: string }): Promise<{ status: number; body: any; raw: string }>;
  userToken(username: string, password: string): Promise<string>;
  close(): Promise<void>;
}

/** `taps`: seams a test passes to the doors it starts (e.g. the RDP door's decrypted client legs). */
export async function startGateway(kind: DbKind = 'sqlite', env: Record<string, string> = {}, taps: Pick<ServerOptions, 'rdpTap'> = {}): Promise<Gateway> {
  const dataDir = mkdtempSync(join(tmpdir(), 'gatehouse-gw-'));
  const pg = kind === 'postgres' ? await freshPgDatabase() : null;
  const lines: string[] = [];
  const sink = new Writable({
    write(c, _e, cb) {
      lines.push(c.toString());
      cb();
    },
  });
  const config = loadConfig({
    GATEHOUSE_DATA_DIR: dataDir,
    GATEHOUSE_HTTP_PORT: '0',
    GATEHOUSE_SSH_PORT: '0',
    GATEHOUSE_RDP_PORT: '0',
    GATEHOUSE_BIND_HOST: '127.0.0.1',
    GATEHOUSE_PUBLIC_URL: 'https://127.0.0.1',
    GATEHOUSE_ADMIN_PASSWORD: ADMIN_PASSWORD,
    // Every JSON answer is checked against its route's response schema (src/web/strict-responses.ts).
    GATEHOUSE_STRICT_RESPONSES: '1',
    ...(pg ? { GATEHOUSE_DATABASE_URL: pg.url } : {}),
    ...env,
  });
  const running = await startServer(config, { logStream: sink, announce: () => {}, ...taps });
  const api: Gateway['api'] = async (method, url, opts = {}) => {
    const r = await running.app.inject({
      method: method as 'GET',
      url,
      remoteAddress: opts.remoteAddress ?? '127.0.0.1',
      headers: { ...(opts.token ? { authorization: `Bearer ${opts.token}` } : {}), ...(opts.body !== undefined ? { 'content-type': 'application/json' } : {}) },
      ...(opts.body !== undefined ? { payload: JSON.stringify(opts.body) } : {}),
    });
    let body: any = undefined;
    try {
      body = JSON.parse(r.body);
    } catch {
      body = undefined;
    }
    return { status: r.statusCode, body, raw: r.body };
  };
  const userToken = async (username: string, password: string) => {
    const r = await api('POST', '/api/v1/auth/login', { body: { username, password } });
    if (r.status !== 200) throw new Error(`login ${username}: ${r.status} ${r.raw}`);
    return r.body.token as string;
  };
  return {
    running,
    dataDir,
    sshPort: running.sshPort,
    rdpPort: running.rdpPort,
    adminToken: await userToken('admin', ADMIN_PASSWORD),
    logs: () => lines.join(''),
    api,
    userToken,
    close: async () => {
      await running.stop();
      await pg?.drop();
      rmSync(dataDir, { recursive: true, force: true });
    },
  };
}
