import { startTestApp } from './test/support/harness.js';
const t = await startTestApp('sqlite');
const cases: [string, string, any][] = [
  ['GET', '/api/v1/nope', {}],
  ['DELETE', '/api/v1/me', { headers: { authorization: `Bearer ${t.adminToken}` } }],
  ['POST', '/api/v1/auth/login', { headers: { 'content-type': 'text/plain' }, payload: 'x' }],
  ['POST', '/api/v1/auth/login', { headers: { 'content-type': 'application/json' }, payload: '{bad' }],
  ['POST', '/api/v1/auth/login', { headers: { 'content-type': 'application/json' }, payload: 'x'.repeat(1024 * 1024 + 10) }],
  ['POST', '/oauth2/token', { headers: { 'content-type': 'application/x-www-form-urlencoded' }, payload: 'a=' + 'x'.repeat(70000) }],
  ['POST', '/api/v1/auth/login', { headers: { 'content-type': 'application/json', 'content-length': '5' }, payload: '{"a":1}' }],
  ['GET', '/api/v1/%zz', {}],
  ['GET', '/api/v1/terminal', { headers: { authorization: `Bearer ${t.adminToken}` } }],
  ['OPTIONS', '/api/v1/me', {}],
  ['GET', '/api/v1/users?limit=abc', { headers: { authorization: `Bearer ${t.adminToken}` } }],
  ['GET', '/api/v1/templates?limit=abc', { headers: { authorization: `Bearer ${t.adminToken}` } }],
  ['POST', '/api/v1/auth/login', { headers: { 'content-type': 'application/json', 'content-encoding': 'gzip' }, payload: '{}' }],
  ['GET', '/assets/../../etc/passwd', {}],
  ['GET', '/api/v1/me', { headers: { authorization: `Bearer ${t.adminToken}`, accept: 'text/html' } }],
];
for (const [m, u, o] of cases) {
  const r = await t.app.inject({ method: m as any, url: u, ...o });
  console.log(m, u.slice(0, 40), r.statusCode, r.headers['content-type'], r.body.slice(0, 200));
}
await t.close();
