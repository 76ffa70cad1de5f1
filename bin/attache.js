#!/usr/bin/env node
// The `attache` command. It runs the compiled CLI in dist/ (built by `npm install`'s `prepare`
// script, or `npm run build`). With ATTACHE_FROM_SOURCE=1, or when dist/ has not been built, it
// runs the TypeScript sources through tsx instead: the tests do, so they always exercise the code
// as it is in the working tree.
//
// `attache translate` runs from dist/translate.blob, a V8 startup snapshot of that command with the
// Envoy proto root built (services/cli/translate-snapshot.ts): a child node started from it skips
// module loading and building the proto root, ~0.2 s of CPU. Only when the blob was made by this
// very Node in this very dist/ (its stamp, written by scripts/build.ts) and no V8 option is given (NODE_OPTIONS or
// node's own flags: V8 refuses a snapshot built under other options); when V8 refuses it anyway,
// and with ATTACHE_NO_SNAPSHOT=1, translate runs in this process from dist/main.js.
import { spawnSync } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

const compiled = new URL('../dist/main.js', import.meta.url);
if (process.env.ATTACHE_FROM_SOURCE !== '1' && fs.existsSync(compiled)) {
  if (!(process.argv[2] === 'translate' && runSnapshot())) await import(compiled.href);
} else {
  const { register } = await import('tsx/esm/api');
  register();
  await import('../services/cli/main.ts');
}

/** Runs the command from the translate snapshot; false when it cannot (nothing was run). */
function runSnapshot() {
  if (process.env.ATTACHE_NO_SNAPSHOT === '1' || process.env.NODE_OPTIONS || process.execArgv.length > 0)
    return false;
  const dist = fileURLToPath(new URL('../dist', import.meta.url));
  const blob = path.join(dist, 'translate.blob');
  let stamp;
  try {
    stamp = fs.readFileSync(`${blob}.stamp`, 'utf8');
  } catch {
    return false;
  }
  // As scripts/build.ts writes it: this Node, and dist/ where it was built (the snapshot holds paths).
  if (stamp !== `${process.version} ${process.versions.v8} ${process.platform} ${process.arch} ${dist}\n`)
    return false;
  // stderr is collected (translate writes it only at the end) to tell V8's refusal from the command's own.
  const child = spawnSync(process.execPath, ['--snapshot-blob', blob, ...process.argv.slice(2)], {
    stdio: ['inherit', 'inherit', 'pipe'],
    maxBuffer: 256 * 1024 * 1024,
  });
  if (child.error) throw child.error;
  const stderr = child.stderr ?? Buffer.alloc(0);
  if (child.status === 14 && stderr.toString('latin1').startsWith('Failed to load the startup snapshot'))
    return false;
  process.stderr.write(stderr);
  if (child.signal) process.kill(process.pid, child.signal);
  process.exitCode = child.status ?? 1;
  return true;
}
