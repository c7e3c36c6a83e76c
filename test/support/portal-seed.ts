// What the portal browser tests start from: a unix-account secret for the test sshd, the
// test's users, and view access to the secret for some of them (all through the API).
import assert from 'node:assert/strict';
import { TARGET_PASSWORD } from './accounts.js';
import type { Gateway } from './gateway.js';

export async function seedPortal(
  gw: Gateway,
  o: { secretName: string; sshdPort: number; users: Record<string, { password: string; roles: string[] }>; shareWith: string[] },
): Promise<{ secretId: string; ids: Record<string, string> }> {
  const admin = (method: string, path: string, body: unknown) => gw.api(method, path, { token: gw.adminToken, body });
  const s = await admin('POST', '/api/v1/secrets', { name: o.secretName, template: 'unix-account', fields: { machine: '127.0.0.1', port: o.sshdPort, username: 'ghtarget', password: TARGET_PASSWORD } });
  assert.equal(s.status, 201, s.raw);
  const ids: Record<string, string> = {};
  for (const [username, u] of Object.entries(o.users)) {
    const r = await admin('POST', '/api/v1/users', { username, password: u.password, roles: u.roles });
    assert.equal(r.status, 201, r.raw);
    ids[username] = r.body.id;
  }
  const acl = await admin('PUT', `/api/v1/secrets/${s.body.id}/permissions`, { entries: o.shareWith.map((principal) => ({ principalType: 'user', principal, level: 'view' })) });
  assert.equal(acl.status, 200, acl.raw);
  return { secretId: s.body.id as string, ids };
}
