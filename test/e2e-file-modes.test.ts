// File modes (issue 14): the real staging server and the real client, started under umask 022
// (the usual login default), must still leave their data private: every directory they create
// 0700 and every file 0600 — SQLite's -wal/-shm side files, the store's blobs, the ledger, the
// installers' logs and the trust files included. No group or other bit anywhere.
import t from 'tap';
import fs from 'node:fs';
import path from 'node:path';
import { BIN, run, runJson } from './helpers/processes.js';
import { startStack } from './helpers/stack.js';

/** Every entry under `root` (lstat: links are not followed) with a group or other permission bit. */
function notPrivate(root: string): string[] {
  const found: string[] = [];
  const walk = (dir: string) => {
    for (const name of fs.readdirSync(dir)) {
      const full = path.join(dir, name);
      const info = fs.lstatSync(full);
      if ((info.mode & 0o077) !== 0) {
        found.push(`${path.relative(root, full)} ${(info.mode & 0o777).toString(8).padStart(4, '0')}`);
      }
      if (info.isDirectory()) walk(full);
    }
  };
  const top = fs.lstatSync(root);
  if ((top.mode & 0o077) !== 0) found.push(`. ${(top.mode & 0o777).toString(8).padStart(4, '0')}`);
  walk(root);
  return found;
}

t.test(
  'under umask 022 the server and the client create their data 0700/0600',
  { skip: process.platform === 'win32' ? 'no POSIX modes on Windows' : false },
  async (t) => {
    // The children (server, client, their CLIs) inherit this process's umask.
    const previous = process.umask(0o022);
    t.teardown(() => void process.umask(previous));

    const dir = t.testdir();
    const stack = await startStack(dir, {
      releases: ['19.0'],
      serverExtra: { auth: { reportTokens: 'required' } },
    });
    t.teardown(stack.stop);

    const enrolled = await runJson<{ token: string }>(
      BIN.server,
      ['--config', stack.serverConfig, 'enroll', 'host-19'],
      { cwd: dir },
    );
    t.equal(enrolled.code, 0, `enroll: ${enrolled.stderr}`);
    const tokenFile = path.join(dir, 'host-19.token');
    fs.writeFileSync(tokenFile, `${enrolled.json.token}\n`, { mode: 0o600 });
    const client = stack.writeClientConfig('host-19', '19.0', { tokenFile });

    const install = await runJson<{ results: { outcome: string }[] }>(BIN.client, [
      '--config',
      client.config,
      'install',
      '--critical',
    ]);
    t.equal(install.code, 0, install.stderr);
    t.ok(
      install.json.results.some((r) => r.outcome === 'ok'),
      'patches installed (ledger, logs, cache written)',
    );
    const clients = await stack.getJson<unknown>('/v1/clients');
    t.match(JSON.stringify(clients), 'host-19', "the server took the host's report (reports.sqlite written)");
    // a second sync while the server runs: SQLite WAL files exist now
    await stack.syncNow();

    // an air-gapped feed-mode server fed only by import: the vendor feed directory, copied in
    const gappedConfig = path.join(dir, 'gapped.json');
    fs.writeFileSync(
      gappedConfig,
      JSON.stringify({
        dataDir: './gapped-data',
        upstream: { url: 'http://127.0.0.1:9/unreachable/', retries: 0 },
        mirror: { products: [{ id: 'arcserve-backup', releases: ['19.0'] }] },
        schedule: { sync: null },
      }),
    );
    const bundle = stack.feedDir;
    const imported = await run(BIN.server, ['--config', gappedConfig, 'import', bundle], { cwd: dir });
    t.equal(imported.code, 0, `import: ${imported.stderr}`);
    const gappedDir = path.join(dir, 'gapped-data');
    t.ok(fs.existsSync(path.join(gappedDir, 'store', 'blobs')), 'the import stored blobs');

    const serverFiles = fs.readdirSync(stack.dataDir, { recursive: true }).map(String);
    for (const expected of ['auth.sqlite', 'reports.sqlite', 'keys'])
      t.ok(serverFiles.includes(expected), `the server wrote ${expected}`);
    t.ok(
      serverFiles.some((f) => f.endsWith('-wal')),
      `SQLite side files are there to check (${serverFiles.filter((f) => f.endsWith('-wal')).join(', ')})`,
    );
    t.same(notPrivate(stack.dataDir), [], "nothing in the server's data dir is group- or world-accessible");
    t.same(notPrivate(client.dataDir), [], "nothing in the client's data dir is group- or world-accessible");
    t.same(notPrivate(gappedDir), [], "nothing in the importing server's data dir either");
  },
);
