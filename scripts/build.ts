/**
 * Builds the compiled CLI into dist/ (run by `npm install` as the `prepare` script, and by
 * `npm run build`): one ESM bundle per entry with code splitting, so each subcommand's lazy
 * `import()` loads only its own chunk and `attache --help` loads almost nothing. npm packages stay
 * external (resolved from node_modules at run time). No `keepNames`: its `__name` wrapper around
 * every function costs the compiler measurable time. The JSON proto descriptor that
 * proto/generate-types.ts wrote goes to dist/gen/, where proto/root.ts looks for it.
 *
 * `--outdir DIR` builds elsewhere (the compiled-build test uses a temporary directory).
 *
 * esbuild comes with tsx (a runtime dependency, pinned by the lockfile), so the build adds no
 * package of its own.
 */
import { execFileSync } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { build } from 'esbuild';
import { DESCRIPTOR_FILE } from '../proto/descriptor.ts';

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');
const at = process.argv.indexOf('--outdir');
const outdir = at >= 0 ? path.resolve(process.argv[at + 1] ?? 'dist') : path.join(root, 'dist');

fs.rmSync(outdir, { recursive: true, force: true });
await build({
  absWorkingDir: root,
  entryPoints: { main: 'services/cli/main.ts' },
  outdir,
  bundle: true,
  splitting: true,
  format: 'esm',
  platform: 'node',
  target: 'node20',
  packages: 'external',
  sourcemap: 'linked',
  chunkNames: '[name]-[hash]',
  logLevel: 'warning',
});
fs.mkdirSync(path.join(outdir, 'gen'), { recursive: true });
fs.copyFileSync(path.join(root, 'proto/gen', DESCRIPTOR_FILE), path.join(outdir, 'gen', DESCRIPTOR_FILE));

// `attache translate` as a V8 startup snapshot (services/cli/translate-snapshot.ts): one CommonJS
// script with its npm packages bundled (Node 20 snapshots take a single script that requires only
// built-ins), then `node --build-snapshot`. `import.meta.url` is the script's own URL, so the
// lazily required packages (yaml, re2-wasm) resolve from node_modules as dist/'s chunks do. The
// stamp says which Node built the blob, and where: bin/attache.js uses it only under that Node, in place.
const snapshotScript = path.join(outdir, 'translate-snapshot.cjs');
await build({
  absWorkingDir: root,
  entryPoints: ['services/cli/translate-snapshot.ts'],
  outfile: snapshotScript,
  bundle: true,
  format: 'cjs',
  platform: 'node',
  target: 'node20',
  define: { 'import.meta.url': '__bundleUrl' },
  banner: { js: 'var __bundleUrl = require("node:url").pathToFileURL(__filename).href;' },
  logLevel: 'warning',
});
// Its stderr holds Node's notice that snapshots of `node:module` users are experimental; shown on
// failure. A Node that cannot build it still gets a working build: translate then runs in process.
try {
  execFileSync(
    process.execPath,
    ['--snapshot-blob', path.join(outdir, 'translate.blob'), '--build-snapshot', snapshotScript],
    { cwd: outdir, stdio: ['ignore', 'inherit', 'pipe'] },
  );
  // Keep in step with bin/attache.js, which compares its own against this. The directory is in it
  // because the snapshot holds paths resolved at build time (node_modules for yaml and re2-wasm).
  fs.writeFileSync(
    path.join(outdir, 'translate.blob.stamp'),
    `${process.version} ${process.versions.v8} ${process.platform} ${process.arch} ${outdir}\n`,
  );
} catch (err) {
  fs.rmSync(path.join(outdir, 'translate.blob'), { force: true });
  const stderr = (err as { stderr?: Buffer }).stderr?.toString() ?? '';
  process.stderr.write(
    `build: no translate snapshot (attache translate will run without it): ${err instanceof Error ? err.message.split('\n')[0] : String(err)}\n${stderr.slice(-2000)}`,
  );
}
