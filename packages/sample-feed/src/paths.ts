import { fileURLToPath } from 'node:url';

/** packages/sample-feed/feed: where `npm run build` writes the bundled sample feed. */
export function defaultSampleFeedDir(): string {
  // This module runs from dist/ (built) or src/ (tests); both sit one level below the package.
  return fileURLToPath(new URL('../feed/', import.meta.url)).replace(/[\\/]$/, '');
}

/**
 * The demo vendor key pair that signs the bundled sample feed. DEMO KEY, PUBLIC,
 * NEVER FOR PRODUCTION: its private half is committed to the repository.
 */
export function demoVendorKeyFiles(): { privateKey: string; publicKey: string } {
  const dir = fileURLToPath(new URL('../demo-keys/', import.meta.url));
  return { privateKey: `${dir}vendor-demo.key`, publicKey: `${dir}vendor-demo.pub` };
}
