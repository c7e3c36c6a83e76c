// The CLI under test (bin/gatehouse.js) runs dist/. scripts/run-tests.sh builds before any
// test starts, so inside the suite dist/ is always fresh and nothing here rebuilds; a lone run
// of one file rebuilds only when a source is newer than its output. Rebuilding
// unconditionally would rewrite dist/ while other test files are starting the CLI from it
// (a half-written module fails to import).
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { existsSync, readdirSync, statSync } from 'node:fs';
import { join, relative } from 'node:path';
import { ROOT } from '../cli/support.js';

function staleOutputs(): string[] {
  const stale: string[] = [];
  const walk = (dir: string): void => {
    for (const e of readdirSync(dir, { withFileTypes: true })) {
      const p = join(dir, e.name);
      if (e.isDirectory()) walk(p);
      else if (e.name.endsWith('.ts') && !e.name.endsWith('.d.ts')) {
        const out = join(ROOT, 'dist', relative(join(ROOT, 'src'), p)).replace(/\.ts$/, '.js');
        if (!existsSync(out) || statSync(out).mtimeMs < statSync(p).mtimeMs) stale.push(relative(ROOT, p));
      }
    }
  };
  walk(join(ROOT, 'src'));
  return stale;
}

/** Makes sure dist/ is built from the current sources, rebuilding only when it is not. */
export function ensureBuilt(): void {
  if (staleOutputs().length === 0) return;
  spawnSync('npx', ['tsc', '-p', 'tsconfig.json'], { cwd: ROOT, stdio: 'ignore' });
  const left = staleOutputs();
  assert.equal(left.length, 0, `dist/ is stale and could not be rebuilt (${left.slice(0, 3).join(', ')}): run \`npm run build\``);
}
