#!/usr/bin/env node
import('../dist/cli/main.js').catch((err) => {
  if (err && err.code === 'ERR_MODULE_NOT_FOUND') {
    console.error('gatehouse: not built yet; run `npm install` (or `npm run build`) first');
    process.exit(1);
  }
  throw err;
});
