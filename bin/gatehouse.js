#!/usr/bin/env node
// Fastify's cookie library (cookie 2) is an ES module that Fastify loads with require(), which
// Node does without a flag from 20.19 on; an older Node would stop with ERR_REQUIRE_ESM and a
// stack trace, so say what is needed instead.
const [major, minor] = process.versions.node.split('.').map(Number);
if (major < 20 || (major === 20 && minor < 19)) {
  console.error(`gatehouse: needs Node.js 20.19 or newer (this is ${process.versions.node})`);
  process.exit(1);
}
import('../dist/cli/main.js').catch((err) => {
  if (err && err.code === 'ERR_MODULE_NOT_FOUND') {
    console.error('gatehouse: not built yet; run `npm install` (or `npm run build`) first');
    process.exit(1);
  }
  throw err;
});
