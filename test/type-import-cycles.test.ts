// No import cycle in packages/*/src even counting type-only imports (issue 15). The lint's
// import-x/no-cycle skips `import type` by design (it vanishes at run time) and has no option
// to count it, yet a type-only cycle is still a type kept in the wrong module. TypeScript's own
// pre-processor lists every import, export-from and dynamic import of a file, types included.
import { readdirSync, readFileSync } from 'node:fs';
import { dirname, join, relative, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import t from 'tap';
import ts from 'typescript';

const ROOT = fileURLToPath(new URL('..', import.meta.url));

/**
 * Cycles the CLI work of issue 15 (item 3) removes: cli.ts hands export-cli.ts (imported
 * dynamically) a flags type declared in cli.ts. Delete the entry when that lands.
 */
const KNOWN_CYCLES = new Set<string>([]);

function sourceFiles(dir: string): string[] {
  return readdirSync(dir, { withFileTypes: true }).flatMap((entry) => {
    const path = join(dir, entry.name);
    if (entry.isDirectory()) return sourceFiles(path);
    return entry.name.endsWith('.ts') && !entry.name.endsWith('.d.ts') ? [path] : [];
  });
}

/** The relative imports of each file (types included), resolved to files of the same set. */
function importGraph(files: readonly string[]): Map<string, string[]> {
  const known = new Set(files);
  const graph = new Map<string, string[]>();
  for (const file of files) {
    const { importedFiles } = ts.preProcessFile(readFileSync(file, 'utf8'), true, true);
    const targets = importedFiles
      .map(({ fileName }) => fileName)
      .filter((specifier) => specifier.startsWith('.'))
      .map((specifier) => resolve(dirname(file), specifier.replace(/\.js$/, '.ts')))
      .filter((target) => known.has(target) && target !== file);
    graph.set(file, [...new Set(targets)]);
  }
  return graph;
}

/** Every strongly connected set of two or more files (Tarjan), each as its sorted paths. */
function importCycles(files: readonly string[], base: string): string[] {
  const graph = importGraph(files);
  const index = new Map<string, number>();
  const low = new Map<string, number>();
  const stack: string[] = [];
  const onStack = new Set<string>();
  const cycles: string[] = [];
  const visit = (file: string): void => {
    index.set(file, index.size);
    low.set(file, index.get(file)!);
    stack.push(file);
    onStack.add(file);
    for (const next of graph.get(file)!) {
      if (!index.has(next)) {
        visit(next);
        low.set(file, Math.min(low.get(file)!, low.get(next)!));
      } else if (onStack.has(next)) {
        low.set(file, Math.min(low.get(file)!, index.get(next)!));
      }
    }
    if (low.get(file) !== index.get(file)) return;
    const members: string[] = [];
    let member: string;
    do {
      member = stack.pop()!;
      onStack.delete(member);
      members.push(relative(base, member).split('\\').join('/'));
    } while (member !== file);
    if (members.length > 1) cycles.push(members.sort().join(' '));
  };
  for (const file of graph.keys()) if (!index.has(file)) visit(file);
  return cycles.sort();
}

t.test('a cycle closed only by a type import is found, as is one through a dynamic import', async (t) => {
  const dir = t.testdir({
    'a.ts':
      "import { b } from './b.js';\nexport interface A {\n  n: number;\n}\nexport const a = (): A => ({ n: b });\n",
    'b.ts':
      "import type { A } from './a.js';\nexport const b = 1;\nexport const isA = (x: A): boolean => x.n === b;\n",
    'c.ts': "export type { D } from './d.js';\nexport const c = 1;\n",
    'd.ts':
      "export interface D {\n  c: number;\n}\nexport const d = async () => (await import('./c.js')).c;\n",
    'e.ts': "import type { A } from './a.js';\nexport const e = (x: A): number => x.n;\n",
  });
  t.same(importCycles(sourceFiles(dir), dir), ['a.ts b.ts', 'c.ts d.ts']);
});

t.test('packages/*/src has no import cycle, type-only imports included', async (t) => {
  const files = readdirSync(join(ROOT, 'packages')).flatMap((pkg) =>
    sourceFiles(join(ROOT, 'packages', pkg, 'src')),
  );
  t.ok(files.length > 100, `${files.length} source files read`);
  const cycles = importCycles(files, ROOT).filter((cycle) => !KNOWN_CYCLES.has(cycle));
  t.same(cycles, [], 'move the shared type to the module that owns the concept, or a small types module');
});
