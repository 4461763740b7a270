// The report store's seam (issue 15, for issue 16's second database): callers hold the
// ReportStore interface; only ReportStore.open (reports/report-store.ts) knows that the
// store is SQLite. A module elsewhere that imports from reports/sqlite/ ties its caller
// to one database.
import { readdirSync, readFileSync } from 'node:fs';
import { dirname, join, relative, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import t from 'tap';

const SRC = fileURLToPath(new URL('../src/', import.meta.url));

function sourceFiles(dir: string): string[] {
  return readdirSync(dir, { withFileTypes: true }).flatMap((entry) => {
    const path = join(dir, entry.name);
    if (entry.isDirectory()) return sourceFiles(path);
    return entry.name.endsWith('.ts') ? [path] : [];
  });
}

/** The package files `file` imports, statically or dynamically (relative specifiers). */
function localImports(file: string): string[] {
  const text = readFileSync(file, 'utf8');
  const specifiers = [...text.matchAll(/(?:from\s+|import\s*\(\s*)'(\.{1,2}\/[^']+)'/g)].map((m) => m[1]!);
  return specifiers.map((s) => resolve(dirname(file), s.replace(/\.js$/, '.ts')));
}

/**
 * "importer → imported" for each import of a store's own directory (reports/sqlite/,
 * reports/postgres/) from outside that directory, but the opener's.
 */
function seamBreaches(src: string): string[] {
  const storeDirs = ['sqlite', 'postgres'].map((name) => join(src, 'reports', name) + '/');
  const opener = join(src, 'reports', 'report-store.ts');
  return sourceFiles(src)
    .filter((file) => file !== opener)
    .flatMap((file) =>
      localImports(file)
        .filter((target) => storeDirs.some((dir) => target.startsWith(dir) && !file.startsWith(dir)))
        .map((target) => `${relative(src, file)} → ${relative(src, target)}`),
    );
}

t.test('no module but ReportStore.open imports a store (SQLite or PostgreSQL)', async (t) => {
  t.ok(sourceFiles(SRC).length > 50, 'the sources were read');
  const opener = join(SRC, 'reports', 'report-store.ts');
  t.ok(
    localImports(opener).some((target) => target.includes('/reports/sqlite/')) &&
      localImports(opener).some((target) => target.includes('/reports/postgres/')),
    'the opener imports both, so such an import is seen',
  );
  t.same(seamBreaches(SRC), []);
});

t.test('a caller reaching past the interface is found, static or dynamic import', async (t) => {
  const src = t.testdir({
    reports: {
      'report-store.ts': "import { openSqliteReportStore } from './sqlite/store.js';\n",
      sqlite: { 'store.ts': "import type { ReportStore } from '../report-store.js';\n" },
      postgres: { 'store.ts': "import { openSqliteReportStore } from '../sqlite/store.js';\n" },
    },
    http: {
      'route.ts': "import type { ReportStore } from '../reports/report-store.js';\n",
      'shortcut.ts': "import { openSqliteReportStore } from '../reports/sqlite/store.js';\n",
    },
    'cli.ts': "const { openSqliteReportStore } = await import('./reports/sqlite/store.js');\n",
  });
  t.same(seamBreaches(src).sort(), [
    'cli.ts → reports/sqlite/store.ts',
    'http/shortcut.ts → reports/sqlite/store.ts',
    'reports/postgres/store.ts → reports/sqlite/store.ts',
  ]);
});
