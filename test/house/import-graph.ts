// The import graph of the shipped code (daemons/, ctl/), read from the sources: circles between modules and
// imports across folders that must not know each other. `node --import tsx test/house/import-graph.ts` prints
// them (exit 1 when there is one); test/house/layers.unit.test.ts asserts there are none.
import { readdirSync, readFileSync, statSync } from 'node:fs';
import { dirname, join, relative, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { repoRoot } from '../harness/repo.js';

export type ImportGraph = Map<string, string[]>;

const IMPORT_RE = /^\s*(?:import|export)\s+(?:type\s+)?(?:[^'"]*?\s+from\s+)?['"](\.[^'"]+)['"]/gm;

function tsFiles(dir: string): string[] {
  const out: string[] = [];
  for (const name of readdirSync(dir).sort()) {
    const p = join(dir, name);
    if (statSync(p).isDirectory()) out.push(...tsFiles(p));
    else if (name.endsWith('.ts') && !name.endsWith('.d.ts')) out.push(p);
  }
  return out;
}

/** Relative imports of every .ts file under `folders` (paths relative to `root`, `.js` specifiers mapped to `.ts`). */
export function importGraph(root: string, folders: readonly string[]): ImportGraph {
  const graph: ImportGraph = new Map();
  for (const folder of folders) {
    for (const file of tsFiles(join(root, folder))) {
      const text = readFileSync(file, 'utf8');
      // type-only imports count too (as madge counts them): a circle of types is still two modules that need each other
      const deps = [...text.matchAll(IMPORT_RE)].map((m) =>
        relative(root, resolve(dirname(file), m[1]!.replace(/\.js$/, '.ts'))),
      );
      graph.set(relative(root, file), deps);
    }
  }
  return graph;
}

/** Every set of modules that import each other in a circle (Tarjan's strongly connected components). */
export function circles(graph: ImportGraph): string[][] {
  let index = 0;
  const idx = new Map<string, number>();
  const low = new Map<string, number>();
  const stack: string[] = [];
  const onStack = new Set<string>();
  const out: string[][] = [];
  const visit = (v: string): void => {
    idx.set(v, index);
    low.set(v, index++);
    stack.push(v);
    onStack.add(v);
    for (const w of graph.get(v) ?? []) {
      if (!graph.has(w)) continue;
      if (!idx.has(w)) {
        visit(w);
        low.set(v, Math.min(low.get(v)!, low.get(w)!));
      } else if (onStack.has(w)) low.set(v, Math.min(low.get(v)!, idx.get(w)!));
    }
    if (low.get(v) === idx.get(v)) {
      const scc: string[] = [];
      let w: string;
      do {
        w = stack.pop()!;
        onStack.delete(w);
        scc.push(w);
      } while (w !== v);
      if (scc.length > 1 || (graph.get(v) ?? []).includes(v)) out.push(scc.sort());
    }
  };
  for (const v of graph.keys()) if (!idx.has(v)) visit(v);
  return out;
}

/** Imports from one folder into another that must stay apart, as `from -> to` lines. */
export function crossings(graph: ImportGraph, a: string, b: string): string[] {
  const out: string[] = [];
  for (const [file, deps] of graph) {
    for (const d of deps) {
      if ((file.startsWith(a) && d.startsWith(b)) || (file.startsWith(b) && d.startsWith(a)))
        out.push(`${file} -> ${d}`);
    }
  }
  return out;
}

if (process.argv[1] && resolve(process.argv[1]) === fileURLToPath(import.meta.url)) {
  const graph = importGraph(repoRoot(), ['daemons', 'ctl']);
  const found = circles(graph);
  const crossed = crossings(graph, 'daemons/finder/', 'daemons/connector/');
  for (const c of found) console.log(`circle: ${c.join(' <-> ')}`);
  for (const x of crossed) console.log(`finder/connector crossing: ${x}`);
  console.log(`${graph.size} modules, ${found.length} circle(s), ${crossed.length} finder/connector crossing(s)`);
  process.exit(found.length || crossed.length ? 1 : 0);
}
