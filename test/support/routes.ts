// Enumerates the app's routes at runtime, for tests that must cover every route.
import assert from 'node:assert/strict';
import type { TestApp } from './harness.js';

/** Parses `printRoutes({commonPrefix: false})` into sorted "METHOD /path/:param" keys (HEAD is implied by GET and left out). */
export function routesFromTree(tree: string): string[] {
  const out: string[] = [];
  const stack: string[] = [];
  for (const line of tree.split('\n')) {
    const m = /^((?:│ {3}| {4})*)(?:├── |└── )(\S+)(?: \(([^)]*)\))?\s*$/.exec(line);
    if (!m) continue;
    const depth = m[1]!.length / 4;
    const path = (depth > 0 ? stack[depth - 1]! : '') + m[2]!;
    stack[depth] = path;
    stack.length = depth + 1;
    for (const method of (m[3] ?? '').split(',').map((s) => s.trim()).filter(Boolean)) if (method !== 'HEAD') out.push(`${method} ${path}`);
  }
  return out.filter(isApi).sort();
}

/** API routes only: the browser app's static files (public by design, see src/web/ui.ts) are not part of the API tables. */
const isApi = (key: string) => {
  const path = key.slice(key.indexOf(' ') + 1);
  return path.startsWith('/api/') || path.startsWith('/oauth2/') || path === '/healthz';
};

/** Every API route the running app has registered. */
export const registeredRoutes = (t: TestApp): string[] => routesFromTree(t.app.printRoutes({ commonPrefix: false })).filter(isApi);

/** Routes the OpenAPI document lists (all but hidden ones), as sorted "METHOD /path/:param" keys. */
export async function documentedRoutes(t: TestApp): Promise<string[]> {
  const r = await t.req('GET', '/api/openapi.json');
  assert.equal(r.statusCode, 200, r.body);
  const out: string[] = [];
  for (const [path, ops] of Object.entries<Record<string, unknown>>(r.json().paths)) {
    for (const method of Object.keys(ops)) if (method !== 'head') out.push(`${method.toUpperCase()} ${path.replace(/\{(\w+)\}/g, ':$1')}`);
  }
  return out.filter(isApi).sort();
}
