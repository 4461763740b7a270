import { join } from 'node:path';
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

/** packages/sample-feed/repository: where `npm run build` writes the bundled sample TUF repository. */
export function defaultSampleRepositoryDir(): string {
  return fileURLToPath(new URL('../repository/', import.meta.url)).replace(/[\\/]$/, '');
}

/** packages/sample-feed/demo-keys: every DEMO key (public, in the repository: NEVER FOR PRODUCTION). */
export function demoKeysDir(): string {
  return fileURLToPath(new URL('../demo-keys/', import.meta.url)).replace(/[\\/]$/, '');
}

/**
 * The DEMO keys of the bundled sample TUF repository. DEMO KEYS, PUBLIC, NEVER FOR PRODUCTION:
 * the publisher's keys directory (`root-1`, `targets-1`, `snapshot`, `timestamp`, as
 * `patchbay-publish init` names them) and the DEMO staging server's online key, which the
 * sample root lists for snapshot and timestamp (`config/staging-server.json` signs with it).
 */
export function demoPublisherKeyFiles(): { keysDir: string; onlineKey: string; onlinePublicKey: string } {
  const dir = demoKeysDir();
  return {
    keysDir: join(dir, 'publisher'),
    onlineKey: join(dir, 'staging-server', 'online.key'),
    onlinePublicKey: join(dir, 'staging-server', 'online.key.pub'),
  };
}
