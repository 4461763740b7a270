#!/usr/bin/env node
// npm run test:faults: the whole fault suite (every trial), then its table.
import { spawnSync } from 'node:child_process';
import { rmSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');
const results = process.env.PATCHBAY_FAULT_RESULTS ?? path.join(root, 'test-output', 'faults');
rmSync(results, { recursive: true, force: true });
const env = { ...process.env, PATCHBAY_FAULTS: 'full', PATCHBAY_FAULT_RESULTS: results };
// the test processes' TypeScript cache, filled once (test/helpers/typescript-transpile.mjs)
spawnSync(process.execPath, ['test/helpers/typescript-cache-warm.mjs'], { cwd: root, stdio: 'inherit' });
const tap = spawnSync('npx', ['tap', 'test/faults/*.test.ts', ...process.argv.slice(2)], {
  cwd: root,
  env,
  stdio: 'inherit',
});
const table = spawnSync(process.execPath, [path.join(root, 'scripts', 'fault-table.mjs')], {
  cwd: root,
  env,
  stdio: 'inherit',
});
process.exit(tap.status !== 0 ? (tap.status ?? 1) : (table.status ?? 1));
