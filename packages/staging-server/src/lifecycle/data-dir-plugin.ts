// `serve`'s first plugin: the data-directory lock (one server per directory). Registered
// first, so released last: nothing else in this process still writes there once another
// process may take the directory.
import { lockDataDir } from '../store/data-dir-lock.js';
import { partPlugin } from './lifecycle-plugin.js';

/** Decorates `dataDirLock` (store/data-dir-lock.ts). */
export const dataDirPlugin = partPlugin({
  name: 'patchbay-data-dir',
  decorator: 'dataDirLock',
  part: 'data-dir lock',
  open: ({ config, logger }) => lockDataDir(config.dataDir, logger),
  close: (lock) => lock.release(),
});
