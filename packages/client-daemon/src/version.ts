import { packageVersion } from '@patchbay/core';

/** This package's version (package.json sits one level above src/ and dist/). */
export const DAEMON_VERSION: string = packageVersion(new URL('../package.json', import.meta.url));
