// OpenPSM on one test app, both sides at once: the app issues /start links for a secret (IAM
// side) and is its own gateway, reaching its IAM routes through an https stand-in on
// loopback (openpsm-proxy.ts) that presents a self-signed certificate the app trusts.
import assert from 'node:assert/strict';
import { randomUUID } from 'node:crypto';
import { loadTls } from '../../src/tls.js';
import type { TestApp } from './harness.js';
import { startIamProxy, type IamProxy } from './openpsm-proxy.js';

export interface OpenPsmLoop {
  proxy: IamProxy;
  appKey: string;
  master: string;
  /** A fresh /start query (as the IAM side issues it) for the secret, as the bootstrap administrator. */
  link(mode?: 'SSH' | 'Telnet' | 'RDP'): Promise<URLSearchParams>;
  /** The headers the gateway authenticates with on getcredential and endsession. */
  headers(q: URLSearchParams): Record<string, string>;
  /** A getcredential body for the query. */
  body(q: URLSearchParams, password?: string): Record<string, string>;
  /** A pending start on the gateway side (its page id). */
  start(q: URLSearchParams): Promise<string>;
  /** A start whose credential was retrieved (the master password accepted). */
  ready(): Promise<string>;
  /** A link whose credential was retrieved: its query and the session UUID (for endsession). */
  fetched(): Promise<{ q: URLSearchParams; session: string }>;
  close(): Promise<void>;
}

export async function openpsmLoop(t: TestApp, secretId: string, master = `Admin-Master-${randomUUID().slice(0, 8)}-1`): Promise<OpenPsmLoop> {
  const tls = await loadTls(t.dataDir);
  const proxy = await startIamProxy(t.app, tls);
  const appKey = randomUUID();
  const s = await t.req('PATCH', '/api/v1/settings', { token: t.adminToken, body: { openpsmAllowedApiUrls: [proxy.url], openpsmTrustedCa: tls.cert.toString(), openpsmGatewayUrl: 'https://127.0.0.1', openpsmApplicationKey: appKey, openpsmEndSessionBackoffSeconds: 0 } });
  assert.equal(s.statusCode, 200, s.body);
  const status = await t.req('GET', '/api/v1/me/master-password', { token: t.adminToken });
  if (!status.json().set) {
    const m = await t.req('PUT', '/api/v1/me/master-password', { token: t.adminToken, body: { masterPassword: master } });
    assert.equal(m.statusCode, 200, m.body);
  }
  const admin = (await t.core.auth.resolveToken(t.adminToken, '127.0.0.1'))!;
  const loop: OpenPsmLoop = {
    proxy,
    appKey,
    master,
    link: async (mode = 'SSH') => new URL((await t.core.openpsm.iam.issueLink(admin, { secretId, mode }, { apiUrl: proxy.url, ip: '127.0.0.1' })).url).searchParams,
    headers: (q) => ({ authorization: `Bearer ${q.get('ApiKey')}`, 'x-api-application-key': q.get('ApiApplicationKey')! }),
    body: (q, password = master) => ({ computer: q.get('ComputerID')!, credential: q.get('CredentialID')!, password, mode: q.get('Mode')!, session: randomUUID(), loginsessionid: q.get('LoginSessionID')! }),
    start: async (q) => {
      const r = await t.core.openpsm.gateway.begin(Object.fromEntries(q), '127.0.0.1');
      assert.ok(r.ok, JSON.stringify(r));
      return r.id;
    },
    ready: async () => {
      const id = await loop.start(await loop.link());
      const r = await t.core.openpsm.gateway.submitPassword(id, master, '127.0.0.1');
      assert.equal(r.status, 'ready', JSON.stringify(r));
      return id;
    },
    fetched: async () => {
      const q = await loop.link();
      const b = loop.body(q);
      const r = await t.req('POST', '/api/services/v1/secureaccessgateway/getcredential', { headers: loop.headers(q), body: b });
      assert.equal(r.statusCode, 200, r.body);
      return { q, session: b.session! };
    },
    close: () => proxy.close(),
  };
  return loop;
}
