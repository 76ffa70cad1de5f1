/**
 * The `yaml` library, loaded on first use. Files are read by the fast loader (js-yaml) whenever it
 * answers as `yaml` would, so a process that meets only such files (`attache translate` on plain
 * manifests) never loads `yaml`, ~30 ms of start-up. `yaml` is CommonJS on Node, so `require`
 * gives the same module an `import` would.
 */
import { createRequire } from 'node:module';

const require = createRequire(import.meta.url);
let lib: typeof import('yaml') | undefined;

export function yamlLib(): typeof import('yaml') {
  lib ??= require('yaml') as typeof import('yaml');
  return lib;
}
