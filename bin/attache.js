#!/usr/bin/env node
// The `attache` command. It runs the compiled CLI in dist/ (built by `npm install`'s `prepare`
// script, or `npm run build`). With ATTACHE_FROM_SOURCE=1, or when dist/ has not been built, it
// runs the TypeScript sources through tsx instead: the tests do, so they always exercise the code
// as it is in the working tree.
import fs from 'node:fs';

const compiled = new URL('../dist/main.js', import.meta.url);
if (process.env.ATTACHE_FROM_SOURCE !== '1' && fs.existsSync(compiled)) {
  await import(compiled.href);
} else {
  const { register } = await import('tsx/esm/api');
  register();
  await import('../services/cli/main.ts');
}
