// @patchbay/publisher: the patchbay-publish command line (docs/cli.md, docs/publisher.md).
export { main, PROGRAM } from './cli.js';
export type { CliIo } from './cli.js';
