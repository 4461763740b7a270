// Module hooks (node:module register) that let the test processes import TypeScript:
// the sources import each other as `./x.js` (NodeNext style) where only `x.ts` exists.
import { existsSync, readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { javascriptFor } from './typescript-transpile.mjs';

const isTypescript = (url) => url.startsWith('file:') && /\.m?ts$/.test(new URL(url).pathname);

export async function resolve(specifier, context, nextResolve) {
  const relative = specifier.startsWith('./') || specifier.startsWith('../');
  if (relative && specifier.endsWith('.js') && context.parentURL?.startsWith('file:')) {
    const typescriptUrl = new URL(specifier.replace(/\.js$/, '.ts'), context.parentURL);
    // Handed on down the chain, so tap's own hooks still see the import.
    if (existsSync(fileURLToPath(typescriptUrl))) return nextResolve(typescriptUrl.href, context);
  }
  return nextResolve(specifier, context);
}

export async function load(url, context, nextLoad) {
  if (!isTypescript(url)) return nextLoad(url, context);
  const filename = fileURLToPath(url);
  const { javascript } = javascriptFor(filename, readFileSync(filename, 'utf8'));
  return { format: 'module', source: javascript, shortCircuit: true };
}
