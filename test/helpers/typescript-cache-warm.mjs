// Transpiles every TypeScript source and test file into the test processes' cache
// (typescript-transpile.mjs) in one process, so that none of the ~170 test processes
// loads `typescript` itself; then removes entries that no file produced any more.
// Run by `npm run test:all` before tap.
import { readdirSync, readFileSync, rmSync } from 'node:fs';
import { basename, join } from 'node:path';
import { cacheDirectory, javascriptFor } from './typescript-transpile.mjs';

const repositoryRoot = join(cacheDirectory, '..', '..');
const skippedDirectories = new Set([
  'node_modules',
  'dist',
  '.tap',
  '.git',
  'coverage',
  'test-output',
  'bench-out',
]);

function* typescriptFiles(directory) {
  for (const entry of readdirSync(directory, { withFileTypes: true })) {
    const path = join(directory, entry.name);
    if (entry.isDirectory() && !skippedDirectories.has(entry.name)) yield* typescriptFiles(path);
    else if (entry.isFile() && /\.m?ts$/.test(entry.name) && !/\.d\.m?ts$/.test(entry.name)) yield path;
  }
}

const roots = [join(repositoryRoot, 'test'), join(repositoryRoot, 'packages')];
const produced = new Set();
let transpiled = 0;
for (const root of roots) {
  for (const filename of typescriptFiles(root)) {
    const { path, cached } = javascriptFor(filename, readFileSync(filename, 'utf8'));
    produced.add(basename(path));
    if (!cached) transpiled += 1;
  }
}

let removed = 0;
for (const name of readdirSync(cacheDirectory)) {
  if (produced.has(name)) continue;
  rmSync(join(cacheDirectory, name), { force: true });
  removed += 1;
}
console.log(`typescript cache: ${produced.size} files, ${transpiled} transpiled, ${removed} stale removed`);
