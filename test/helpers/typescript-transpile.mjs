// TypeScript to JavaScript for the test processes, with a cache on disk. tap's own
// TypeScript plugin (ts-node) loads the `typescript` module into every test process,
// twice (main thread and loader thread), and transpiles every source file the test
// imports again: about 1.3 CPU-seconds a file before the first test runs. Here a file
// is transpiled once per content and later processes read the result; `typescript` is
// loaded only on a miss (typescript-cache-warm.mjs fills the cache before a full run).
// tsx (esbuild) was measured too: 1.75 CPU-s a trivial test file against 0.95 with this cache.
import { createHash } from 'node:crypto';
import { mkdirSync, readFileSync, renameSync, writeFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';

const repositoryRoot = resolve(dirname(fileURLToPath(import.meta.url)), '../..');
export const cacheDirectory = join(repositoryRoot, '.tap', 'typescript-cache');

// The root tsconfig's emit options; module ESNext because every package is "type": "module"
// (transpileModule alone cannot see package.json, and NodeNext would pick CommonJS).
const compilerOptions = {
  target: 'ES2023',
  module: 'ESNext',
  moduleResolution: 'Bundler',
  esModuleInterop: true,
  resolveJsonModule: true,
  verbatimModuleSyntax: true,
  inlineSourceMap: true,
};

// Bump when the output for the same input changes (options above, this file's logic).
const outputVersion = '1';

const require = createRequire(import.meta.url);
const typescriptVersion = JSON.parse(
  readFileSync(require.resolve('typescript/package.json'), 'utf8'),
).version;

let typescript;
const loadTypescript = () => (typescript ??= require('typescript'));

const cachePath = (filename, source) => {
  const key = createHash('sha256')
    .update(`${outputVersion}\0${typescriptVersion}\0${filename}\0`)
    .update(source)
    .digest('hex');
  return join(cacheDirectory, `${key}.js`);
};

const readCached = (path) => {
  try {
    return readFileSync(path, 'utf8');
  } catch (error) {
    if (error.code === 'ENOENT') return undefined;
    throw error;
  }
};

const transpile = (filename, source) => {
  const { outputText, diagnostics } = loadTypescript().transpileModule(source, {
    fileName: filename,
    compilerOptions,
    reportDiagnostics: true,
  });
  const syntaxErrors = (diagnostics ?? []).filter((diagnostic) => diagnostic.category === 1);
  if (syntaxErrors.length > 0) {
    const messages = syntaxErrors.map((diagnostic) =>
      loadTypescript().flattenDiagnosticMessageText(diagnostic.messageText, '\n'),
    );
    throw new SyntaxError(`${filename}: ${messages.join('; ')}`);
  }
  return outputText;
};

// Parallel test processes may write the same entry: each writes its own temporary file
// and renames it into place, so a reader sees a whole file or none.
const writeCached = (path, javascript) => {
  mkdirSync(cacheDirectory, { recursive: true });
  const temporary = `${path}.${process.pid}.${Math.random().toString(36).slice(2)}.tmp`;
  writeFileSync(temporary, javascript);
  renameSync(temporary, path);
};

/** The JavaScript for a TypeScript file's source, and whether it came from the cache. */
export const javascriptFor = (filename, source) => {
  const path = cachePath(filename, source);
  const cached = readCached(path);
  if (cached !== undefined) return { javascript: cached, path, cached: true };
  const javascript = transpile(filename, source);
  writeCached(path, javascript);
  return { javascript, path, cached: false };
};
