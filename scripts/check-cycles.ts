/**
 * Fails when the project's own TypeScript modules import each other in a circle.
 *
 * A circle means no module in it can be read, tested or changed without the others: the
 * compiler's passes once all imported their contracts from the orchestrator that imports every
 * pass. Every relative import counts, `import type` included (a type-only circle is still a
 * circle for a reader). Uses the TypeScript compiler's own import scanner, so no new dependency.
 *
 * It also checks the layering rules in LAYERS (e.g. translators see only the IR).
 *
 *   node --import tsx scripts/check-cycles.ts [ROOT ...]     (default: the tsconfig `include` folders)
 */
import { existsSync, readdirSync, readFileSync, statSync } from 'node:fs';
import { dirname, join, relative, resolve } from 'node:path';
import ts from 'typescript';

const repo = resolve(import.meta.dirname, '..');
const DEFAULT_ROOTS = ['bin', 'services', 'shared', 'proto', 'test', 'loadtest', 'scripts', 'examples'];
const SKIP_DIRS = new Set(['node_modules', 'dist', 'gen', '.git']);

/**
 * Folders whose (non-test) modules may import only from the listed places: a pass reads the
 * documented data of the pass before it, never that pass's own inputs.
 */
const LAYERS: { folder: string; may: string[]; why: string }[] = [
  {
    folder: 'services/compiler/translate/',
    may: [
      'services/compiler/translate/',
      'services/compiler/ir/',
      'services/compiler/contracts.ts',
      'shared/',
      'proto/',
    ],
    why: 'translators read only the IR (ir/types*.ts) and the compiler contracts',
  },
];

function listSources(dir: string, out: string[]): void {
  if (!existsSync(dir)) return;
  for (const entry of readdirSync(dir)) {
    if (SKIP_DIRS.has(entry)) continue;
    const path = join(dir, entry);
    if (statSync(path).isDirectory()) listSources(path, out);
    else if (/\.(ts|js)$/.test(entry) && !entry.endsWith('.d.ts')) out.push(path);
  }
}

/** The project files a module imports (relative specifiers that resolve to a listed file). */
function importsOf(file: string, known: ReadonlySet<string>): string[] {
  const info = ts.preProcessFile(readFileSync(file, 'utf8'), true, true);
  const out: string[] = [];
  for (const ref of info.importedFiles) {
    if (!ref.fileName.startsWith('.')) continue;
    const target = resolve(dirname(file), ref.fileName);
    const candidates = [target, target.replace(/\.js$/, '.ts'), `${target}.ts`, join(target, 'index.ts')];
    const hit = candidates.find((c) => known.has(c));
    if (hit) out.push(hit);
  }
  return out;
}

/** Strongly connected components with more than one module, or a module importing itself (Tarjan). */
export function findCycles(graph: ReadonlyMap<string, readonly string[]>): string[][] {
  let next = 0;
  const index = new Map<string, number>();
  const low = new Map<string, number>();
  const stack: string[] = [];
  const onStack = new Set<string>();
  const cycles: string[][] = [];
  const visit = (v: string): void => {
    index.set(v, next);
    low.set(v, next);
    next++;
    stack.push(v);
    onStack.add(v);
    for (const w of graph.get(v) ?? []) {
      if (!index.has(w)) {
        visit(w);
        low.set(v, Math.min(low.get(v)!, low.get(w)!));
      } else if (onStack.has(w)) {
        low.set(v, Math.min(low.get(v)!, index.get(w)!));
      }
    }
    if (low.get(v) === index.get(v)) {
      const scc: string[] = [];
      let w: string;
      do {
        w = stack.pop()!;
        onStack.delete(w);
        scc.push(w);
      } while (w !== v);
      if (scc.length > 1 || (graph.get(v) ?? []).includes(v)) cycles.push(scc.sort());
    }
  };
  for (const v of [...graph.keys()].sort()) if (!index.has(v)) visit(v);
  return cycles;
}

/** One concrete import path around a component, for the error message. */
function onePath(graph: ReadonlyMap<string, readonly string[]>, scc: readonly string[]): string[] {
  const members = new Set(scc);
  const start = scc[0]!;
  const prev = new Map<string, string>();
  const queue = [start];
  while (queue.length > 0) {
    const v = queue.shift()!;
    for (const w of graph.get(v) ?? []) {
      if (!members.has(w)) continue;
      if (w === start) {
        const path = [start];
        for (let at = v; at !== start; at = prev.get(at)!) path.splice(1, 0, at);
        return [...path, start];
      }
      if (!prev.has(w)) {
        prev.set(w, v);
        queue.push(w);
      }
    }
  }
  return [...scc];
}

function layerViolations(
  graph: ReadonlyMap<string, readonly string[]>,
  rel: (f: string) => string,
): string[] {
  const out: string[] = [];
  for (const [from, targets] of graph) {
    const f = rel(from);
    if (/\.test\.ts$/.test(f)) continue;
    for (const layer of LAYERS) {
      if (!f.startsWith(layer.folder)) continue;
      for (const to of targets) {
        const t = rel(to);
        if (!layer.may.some((p) => t.startsWith(p))) out.push(`layering: ${f} imports ${t} (${layer.why})`);
      }
    }
  }
  return out.sort();
}

function main(): void {
  const roots = process.argv.slice(2);
  const files: string[] = [];
  for (const root of roots.length > 0 ? roots : DEFAULT_ROOTS) listSources(resolve(repo, root), files);
  const known = new Set(files);
  const graph = new Map<string, string[]>();
  for (const f of files) graph.set(f, importsOf(f, known));
  const rel = (f: string) => relative(repo, f);
  const violations = layerViolations(graph, rel);
  for (const v of violations) console.error(v);
  const cycles = findCycles(graph);
  if (cycles.length === 0 && violations.length === 0) {
    console.log(`check-cycles: ${files.length} modules, no import cycles, layers respected`);
    return;
  }
  for (const scc of cycles) {
    console.error(
      `import cycle among ${scc.length} modules:\n  ${onePath(graph, scc).map(rel).join('\n  → ')}`,
    );
    if (scc.length > 2) console.error(`  (all members: ${scc.map(rel).join(', ')})`);
  }
  console.error(
    `check-cycles: ${cycles.length} import cycle(s), ${violations.length} layering violation(s); ` +
      'break them by moving the shared contract down a floor',
  );
  process.exitCode = 1;
}

main();
