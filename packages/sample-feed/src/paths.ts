import { fileURLToPath } from 'node:url';

/** packages/sample-feed/feed: where `npm run build` writes the bundled sample feed. */
export function defaultSampleFeedDir(): string {
  // This module runs from dist/ (built) or src/ (tests); both sit one level below the package.
  return fileURLToPath(new URL('../feed/', import.meta.url)).replace(/[\\/]$/, '');
}
