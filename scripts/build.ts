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
