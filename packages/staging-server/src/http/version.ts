import { packageVersion } from '@patchbay/core';

/** The staging server's version: packages/staging-server/package.json, two levels above src/http and dist/http. */
export const SERVER_VERSION: string = packageVersion(new URL('../../package.json', import.meta.url));
