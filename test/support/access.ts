// The small API helpers the access-workflow tests share (access requests, step-up, checkout,
// personal credentials): a call that asserts its status, the same as the administrator, a
// launch, a redeem the way a door makes one, an audit query and an error check. Each test
// file's `describe` makes one kit over its TestApp, which its `before` starts later: hence
// the getter.
import assert from 'node:assert/strict';
import type { LiveSession } from '../../src/core/sessions/live.js';
import type { TestApp } from './harness.js';

type Reply = { statusCode: number; body: string; json(): any };

export function accessKit(app: () => TestApp) {
  /** The bare request with a bearer token (and a JSON body when one is given). */
  const req = (token: string, method: string, url: string, body?: unknown) => app().req(method, url, { token, ...(body !== undefined ? { body } : {}) });
  /** A request that must answer `expect`; its JSON (nothing for a 204). */
  const call = async (token: string, method: string, url: string, body?: unknown, expect = 200) => {
    const r = await req(token, method, url, body);
    assert.equal(r.statusCode, expect, `${method} ${url}: ${r.statusCode} ${r.body}`);
    return r.statusCode === 204 ? undefined : r.json();
  };
  /** A request that must succeed with any 2xx; its JSON, if any. */
  const ok = async (token: string, method: string, url: string, body?: unknown) => {
    const r = await req(token, method, url, body);
    assert.ok(r.statusCode >= 200 && r.statusCode < 300, `${method} ${url}: ${r.statusCode} ${r.body}`);
    return r.body ? r.json() : undefined;
  };
  const admin = (method: string, url: string, body?: unknown, expect = 200) => call(app().adminToken, method, url, body, expect);
  /** POST /secrets/:id/launch, by default with the ssh launcher. */
  const launch = (token: string, secretId: string, body: Record<string, unknown> = {}) => req(token, 'POST', `/api/v1/secrets/${secretId}/launch`, { launcher: 'ssh', ...body });
  /** A session the way a door opens one from a ticket (the target is never contacted). */
  const redeem = async (ticket: string) => (await app().core.launching.redeem(ticket, { clientIp: '127.0.0.1', door: 'ssh' })) as LiveSession;
  /** The audit events of one action (newest first), as the administrator reads them. */
  const audit = async (action: string) => (await admin('GET', `/api/v1/audit?action=${action}&limit=500`)).items as any[];
  const expectError = (r: Reply, status: number, code: string) => {
    assert.equal(r.statusCode, status, r.body);
    assert.equal(r.json().error.code, code, r.body);
  };
  return { req, call, ok, admin, launch, redeem, audit, expectError };
}
