// Start one of the bare node:http baseline servers in this directory.
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { startLongRunning } from '../lib/procs.mjs';

const HERE = path.dirname(fileURLToPath(import.meta.url));

export function bareServer(script, args) {
  return startLongRunning(process.execPath, [path.join(HERE, script), ...args]);
}
