/**
 * `attache translate` as a V8 startup snapshot. scripts/build.ts bundles this file into one
 * CommonJS script with its npm packages and runs `node --build-snapshot` on it, giving
 * dist/translate.blob: this module graph already evaluated and the Envoy proto root already built,
 * resolved and with protobufjs's generated code for every message type. A process started from it
 * skips module loading, `Root.fromJSON` and the per-type code generation, ~0.2 s of CPU that every
 * `attache translate` paid before reading its first YAML byte. `bin/attache.js` starts it as
 * `node --snapshot-blob dist/translate.blob translate …` when the blob was built by the same Node
 * (see there for when it does not).
 *
 * Node 20's snapshot constraints, and how this file meets them: the entry is one script that
 * requires only built-in modules while it builds (protobufjs and js-yaml are bundled in; `yaml`
 * and `re2-wasm`, loaded on first use, are required from node_modules when the snapshot runs);
 * nothing at build time opens a handle or reads the environment or the command line, which are
 * read when the snapshot starts. Nothing runs a translate at build time: compiled regular
 * expressions cannot be serialized (V8 aborts), and a warm-up under `--regexp-interpret-all`
 * (which the snapshot then requires at run time too) saved 30–50 ms at 1,000 Mappings, within noise.
 */
import v8 from 'node:v8';
import { envoyRoot } from '../../proto/root.ts';
import { findCommand } from './commands.ts';
import { runCommand } from './run-command.ts';
import { runTranslate } from './translate.ts';

interface Reflected {
  nestedArray?: Reflected[];
  fieldsArray?: unknown;
  setup?: () => void;
}

/** Builds the proto root and generates every message type's code (protobufjs `setup`). */
function prepare(): void {
  const visit = (ns: Reflected): void => {
    for (const o of ns.nestedArray ?? []) {
      if (o.fieldsArray !== undefined) o.setup?.();
      visit(o);
    }
  };
  visit(envoyRoot() as unknown as Reflected);
}

/**
 * V8's budget before it optimizes a function (its default is 67,584), raised for this one-shot
 * process: by default TurboFan compiles hundreds of functions that a translate runs for well
 * under a second, on background threads whose CPU the process pays. About 15 times the default
 * cut the process tree's CPU by ~30 % at 1,000 Mappings and ~10–20 % at 5,000 and 10,000 in
 * alternating runs (README, Benchmarks); the hot loops still reach TurboFan. Set when the snapshot
 * starts, not on the command line: a V8 flag there changes the flag hash the blob must match.
 */
const INTERRUPT_BUDGET = 1_000_000;

/** What main.ts runs for `attache translate …`. */
async function main(): Promise<void> {
  v8.setFlagsFromString(`--interrupt-budget=${INTERRUPT_BUDGET}`);
  // Started as `node --snapshot-blob BLOB translate …`: argv[1] is the command, not a script.
  const argv = process.argv.slice(1);
  const found = findCommand(argv);
  if (found?.spec.path.join(' ') !== 'translate') {
    process.stderr.write(`attache: the translate snapshot cannot run '${argv.join(' ')}'\n`);
    process.exit(2);
  }
  await runCommand(found, async (flags) => {
    process.exitCode = await runTranslate(flags);
  });
}

prepare();
v8.startupSnapshot.setDeserializeMainFunction(() => {
  void main();
});
