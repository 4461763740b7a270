import { readFileSync } from 'node:fs';

// Same depth from src/http (tests) and dist/http (built): packages/staging-server/package.json
const PACKAGE_JSON = new URL('../../package.json', import.meta.url);

/** The staging server's version, from its package.json. */
export const SERVER_VERSION: string = (JSON.parse(readFileSync(PACKAGE_JSON, 'utf8')) as { version: string })
  .version;
